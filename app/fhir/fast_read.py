"""The FHIR read of a covered resource, served from its stored projection before the router.

``GET /fhir/CarePlan/<id>`` is the hottest request there is: an integrator's system reads the
plans it is a party to, over and over. Through the router it pays for what it does not use:
the edge's middlewares, matching the path against every route of the service, solving
FastAPI's dependencies, the 405 check of the generic FHIR routes. Its work is small: check the
token, the caller's care relation and scope, write the access-log entry, send the stored bytes.

This middleware, just inside the request id's, serves exactly that case, and only when it ends
in a served read: a plain ``GET`` of a covered type with a well-formed id, no query, no header
the edge would refuse and an ``Accept`` FHIR JSON answers, a valid bearer token with the read
scope, and a current projection of a record the caller is a party to (one statement, which
writes nothing, ``app.services.projections.stored_for``). The read's access-log entry is
committed before the response is sent, by the unit of work's commit like any read's: on
PostgreSQL together with the entries of the reads running beside it (the grouped writer,
``app.services.access_writer``), on SQLite and under the test pin by the read's own statement.

Everything else (no or a bad token, a refused or missing record, a projection not yet made,
``_format`` or ``_summary``, a rate limit reached) goes on to the edge and the router
unchanged, which answer it as before; nothing is written for a request passed on, so its
access-log entry is the router's. The caller checked here is handed on with the request
(``authenticate`` takes it), so a passed-on request is counted once against the rate limit.
The response is the one the router would send, byte for byte: the same body and headers in the
same order (a test compares them), sent as its two ASGI messages without a Starlette
``Response`` in between.
"""

from __future__ import annotations

import re

from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.fhir import outcome
from app.fhir.common import FHIR_JSON
from app.fhir.dispatch import version_headers
from app.fhir.negotiation import unacceptable
from app.http.deps import ACTOR_STATE, actor_for, verify_bearer
from app.http.errors import database_error
from app.http.routing import request_unit_of_work
from app.security.scopes import scope_allows
from app.services import projections
from app.services.projections import Stored
from app.store.unit_of_work import UnitOfWork

# A FHIR id (R4 ``id``: 1–64 of A–Z a–z 0–9 - .) after a type name.
_READ = re.compile(r"/fhir/([A-Z][A-Za-z]{1,63})/([A-Za-z0-9\-.]{1,64})")
_CONTENT_TYPE = (b"content-type", FHIR_JSON.encode("latin-1"))


class FastRead:
    """Serves the read of a covered resource's stored projection, or passes the request on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"]:
            found = _READ.fullmatch(scope["path"])
            if found is not None and found[1] in projections.covered_types():
                authorization = _plain_authorization(scope["headers"])
                if authorization is not None:
                    answer = await _served(scope, authorization, found[1], found[2])
                    if isinstance(answer, Stored):
                        await _send_stored(send, answer)
                        return
                    if answer is not None:
                        await answer(scope, receive, send)
                        return
        await self.app(scope, receive, send)


def _plain_authorization(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The ``Authorization`` header of a request with no header the edge refuses (a NUL:
    ``NulGuard``) and an ``Accept`` that FHIR JSON answers (``FhirNegotiation``): the read's
    answer is then the served JSON. None otherwise, or when there is no such header."""
    authorization = None
    for name, value in headers:
        if b"\x00" in value:
            return None
        if name == b"authorization" and authorization is None:  # the first, as Starlette's
            authorization = value.decode("latin-1")
        elif name == b"accept" and unacceptable(value.decode("latin-1")) is not None:
            return None
    return authorization


async def _served(
    scope: Scope, authorization: str, resource_type: str, resource_id: str
) -> Stored | Response | None:
    """The stored resource of a served read, the response of a read that failed, or None to
    pass the request on."""
    scheme, _sep, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    request = Request(scope)
    try:
        claims = verify_bearer(request, token)
    except HTTPException:
        return None
    if not scope_allows(claims.scopes, resource_type, "r"):
        return None
    state = request.app.state
    uow = UnitOfWork(state.engine, reads_only=True, writer=state.access_writer)
    try:
        async with request_unit_of_work(uow, state.engine):
            try:
                actor = await actor_for(request, uow, claims)
            except HTTPException:
                return None
            # From here the caller has been counted: the router, if it gets the request,
            # takes this caller instead of checking (and counting) the token again.
            setattr(request.state, ACTOR_STATE, actor)
            found = await projections.stored_for(uow, actor, resource_type, resource_id)
            if found is None:
                return None
            stored, entry = found
            uow.log_access(entry)
            await uow.commit()
    except DBAPIError as exc:
        # Outside the router's error handlers: answered here as they would (a read whose
        # access-log entry could not be written sends nothing of the record).
        return outcome.reshape(request, database_error(exc))
    return stored


async def _send_stored(send: Send, stored: Stored) -> None:
    """The router's response to the read (``Response(body, media_type=FHIR_JSON,
    headers=version_headers(...))``): the same headers in Starlette's order, the version's
    first, then the length and the type."""
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in version_headers(stored.version, stored.last_updated).items()
    ]
    headers.append((b"content-length", str(len(stored.body)).encode("latin-1")))
    headers.append(_CONTENT_TYPE)
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": stored.body})
