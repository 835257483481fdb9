"""Import an organization register: the bootstrap of a production instance (docs/operations.md).

Two formats are read. A CSV in the shape of the reference municipality list (``country``,
``code``, ``name``, ``region``, ``cooperation_area``) with optional columns for everything else
(``kind``, ``id``, ``parent``, ``function``, ``service_code``, ``hsa_id``, ``her_id``,
``organisation_number``, ``resh_id``), so that regions and units travel in the same file; or a
FHIR Bundle of Organization resources, as ``GET /fhir/Organization`` returns them.

An entry is matched to an organization by any of its identifiers (HSA-id, HER-id, organisation
number, RESH, municipality code), else by its id: a match is updated (name, parent, function,
service code; identifiers are added), anything else is created. Running the same file twice
changes nothing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from app.domain.errors import DomainError, InvalidInput
from app.domain.organizations import (
    HER_ID,
    HSA_ID,
    MUNICIPALITY_CODE_SYSTEM,
    NO_ORGANISATION_NUMBER,
    ORG_ID_PATTERN,
    RESH_ID,
    SE_ORGANISATION_NUMBER,
    CooperationArea,
    Jurisdiction,
    Organization,
    OrgIdentifier,
    OrgKind,
    UnitFunction,
    validate_organization,
)
from app.domain.plo import VOLVEN_8663, ServiceCode
from app.services.demo import municipality_id, slug
from app.services.organizations import (
    CreateCooperationArea,
    CreateOrganization,
    create_cooperation_area,
    create_organization,
)
from app.store.unit_of_work import UnitOfWork

E = TypeVar("E", OrgKind, Jurisdiction, UnitFunction, ServiceCode)
ORGANIZATION_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
# The unit-function CodeSystem of the FHIR edge (app/fhir/mappers/organization.py).
UNIT_FUNCTION_SYSTEM = "https://samverkan.dev/fhir/CodeSystem/unit-function"
# CSV identifier columns: the column, and the system per jurisdiction.
_IDENTIFIER_COLUMNS: dict[str, dict[str, str]] = {
    "hsa_id": {"SE": HSA_ID},
    "her_id": {"NO": HER_ID},
    "organisation_number": {"SE": SE_ORGANISATION_NUMBER, "NO": NO_ORGANISATION_NUMBER},
    "resh_id": {"NO": RESH_ID},
    "code": MUNICIPALITY_CODE_SYSTEM,
}
_SYSTEM_COUNTRY = {
    system: country
    for systems in _IDENTIFIER_COLUMNS.values()
    for country, system in systems.items()
}


@dataclass(frozen=True, slots=True)
class OrganizationEntry:
    """One organization of a register file; ``where`` says where it is in the file."""

    where: str
    kind: OrgKind
    name: str
    jurisdiction: Jurisdiction
    identifiers: tuple[OrgIdentifier, ...] = ()
    id: str | None = None
    parent: str | None = None  # an organization id, or ``system|value``
    function: UnitFunction | None = None
    service_code: ServiceCode | None = None  # a Norwegian unit's tjenestetype (Volven 8663)
    region: str | None = None  # of the cooperation area: a region's id or name
    cooperation_area: str | None = None


@dataclass(slots=True)
class ImportReport:
    """What an import did (or, checked only, would do), by organization and area id."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    areas_created: list[str] = field(default_factory=list)
    areas_joined: list[str] = field(default_factory=list)


def _refused(where: str, message: str, column: str | None = None) -> InvalidInput:
    return InvalidInput(f"{where}{f' ({column})' if column else ''}: {message}", field=column)


def _choice(kind: type[E], value: str, where: str, column: str) -> E:
    try:
        return kind(value)
    except ValueError:
        accepted = ", ".join(v.value for v in kind)
        raise _refused(where, f"{value!r} is not one of {accepted}", column) from None


