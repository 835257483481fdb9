"""How one resource type is served: its readers, searcher, parameters and includes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.domain.errors import InvalidInput
from app.fhir.reference_params import reference_id
from app.security.access import Actor
from app.settings import Settings
from app.store.unit_of_work import UnitOfWork

Resource = dict[str, Any]
Found = tuple[list[Resource], str | None]
Reader = Callable[[UnitOfWork, Actor, str], Awaitable[Resource]]
VersionReader = Callable[[UnitOfWork, Actor, str, int], Awaitable[Resource]]


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """One search as a searcher runs it: each parameter's values (several are a comma list,
    any of which may match; the searcher asks for them in one query, so the page is paged and
    ordered as one), the page size, the cursor after which the page starts, and the settings.

    ``app.fhir.search_params`` has turned the values into what a searcher takes: a reference's
    id, a code without its system, ``system|value`` for an identifier.
    """

    params: Mapping[str, tuple[str, ...]]
    count: int
    cursor: str | None
    settings: Settings

    @classmethod
    def of(
        cls, params: Mapping[str, str], count: int, cursor: str | None, settings: Settings
    ) -> SearchQuery:
        """A search with one value per parameter (a search the service makes itself)."""
        return cls({name: (value,) for name, value in params.items()}, count, cursor, settings)

    def __contains__(self, name: str) -> bool:
        return name in self.params

    def values(self, name: str) -> tuple[str, ...]:
        """The values of ``name`` (none: not given)."""
        return self.params.get(name, ())

    def one(self, name: str) -> str | None:
        """The value of a parameter searched by one value (a string, a URL)."""
        values = self.values(name)
        if len(values) > 1:
            raise InvalidInput(f"{name} takes one value", field=name)
        return values[0] if values else None

    @property
    def ids(self) -> tuple[str, ...]:
        """The ids ``_id`` names (none: not given)."""
        return self.values("_id")

    def choice(self, name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
        """The codes of ``name``, each one of ``allowed``."""
        values = self.values(name)
        for value in values:
            if value not in allowed:
                raise InvalidInput(f"{name} is one of {', '.join(allowed)}", field=name)
        return values

    def coded(self, name: str, system: str) -> tuple[str, ...]:
        """The codes of ``name`` (``code`` or ``system|code``, of ``system`` only)."""
        codes = []
        for value in self.values(name):
            given_system, sep, code = value.rpartition("|")
            if sep and given_system and given_system != system:
                raise InvalidInput(f"{name} codes are of {system}", field=name)
            codes.append(code)
        return tuple(codes)

    def references(self, name: str, resource_type: str) -> tuple[str, ...]:
        """The ids the reference parameter ``name`` names (each of ``resource_type``)."""
        return tuple(reference_id(v, resource_type, name) for v in self.values(name))

    def subjects(self) -> tuple[str, ...]:
        """The persons ``patient`` or ``subject`` name (none: neither is given)."""
        return self.references("patient", "Patient") or self.references("subject", "Patient")


Searcher = Callable[[UnitOfWork, Actor, SearchQuery], Awaitable[Found]]


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
    ``single`` names the token and reference parameters whose comma lists the searcher cannot
    take at once: each value is searched on its own and the results merged
    (``app.fhir.search_params``); the searcher is given every other one's values together.
    ``parts``: the resources are parts of records (a plan's goals), and the searcher pages by
    record (its cursor is the last record's id).
    """

    read: Reader
    search: Searcher
    params: tuple[SearchParam, ...]
    vread: VersionReader | None = None
    documentation: str = ""
    includes: tuple[Include, ...] = ()
    period: Period | None = None
    operations: tuple[tuple[str, str], ...] = ()
    single: frozenset[str] = frozenset()
    parts: bool = False


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
