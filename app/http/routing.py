"""Request plumbing shared by every REST route.

``UnitOfWorkRoute`` wraps each route in one unit of work that commits once, after the route
succeeded and before the response leaves, so a client never sees success for something that was
not stored. POSTs carrying an ``Idempotency-Key`` are recorded in that same transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, TypeVar

from fastapi import Request, params
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.domain.access_log import AccessEntry
from app.domain.clock import utcnow
from app.domain.errors import InvalidInput
from app.domain.idempotency import StoredResponse
from app.http.deps import actor_for, verify_bearer
from app.http.edge import check_request
from app.http.errors import problem
from app.security.access import record
from app.security.tokens import AccessClaims
from app.services import idempotency
from app.store.unit_of_work import UnitOfWork, write_failed_access

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
READS_ONLY = "samverkan_reads_only"
IDEMPOTENCY_HEADER = "idempotency-key"
REPLAYED_HEADER = "idempotent-replayed"
_JSON_TYPES = ("application/json", "application/merge-patch+json")


class DocumentedRoute(APIRoute):
    """An APIRoute whose OpenAPI summary is the first line of the endpoint's docstring."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if kwargs.get("summary") is None and endpoint.__doc__:
            kwargs["summary"] = endpoint.__doc__.strip().splitlines()[0]
        super().__init__(path, endpoint, **kwargs)


class UnitOfWorkRoute(DocumentedRoute):
    """A route whose handler runs inside one unit of work.

    Under ``/api/v1`` a query parameter the route does not declare is refused with 400 naming
    it: a misspelt filter (``?parent=`` for ``?parent_id=``) must not silently return
    everything. (FHIR search has rules of its own for unknown parameters.)
    """

    def get_route_handler(self) -> Handler:
        original = super().get_route_handler()
        reads_only = bool(getattr(self.endpoint, READS_ONLY, False))
        takes_body = self.body_field is not None
        declared = frozenset(
            field.alias
            for field in get_flat_params(self.dependant)
            if isinstance(field.field_info, params.Query)
        )
        strict = self.path.startswith("/api/v1/")

        async def handler(request: Request) -> Response:
            if strict and (refusal := _unknown_query_refusal(request, declared)) is not None:
                return refusal
            if takes_body and (refusal := _content_type_refusal(request)) is not None:
                return refusal
            await check_request(request)
            # A read's access-log entries go with those of the reads beside it (PostgreSQL):
            # its commit returns once they are committed, before the response is sent.
            engine = request.app.state.engine
            uow = UnitOfWork(
                engine,
                reads_only=reads_only,
                writer=request.app.state.access_writer if reads_only else None,
            )
            async with request_unit_of_work(uow, engine):
                request.state.uow = uow
                key = request.headers.get(IDEMPOTENCY_HEADER)
                claims = _claims(request) if request.method == "POST" and key else None
                if key and claims is not None:
                    return await _idempotent(request, uow, key, claims, original)
                response = await original(request)
                if response.status_code < 400:
                    await uow.commit()
                return response

        return handler


@asynccontextmanager
async def request_unit_of_work(uow: UnitOfWork, engine: AsyncEngine) -> AsyncIterator[None]:
    """A request's unit of work (a route's, or the read before the router,
    ``app.fhir.fast_read``): the access-log entries still queued when it ends, those of a
    request that failed or was refused, are then written as failed, in a transaction of their
    own, so that no access goes unlogged."""
    try:
        async with uow:
            yield
    finally:
        if uow.pending_access:
            await write_failed_access(engine, uow.pending_access)


def reads_only(endpoint: Endpoint) -> Endpoint:
    """Mark an endpoint that reads and writes nothing but the access log: its unit of work runs
    its statements without BEGIN and COMMIT on PostgreSQL (``UnitOfWork``'s ``reads_only``), so
    a one-statement read is one round trip, and its access-log entries are written by the
    grouped writer (``app.services.access_writer``) with those of the reads beside it."""
    setattr(endpoint, READS_ONLY, True)
    return endpoint


def _unknown_query_refusal(request: Request, declared: frozenset[str]) -> Response | None:
    unknown = sorted(set(request.query_params) - declared)
    if not unknown:
        return None
    accepted = ", ".join(sorted(declared)) or "none"
    return problem(
        400,
        f"unknown query parameter{'s' if len(unknown) > 1 else ''} "
        f"{', '.join(unknown)}; this endpoint takes: {accepted}",
        kind="unknown-query-parameter",
        errors=[{"field": name, "message": "unknown query parameter"} for name in unknown],
    )


