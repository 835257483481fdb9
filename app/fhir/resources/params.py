"""The search-parameter values every resource type parses the same way."""

from __future__ import annotations

from datetime import UTC, datetime

from app.domain.errors import InvalidInput, NotFound
from app.domain.plans import Plan
from app.fhir import parse
from app.fhir.reference_params import reference_id
from app.fhir.resources.spec import Found, Reader
from app.security.access import Actor
from app.services import plans as plan_service
from app.store.unit_of_work import UnitOfWork

__all__ = [
    "by_id",
    "choice",
    "coded",
    "now",
    "own_organization",
    "plans_of",
    "reference_id",
    "subject_of",
    "token",
]


def token(value: str, name: str) -> tuple[str, str]:
    """An identifier searched as ``system|value``."""
    return parse.identifier(value, name)


async def by_id(reader: Reader, uow: UnitOfWork, actor: Actor, ident: str) -> Found:
    try:
        return [await reader(uow, actor, ident)], None
    except NotFound:
        return [], None


def now() -> datetime:
    return datetime.now(UTC)


def subject_of(params: dict[str, str]) -> str | None:
    for name in ("patient", "subject"):
        if name in params:
            return reference_id(params[name], "Patient", name)
    return None


def choice(params: dict[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = params.get(name)
    if value is not None and value not in allowed:
        raise InvalidInput(f"{name} is one of {', '.join(allowed)}", field=name)
    return value


def coded(params: dict[str, str], name: str, system: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    given_system, sep, code = value.rpartition("|")
    if sep and given_system and given_system != system:
        raise InvalidInput(f"{name} codes are of {system}", field=name)
    return code


def own_organization(params: dict[str, str], name: str, actor: Actor) -> None:
    """A reference parameter that may only name the caller's organization or its principal."""
    if reference_id(params[name], "Organization", name) not in actor.organizations:
        raise InvalidInput(
            f"{name} is the caller's own organization ({', '.join(actor.organizations)})",
            field=name,
        )


async def plans_of(
    uow: UnitOfWork, actor: Actor, params: dict[str, str], count: int, cursor: str | None
) -> tuple[list[Plan], str | None]:
    page = await plan_service.list_plans(
        uow, actor, limit=count, after=cursor, person_id=subject_of(params), status=None
    )
    return page.items, page.next_cursor
