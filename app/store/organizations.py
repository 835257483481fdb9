"""Organizations, their identifiers, and cooperation areas.

Repositories run inside the unit of work: SQL in, domain objects out; they never commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Select,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.clock import utcnow
from app.domain.organizations import (
    CooperationArea,
    Jurisdiction,
    Organization,
    OrgIdentifier,
    OrgKind,
    UnitFunction,
)
from app.domain.plo import ServiceCode
from app.store import tables as t
from app.store.paging import AnyOf, Page, page_query, trim_to_page


class OrganizationRepository:
    """Organizations and their identifiers."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        # Jurisdictions another statement of this unit of work read on the way (an
        # organization's jurisdiction is set when it is added and never changes).
        self._jurisdictions: dict[str, Jurisdiction] = {}

    def read_jurisdiction(self, org_id: str, jurisdiction: str | None) -> None:
        """Keep the jurisdiction of ``org_id`` that another statement read with what it read,
        for ``jurisdiction`` to answer without a statement of its own."""
        if jurisdiction is not None:
            self._jurisdictions[org_id] = Jurisdiction(jurisdiction)

    async def add(self, org: Organization) -> None:
        """Insert a new organization with its identifiers."""
        now = utcnow()
        await self._conn.execute(
            insert(t.organizations).values(
                id=org.id,
                kind=org.kind.value,
                name=org.name,
                jurisdiction=org.jurisdiction.value,
                parent_id=org.parent_id,
                function=org.function.value if org.function else None,
                service_code=org.service_code.value if org.service_code else None,
                version=org.version,
                created_at=now,
                updated_at=now,
            )
        )
        org.updated_at = now
        if org.identifiers:
            await self._conn.execute(
                insert(t.organization_identifiers),
                [
                    {"organization_id": org.id, "system": i.system, "value": i.value}
                    for i in org.identifiers
                ],
            )

    async def save(self, org: Organization) -> None:
        """Write a changed organization (its version already raised); identifiers are added,
        never removed, since other systems may still address it by an old one."""
        org.updated_at = utcnow()
        await self._conn.execute(
            update(t.organizations)
            .where(t.organizations.c.id == org.id)
            .values(
                name=org.name,
                parent_id=org.parent_id,
                function=org.function.value if org.function else None,
                service_code=org.service_code.value if org.service_code else None,
                version=org.version,
                updated_at=org.updated_at,
            )
        )
        held = {
            (row.system, row.value)
            for row in await self._conn.execute(
                select(t.organization_identifiers).where(
                    t.organization_identifiers.c.organization_id == org.id
                )
            )
        }
        added = [i for i in org.identifiers if (i.system, i.value) not in held]
        if added:
            await self._conn.execute(
                insert(t.organization_identifiers),
                [{"organization_id": org.id, "system": i.system, "value": i.value} for i in added],
            )

    async def get(self, org_id: str) -> Organization | None:
        """The organization with this id, or None."""
        found = await self.get_many([org_id])
        return found.get(org_id)

    async def jurisdiction(self, org_id: str) -> Jurisdiction | None:
        """The organization's jurisdiction (None when there is no such organization)."""
        if org_id in self._jurisdictions:
            return self._jurisdictions[org_id]
        found = await self._conn.scalar(
            select(t.organizations.c.jurisdiction).where(t.organizations.c.id == org_id)
        )
        return Jurisdiction(found) if found is not None else None

    async def get_many(self, ids: Sequence[str]) -> dict[str, Organization]:
        """The organizations among ``ids`` that exist, by id."""
        if not ids:
            return {}
        rows = (
            await self._conn.execute(
                select(t.organizations).where(t.organizations.c.id.in_(set(ids)))
            )
        ).all()
        return {org.id: org for org in await self._with_identifiers(rows)}

    async def kinds(self, ids: Sequence[str]) -> dict[str, tuple[OrgKind, Jurisdiction]]:
        """The kind and jurisdiction of the organizations among ``ids`` that exist, by id: one
        statement, for checks that need no more of them (``get_many`` reads identifiers too)."""
        if not ids:
            return {}
        o = t.organizations
        rows = await self._conn.execute(
            select(o.c.id, o.c.kind, o.c.jurisdiction).where(o.c.id.in_(set(ids)))
        )
        return {r.id: (OrgKind(r.kind), Jurisdiction(r.jurisdiction)) for r in rows}

    async def find_by_identifier(self, system: str, value: str) -> Organization | None:
        """The organization holding this identifier, or None."""
        org_id = (
            await self._conn.execute(
                select(t.organization_identifiers.c.organization_id).where(
                    t.organization_identifiers.c.system == system,
                    t.organization_identifiers.c.value == value,
                )
            )
        ).scalar()
        return await self.get(org_id) if org_id else None

    async def identifier_owner(self, system: str, value: str) -> str | None:
        """The id of the organization that holds this identifier already, if any."""
        return (
            await self._conn.execute(
                select(t.organization_identifiers.c.organization_id).where(
                    t.organization_identifiers.c.system == system,
                    t.organization_identifiers.c.value == value,
                )
            )
        ).scalar()

    async def page(
        self,
        *,
        limit: int,
        after: str | None = None,
        kind: OrgKind | None = None,
        jurisdiction: Jurisdiction | None = None,
        parent_id: AnyOf = None,
        function: UnitFunction | None = None,
        ids: AnyOf = None,
    ) -> Page[Organization]:
        """Organizations in id order, filtered (a collection: any of its values)."""
        query = page_query(
            t.organizations,
            limit=limit,
            after=after,
            equal={
                "id": ids,
                "kind": kind,
                "jurisdiction": jurisdiction,
                "parent_id": parent_id,
                "function": function,
            },
        )
        rows = (await self._conn.execute(query)).all()
        return trim_to_page(await self._with_identifiers(rows), limit, lambda o: o.id)

    async def count(self) -> int:
        """How many organizations exist."""
        return int(
            (
                await self._conn.execute(select(func.count()).select_from(t.organizations))
            ).scalar_one()
        )

    async def _with_identifiers(self, rows: Sequence[Row[Any]]) -> list[Organization]:
        if not rows:
            return []
        ident_rows = (
            await self._conn.execute(
                select(t.organization_identifiers)
                .where(t.organization_identifiers.c.organization_id.in_([r.id for r in rows]))
                .order_by(t.organization_identifiers.c.system)
            )
        ).all()
        idents: dict[str, list[OrgIdentifier]] = defaultdict(list)
        for ident in ident_rows:
            idents[ident.organization_id].append(OrgIdentifier(ident.system, ident.value))
        return [
            Organization(
                id=r.id,
                kind=OrgKind(r.kind),
                name=r.name,
                jurisdiction=Jurisdiction(r.jurisdiction),
                parent_id=r.parent_id,
                function=UnitFunction(r.function) if r.function else None,
                identifiers=tuple(idents[r.id]),
                version=r.version,
                service_code=ServiceCode(r.service_code) if r.service_code else None,
                updated_at=r.updated_at,
            )
            for r in rows
        ]


