"""Persons: patients and clients identified by a validated national identifier (DESIGN §3)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from app.domain.errors import InvalidInput
from app.domain.identifiers import PersonIdentifier

PROTECTED_PLACEHOLDER = "(skyddad identitet / protected identity)"


@dataclass(slots=True)
class Person:
    """A patient or client.

    ``stay_municipality_id`` is the Norwegian municipality of stay (oppholdskommune), which pays for
    discharge-ready days in Norway when it differs from the residence municipality.
    """

    id: str
    identifier: PersonIdentifier
    given_name: str
    family_name: str
    residence_municipality_id: str
    birth_date: date | None = None
    stay_municipality_id: str | None = None
    protected_identity: bool = False
    address: str | None = None
    phone: str | None = None
    # Administrative gender, a code of GENDERS (FHIR's AdministrativeGender), when one was given.
    gender: str | None = None
    version: int = 1
    details_withheld: bool = False
    # When this version was written (the store sets it; FHIR's meta.lastUpdated).
    updated_at: datetime | None = None

    def paying_municipality_id(self, jurisdiction: str) -> str:
        """The municipality that pays for the discharge-ready days of a stay in ``jurisdiction``.

        Sweden: the residence municipality (folkbokföringskommun), always (lag 2017:612).
        Norway: the municipality of stay (oppholdskommune) when one is known, else the residence
        municipality (forskrift om kommunal betaling for utskrivningsklare pasienter, from 2019).
        """
        if jurisdiction == "NO" and self.stay_municipality_id is not None:
            return self.stay_municipality_id
        return self.residence_municipality_id

    def masked(self) -> Person:
        """A copy fit for lists, reports and logs: a protected person's details are withheld.

        Name, national identifier, address and phone of a person with protected identity never
        leave in a list or a report (sekretessmarkering, skyddad folkbokföring, strengt fortrolig).
        """
        if not self.protected_identity:
            return self
        return replace(
            self,
            given_name=PROTECTED_PLACEHOLDER,
            family_name="",
            identifier=PersonIdentifier(
                self.identifier.system, mask_identifier(self.identifier.value)
            ),
            address=None,
            phone=None,
            gender=None,
            birth_date=None,
        )

    def identity_only(self) -> Person:
        """A copy for a caller that may know the person exists but not their details.

        Name, address, phone and where the person lives follow the record they came with
        (DESIGN §10): an organization that is no party to such a record gets the identifier and
        the id, and for a protected identity not even the whole identifier. The municipalities
        stay on the object for the rules that need them; the edges do not show them.
        """
        shown = self.masked() if self.protected_identity else self
        return replace(
            shown,
            given_name="",
            family_name="",
            birth_date=None,
            address=None,
            phone=None,
            gender=None,
            details_withheld=True,
        )


# Administrative gender (https://hl7.org/fhir/R4/valueset-administrative-gender.html).
GENDERS = ("male", "female", "other", "unknown")


def mask_identifier(value: str) -> str:
    """Keep only the first four characters of an identifier (the birth year in Sweden)."""
    return value[:4] + "*" * max(0, len(value) - 4)


def validate_person(person: Person) -> None:
    """Check the free-text parts of a person; the identifier was validated when it was parsed."""
    if not person.given_name.strip() and not person.family_name.strip():
        raise InvalidInput("a person needs a given or family name", field="family_name")
    if person.gender is not None and person.gender not in GENDERS:
        raise InvalidInput(
            f"gender {person.gender!r} is not one of {', '.join(GENDERS)}", field="gender"
        )
    if person.birth_date is not None and person.identifier.birth_date is not None:
        if person.birth_date != person.identifier.birth_date:
            raise InvalidInput(
                f"birth_date {person.birth_date.isoformat()} contradicts the identifier, which "
                f"gives {person.identifier.birth_date.isoformat()}",
                field="birth_date",
            )
