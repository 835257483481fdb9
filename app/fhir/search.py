"""Search: parameters, date filters, _include/_revinclude, paging (https://hl7.org/fhir/R4/search.html)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from app.domain.errors import InvalidInput, NotFound
from app.domain.values import parse_int
from app.fhir import search_params
from app.fhir.common import FHIR_JSON
from app.fhir.dates import date_test, dated
from app.fhir.dispatch import require_scope, spec_of
from app.fhir.outcome import fhir_response
from app.fhir.resources import RESOURCES
from app.fhir.resources.spec import Found, Resource, ResourceSpec
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


def _search_params(
    resource_type: str, spec: ResourceSpec, request: Request
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The single-valued parameters, and the values of the repeatable ones."""
    params: dict[str, str] = {}
    repeated: dict[str, list[str]] = {}
    known = {p.name for p in spec.params} | set(COMMON_PARAMS)
    for name, value in request.query_params.multi_items():
        if name not in known:
            raise InvalidInput(
                f"{resource_type} is not searched by {name}; supported: {', '.join(sorted(known))}",
                field=name,
            )
        if name in REPEATABLE and (name != "date" or spec.period is not None):
            repeated.setdefault(name, []).append(value)
            continue
        if name in params:
            raise InvalidInput(f"{name} is given more than once", field=name)
        params[name] = value
    return params, repeated


# Types whose search results are records about the searched person that the caller is a party
# to (their record parties carry the person).
_PERSON_RECORDS = frozenset({"CarePlan", "Encounter"})


async def search(resource_type: str, actor: Caller, uow: UowDep, request: Request) -> Response:
    """Search; the result is a searchset Bundle whose `next` link never repeats or skips."""
    spec = spec_of(resource_type)
    require_scope(actor, resource_type, "s")
    settings: Settings = request.app.state.settings
    params, repeated = _search_params(resource_type, spec, request)
    if params.get("_format", "json") not in ("json", FHIR_JSON, "application/json"):
        raise InvalidInput("only JSON is served", field="_format")
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
    asked = search_params.plan(resource_type, declared, params, f"{settings.issuer}/fhir")

    async def matching(limit: int, cursor: str | None) -> Found:
        found, after = await search_params.run(
            spec.search, uow, actor, asked, limit, cursor, settings
        )
        if dates:
            found = [r for r in found if dated(spec, dates, r)]
        return found, after

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
        return fhir_response({"resourceType": "Bundle", "type": "searchset", "total": total})
    resources, next_cursor = await matching(count, params.get("_cursor"))
    included = await _included(uow, actor, spec, includes, resources)
    if revinclude is not None:
        kind = revinclude.split(":", 1)[0]
        require_scope(actor, kind, "s")
        for found_patient in resources:
            related, _more = await RESOURCES[kind].search(
                uow, actor, {"patient": found_patient["id"]}, settings.max_page_size, None, settings
            )
            included += related
    subjects = asked.subjects()
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
    base = f"{settings.issuer}/fhir"
    links = [{"relation": "self", "url": str(request.url)}]
    if next_cursor is not None:
        links.append(
            {"relation": "next", "url": str(request.url.include_query_params(_cursor=next_cursor))}
        )
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
    # ele-1: an element is never an empty array, so a searchset without matches has no entry.
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "link": links}
    if entries:
        bundle["entry"] = entries
    if next_cursor is None and "_cursor" not in params:
        bundle["total"] = len(resources)
    return fhir_response(bundle)
