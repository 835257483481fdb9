"""History: of one resource and of a type (https://hl7.org/fhir/R4/http.html#history)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request
from starlette.responses import Response

from app.domain.errors import InvalidInput, NotFound
from app.domain.values import parse_int
from app.fhir.cursors import cursor_position, cursor_text
from app.fhir.dates import NEVER, date_test, moment
from app.fhir.dispatch import SettingsDep, require_scope, spec_of
from app.fhir.history_bundles import audit_history, history_bundle, history_entry
from app.fhir.outcome import fhir_response
from app.fhir.resources.spec import Resource, ResourceSpec, SearchQuery
from app.fhir.search import MAX_COUNTED
from app.http.deps import Caller, UowDep
from app.security.access import Actor
from app.store.unit_of_work import UnitOfWork


def _history_key(resource: Resource) -> tuple[str, str, int]:
    meta_ = resource["meta"]
    return meta_.get("lastUpdated") or "", resource["id"], int(meta_["versionId"])


def _history_cursor(key: tuple[str, str, int]) -> str:
    return f"{key[0]}~{key[1]}~{key[2]}"


async def _earlier(
    spec: ResourceSpec, uow: UnitOfWork, actor: Actor, ident: str, number: int
) -> Resource | None:
    """Version ``number`` of a resource, or None when the type keeps no earlier versions or the
    resource did not yet exist then (a Goal or Consent is versioned with its plan, and a plan's
    early versions may not have had it)."""
    if spec.vread is None:
        return None
    try:
        return await spec.vread(uow, actor, ident, number)
    except NotFound:
        return None


async def type_history(
    resource_type: str, actor: Caller, uow: UowDep, request: Request, settings: SettingsDep
) -> Response:
    """Every version of the resources of a type the caller may see, newest first.

    ``_since`` keeps the versions changed at or after an instant; pages follow ``next`` links
    whose cursor is the last entry's (time, id, version), so no version repeats or is skipped.
    """
    spec = spec_of(resource_type)
    require_scope(actor, resource_type, "s")
    allowed = {"_since", "_count", "_cursor", "_format"}
    params: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed or name in params:
            raise InvalidInput(
                f"a type history takes {', '.join(sorted(allowed))}, each at most once", field=name
            )
        params[name] = value
    since = None
    if "_since" in params:
        since = date_test("_since", "ge" + params["_since"]).low
    count_text = params.get("_count", str(settings.default_page_size))
    count = min(
        parse_int(count_text, "_count", minimum=1, what="_count is a positive number"),
        settings.max_page_size,
    )
    if resource_type == "AuditEvent":
        # The access log pages in the database, to any depth (app.fhir.history_bundles).
        audit_bundle = await audit_history(
            uow,
            actor,
            f"{settings.issuer}/fhir",
            request.url,
            since=since,
            cursor=cursor_position(params.get("_cursor")),
            count=count,
        )
        return fhir_response(audit_bundle)
    before: tuple[str, str, int] | None = None
    if "_cursor" in params:
        stamp, _sep, rest = (cursor_position(params["_cursor"]) or "").partition("~")
        ident, _sep, version = rest.rpartition("~")
        what = "_cursor is not one this history gave out"
        before = (stamp, ident, parse_int(version, "_cursor", what=what))
    versions: list[Resource] = []
    scanned, cursor = 0, None
    while True:
        every = SearchQuery.of({}, settings.max_page_size, cursor, settings)
        found, cursor = await spec.search(uow, actor, every)
        scanned += len(found)
        if scanned > MAX_COUNTED:
            raise InvalidInput(
                f"more than {MAX_COUNTED} {resource_type} resources; read instance histories",
                field="_since",
            )
        for resource in found:
            # Newest first: once a version is older than _since, so are the ones before it.
            number, entry = int(resource["meta"]["versionId"]), resource
            while True:
                updated = (entry.get("meta") or {}).get("lastUpdated")
                if since is not None and (updated is None or moment(updated, NEVER) < since):
                    break
                versions.append(entry)
                number -= 1
                if spec.vread is None or number < 1:
                    break
                earlier = await _earlier(spec, uow, actor, resource["id"], number)
                if earlier is None:
                    break
                entry = earlier
        if cursor is None:
            break
    versions.sort(key=_history_key, reverse=True)
    if before is not None:
        versions = [v for v in versions if _history_key(v) < before]
    page = versions[:count]
    base = f"{settings.issuer}/fhir"
    links = [{"relation": "self", "url": str(request.url)}]
    if len(versions) > count:
        links.append(
            {
                "relation": "next",
                "url": str(
                    request.url.include_query_params(
                        _cursor=cursor_text(_history_cursor(_history_key(page[-1])))
                    )
                ),
            }
        )
    # ele-1: no empty entry array when no version is in the page.
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "history", "link": links}
    if page:
        bundle["entry"] = [history_entry(base, v) for v in page]
    if before is None and len(versions) <= count:
        bundle["total"] = len(versions)
    return fhir_response(bundle)


async def history(
    resource_type: str,
    resource_id: Annotated[str, Path(max_length=64)],
    actor: Caller,
    uow: UowDep,
    request: Request,
    settings: SettingsDep,
) -> Response:
    """Every version of a CarePlan (and of its Goals, CareTeam and Consents) the resource had,
    newest first; the current version of other resources."""
    spec = spec_of(resource_type)
    require_scope(actor, resource_type, "r")
    current = await spec.read(uow, actor, resource_id)
    versions = [current]
    for number in range(int(current["meta"]["versionId"]) - 1, 0, -1):
        earlier = await _earlier(spec, uow, actor, resource_id, number)
        if earlier is None:
            break
        versions.append(earlier)
    base = f"{settings.issuer}/fhir"
    return fhir_response(history_bundle(base, request.url, versions, None, len(versions)))
