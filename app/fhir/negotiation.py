"""Content negotiation at the FHIR edge (https://hl7.org/fhir/R4/http.html#mime-type).

This server speaks FHIR R4 (4.0) in JSON only. A request whose ``Accept`` names nothing it can
answer with (``application/fhir+xml``, or ``fhirVersion=3.0``), or whose ``_format`` asks for
another format, is answered 406 Not Acceptable, with an OperationOutcome in JSON; a body sent as
another FHIR version (``Content-Type: application/fhir+json; fhirVersion=3.0``) is 415. Nothing
is answered in a format the client did not ask for.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.fhir.common import FHIR_JSON
from app.fhir.outcome import outcome

# Media ranges answered with FHIR JSON; ``application/json+fhir`` is the name DSTU2 used.
SERVED_TYPES = frozenset(
    {FHIR_JSON, "application/json", "application/json+fhir", "application/*", "*/*"}
)
# ``_format`` values (https://hl7.org/fhir/R4/http.html#format): JSON by any of its names.
SERVED_FORMATS = frozenset({"json", FHIR_JSON, "application/json"})
FHIR_VERSION = "4.0"


def _parameters(media: str) -> tuple[str, dict[str, str]]:
    kind, *rest = media.split(";")
    params = {}
    for part in rest:
        name, _sep, value = part.partition("=")
        params[name.strip().lower()] = value.strip().strip('"')
    return kind.strip().lower(), params


def _version_served(version: str | None) -> bool:
    return version is None or version == FHIR_VERSION or version.startswith(FHIR_VERSION + ".")


def unacceptable(accept: str) -> str | None:
    """Why no media range of an ``Accept`` header can be answered, or None when one can."""
    if not accept.strip():
        return None
    ranges = [_parameters(media) for media in accept.split(",") if media.strip()]
    for kind, params in ranges:
        if params.get("q", "1").strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        if kind in SERVED_TYPES and _version_served(params.get("fhirversion")):
            return None
    versions = {p["fhirversion"] for _k, p in ranges if "fhirversion" in p}
    if versions - {FHIR_VERSION}:
        return (
            f"Accept asks for FHIR version {', '.join(sorted(versions))}; this server answers "
            f"FHIR {FHIR_VERSION} (R4) only"
        )
    return f"Accept: {accept} names no format this server answers; it answers {FHIR_JSON} only"


def unsupported_body(content_type: str) -> str | None:
    """Why a body's media type names a FHIR version other than R4, or None."""
    _kind, params = _parameters(content_type)
    version = params.get("fhirversion")
    if _version_served(version):
        return None
    return f"the body is sent as FHIR version {version}; this server takes FHIR {FHIR_VERSION} only"


def unserved_format(query: bytes) -> str | None:
    """Why the ``_format`` of a query string asks for what is not served, or None."""
    if b"_format" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name == "_format" and value.strip().lower() not in SERVED_FORMATS:
            return f"_format={value} is not served; this server answers {FHIR_JSON} only"
    return None


class FhirNegotiation:
    """Answer 406 (or 415) under /fhir for a format or FHIR version the server does not serve."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path != "/fhir" and not path.startswith("/fhir/"):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        reason = unserved_format(scope.get("query_string", b""))
        status, name = 406, "_format"
        if reason is None:
            reason = unacceptable(request.headers.get("accept", ""))
            name = "Accept"
        if reason is None and request.method in ("POST", "PUT", "PATCH"):
            reason = unsupported_body(request.headers.get("content-type", ""))
            status, name = 415, "Content-Type"
        if reason is None:
            await self.app(scope, receive, send)
            return
        response = outcome(status, reason, expressions=[(name, reason)])
        await response(scope, receive, send)
