"""The staff register: people in the roles coordinated care names (DESIGN §2, §5, §7).

A practitioner is identified by a national staff identifier: the HSA-id in Sweden (the same
catalogue as units, ``urn:oid:1.2.752.29.4.19``) and the HPR-nummer of Helsepersonellregisteret
in Norway. A practitioner holds roles at organizations: coordinator of plans, fixed care contact
(fast vårdkontakt / fastlege), the municipality's MAS, planner, and deviation handler (a region's
patient-safety function). Deviations about a municipality's health care go to its MAS; other
deviations to the principal's deviation handler (``handling_role``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.domain.errors import InvalidInput
from app.domain.organizations import HSA_ID, Jurisdiction, Organization, OrgKind

HPR_NUMBER = "urn:oid:2.16.578.1.12.4.1.4.4"
STAFF_IDENTIFIERS: dict[str, tuple[Jurisdiction, re.Pattern[str], str]] = {
    HSA_ID: (
        Jurisdiction.SE,
        re.compile(r"SE[0-9]{10}-[A-Za-z0-9]{1,20}"),
        "SE + 10 digits + '-' + suffix",
    ),
    HPR_NUMBER: (Jurisdiction.NO, re.compile(r"[0-9]{6,9}"), "6 to 9 digits"),
}


class StaffRole(StrEnum):
    """What a practitioner does in coordinated care."""

    COORDINATOR = "coordinator"
    FIXED_CARE_CONTACT = "fixed-care-contact"
    MAS = "mas"
    PLANNER = "planner"
    DEVIATION_HANDLER = "deviation-handler"


ROLE_DISPLAY = {
    StaffRole.COORDINATOR: "Coordinator (samordnare / koordinator)",
    StaffRole.FIXED_CARE_CONTACT: "Fixed care contact (fast vårdkontakt / fastlege)",
    StaffRole.MAS: "Medically responsible nurse (MAS)",
    StaffRole.PLANNER: "Discharge planner (vårdplanerare)",
    StaffRole.DEVIATION_HANDLER: "Deviation handler (patient safety)",
}


@dataclass(slots=True)
class Practitioner:
    """A person working in care, identified by HSA-id or HPR-nummer."""

    id: str
    identifier_system: str
    identifier_value: str
    given_name: str
    family_name: str
    jurisdiction: Jurisdiction
    active: bool = True
    version: int = 1
    # When this version was written (the store sets it; FHIR's meta.lastUpdated).
    updated_at: datetime | None = None

    @property
    def name(self) -> str:
        """Given and family name."""
        return f"{self.given_name} {self.family_name}".strip()


@dataclass(slots=True)
class PractitionerRole:
    """A practitioner's role at an organization (a unit, or a principal itself)."""

    id: str
    practitioner_id: str
    organization_id: str
    principal_id: str
    role: StaffRole
    active: bool = True
    title: str | None = None
    version: int = 1
    # When this version was written (the store sets it; FHIR's meta.lastUpdated).
    updated_at: datetime | None = None


def validate_practitioner(practitioner: Practitioner) -> None:
    """Check the identifier's system, country and form, and that the practitioner has a name."""
    rule = STAFF_IDENTIFIERS.get(practitioner.identifier_system)
    if rule is None:
        raise InvalidInput(
            f"unknown staff identifier system {practitioner.identifier_system!r}; accepted: "
            f"{HSA_ID} (HSA-id, Sweden), {HPR_NUMBER} (HPR-nummer, Norway)",
            field="identifier.system",
        )
    country, pattern, form = rule
    if country is not practitioner.jurisdiction:
        raise InvalidInput(
            f"{practitioner.identifier_system} is a {country.value} identifier; the practitioner "
            f"works in {practitioner.jurisdiction.value}",
            field="identifier.system",
        )
    if not pattern.fullmatch(practitioner.identifier_value):
        raise InvalidInput(
            f"{practitioner.identifier_value!r} is not a valid value for "
            f"{practitioner.identifier_system} (expected {form})",
            field="identifier.value",
        )
    if not practitioner.family_name.strip():
        raise InvalidInput("a practitioner needs a family name", field="family_name")


def validate_role(
    role: PractitionerRole, practitioner: Practitioner, organization: Organization
) -> None:
    """Check a role against its organization: same country, and a MAS only at a municipality."""
    if organization.jurisdiction is not practitioner.jurisdiction:
        raise InvalidInput(
            f"{organization.id} is in {organization.jurisdiction.value}, the practitioner in "
            f"{practitioner.jurisdiction.value}",
            field="organization_id",
        )
    if role.role is StaffRole.MAS and organization.kind is OrgKind.REGION:
        raise InvalidInput(
            "a MAS (medicinskt ansvarig sjuksköterska) is a municipality's role",
            field="role",
        )


def handling_role(
    roles: Iterable[PractitionerRole], principal: Organization
) -> PractitionerRole | None:
    """The role that handles deviations reported to ``principal``, if one is registered.

    A municipality's health care answers through its MAS (HSL; DESIGN §7), falling back to its
    deviation handler; any other principal through its deviation handler. Of several, the first
    by id, so that routing never depends on the order rows come back in.
    """
    wanted = (
        (StaffRole.MAS, StaffRole.DEVIATION_HANDLER)
        if principal.kind is OrgKind.MUNICIPALITY
        else (StaffRole.DEVIATION_HANDLER,)
    )
    active = sorted((r for r in roles if r.active), key=lambda r: r.id)
    for code in wanted:
        for role in active:
            if role.role is code:
                return role
    return None