class CooperationAreaRepository:
    """Cooperation areas and their member municipalities."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, area: CooperationArea) -> None:
        """Insert a new cooperation area with its members."""
        now = utcnow()
        await self._conn.execute(
            insert(t.cooperation_areas).values(
                id=area.id,
                name=area.name,
                region_id=area.region_id,
                version=area.version,
                created_at=now,
                updated_at=now,
            )
        )
        if area.municipality_ids:
            await self._conn.execute(
                insert(t.cooperation_area_members),
                [{"area_id": area.id, "municipality_id": m} for m in area.municipality_ids],
            )

    async def add_member(self, area: CooperationArea, municipality_id: str) -> None:
        """Add a municipality to an area, raising the area's version."""
        await self._conn.execute(
            insert(t.cooperation_area_members).values(
                area_id=area.id, municipality_id=municipality_id
            )
        )
        await self._conn.execute(
            update(t.cooperation_areas)
            .where(t.cooperation_areas.c.id == area.id)
            .values(version=area.version + 1, updated_at=utcnow())
        )

    async def get(self, area_id: str) -> CooperationArea | None:
        """The cooperation area with this id, or None."""
        page = await self._load(
            select(t.cooperation_areas).where(t.cooperation_areas.c.id == area_id)
        )
        return page[0] if page else None

    async def page(
        self,
        *,
        limit: int,
        after: str | None = None,
        region_id: str | None = None,
        municipality_id: str | None = None,
    ) -> Page[CooperationArea]:
        """Cooperation areas in id order, filtered by region or member municipality."""
        query = page_query(
            t.cooperation_areas, limit=limit, after=after, equal={"region_id": region_id}
        )
        if municipality_id:
            query = query.where(
                t.cooperation_areas.c.id.in_(
                    select(t.cooperation_area_members.c.area_id).where(
                        t.cooperation_area_members.c.municipality_id == municipality_id
                    )
                )
            )
        return trim_to_page(await self._load(query), limit, lambda a: a.id)

    async def _load(self, query: Select[Any]) -> list[CooperationArea]:
        rows = (await self._conn.execute(query)).all()
        if not rows:
            return []
        members = (
            await self._conn.execute(
                select(t.cooperation_area_members)
                .where(t.cooperation_area_members.c.area_id.in_([r.id for r in rows]))
                .order_by(t.cooperation_area_members.c.municipality_id)
            )
        ).all()
        by_area: dict[str, list[str]] = defaultdict(list)
        for m in members:
            by_area[m.area_id].append(m.municipality_id)
        return [
            CooperationArea(
                id=r.id,
                name=r.name,
                region_id=r.region_id,
                municipality_ids=tuple(by_area[r.id]),
                version=r.version,
            )
            for r in rows
        ]
