"""Search: parameters, date filters, _include/_revinclude, paging (https://hl7.org/fhir/R4/search.html)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import Response

from app.domain.errors import InvalidInput, NotFound
from app.domain.values import parse_int
from app.fhir import search_params
from app.fhir.cursors import cursor_position, cursor_text
from app.fhir.dates import date_test, dated
from app.fhir.dispatch import require_scope, spec_of
from app.fhir.outcome import fhir_response
from app.fhir.resources import RESOURCES
from app.fhir.resources.spec import Found, Resource, ResourceSpec, SearchQuery
from app.http.deps import Caller, UowDep
from app.security.access import Actor, record
from app.services import persons as person_service
from app.settings import Settings
from app.store.unit_of_work import UnitOfWork

COMMON_PARAMS = (
    "_count",
    "_cursor",
    "_format",
    "_sort",
    "_summary",
    "_revinclude",
    "_include",
    "_lastUpdated",
)
# Patient searches may bring along what refers to the patients found.
REVINCLUDES = ("Encounter:patient", "CarePlan:patient", "Appointment:patient", "Consent:patient")
MAX_COUNTED = 10_000


def _references(node: Any, path: list[str]) -> list[str]:
    """The reference strings at a dotted element path (through lists)."""
    if isinstance(node, list):
        return [r for item in node for r in _references(item, path)]
    if not isinstance(node, dict):
        return []
    if not path:
        value = node.get("reference")
        return [value] if isinstance(value, str) else []
    return _references(node.get(path[0]), path[1:])


async def _included(
    uow: UnitOfWork, actor: Actor, spec: ResourceSpec, names: list[str], found: list[Resource]
) -> list[Resource]:
    """The resources the found ones refer to through the requested ``_include``s.

    Each is read through its own reader, so what the caller may not see is left out (as a
    missing one would be) and every read is access-logged.
    """
    wanted = {i.name: i for i in spec.includes}
    seen = {(r["resourceType"], r["id"]) for r in found}
    included: list[Resource] = []
    for name in names:
        include = wanted[name]
        targets = include.target.split("|")
        for target in targets:
            require_scope(actor, target, "r")
        for resource in found:
            for reference in _references(resource, include.element.split(".")):
                kind, _sep, ident = reference.partition("/")
                if kind not in targets or (kind, ident) in seen:
                    continue
                seen.add((kind, ident))
                try:
                    included.append(await RESOURCES[kind].read(uow, actor, ident))
                except NotFound:
                    continue
    return included


REPEATABLE = frozenset({"date", "_lastUpdated", "_include"})


def lenient(prefer: str) -> bool:
    """Whether a ``Prefer`` header asks for lenient handling: unknown and unsupported
    parameters are then left out (and named in the searchset) instead of refused
    (https://hl7.org/fhir/R4/search.html#errors). Without it the search is strict."""
    for preference in prefer.replace(",", ";").split(";"):
        name, _sep, value = preference.strip().partition("=")
        if name.strip().lower() == "handling":
            return value.strip().strip('"').lower() == "lenient"
    return False


@dataclass(frozen=True, slots=True)
class Asked:
    """A search's parameters: the single-valued ones, the values of the repeatable ones, and
    those left out under lenient handling (each with why)."""

    params: dict[str, str]
    repeated: dict[str, list[str]]
    ignored: dict[str, str]


def _search_params(
    resource_type: str, spec: ResourceSpec, items: list[tuple[str, str]], lenient: bool
) -> Asked:
    """The parameters of a search; one the type is not searched by is refused, naming it (or,
    under lenient handling, left out)."""
    params: dict[str, str] = {}
    repeated: dict[str, list[str]] = {}
    ignored: dict[str, str] = {}
    known = {p.name for p in spec.params} | set(COMMON_PARAMS)
    for name, value in items:
        if name not in known:
            supported = ", ".join(sorted(known))
            why = f"{resource_type} is not searched by {name}; supported: {supported}"
            if not lenient:
                raise InvalidInput(why, field=name)
            ignored[name] = why
            continue
        if name in REPEATABLE and (name != "date" or spec.period is not None):
            repeated.setdefault(name, []).append(value)
            continue
        if name in params:
            raise InvalidInput(f"{name} is given more than once", field=name)
        params[name] = value
    return Asked(params, repeated, ignored)


def ignored_outcome(ignored: dict[str, str]) -> dict[str, Any]:
    """The OperationOutcome entry of a lenient search: each parameter left out."""
    issues = [
        {"severity": "warning", "code": "not-supported", "diagnostics": why, "expression": [name]}
        for name, why in ignored.items()
    ]
    return {
        "resource": {"resourceType": "OperationOutcome", "issue": issues},
        "search": {"mode": "outcome"},
    }


# Types whose search results are records about the searched person that the caller is a party
# to (their record parties carry the person).
_PERSON_RECORDS = frozenset({"CarePlan", "Encounter"})


async def search(resource_type: str, actor: Caller, uow: UowDep, request: Request) -> Response:
    """Search; the result is a searchset Bundle whose `next` link never repeats or skips."""
    settings: Settings = request.app.state.settings
    bundle = await searchset(
        uow,
        actor,
        resource_type,
        request.query_params.multi_items(),
        str(request.url.replace(query="")).rstrip("?"),
        settings,
        lenient=lenient(request.headers.get("prefer", "")),
    )
    return fhir_response(bundle)


async def searchset(
    uow: UnitOfWork,
    actor: Actor,
    resource_type: str,
    items: list[tuple[str, str]],
    url: str,
    settings: Settings,
    *,
    lenient: bool = False,
) -> dict[str, Any]:
    """The searchset Bundle of a search of ``resource_type`` by the query ``items`` (``url``
    is where the search is made, for its links): the same from the search interaction and from
    a GET entry of a batch or transaction."""
    spec = spec_of(resource_type)
    require_scope(actor, resource_type, "s")
    asked = _search_params(resource_type, spec, items, lenient)
    params, repeated = asked.params, asked.repeated
    count_text = params.get("_count", str(settings.default_page_size))
    count = min(
        parse_int(count_text, "_count", minimum=1, what="_count is a positive number"),
        settings.max_page_size,
    )
    if params.get("_sort", "_id") != "_id":
        raise InvalidInput("results are sorted by _id only", field="_sort")
    summary = params.get("_summary")
    if summary not in (None, "count", "false"):
        raise InvalidInput("_summary is count or false", field="_summary")
    revinclude = params.get("_revinclude")
    if revinclude is not None and (resource_type != "Patient" or revinclude not in REVINCLUDES):
        raise InvalidInput(
            f"_revinclude is supported on Patient searches: {', '.join(REVINCLUDES)}",
            field="_revinclude",
        )
    includes = repeated.get("_include", [])
    supported = [i.name for i in spec.includes]
    for name in includes:
        if name not in supported:
            raise InvalidInput(
                f"{resource_type} supports _include of {', '.join(supported) or 'nothing'}",
                field="_include",
            )
    dates = [date_test(n, v) for n in ("date", "_lastUpdated") for v in repeated.get(n, [])]
    declared = {p.name: p.type for p in spec.params}
    base = f"{settings.issuer}/fhir"
    planned = search_params.plan(resource_type, declared, params, base, spec.single)

    def in_dates(resource: Resource) -> bool:
        return dated(spec, dates, resource)

    async def matching(limit: int, cursor: str | None) -> Found:
        return await search_params.run(
            spec.search,
            uow,
            actor,
            planned,
            limit,
            cursor,
            settings,
            keeps=in_dates if dates else None,
            parts=spec.parts,
        )

    if summary == "count":
        total, cursor = 0, None
        while True:
            found, cursor = await matching(settings.max_page_size, cursor)
            total += len(found)
            if cursor is None:
                break
            if total > MAX_COUNTED:
                raise InvalidInput(
                    f"more than {MAX_COUNTED} match; narrow the search", field="_summary"
                )
        return {"resourceType": "Bundle", "type": "searchset", "total": total}
    resources, next_cursor = await matching(count, cursor_position(params.get("_cursor")))
    included = await _included(uow, actor, spec, includes, resources)
    if revinclude is not None:
        kind = revinclude.split(":", 1)[0]
        require_scope(actor, kind, "s")
        for found_patient in resources:
            around = SearchQuery.of(
                {"patient": found_patient["id"]}, settings.max_page_size, None, settings
            )
            related, _more = await RESOURCES[kind].search(uow, actor, around)
            included += related
    subjects = planned.subjects()
    for subject in subjects:
        # A search by person is an access to that person's data even when nothing matches (the
        # answer echoes the id); refused when the caller has no part in the person's care.
        # A match of a type whose results are records the caller is a party to (each naming
        # the person) already answers it, without another statement.
        single = len(subjects) == 1
        in_care = (single and bool(resources) and resource_type in _PERSON_RECORDS) or (
            await person_service.is_party(uow, actor, subject)
        )
        result = "success" if in_care else "denied"
        record(uow, actor, "search", resource_type, None, subject, outcome=result)
    links = links_of(url, [(n, v) for n, v in items if n not in asked.ignored], next_cursor)
    entries = [
        {
            "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
            "resource": r,
            "search": {"mode": "match"},
        }
        for r in resources
    ] + [
        {
            "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
            "resource": r,
            "search": {"mode": "include"},
        }
        for r in included
    ]
    if asked.ignored:
        entries.append(ignored_outcome(asked.ignored))
    # ele-1: an element is never an empty array, so a searchset without matches has no entry.
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "link": links}
    if entries:
        bundle["entry"] = entries
    if next_cursor is None and "_cursor" not in params:
        bundle["total"] = len(resources)
    return bundle


def links_of(url: str, used: list[tuple[str, str]], next_cursor: str | None) -> list[Resource]:
    """A searchset's ``self`` link, with the parameters the search used (not those left out
    under lenient handling), and its ``next`` link when another page follows: after the
    position ``next_cursor``, as an opaque ``_cursor`` (``app.fhir.cursors``)."""

    def at(items: list[tuple[str, str]]) -> str:
        return f"{url}?{urlencode(items)}" if items else url

    links = [{"relation": "self", "url": at(used)}]
    if next_cursor is not None:
        following = [(n, v) for n, v in used if n != "_cursor"] + [
            ("_cursor", cursor_text(next_cursor))
        ]
        links.append({"relation": "next", "url": at(following)})
    return links
