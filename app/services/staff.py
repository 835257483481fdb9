"""Use cases of the staff register: register practitioners and their roles, read and search them.

The register holds no patient data: any caller with the scope reads it, as it reads the
organization catalogue. A role is registered by the organization it is held at (a unit's
client for its unit, a principal's client for itself or any of its units) or by an
administrator; a practitioner by anyone with the scope, once per identifier.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.domain.errors import Conflict, Forbidden, UnknownReference
from app.domain.organizations import Jurisdiction
from app.domain.staff import (
    Practitioner,
    PractitionerRole,
    StaffRole,
    validate_practitioner,
    validate_role,
)
from app.security.access import Actor
from app.security.scopes import ADMIN_SCOPE
from app.services.lookups import present
from app.services.plans import principal_of
from app.store.paging import AnyOf, Page
from app.store.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class NewPractitioner:
    """A practitioner as sent."""

    identifier_system: str
    identifier_value: str
    given_name: str
    family_name: str
    jurisdiction: Jurisdiction


@dataclass(frozen=True, slots=True)
class NewRole:
    """A role as sent."""

    practitioner_id: str
    organization_id: str
    role: StaffRole
    title: str | None = None


async def register_practitioner(
    uow: UnitOfWork, cmd: NewPractitioner, *, practitioner_id: str | None = None
) -> Practitioner:
    """Register a practitioner under a staff identifier not registered before."""
    practitioner = Practitioner(
        id=practitioner_id or str(uuid.uuid4()),
        identifier_system=cmd.identifier_system,
        identifier_value=cmd.identifier_value.strip(),
        given_name=cmd.given_name.strip(),
        family_name=cmd.family_name.strip(),
        jurisdiction=cmd.jurisdiction,
    )
    validate_practitioner(practitioner)
    existing = await uow.staff.practitioner_by_identifier(
        practitioner.identifier_system, practitioner.identifier_value
    )
    if existing is not None:
        raise Conflict(
            f"{practitioner.identifier_value} is already registered as practitioner {existing.id}",
            field="identifier.value",
        )
    await uow.staff.add_practitioner(practitioner)
    return practitioner


async def register_role(
    uow: UnitOfWork, actor: Actor | None, cmd: NewRole, *, role_id: str | None = None
) -> PractitionerRole:
    """Register a practitioner's role at an organization the caller acts for (or as an
    administrator; ``actor`` None is the service itself, loading demo data)."""
    practitioner = await uow.staff.get_practitioner(cmd.practitioner_id)
    if practitioner is None:
        raise UnknownReference(
            f"unknown practitioner {cmd.practitioner_id}", field="practitioner_id"
        )
    organization = await uow.organizations.get(cmd.organization_id)
    if organization is None:
        raise UnknownReference(
            f"unknown organization {cmd.organization_id}", field="organization_id"
        )
    principal = principal_of(organization)
    if (
        actor is not None
        and ADMIN_SCOPE not in actor.scopes
        and not actor.reach.matches(organization.id, principal)
    ):
        raise Forbidden(
            f"a role at {organization.id} is registered by that organization (or its "
            f"principal's system); the caller acts for {actor.acting_id}",
            field="organization_id",
        )
    role = PractitionerRole(
        id=role_id or str(uuid.uuid4()),
        practitioner_id=practitioner.id,
        organization_id=organization.id,
        principal_id=principal,
        role=cmd.role,
        title=cmd.title,
    )
    validate_role(role, practitioner, organization)
    await uow.staff.add_role(role)
    return role


async def get_practitioner(uow: UnitOfWork, practitioner_id: str) -> Practitioner:
    """One practitioner."""
    return present(
        await uow.staff.get_practitioner(practitioner_id), "practitioner", practitioner_id
    )


async def list_practitioners(
    uow: UnitOfWork,
    *,
    limit: int,
    after: str | None,
    name: str | None,
    identifier: tuple[str, str] | None,
    ids: AnyOf = None,
) -> Page[Practitioner]:
    """Practitioners by part of the name or by identifier (``ids``: any of them)."""
    return await uow.staff.practitioners(
        limit=limit, after=after, name=name, identifier=identifier, ids=ids
    )


async def get_role(uow: UnitOfWork, role_id: str) -> PractitionerRole:
    """One role."""
    return present(await uow.staff.get_role(role_id), "practitioner role", role_id)


async def list_roles(
    uow: UnitOfWork,
    *,
    limit: int,
    after: str | None,
    organization_id: AnyOf,
    principal_id: str | None,
    practitioner_id: AnyOf,
    role: AnyOf,
    ids: AnyOf = None,
) -> Page[PractitionerRole]:
    """Roles, filtered by organization, principal, practitioner or kind (a collection: any of
    its values)."""
    return await uow.staff.roles(
        limit=limit,
        after=after,
        organization_id=organization_id,
        principal_id=principal_id,
        practitioner_id=practitioner_id,
        role=role,
        ids=ids,
    )
