"""Errors at the HTTP edges: domain errors and bad requests become ``application/problem+json``.

RFC 9457 problem details, with an ``errors`` array whose members name the offending element
(``field``, a dotted path into the request) so an integrator sees exactly what was wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from app.domain.errors import DomainError, Incomplete
from app.http.allow import allowed_methods
from app.http.vocabulary import TITLES, classify, title

logger = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://samverkan.dev/problems/"


class FieldError(BaseModel):
    """One problem with one element of the request."""

    field: str = Field(description="dotted path of the element, e.g. `identifier.value`")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    type: str = Field(examples=["https://samverkan.dev/problems/illegal-transition"])
    title: str = Field(examples=["Conflict"])
    status: int = Field(examples=[409])
    detail: str = Field(
        examples=["episode 7c0… was already discharged at 2026-03-02T10:00:00+00:00"]
    )
    errors: list[FieldError] = Field(default_factory=list)


def problem(
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem+json response."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (kind or title(status).lower().replace(" ", "-")),
        "title": title(status),
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def domain_error_response(exc: DomainError) -> Response:
    """Translate a domain error to its status and problem body (``app.http.vocabulary``)."""
    kind = classify(exc)
    errors = [{"field": exc.field, "message": exc.message}] if exc.field else None
    if isinstance(exc, Incomplete):
        errors = [{"field": f, "message": m} for f, m in exc.problems]
    return problem(kind.status, exc.message, kind=kind.problem, errors=errors)


def _loc_to_field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    path = ""
    for part in parts:
        path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
    return path or (str(loc[0]) if loc else "body")


# Conditional headers a route may require; their absence is 428 Precondition Required.
PRECONDITION_HEADERS = ("If-Match",)


def validation_error_response(exc: RequestValidationError) -> Response:
    """Pydantic's errors, one per element, with the element named."""
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        if (
            err.get("type") == "missing"
            and loc[:1] == ("header",)
            and loc[1:]
            and (loc[1] in PRECONDITION_HEADERS)
        ):
            return problem(
                428,
                f"{loc[1]} is required: name the version the change was made against, "
                f'e.g. {loc[1]}: W/"3" (the version of the last read)',
                kind="precondition-required",
                errors=[{"field": str(loc[1]), "message": "required"}],
            )
    errors = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            ctx = err.get("ctx") or {}
            return problem(
                400,
                f"the body is not valid JSON: {ctx.get('error', 'parse error')}",
                kind="malformed-json",
            )
        errors.append({"field": _loc_to_field(loc), "message": str(err.get("msg"))})
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem(422, f"the request is invalid: {summary}", kind="invalid-input", errors=errors)


def database_error(exc: DBAPIError) -> Response:
    """The problem of a request that failed on a database error (also a read whose access-log
    entries could not be written: nothing of the record is sent)."""
    if exc.connection_invalidated:
        # The database dropped the connection (a restart); the pool refills, a retry works.
        logger.warning("database connection lost; the request may be retried")
        return problem(
            503,
            "the database connection was lost; nothing was stored, retry the request",
            kind="database-unavailable",
            headers={"Retry-After": "1"},
        )
    logger.error("database error", exc_info=exc)
    return problem(500, "the request failed on a database error")


# An edge's chance to answer an error in its own form (the FHIR edge: an OperationOutcome under
# /fhir); it returns the response unchanged for a request that is not its own.
Reshape = Callable[[Request, Response], Response]


def install(app: FastAPI, reshape: Reshape) -> None:
    """Register the handlers that turn errors into problem+json, each shaped by ``reshape``."""

    def shaped(request: Request, response: Response) -> Response:
        return reshape(request, response)

    async def on_domain(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        return shaped(request, domain_error_response(exc))

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return shaped(request, validation_error_response(exc))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # The router names only the methods of the first route matching the path.
            methods = allowed_methods(app, request.url.path)
            if methods:
                headers["Allow"] = ", ".join(methods)
        response = problem(exc.status_code, str(exc.detail), headers=headers)
        return shaped(request, response)

    async def on_integrity(request: Request, _exc: Exception) -> Response:
        # Checks run before writes, so a constraint only fires when a concurrent request
        # wrote the same thing first; nothing of this request was stored.
        return shaped(
            request,
            problem(
                409,
                "the request collided with a concurrent change to the same data; "
                "read the current state and retry",
                kind="concurrent-change",
            ),
        )

    async def on_disconnect(_request: Request, _exc: Exception) -> Response:
        # The client went away while its body was being read: nothing was processed, and
        # there is no one to answer; not a server error worth a traceback.
        return Response(status_code=400)

    async def on_database(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DBAPIError)
        return shaped(request, database_error(exc))

    app.add_exception_handler(DBAPIError, on_database)
    app.add_exception_handler(ClientDisconnect, on_disconnect)
    app.add_exception_handler(DomainError, on_domain)
    app.add_exception_handler(IntegrityError, on_integrity)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": TITLES[status]}
    for status in (400, 401, 403, 404, 409, 412, 413, 415, 422, 428, 429)
}


def errors_for(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI error responses a route declares."""
    return {s: ERROR_RESPONSES[s] for s in statuses}
