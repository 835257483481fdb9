"""The search-parameter values every resource type parses the same way."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import TypeVar

from app.domain.errors import InvalidInput
from app.domain.plans import Plan, PlanStatus
from app.fhir import parse
from app.fhir.common import parent_of
from app.fhir.reference_params import reference_id
from app.fhir.resources.spec import SearchQuery
from app.security.access import Actor
from app.services import plans as plan_service
from app.store.unit_of_work import UnitOfWork

__all__ = [
    "SearchQuery",
    "coded_as",
    "enum_codes",
    "now",
    "own_role",
    "parents",
    "plans_of",
    "reference_id",
    "token",
]

E = TypeVar("E", bound=Enum)


def token(value: str, name: str) -> tuple[str, str]:
    """An identifier searched as ``system|value``."""
    return parse.identifier(value, name)


def now() -> datetime:
    return datetime.now(UTC)


def coded_as(codes: Collection[str], meaning: Mapping[str, tuple[E, ...]]) -> list[E]:
    """The domain values the FHIR codes stand for (each code: any of its values)."""
    return [value for code in codes for value in meaning[code]]


def enum_codes(query: SearchQuery, name: str, system: str, codes: type[E]) -> list[E]:
    """The domain values a token parameter's codes (of ``system``) name; an unknown code is
    refused, naming the codes there are."""
    found = []
    for code in query.coded(name, system):
        try:
            found.append(codes(code))
        except ValueError as exc:
            known = ", ".join(str(c.value) for c in codes)
            raise InvalidInput(f"{name} is one of {known}", field=name) from exc
    return found


def own_role(query: SearchQuery, actor: Actor, roles: Mapping[str, str]) -> str | None:
    """The caller's role a search asks for: ``roles`` maps reference parameters, each of which
    may only name the caller's organization or its principal, to the role each stands for
    (the last given wins)."""
    role = None
    for name, meaning in roles.items():
        for organization in query.references(name, "Organization"):
            if organization not in actor.organizations:
                raise InvalidInput(
                    f"{name} is the caller's own organization ({', '.join(actor.organizations)})",
                    field=name,
                )
            role = meaning
    return role


def parents(query: SearchQuery) -> tuple[str, ...]:
    """The records whose parts ``_id`` names (a Goal's or Consent's plan, an
    AppointmentResponse's meeting)."""
    return tuple(dict.fromkeys(parent_of(i) for i in query.ids))


async def plans_of(
    uow: UnitOfWork,
    actor: Actor,
    query: SearchQuery,
    status: Collection[PlanStatus] = (),
    *,
    ids: Collection[str],
    jurisdiction: Collection[str] = (),
) -> tuple[list[Plan], str | None]:
    """A page of the plans searched (or whose parts are: goals, consents): of the persons
    named, among ``ids``, in one of ``status`` and ``jurisdiction`` (none: any)."""
    page = await plan_service.list_plans(
        uow,
        actor,
        limit=query.count,
        after=query.cursor,
        person_id=query.subjects(),
        status=status,
        ids=ids,
        jurisdiction=jurisdiction,
    )
    return page.items, page.next_cursor