def _content_type_refusal(request: Request) -> Response | None:
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in _JSON_TYPES or (
        content_type.startswith("application/") and content_type.endswith("+json")
    ):
        return None
    shown = content_type or "none"
    return problem(
        415,
        f"the body must be sent as application/json (Content-Type was {shown})",
        kind="unsupported-media-type",
    )


def _claims(request: Request) -> AccessClaims | None:
    """The caller's verified token claims, or None: without a valid token there is no replay.

    Checked here already because a stored response is looked up before the route (and its
    authentication) runs; idempotency keys of different clients never meet.
    """
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        return verify_bearer(request, token.strip())
    except HTTPException:
        return None


async def _idempotent(
    request: Request, uow: UnitOfWork, key: str, claims: AccessClaims, original: Handler
) -> Response:
    """Run a POST once per key: a repeat with the same body gets the first response again."""
    if len(key) > 200:
        raise InvalidInput(
            "Idempotency-Key must be at most 200 characters", field="Idempotency-Key"
        )
    settings = request.app.state.settings
    body = await request.body()
    digest = hashlib.sha256(
        b"\n".join(
            [request.method.encode(), request.url.path.encode(), request.url.query.encode(), body]
        )
    ).hexdigest()
    not_before = utcnow() - timedelta(hours=settings.idempotency_ttl_hours)
    scope = claims.client_id
    stored = await idempotency.claim(uow, scope, key, not_before)
    if stored is not None:
        return await _replay(request, uow, claims, stored, digest)
    try:
        response = await original(request)
        if response.status_code >= 400:
            return response
        kept = StoredResponse(
            method=request.method,
            path=request.url.path,
            request_hash=digest,
            status_code=response.status_code,
            headers={
                k: v
                for k, v in response.headers.items()
                if k in ("content-type", "location", "etag")
            },
            body=bytes(response.body),
            disclosed=_disclosed(uow.pending_access),
        )
        await idempotency.keep(uow, scope, key, kept, not_before)
        await uow.commit()
    except IntegrityError:
        # A concurrent request with the same key committed first (its rows made ours collide):
        # answer as that one did.
        async with UnitOfWork(request.app.state.engine) as again:
            winner = await idempotency.stored(again, scope, key, not_before)
            if winner is None:
                raise
            return await _replay(request, again, claims, winner, digest)
    return response


def _disclosed(entries: list[AccessEntry]) -> list[tuple[str, str | None, str]]:
    """The personal data a successful response carries, as its access-log entries name it."""
    seen: dict[tuple[str, str | None, str], None] = {}
    for entry in entries:
        if entry.person_id is not None and entry.outcome == "success":
            seen[(entry.resource_type, entry.resource_id, entry.person_id)] = None
    return list(seen)


async def _replay(
    request: Request,
    uow: UnitOfWork,
    claims: AccessClaims,
    stored: StoredResponse,
    digest: str,
) -> Response:
    """The stored response again; what it discloses is logged as read by this request."""
    if stored.request_hash != digest:
        raise InvalidInput(
            "this Idempotency-Key was already used with a different request; use a new key for "
            "a new request",
            field="Idempotency-Key",
        )
    actor = await actor_for(request, uow, claims)
    for resource_type, resource_id, person_id in stored.disclosed:
        record(uow, actor, "read", resource_type, resource_id, person_id)
    await uow.commit()
    return Response(
        stored.body,
        status_code=stored.status_code,
        headers={**stored.headers, REPLAYED_HEADER: "true"},
    )


class BodySizeLimit:
    """Refuse request bodies over the configured size with 413, before they are read in full."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        document_bytes: int = 0,
        carries_documents: Callable[[str], bool] = lambda _path: False,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Requests that may carry a document get room for it (``Settings.document_body_bytes``).
        self.document_bytes = document_bytes
        self.carries_documents = carries_documents

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        if scope["method"] in ("POST", "PUT") and self.carries_documents(scope["path"]):
            limit = max(limit, self.document_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        seen = 0
        too_large = False

        async def counting_receive() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    too_large = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # The framework turns a failed body read into its own 400; answer 413 instead.
            if not too_large:
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            pass
        if too_large:
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem(
            413,
            f"the request body exceeds the limit of {limit} bytes",
            kind="body-too-large",
        )
        await response(scope, receive, send)


class _BodyTooLarge(Exception):
    pass
