"""The checks every request passes at the edge, before a route reads it (issue 14).

- ``NulGuard`` (middleware, every route): a NUL character in a query parameter or a header is
  refused with 400 naming it. No database column can store NUL, and PostgreSQL refuses it even
  in a comparison.
- ``check_request`` (REST and FHIR routes, from ``UnitOfWorkRoute``): a JSON body nested deeper
  than ``SAMVERKAN_MAX_JSON_DEPTH`` or holding NUL in a string is refused with 400 before it is
  parsed; a path id holding NUL is replaced by its digest (``app.domain.values.storable``), so
  that the route answers 404 as for any id that does not exist, and logs the refused access.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.domain.values import NUL, storable
from app.http.errors import Reshape, problem
from app.http.values import check_json_body

_JSON_METHODS = ("POST", "PUT", "PATCH")


def _nul_in_query(query: bytes) -> str | None:
    """The name of the first query parameter whose name or value holds NUL, or None."""
    if b"%00" not in query and b"\x00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if NUL in name or NUL in value:
            return name.replace(NUL, "") or "query"
    return "query"


class NulGuard:
    """Refuse a NUL in the query string or a header with 400, naming the parameter or header."""

    def __init__(self, app: ASGIApp, reshape: Reshape) -> None:
        self.app = app
        self.reshape = reshape

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = _nul_in_query(scope.get("query_string", b""))
        where = "query parameter"
        if field is None:
            where = "header"
            field = next(
                (name.decode("latin-1") for name, value in scope["headers"] if b"\x00" in value),
                None,
            )
        if field is None:
            await self.app(scope, receive, send)
            return
        response = problem(
            400,
            f"the {where} {field} holds a NUL character",
            kind="malformed",
            errors=[{"field": field, "message": "holds a NUL character"}],
        )
        await self.reshape(Request(scope), response)(scope, receive, send)


def _is_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


async def check_request(request: Request) -> None:
    """The checks of one request before its route runs (see the module's docstring)."""
    params: dict[str, object] = request.scope.get("path_params") or {}
    for name, value in params.items():
        if isinstance(value, str) and NUL in value:
            params[name] = storable(value)
    if request.method in _JSON_METHODS and _is_json(request):
        check_json_body(await request.body(), request.app.state.settings.max_json_depth)
