"""The FHIR edge: JSON bodies in and out, and the same domain errors as the REST API, as
OperationOutcome.

Every failure under ``/fhir`` answers with an OperationOutcome (https://hl7.org/fhir/R4/
operationoutcome.html) whose issue names the element at fault in ``expression``.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from app.domain.errors import Malformed
from app.fhir.common import FHIR_JSON

# HTTP status → FHIR issue type (https://hl7.org/fhir/R4/valueset-issue-type.html).
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    412: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "processing",
    428: "required",
    429: "throttled",
    500: "exception",
    503: "transient",
}


def outcome(
    status: int,
    diagnostics: str,
    *,
    expressions: list[tuple[str | None, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An OperationOutcome response; ``expressions`` gives one issue per (element, message)."""
    code = ISSUE_CODES.get(status, "processing")
    severity = "error" if status < 500 else "fatal"
    issues: list[dict[str, Any]] = []
    for expression, message in expressions or [(None, diagnostics)]:
        issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": message}
        if expression:
            issue["expression"] = [expression]
        issues.append(issue)
    body = {"resourceType": "OperationOutcome", "issue": issues}
    return Response(orjson.dumps(body), status_code=status, media_type=FHIR_JSON, headers=headers)


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
    return outcome(response.status_code, body["detail"], expressions=expressions, headers=headers)


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