def entries_from_csv(text: str) -> list[OrganizationEntry]:
    """Read a register CSV (header row first); InvalidInput names the line and column."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = set(reader.fieldnames or ())
    missing = {"country", "name"} - columns
    if missing:
        raise InvalidInput(
            f"the CSV needs the columns country and name (missing: {', '.join(sorted(missing))})",
            field="header",
        )
    entries = []
    for number, row in enumerate(reader, start=2):
        where = f"line {number}"
        cell = {k: (v or "").strip() for k, v in row.items() if k is not None}
        country = _choice(Jurisdiction, cell.get("country", ""), where, "country")
        kind_text = cell.get("kind") or ("municipality" if cell.get("code") else "")
        if not kind_text:
            raise _refused(where, "kind is empty and there is no municipality code", "kind")
        identifiers = []
        for column, systems in _IDENTIFIER_COLUMNS.items():
            if cell.get(column):
                if country.value not in systems:
                    raise _refused(where, f"{column} is not an identifier in {country}", column)
                identifiers.append(OrgIdentifier(systems[country.value], cell[column]))
        entries.append(
            OrganizationEntry(
                where=where,
                kind=_choice(OrgKind, kind_text, where, "kind"),
                name=cell["name"],
                jurisdiction=country,
                identifiers=tuple(identifiers),
                id=cell.get("id") or None,
                parent=cell.get("parent") or None,
                function=_choice(UnitFunction, cell["function"], where, "function")
                if cell.get("function")
                else None,
                service_code=_choice(ServiceCode, cell["service_code"], where, "service_code")
                if cell.get("service_code")
                else None,
                region=cell.get("region") or None,
                cooperation_area=cell.get("cooperation_area") or None,
            )
        )
    return entries


def entries_from_bundle(bundle: Any) -> list[OrganizationEntry]:
    """Read a FHIR Bundle of Organizations (a searchset, collection, batch or transaction)."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InvalidInput("the file is not a FHIR Bundle", field="resourceType")
    entries = []
    for index, entry in enumerate(bundle.get("entry") or []):
        where = f"Bundle.entry[{index}]"
        resource = (entry or {}).get("resource") or {}
        if resource.get("resourceType") != "Organization":
            raise _refused(where, "every entry must be an Organization", "resource")
        entries.append(_from_organization(resource, where))
    return entries


def _from_organization(resource: dict[str, Any], where: str) -> OrganizationEntry:
    identifiers = tuple(
        OrgIdentifier(str(i.get("system", "")), str(i.get("value", "")))
        for i in resource.get("identifier") or []
    )
    countries = {_SYSTEM_COUNTRY[i.system] for i in identifiers if i.system in _SYSTEM_COUNTRY}
    countries |= {a["country"] for a in resource.get("address") or [] if a.get("country")}
    if len(countries) != 1:
        raise _refused(
            where,
            "the jurisdiction (SE or NO) follows from the identifiers or address.country, "
            f"found {sorted(countries) or 'none'}",
            "identifier",
        )
    codings = [c for t in resource.get("type") or [] for c in t.get("coding") or []]
    types = {c.get("code") for c in codings if c.get("system") == ORGANIZATION_TYPE}
    functions = [c.get("code") for c in codings if c.get("system") == UNIT_FUNCTION_SYSTEM]
    services = [c.get("code") for c in codings if c.get("system") == VOLVEN_8663]
    part_of = (resource.get("partOf") or {}).get("reference")
    municipal = any(i.system in MUNICIPALITY_CODE_SYSTEM.values() for i in identifiers)
    if part_of or functions or "dept" in types:
        kind = OrgKind.UNIT
    elif municipal:
        kind = OrgKind.MUNICIPALITY
    elif "prov" in types:
        kind = OrgKind.PRIVATE_PROVIDER
    else:
        kind = OrgKind.REGION
    jurisdiction = _choice(Jurisdiction, countries.pop(), where, "identifier")
    return OrganizationEntry(
        where=where,
        kind=kind,
        name=str(resource.get("name") or ""),
        jurisdiction=jurisdiction,
        identifiers=identifiers,
        id=resource.get("id"),
        parent=part_of.removeprefix("Organization/") if part_of else None,
        function=_choice(UnitFunction, functions[0], where, "type") if functions else None,
        service_code=_choice(ServiceCode, services[0], where, "type") if services else None,
    )


async def import_organizations(uow: UnitOfWork, entries: list[OrganizationEntry]) -> ImportReport:
    """Create or update every entry (principals before units), then their cooperation areas.

    The caller commits, or rolls back for a dry run: every check runs either way.
    """
    report = ImportReport()
    regions = await _regions_by_name(uow)
    ordered = sorted(entries, key=lambda e: e.kind is OrgKind.UNIT)
    for entry in ordered:
        try:
            org = await _import_one(uow, entry, report)
        except DomainError as exc:
            if exc.message.startswith(entry.where):
                raise
            raise _refused(entry.where, exc.message, exc.field) from exc
        if org.kind is OrgKind.REGION:
            regions[org.name] = org.id
        if entry.cooperation_area:
            await _join_area(uow, entry, org, regions, report)
    return report


