"""Organizations: regions, municipalities, their units, and cooperation areas (DESIGN §2)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from app.domain.errors import InvalidInput
from app.domain.plo import ServiceCode

# Swedish identifier systems
HSA_ID = "urn:oid:1.2.752.29.4.19"
# DESIGN §2 names no system for the Swedish organisationsnummer; ours until one is agreed.
SE_ORGANISATION_NUMBER = "https://samverkan.dev/fhir/NamingSystem/se-organisationsnummer"
SE_MUNICIPALITY_CODE = "urn:oid:1.2.752.129.2.2.1.17"
# Norwegian identifier systems
HER_ID = "urn:oid:2.16.578.1.12.4.1.2"
NO_ORGANISATION_NUMBER = "urn:oid:2.16.578.1.12.4.1.4.101"
RESH_ID = "urn:oid:2.16.578.1.12.4.1.4.102"
NO_MUNICIPALITY_NUMBER = "urn:oid:2.16.578.1.12.4.1.1.3402"

_SYSTEM_RULES: dict[str, tuple[str, re.Pattern[str], str]] = {
    HSA_ID: ("SE", re.compile(r"SE[0-9]{10}-[A-Za-z0-9]{1,20}"), "SE + 10 digits + '-' + suffix"),
    SE_ORGANISATION_NUMBER: ("SE", re.compile(r"[0-9]{6}-?[0-9]{4}"), "NNNNNN-NNNN"),
    SE_MUNICIPALITY_CODE: ("SE", re.compile(r"[0-9]{4}"), "4 digits (SCB kommunkod)"),
    HER_ID: ("NO", re.compile(r"[0-9]{1,9}"), "up to 9 digits"),
    NO_ORGANISATION_NUMBER: ("NO", re.compile(r"[0-9]{9}"), "9 digits"),
    RESH_ID: ("NO", re.compile(r"[0-9]{1,9}"), "up to 9 digits"),
    NO_MUNICIPALITY_NUMBER: ("NO", re.compile(r"[0-9]{4}"), "4 digits (kommunenummer)"),
}
MUNICIPALITY_CODE_SYSTEM = {"SE": SE_MUNICIPALITY_CODE, "NO": NO_MUNICIPALITY_NUMBER}
ORG_ID_PATTERN = re.compile(r"[A-Za-z0-9\-.]{1,64}")


class OrgKind(StrEnum):
    """What an organization is."""

    REGION = "region"
    MUNICIPALITY = "municipality"
    UNIT = "unit"
    PRIVATE_PROVIDER = "private-provider"


class Jurisdiction(StrEnum):
    """The country whose law applies."""

    SE = "SE"
    NO = "NO"


class UnitFunction(StrEnum):
    """What a unit does; it decides who acts on a notice and which liability rule applies."""

    HOSPITAL_WARD = "hospital-ward"
    PSYCHIATRIC_WARD = "psychiatric-ward"
    PRIMARY_CARE = "primary-care"
    HOME_HEALTH_CARE = "home-health-care"
    HOME_CARE = "home-care"
    SOCIAL_SERVICES = "social-services"
    LSS = "lss"
    SCHOOL_HEALTH = "school-health"
    DENTAL = "dental"
    HABILITATION = "habilitation"
    OTHER = "other"


INPATIENT_FUNCTIONS = frozenset({UnitFunction.HOSPITAL_WARD, UnitFunction.PSYCHIATRIC_WARD})
PRINCIPAL_KINDS = frozenset({OrgKind.REGION, OrgKind.MUNICIPALITY, OrgKind.PRIVATE_PROVIDER})


@dataclass(frozen=True, slots=True)
class OrgIdentifier:
    """An organization identifier: a system URI and its value."""

    system: str
    value: str


@dataclass(slots=True)
class Organization:
    """A region, municipality, private provider, or a unit belonging to one of them."""

    id: str
    kind: OrgKind
    name: str
    jurisdiction: Jurisdiction
    parent_id: str | None = None
    function: UnitFunction | None = None
    identifiers: tuple[OrgIdentifier, ...] = ()
    version: int = 1
    # A Norwegian unit's service (tjenestetype, Volven 8663) that PLO messages are addressed to.
    service_code: ServiceCode | None = None
    # When this version was written (the store sets it; FHIR's meta.lastUpdated).
    updated_at: datetime | None = None

    @property
    def municipality_code(self) -> str | None:
        """The official municipality code (SCB kommunkod or SSB kommunenummer), if one is set."""
        system = MUNICIPALITY_CODE_SYSTEM[self.jurisdiction.value]
        return next((i.value for i in self.identifiers if i.system == system), None)


@dataclass(slots=True)
class CooperationArea:
    """A grouping of municipalities with a region, for joint steering and statistics."""

    id: str
    name: str
    region_id: str
    municipality_ids: tuple[str, ...] = field(default_factory=tuple)
    version: int = 1


def validate_organization(org: Organization, parent: Organization | None) -> None:
    """Check an organization against the rules of DESIGN §2 before it is stored.

    A unit needs a function and a principal as parent in the same jurisdiction; principals need no
    function and have no parent except that a municipality or private provider may name none.
    Identifiers must belong to the organization's jurisdiction and have the system's form.
    """
    if not ORG_ID_PATTERN.fullmatch(org.id):
        raise InvalidInput("id must be 1–64 characters of letters, digits, '-' and '.'", field="id")
    if not org.name.strip():
        raise InvalidInput("name must not be empty", field="name")
    if org.kind is OrgKind.UNIT:
        if org.function is None:
            raise InvalidInput("a unit must have a function", field="function")
        if parent is None:
            raise InvalidInput(
                "a unit must belong to a principal: set parent_id", field="parent_id"
            )
    elif org.function is not None:
        raise InvalidInput(f"a {org.kind.value} has no function; only units do", field="function")
    if org.service_code is not None and (
        org.kind is not OrgKind.UNIT or org.jurisdiction is not Jurisdiction.NO
    ):
        raise InvalidInput(
            "a service code (Volven 8663) addresses a Norwegian unit; "
            f"this is a {org.jurisdiction.value} {org.kind.value}",
            field="service_code",
        )
    if parent is not None:
        if parent.kind is OrgKind.UNIT and org.kind is not OrgKind.UNIT:
            raise InvalidInput(
                f"a {org.kind.value} cannot belong to a unit ({parent.id})", field="parent_id"
            )
        if parent.kind is OrgKind.MUNICIPALITY and org.kind is OrgKind.REGION:
            raise InvalidInput("a region cannot belong to a municipality", field="parent_id")
        if parent.jurisdiction is not org.jurisdiction:
            raise InvalidInput(
                f"parent {parent.id} is in {parent.jurisdiction.value}, "
                f"the organization in {org.jurisdiction.value}",
                field="parent_id",
            )
    seen: set[str] = set()
    for index, ident in enumerate(org.identifiers):
        where = f"identifiers[{index}]"
        rule = _SYSTEM_RULES.get(ident.system)
        if rule is None:
            raise InvalidInput(
                f"unknown organization identifier system {ident.system!r}; accepted: "
                + ", ".join(sorted(_SYSTEM_RULES)),
                field=f"{where}.system",
            )
        country, pattern, form = rule
        if country != org.jurisdiction.value:
            raise InvalidInput(
                f"{ident.system} is a {country} identifier, the organization is in "
                f"{org.jurisdiction.value}",
                field=f"{where}.system",
            )
        if not pattern.fullmatch(ident.value):
            raise InvalidInput(
                f"{ident.value!r} is not a valid value for {ident.system} (expected {form})",
                field=f"{where}.value",
            )
        if ident.system in seen:
            raise InvalidInput(f"identifier system {ident.system} is given twice", field=where)
        seen.add(ident.system)
    if org.kind is OrgKind.MUNICIPALITY and org.municipality_code is None:
        raise InvalidInput(
            "a municipality needs its official code as identifier "
            f"({MUNICIPALITY_CODE_SYSTEM[org.jurisdiction.value]})",
            field="identifiers",
        )


def validate_cooperation_area(
    area: CooperationArea, region: Organization | None, members: list[Organization]
) -> None:
    """Check that a cooperation area groups municipalities with one region."""
    if not ORG_ID_PATTERN.fullmatch(area.id):
        raise InvalidInput("id must be 1–64 characters of letters, digits, '-' and '.'", field="id")
    if not area.name.strip():
        raise InvalidInput("name must not be empty", field="name")
    if region is None or region.kind is not OrgKind.REGION:
        raise InvalidInput("region_id must name a region", field="region_id")
    if len(set(area.municipality_ids)) != len(area.municipality_ids):
        raise InvalidInput("a municipality is listed twice", field="municipality_ids")
    for index, member in enumerate(members):
        if member.kind is not OrgKind.MUNICIPALITY:
            raise InvalidInput(
                f"{member.id} is a {member.kind.value}, not a municipality",
                field=f"municipality_ids[{index}]",
            )
        if member.jurisdiction is not region.jurisdiction:
            raise InvalidInput(
                f"{member.id} is not in the region's jurisdiction",
                field=f"municipality_ids[{index}]",
            )
