"""Demo data: the regions, municipalities, units and cooperation areas of the reference documents.

Region Norrbotten with its 14 municipalities in four cooperation areas, Region Kalmar län,
Västra Götalandsregionen with Södra Älvsborg's ten municipalities, and Helse Stavanger with the
Jæren municipalities — with their official municipality codes — and a staff register of
fictitious practitioners in the roles the flows name (each municipality's MAS and coordinator,
each region's deviation handler, planners and fixed care contacts). Loading is idempotent.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import unicodedata
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.domain.organizations import (
    HSA_ID,
    MUNICIPALITY_CODE_SYSTEM,
    Jurisdiction,
    OrgIdentifier,
    OrgKind,
    UnitFunction,
)
from app.domain.plo import ServiceCode
from app.domain.staff import HPR_NUMBER, StaffRole
from app.services.organizations import (
    CreateCooperationArea,
    CreateOrganization,
    create_cooperation_area,
    create_organization,
)
from app.services.staff import NewPractitioner, NewRole, register_practitioner, register_role
from app.store.unit_of_work import UnitOfWork

DATA = Path(__file__).resolve().parent.parent / "data"
MUNICIPALITY_PREFIX = {"SE": "kommun", "NO": "kommune"}


def municipality_id(jurisdiction: str, code: str) -> str:
    """The demo id of a municipality: ``kommun-2580`` (Luleå), ``kommune-1120`` (Klepp)."""
    return f"{MUNICIPALITY_PREFIX[jurisdiction]}-{code}"


def slug(text: str) -> str:
    """An id fragment from a name: ``Luleå–Boden`` → ``lulea-boden``."""
    # æ, ø and ß have no decomposition; spell them out before dropping what is not ASCII.
    spelled = text.translate({ord("æ"): "ae", ord("Æ"): "Ae", ord("ø"): "o", ord("Ø"): "O"})
    ascii_text = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


@dataclass(frozen=True, slots=True)
class SeedResult:
    """How many organizations, cooperation areas and staff roles the seeding created."""

    organizations: int
    areas: int
    roles: int = 0


def demo_commands() -> tuple[list[CreateOrganization], list[CreateCooperationArea]]:
    """The demo organizations (parents first) and cooperation areas, as service commands."""
    spec: dict[str, Any] = json.loads((DATA / "demo.json").read_text(encoding="utf-8"))
    with (DATA / "municipalities.csv").open(encoding="utf-8", newline="") as handle:
        municipalities = list(csv.DictReader(handle))
    orgs: list[CreateOrganization] = []
    region_by_name: dict[str, str] = {}
    for region in spec["regions"]:
        jurisdiction = Jurisdiction(region["jurisdiction"])
        region_by_name[region["csv_name"]] = region["id"]
        orgs.append(
            CreateOrganization(
                id=region["id"],
                kind=OrgKind.REGION,
                name=region["name"],
                jurisdiction=jurisdiction,
                identifiers=tuple(
                    OrgIdentifier(i["system"], i["value"]) for i in region["identifiers"]
                ),
            )
        )
        for suffix, name, function in region["units"]:
            orgs.append(
                CreateOrganization(
                    id=f"{region['id']}-{suffix}",
                    kind=OrgKind.UNIT,
                    name=name,
                    jurisdiction=jurisdiction,
                    parent_id=region["id"],
                    function=UnitFunction(function),
                )
            )
    areas: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in municipalities:
        country, code = row["country"], row["code"]
        org_id = municipality_id(country, code)
        noun = "kommun" if country == "SE" else "kommune"
        orgs.append(
            CreateOrganization(
                id=org_id,
                kind=OrgKind.MUNICIPALITY,
                name=f"{row['name']} {noun}",
                jurisdiction=Jurisdiction(country),
                identifiers=(OrgIdentifier(MUNICIPALITY_CODE_SYSTEM[country], code),),
            )
        )
        for suffix, label, function, *service in spec["municipality_units"][country]:
            orgs.append(
                CreateOrganization(
                    id=f"{org_id}-{suffix}",
                    kind=OrgKind.UNIT,
                    name=f"{row['name']} {label}",
                    jurisdiction=Jurisdiction(country),
                    parent_id=org_id,
                    function=UnitFunction(function),
                    service_code=ServiceCode(service[0]) if service else None,
                )
            )
        areas[(region_by_name[row["region"]], row["cooperation_area"])].append(org_id)
    area_cmds = [
        CreateCooperationArea(
            id=f"area-{slug(name)}", name=name, region_id=region_id, municipality_ids=tuple(members)
        )
        for (region_id, name), members in areas.items()
    ]
    return orgs, area_cmds


# Demo ids are fixed by what they stand for, so that seeding twice finds what it made.
_DEMO_IDS = uuid.UUID("8f4b6c1e-3d2a-4e5f-9a7b-0c1d2e3f4a5b")


@dataclass(frozen=True, slots=True)
class DemoRole:
    """One role of the demo staff register, with its practitioner."""

    practitioner: NewPractitioner
    practitioner_id: str
    role: NewRole
    role_id: str


def _number(org_id: str, digits: int) -> str:
    value = int(hashlib.sha256(org_id.encode()).hexdigest(), 16) % (9 * 10 ** (digits - 1))
    return str(10 ** (digits - 1) + value)


def demo_staff(orgs: list[CreateOrganization]) -> list[DemoRole]:
    """The demo staff register: each entry of ``staff`` in demo.json, for every principal."""
    spec: dict[str, Any] = json.loads((DATA / "demo.json").read_text(encoding="utf-8"))
    units: dict[str, list[CreateOrganization]] = defaultdict(list)
    for org in orgs:
        if org.parent_id is not None:
            units[org.parent_id].append(org)
    found: list[DemoRole] = []
    for entry in spec["staff"]:
        for principal in orgs:
            if (
                principal.kind.value != entry["principals"]
                or principal.jurisdiction.value != entry["jurisdiction"]
            ):
                continue
            if "unit_function" in entry:
                places = [u.id for u in units[principal.id] if u.function == entry["unit_function"]]
            else:
                places = [f"{principal.id}-{entry['unit']}" if entry["unit"] else principal.id]
            for place in places:
                if principal.jurisdiction is Jurisdiction.SE:
                    identifier = (HSA_ID, f"SE{_number(place, 10)}-{entry['key']}")
                else:
                    identifier = (HPR_NUMBER, _number(place + entry["key"], 9))
                practitioner_id = str(uuid.uuid5(_DEMO_IDS, "|".join(identifier)))
                role = NewRole(practitioner_id, place, StaffRole(entry["role"]), entry["title"])
                found.append(
                    DemoRole(
                        NewPractitioner(
                            *identifier,
                            entry["given_name"],
                            entry["family_name"],
                            principal.jurisdiction,
                        ),
                        practitioner_id,
                        role,
                        str(uuid.uuid5(_DEMO_IDS, f"{practitioner_id}|{place}|{entry['role']}")),
                    )
                )
    return found


async def seed_demo(uow: UnitOfWork) -> SeedResult:
    """Create whatever of the demo data does not exist yet; running it twice changes nothing."""
    orgs, areas = demo_commands()
    existing = await uow.organizations.get_many([o.id for o in orgs])
    created_orgs = 0
    for cmd in orgs:
        if cmd.id not in existing:
            await create_organization(uow, cmd, actor=None)
            created_orgs += 1
    created_areas = 0
    for area in areas:
        if await uow.areas.get(area.id) is None:
            await create_cooperation_area(uow, area, actor=None)
            created_areas += 1
    created_roles = 0
    for demo in demo_staff(orgs):
        if await uow.staff.get_practitioner(demo.practitioner_id) is None:
            await register_practitioner(
                uow, demo.practitioner, practitioner_id=demo.practitioner_id
            )
        if await uow.staff.get_role(demo.role_id) is None:
            await register_role(uow, None, demo.role, role_id=demo.role_id)
            created_roles += 1
    return SeedResult(created_orgs, created_areas, created_roles)
