"""Errors at the FHIR edge: the same domain errors as the REST API, as OperationOutcome.

Every failure under ``/fhir`` answers with an OperationOutcome (https://hl7.org/fhir/R4/
operationoutcome.html) whose issue names the element at fault in ``expression``.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

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