async def _import_one(
    uow: UnitOfWork, entry: OrganizationEntry, report: ImportReport
) -> Organization:
    parent_id = await _parent_id(uow, entry)
    # Without an id of its own an entry is known by the id made from it, so that a unit
    # without identifiers is found again on the next import.
    own_id = entry.id or _new_id(entry, parent_id)
    existing = await _match(uow, entry, own_id)
    if existing is None:
        org = await create_organization(
            uow,
            CreateOrganization(
                id=own_id,
                kind=entry.kind,
                name=entry.name,
                jurisdiction=entry.jurisdiction,
                parent_id=parent_id,
                function=entry.function,
                identifiers=entry.identifiers,
                service_code=entry.service_code,
            ),
            actor=None,
        )
        report.created.append(org.id)
        return org
    if (existing.kind, existing.jurisdiction) != (entry.kind, entry.jurisdiction):
        raise InvalidInput(
            f"matches {existing.id}, a {existing.kind.value} in {existing.jurisdiction.value}; "
            "an import does not change what an organization is"
        )
    added = tuple(i for i in entry.identifiers if i not in existing.identifiers)
    changed = replace(
        existing,
        name=entry.name.strip(),
        parent_id=parent_id,
        function=entry.function,
        identifiers=existing.identifiers + added,
        service_code=entry.service_code,
    )
    if changed == existing:
        report.unchanged.append(existing.id)
        return existing
    parent = await uow.organizations.get(parent_id) if parent_id else None
    validate_organization(changed, parent)
    for ident in added:
        owner = await uow.organizations.identifier_owner(ident.system, ident.value)
        if owner is not None:
            raise InvalidInput(f"identifier {ident.system}|{ident.value} belongs to {owner}")
    changed.version += 1
    await uow.organizations.save(changed)
    report.updated.append(changed.id)
    return changed


async def _match(uow: UnitOfWork, entry: OrganizationEntry, own_id: str) -> Organization | None:
    owners = {
        owner
        for ident in entry.identifiers
        if (owner := await uow.organizations.identifier_owner(ident.system, ident.value))
    }
    if len(owners) > 1:
        raise InvalidInput(
            f"its identifiers belong to different organizations: {', '.join(sorted(owners))}",
            field="identifiers",
        )
    return await uow.organizations.get(owners.pop() if owners else own_id)


async def _parent_id(uow: UnitOfWork, entry: OrganizationEntry) -> str | None:
    if entry.parent is None:
        return None
    system, sep, value = entry.parent.partition("|")
    found = (
        await uow.organizations.find_by_identifier(system, value)
        if sep
        else await uow.organizations.get(entry.parent)
    )
    if found is None:
        raise InvalidInput(
            f"parent {entry.parent} is neither in the file before it nor registered",
            field="parent",
        )
    return found.id


def _new_id(entry: OrganizationEntry, parent_id: str | None) -> str:
    """``kommun-2580`` for a municipality; else the name, under its parent's id for a unit."""
    if entry.kind is OrgKind.MUNICIPALITY:
        code = next(
            (
                i.value
                for i in entry.identifiers
                if i.system == MUNICIPALITY_CODE_SYSTEM[entry.jurisdiction.value]
            ),
            None,
        )
        if code is not None:
            return municipality_id(entry.jurisdiction.value, code)
    base = slug(entry.name)
    candidate = f"{parent_id}-{base}" if parent_id and entry.kind is OrgKind.UNIT else base
    candidate = candidate[:64].rstrip("-")
    if not ORG_ID_PATTERN.fullmatch(candidate):
        raise InvalidInput("no id can be made from the name: give an id column", field="id")
    return candidate


async def _regions_by_name(uow: UnitOfWork) -> dict[str, str]:
    found: dict[str, str] = {}
    after = None
    while True:
        page = await uow.organizations.page(limit=500, after=after, kind=OrgKind.REGION)
        found.update({org.name: org.id for org in page.items})
        if page.next_cursor is None:
            return found
        after = page.next_cursor


async def _join_area(
    uow: UnitOfWork,
    entry: OrganizationEntry,
    org: Organization,
    regions: dict[str, str],
    report: ImportReport,
) -> None:
    name = entry.cooperation_area or ""
    region_id = regions.get(entry.region or "", entry.region)
    if region_id is None or await uow.organizations.get(region_id) is None:
        raise _refused(
            entry.where,
            f"a cooperation area needs its region: {entry.region or '(empty)'} is unknown",
            "region",
        )
    area_id = f"area-{slug(name)}"
    area: CooperationArea | None = await uow.areas.get(area_id)
    if area is None:
        await create_cooperation_area(
            uow,
            CreateCooperationArea(area_id, name, region_id, (org.id,)),
            actor=None,
        )
        report.areas_created.append(area_id)
    elif area.region_id != region_id:
        raise _refused(
            entry.where, f"cooperation area {area_id} belongs to {area.region_id}", "region"
        )
    elif org.id not in area.municipality_ids:
        await uow.areas.add_member(area, org.id)
        report.areas_joined.append(f"{org.id} → {area_id}")
