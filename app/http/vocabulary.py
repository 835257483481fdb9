"""The one error vocabulary of every edge: which HTTP status, problem type and FHIR issue code
each domain error (and each bare HTTP status) becomes.

REST answers with problem+json (``app.http.errors``), the FHIR edge with an OperationOutcome
(``app.fhir.outcome``), a batch entry with its own ``response.status`` and outcome, and
``$process-message`` with a response message: all four read this table, so one refusal has one
status wherever it is asked. FHIR issue codes are those of
https://hl7.org/fhir/R4/valueset-issue-type.html.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.errors import (
    AmbiguousMatch,
    Conflict,
    DomainError,
    Forbidden,
    IllegalTransition,
    Incomplete,
    InvalidInput,
    Malformed,
    NotFound,
    StaleVersion,
    TooLarge,
    UnknownReference,
    UnsupportedContent,
    VersionRequired,
)


@dataclass(frozen=True, slots=True)
class ErrorKind:
    """How one kind of refusal is answered: status, problem type (the last segment of the
    problem's ``type`` URL) and FHIR issue code."""

    status: int
    problem: str
    issue: str


# The first row whose type the error is an instance of wins: subclasses come before their bases.
DOMAIN_ERRORS: tuple[tuple[type[DomainError], ErrorKind], ...] = (
    (NotFound, ErrorKind(404, "not-found", "not-found")),
    (Incomplete, ErrorKind(422, "incomplete", "required")),
    (Malformed, ErrorKind(400, "malformed", "structure")),
    (VersionRequired, ErrorKind(428, "precondition-required", "required")),
    (Forbidden, ErrorKind(403, "forbidden", "forbidden")),
    (IllegalTransition, ErrorKind(409, "illegal-transition", "business-rule")),
    (Conflict, ErrorKind(409, "conflict", "duplicate")),
    (StaleVersion, ErrorKind(412, "stale-version", "conflict")),
    (AmbiguousMatch, ErrorKind(412, "multiple-matches", "multiple-matches")),
    (TooLarge, ErrorKind(413, "content-too-large", "too-costly")),
    (UnsupportedContent, ErrorKind(415, "unsupported-content", "not-supported")),
    (UnknownReference, ErrorKind(422, "unknown-reference", "not-found")),
    (InvalidInput, ErrorKind(422, "invalid-input", "value")),
)
# Any other domain error: a rule the input breaks.
FALLBACK = ErrorKind(422, "invalid-input", "value")

# Statuses answered without a domain error (the router, the token check, the rate limit, a
# request the edge refuses itself): reason phrase and FHIR issue code.
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
STATUS_ISSUES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
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
_BY_PROBLEM = {kind.problem: kind for _cls, kind in DOMAIN_ERRORS}


def classify(exc: DomainError) -> ErrorKind:
    """The kind of a domain error."""
    for cls, kind in DOMAIN_ERRORS:
        if isinstance(exc, cls):
            return kind
    return FALLBACK


def title(status: int) -> str:
    """The reason phrase of a status."""
    return TITLES.get(status, "Error")


def status_line(status: int) -> str:
    """A status with its reason phrase (a batch entry's ``response.status``)."""
    return f"{status} {title(status)}"


def issue_code(status: int, problem: str | None = None) -> str:
    """The FHIR issue code of a refusal, by its problem type when the table knows it, else by
    its status."""
    kind = _BY_PROBLEM.get(problem or "")
    if kind is not None and kind.status == status:
        return kind.issue
    return STATUS_ISSUES.get(status, "processing")
