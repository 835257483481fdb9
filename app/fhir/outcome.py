"""The FHIR edge: JSON bodies in and out, and the same domain errors as the REST API, as
OperationOutcome.

Every failure under ``/fhir`` answers with an OperationOutcome (https://hl7.org/fhir/R4/
operationoutcome.html) whose issue names the element at fault in ``expression`` (FHIRPath), or,
where it has none, in ``details.text``; the status and issue code come from ``app.http.vocabulary``.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from app.domain.errors import DomainError, Incomplete, Malformed
from app.fhir.common import FHIR_JSON
from app.fhir.expressions import locate
from app.http.vocabulary import classify, issue_code


def outcome(
    status: int,
    diagnostics: str,
    *,
    expressions: list[tuple[str | None, str]] | None = None,
    headers: dict[str, str] | None = None,
    resource_type: str | None = None,
    code: str | None = None,
) -> Response:
    """An OperationOutcome response; ``expressions`` gives one issue per (element, message),
    the element as the service named it in a ``resource_type`` (``app.fhir.expressions``);
    ``code`` is the issue code (by default the status's, ``app.http.vocabulary``)."""
    body = outcome_body(
        status, diagnostics, expressions=expressions, resource_type=resource_type, code=code
    )
    return Response(orjson.dumps(body), status_code=status, media_type=FHIR_JSON, headers=headers)


def outcome_body(
    status: int,
    diagnostics: str,
    *,
    expressions: list[tuple[str | None, str]] | None = None,
    resource_type: str | None = None,
    code: str | None = None,
    entry: int | None = None,
) -> dict[str, Any]:
    """The OperationOutcome of ``outcome``; ``entry`` places the elements in that Bundle entry."""
    severity = "error" if status < 500 else "fatal"
    issues: list[dict[str, Any]] = []
    for field, message in expressions or [(None, diagnostics)]:
        issue: dict[str, Any] = {
            "severity": severity,
            "code": code or issue_code(status),
            "diagnostics": message,
        }
        issues.append(locate(issue, field, resource_type, entry=entry))
    return {"resourceType": "OperationOutcome", "issue": issues}


def error_outcome(
    exc: DomainError, resource_type: str | None = None, *, entry: int | None = None
) -> tuple[int, dict[str, Any]]:
    """A domain error's status and OperationOutcome, by the one vocabulary."""
    kind = classify(exc)
    problems = exc.problems if isinstance(exc, Incomplete) else [(exc.field, exc.message)]
    body = outcome_body(
        kind.status,
        exc.message,
        expressions=[(field, message or exc.message) for field, message in problems],
        resource_type=resource_type,
        code=kind.issue,
        entry=entry,
    )
    return kind.status, body


def resource_type_of(path: str) -> str | None:
    """The resource type a /fhir path names (``/fhir/Patient/1`` → Patient)."""
    first = path.removeprefix("/fhir").strip("/").split("/", 1)[0]
    return first if first[:1].isupper() else None


def reshape(request: Request, response: Response) -> Response:
    """Under /fhir, an error the shared handlers rendered as problem+json, as an OperationOutcome
    with one issue per offending element; elsewhere the response unchanged."""
    path = request.url.path
    if path != "/fhir" and not path.startswith("/fhir/"):
        return response
    body = orjson.loads(response.body)
    errors = body.get("errors") or []
    expressions = [(e["field"], e["message"]) for e in errors] or None
    headers = {
        k: v
        for k, v in response.headers.items()
        if k.lower() in ("www-authenticate", "retry-after", "allow")
    }
    problem_type = str(body.get("type", "")).rsplit("/", 1)[-1]
    return outcome(
        response.status_code,
        body["detail"],
        expressions=expressions,
        headers=headers,
        # A body's elements are named in the resource sent; a query's are parameters.
        resource_type=resource_type_of(path) if request.method in ("POST", "PUT") else None,
        code=issue_code(response.status_code, problem_type),
    )


def fhir_response(
    body: dict[str, Any], *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A FHIR JSON response."""
    return Response(orjson.dumps(body), status_code=status, media_type=FHIR_JSON, headers=headers)


async def read_body(request: Request) -> Any:
    """The request's FHIR JSON body: 415 for another media type, 400 when it is not JSON."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type not in (FHIR_JSON, "application/json"):
        raise HTTPException(415, f"send FHIR resources as {FHIR_JSON}")
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise Malformed(f"the body is not JSON: {exc}", field="body") from exc
