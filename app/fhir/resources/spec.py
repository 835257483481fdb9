"""How one resource type is served: its readers, searcher, parameters and includes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from app.security.access import Actor
from app.settings import Settings
from app.store.unit_of_work import UnitOfWork

Resource = dict[str, Any]
Found = tuple[list[Resource], str | None]
Reader = Callable[[UnitOfWork, Actor, str], Awaitable[Resource]]
VersionReader = Callable[[UnitOfWork, Actor, str, int], Awaitable[Resource]]
Searcher = Callable[
    [UnitOfWork, Actor, dict[str, str], int, str | None, Settings], Awaitable[Found]
]


@dataclass(frozen=True, slots=True)
class SearchParam:
    """A search parameter a resource type supports."""

    name: str
    type: str
    documentation: str


@dataclass(frozen=True, slots=True)
class Include:
    """An ``_include`` a resource type supports: the resources its ``element`` refers to
    (``target`` names their type, or types as ``A|B``)."""

    name: str
    element: str
    target: str


Period = Callable[[dict[str, Any]], tuple[str | None, str | None]]


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    """How one resource type is served.

    ``period`` gives the start and end a ``date`` search compares with (when it has one).
    """

    read: Reader
    search: Searcher
    params: tuple[SearchParam, ...]
    vread: VersionReader | None = None
    documentation: str = ""
    includes: tuple[Include, ...] = ()
    period: Period | None = None
    operations: tuple[tuple[str, str], ...] = ()


ID = SearchParam("_id", "token", "the logical id")
PATIENT = SearchParam("patient", "reference", "the person (Patient/id or id)")
SUBJECT = SearchParam("subject", "reference", "the same as patient")


def date_param(documentation: str) -> SearchParam:
    return SearchParam(
        "date", "date", f"{documentation}; eq, gt, ge, lt, le prefixes; may be repeated"
    )


def period_of(resource: Resource) -> tuple[str | None, str | None]:
    period = resource.get("period") or {}
    return period.get("start"), period.get("end")


def start_end(resource: Resource) -> tuple[str | None, str | None]:
    return resource.get("start"), resource.get("end")
