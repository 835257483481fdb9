"""The staff register in the database: practitioners and their roles."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.clock import utcnow
from app.domain.organizations import Jurisdiction
from app.domain.staff import Practitioner, PractitionerRole, StaffRole
from app.store import tables as t
from app.store.paging import AnyOf, Page, page_query, trim_to_page

_p = t.practitioners.c
_r = t.practitioner_roles.c


def _practitioner(row: Any) -> Practitioner:
    return Practitioner(
        id=row.id,
        identifier_system=row.identifier_system,
        identifier_value=row.identifier_value,
        given_name=row.given_name,
        family_name=row.family_name,
        jurisdiction=Jurisdiction(row.jurisdiction),
        active=row.active,
        version=row.version,
        # Registered once and never changed: the one version was written when it was created.
        updated_at=row.created_at,
    )


def _role(row: Any) -> PractitionerRole:
    return PractitionerRole(
        id=row.id,
        practitioner_id=row.practitioner_id,
        organization_id=row.organization_id,
        principal_id=row.principal_id,
        role=StaffRole(row.role),
        active=row.active,
        title=row.title,
        version=row.version,
        updated_at=row.created_at,
    )


class StaffRepository:
    """Practitioners and their roles at organizations."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add_practitioner(self, practitioner: Practitioner) -> None:
        """Register a practitioner."""
        practitioner.updated_at = utcnow()
        await self._conn.execute(
            insert(t.practitioners).values(
                id=practitioner.id,
                identifier_system=practitioner.identifier_system,
                identifier_value=practitioner.identifier_value,
                given_name=practitioner.given_name,
                family_name=practitioner.family_name,
                jurisdiction=practitioner.jurisdiction.value,
                active=practitioner.active,
                version=practitioner.version,
                created_at=practitioner.updated_at,
            )
        )

    async def get_practitioner(self, practitioner_id: str) -> Practitioner | None:
        """The practitioner, or None."""
        row = (
            await self._conn.execute(select(t.practitioners).where(_p.id == practitioner_id))
        ).first()
        return _practitioner(row) if row else None

    async def practitioner_by_identifier(self, system: str, value: str) -> Practitioner | None:
        """The practitioner registered under this identifier, or None."""
        row = (
            await self._conn.execute(
                select(t.practitioners).where(
                    _p.identifier_system == system, _p.identifier_value == value
                )
            )
        ).first()
        return _practitioner(row) if row else None

    async def practitioners(
        self,
        *,
        limit: int,
        after: str | None = None,
        name: str | None = None,
        identifier: tuple[str, str] | None = None,
        ids: AnyOf = None,
    ) -> Page[Practitioner]:
        """Practitioners in id order, by part of the name or by identifier (``ids``: any of
        them)."""
        query = page_query(t.practitioners, limit=limit, after=after, equal={"id": ids})
        if name:
            pattern = f"%{name.lower()}%"
            query = query.where(func.lower(_p.given_name + " " + _p.family_name).like(pattern))
        if identifier is not None:
            query = query.where(
                _p.identifier_system == identifier[0], _p.identifier_value == identifier[1]
            )
        rows = (await self._conn.execute(query)).all()
        return trim_to_page([_practitioner(r) for r in rows], limit, lambda x: x.id)

    async def add_role(self, role: PractitionerRole) -> None:
        """Register a practitioner's role."""
        role.updated_at = utcnow()
        await self._conn.execute(
            insert(t.practitioner_roles).values(
                id=role.id,
                practitioner_id=role.practitioner_id,
                organization_id=role.organization_id,
                principal_id=role.principal_id,
                role=role.role.value,
                title=role.title,
                active=role.active,
                version=role.version,
                created_at=role.updated_at,
            )
        )

    async def get_role(self, role_id: str) -> PractitionerRole | None:
        """The role, or None."""
        row = (
            await self._conn.execute(select(t.practitioner_roles).where(_r.id == role_id))
        ).first()
        return _role(row) if row else None

    async def roles(
        self,
        *,
        limit: int,
        after: str | None = None,
        organization_id: AnyOf = None,
        principal_id: str | None = None,
        practitioner_id: AnyOf = None,
        role: AnyOf = None,
        active: bool | None = None,
        ids: AnyOf = None,
    ) -> Page[PractitionerRole]:
        """Roles in id order, filtered (a collection: any of its values)."""
        query = page_query(
            t.practitioner_roles,
            limit=limit,
            after=after,
            equal={
                "id": ids,
                "organization_id": organization_id,
                "principal_id": principal_id,
                "practitioner_id": practitioner_id,
                "role": role,
                "active": active,
            },
        )
        rows = (await self._conn.execute(query)).all()
        return trim_to_page([_role(r) for r in rows], limit, lambda x: x.id)

    async def roles_of_principal(
        self, principal_id: str, codes: Sequence[StaffRole]
    ) -> list[PractitionerRole]:
        """The principal's roles (at itself or any of its units) of the given kinds."""
        rows = await self._conn.execute(
            select(t.practitioner_roles).where(
                _r.principal_id == principal_id, _r.role.in_([c.value for c in codes])
            )
        )
        return [_role(r) for r in rows.all()]
