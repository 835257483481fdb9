"""Typed dependencies for the REST routes."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from asgi_correlation_id import correlation_id
from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from app.domain.liability import LiabilityConfig
from app.security.access import UNIT_HEADER, USER_HEADER, Actor
from app.security.revocation import RevocationList
from app.security.scopes import ADMIN_SCOPE, METRICS_SCOPE, scope_allows
from app.security.tokens import AccessClaims, TokenError, VerifiedTokens, verify_access_token
from app.services.documents import DocumentRules
from app.services.liability_rules import LiabilityRules
from app.services.organizations import find_organization
from app.settings import Settings
from app.store.unit_of_work import UnitOfWork

PURPOSE_HEADER = "X-Samverkan-Purpose-Of-Use"
REQUEST_ID_HEADER = "X-Request-ID"
PURPOSE = re.compile(r"^[A-Z][A-Z0-9\-]{1,39}$")
PRINTABLE_200 = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
ORG_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
REALM = 'Bearer realm="samverkan"'

bearer = HTTPBearer(
    auto_error=False,
    description="An access token from `POST /auth/token` (SMART Backend Services). Optional "
    f"headers: `{UNIT_HEADER}` names the unit a principal-level client (a region's or "
    "municipality's system) acts for, narrowing what it sees to that unit's records and those "
    f"naming the principal itself; `{USER_HEADER}` names the end user; both go into the access "
    f"log. `{PURPOSE_HEADER}` gives the purpose of use (default `TREAT`), `{REQUEST_ID_HEADER}` "
    "a correlation id stored with each access-log entry (generated when absent, and echoed in "
    "every response). Where the service is configured so (by default in production), a "
    f"principal-level client's writes of personal data must send `{UNIT_HEADER}` and "
    f"`{USER_HEADER}`.",
)


def valid_request_id(value: str) -> bool:
    """Whether a client's ``X-Request-ID`` is kept as the request's id (else one is made)."""
    return REQUEST_ID.fullmatch(value) is not None


def _unauthorized(description: str) -> HTTPException:
    return HTTPException(
        401,
        description,
        headers={
            "WWW-Authenticate": f'{REALM}, error="invalid_token", error_description="{description}"'
        },
    )


def verify_bearer(request: Request, token: str) -> AccessClaims:
    """The claims of a valid access token of this service; 401 otherwise."""
    settings: Settings = request.app.state.settings
    now = datetime.now(UTC)
    verified: VerifiedTokens = request.app.state.verified_tokens
    claims = verified.get(token, now)
    if claims is not None:
        return claims
    try:
        claims = verify_access_token(
            request.app.state.signing_key,
            token,
            audience=settings.issuer,
            issuer=settings.issuer,
            now=now,
            max_lifetime=timedelta(seconds=settings.access_token_max_lifetime_seconds),
        )
    except TokenError as exc:
        raise _unauthorized(exc.reason) from exc
    verified.put(token, claims)
    return claims


async def actor_for(request: Request, uow: UnitOfWork, claims: AccessClaims) -> Actor:
    """The caller named by verified claims and the request's headers; 401 for a revoked token,
    429 over the rate limit, 400 for a header that is malformed or names no unit of the caller."""
    settings: Settings = request.app.state.settings
    revocations: RevocationList = request.app.state.revocations
    if await revocations.revoked(uow, claims, datetime.now(UTC)):
        raise _unauthorized("the access token was revoked: its client was disabled")
    retry = request.app.state.rate_limiter.check(claims.client_id)
    if retry is not None:
        raise HTTPException(
            429,
            f"client {claims.client_id} is over its rate limit of "
            f"{settings.rate_limit_per_minute} requests per minute",
            headers={"Retry-After": str(int(retry))},
        )
    principal = await _principal_of(request, uow, claims.organization_id)
    if principal is None:
        raise _unauthorized("the token's organization is not registered here")
    purpose = request.headers.get(PURPOSE_HEADER, "TREAT")
    if not PURPOSE.match(purpose):
        raise HTTPException(400, f"{PURPOSE_HEADER} must be a code such as TREAT or HOPERAT")
    user = request.headers.get(USER_HEADER) or None
    if user is not None and not PRINTABLE_200.match(user):
        raise HTTPException(400, f"{USER_HEADER} must be 1 to 200 printable characters")
    sent = request.headers.get(REQUEST_ID_HEADER)
    if sent and not valid_request_id(sent):
        raise HTTPException(
            400, f"{REQUEST_ID_HEADER} must be 1 to 64 letters, digits, '.', '_' or '-'"
        )
    unit = await _acting_unit(request, uow, claims.organization_id, principal)
    return Actor(
        client_id=claims.client_id,
        organization_id=claims.organization_id,
        principal_id=principal,
        scopes=claims.scopes,
        user_id=user,
        purpose=purpose,
        # The client's id, or the one generated for this request and echoed in the response.
        request_id=correlation_id.get(),
        unit_id=unit,
        # Checked where a write of personal data is logged (app.security.access.record).
        must_name_unit=settings.acting_unit_required
        and principal == claims.organization_id
        and (unit is None or user is None),
    )


async def _acting_unit(
    request: Request, uow: UnitOfWork, organization_id: str, principal: str
) -> str | None:
    """The unit named by ``X-Samverkan-Unit``: one of a principal-level client's units (a
    unit-level client may name only itself, which changes nothing)."""
    unit = request.headers.get(UNIT_HEADER) or None
    if organization_id != principal:
        if unit not in (None, organization_id):
            raise HTTPException(
                400, f"{UNIT_HEADER}: a unit's client acts for its own unit ({organization_id})"
            )
        return None
    if unit is None or unit == principal:
        return None
    if not ORG_ID.match(unit) or await _principal_of(request, uow, unit) != principal:
        raise HTTPException(
            400, f"{UNIT_HEADER}: {unit[:64]} is not a unit of {principal}, the caller's principal"
        )
    return unit


# The request-state key of a caller already checked before the router (``app.fhir.fast_read``).
ACTOR_STATE = "checked_actor"


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    """The caller, from a valid bearer token; 401 otherwise, 429 over the rate limit."""
    checked: Actor | None = getattr(request.state, ACTOR_STATE, None)
    if checked is not None:
        return checked
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            401,
            "this endpoint needs a bearer access token from /auth/token",
            headers={"WWW-Authenticate": REALM},
        )
    claims = verify_bearer(request, credentials.credentials)
    return await actor_for(request, request.state.uow, claims)


async def _principal_of(request: Request, uow: UnitOfWork, org_id: str) -> str | None:
    # Organizations do not move between principals, so the answer is cached per process.
    cache: dict[str, str] = request.app.state.principal_cache
    if org_id not in cache:
        org = await find_organization(uow, org_id)
        if org is None:
            return None
        cache[org_id] = org.parent_id if org.kind.value == "unit" and org.parent_id else org.id
    return cache[org_id]


def insufficient_scope(needed: str) -> HTTPException:
    """The 403 of a token without the scope ``needed`` (RFC 6750 §3.1), on both edges."""
    return HTTPException(
        403,
        f"the access token lacks the scope {needed}",
        headers={"WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{needed}"'},
    )


def require(resource: str, permission: str) -> Callable[..., Awaitable[Actor]]:
    """A dependency: the caller, who must hold a scope granting ``permission`` on ``resource``."""

    async def dependency(actor: Annotated[Actor, Depends(authenticate)]) -> Actor:
        if not scope_allows(actor.scopes, resource, permission):
            raise insufficient_scope(f"system/{resource}.{permission}")
        return actor

    dependency.__name__ = f"require_{resource}_{permission}"
    return dependency


def require_service_scope(scope: str) -> Callable[..., Awaitable[Actor]]:
    """A dependency: the caller, who must hold one of the service's own scopes."""

    async def dependency(actor: Annotated[Actor, Depends(authenticate)]) -> Actor:
        if scope not in actor.scopes:
            raise insufficient_scope(scope)
        return actor

    dependency.__name__ = f"require_{scope.replace('/', '_')}"
    return dependency


async def get_uow(request: Request) -> UnitOfWork:
    """The request's unit of work, opened by ``UnitOfWorkRoute``."""
    uow: UnitOfWork = request.state.uow
    return uow


async def get_settings(request: Request) -> Settings:
    """The application's settings."""
    settings: Settings = request.app.state.settings
    return settings


async def get_liability_rules(request: Request) -> LiabilityRules:
    """The liability rules of this process, kept in step with the stored intervals."""
    rules: LiabilityRules = request.app.state.liability
    return rules


async def get_liability_config(request: Request) -> LiabilityConfig:
    """The liability rule sets, rates and bindings this process computes with."""
    rules: LiabilityRules = request.app.state.liability
    return rules.config


async def get_now() -> datetime:
    """The request's notion of now (one value per request)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PageParams:
    """Keyset pagination: ``limit`` items after the opaque ``cursor``."""

    limit: int
    cursor: str | None


async def get_page(
    request: Request,
    limit: Annotated[
        int | None, Query(ge=1, description="page size (default and maximum are configured)")
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page")
    ] = None,
) -> PageParams:
    """Page parameters bounded by the configured maximum."""
    settings: Settings = request.app.state.settings
    return PageParams(min(limit or settings.default_page_size, settings.max_page_size), cursor)


UowDep = Annotated[UnitOfWork, Depends(get_uow)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
LiabilityDep = Annotated[LiabilityConfig, Depends(get_liability_config)]
LiabilityRulesDep = Annotated[LiabilityRules, Depends(get_liability_rules)]
NowDep = Annotated[datetime, Depends(get_now)]
PageDep = Annotated[PageParams, Depends(get_page)]

OrganizationReader = Annotated[Actor, Depends(require("Organization", "r"))]
OrganizationSearcher = Annotated[Actor, Depends(require("Organization", "s"))]
OrganizationCreator = Annotated[Actor, Depends(require("Organization", "c"))]
PatientReader = Annotated[Actor, Depends(require("Patient", "r"))]
PatientSearcher = Annotated[Actor, Depends(require("Patient", "s"))]
PatientCreator = Annotated[Actor, Depends(require("Patient", "c"))]
EncounterReader = Annotated[Actor, Depends(require("Encounter", "r"))]
EncounterSearcher = Annotated[Actor, Depends(require("Encounter", "s"))]
EncounterCreator = Annotated[Actor, Depends(require("Encounter", "c"))]
EncounterUpdater = Annotated[Actor, Depends(require("Encounter", "u"))]
CarePlanReader = Annotated[Actor, Depends(require("CarePlan", "r"))]
CarePlanSearcher = Annotated[Actor, Depends(require("CarePlan", "s"))]
CarePlanCreator = Annotated[Actor, Depends(require("CarePlan", "c"))]
CarePlanUpdater = Annotated[Actor, Depends(require("CarePlan", "u"))]
AppointmentReader = Annotated[Actor, Depends(require("Appointment", "r"))]
AppointmentSearcher = Annotated[Actor, Depends(require("Appointment", "s"))]
AppointmentCreator = Annotated[Actor, Depends(require("Appointment", "c"))]
AppointmentUpdater = Annotated[Actor, Depends(require("Appointment", "u"))]
CommunicationReader = Annotated[Actor, Depends(require("Communication", "r"))]
CommunicationSearcher = Annotated[Actor, Depends(require("Communication", "s"))]
CommunicationCreator = Annotated[Actor, Depends(require("Communication", "c"))]
CommunicationUpdater = Annotated[Actor, Depends(require("Communication", "u"))]
TaskReader = Annotated[Actor, Depends(require("Task", "r"))]
TaskSearcher = Annotated[Actor, Depends(require("Task", "s"))]
TaskCreator = Annotated[Actor, Depends(require("Task", "c"))]
TaskUpdater = Annotated[Actor, Depends(require("Task", "u"))]
PractitionerReader = Annotated[Actor, Depends(require("Practitioner", "r"))]
PractitionerSearcher = Annotated[Actor, Depends(require("Practitioner", "s"))]
PractitionerCreator = Annotated[Actor, Depends(require("Practitioner", "c"))]
RoleReader = Annotated[Actor, Depends(require("PractitionerRole", "r"))]
RoleSearcher = Annotated[Actor, Depends(require("PractitionerRole", "s"))]
RoleCreator = Annotated[Actor, Depends(require("PractitionerRole", "c"))]
DocumentReader = Annotated[Actor, Depends(require("DocumentReference", "r"))]
DocumentSearcher = Annotated[Actor, Depends(require("DocumentReference", "s"))]
DocumentCreator = Annotated[Actor, Depends(require("DocumentReference", "c"))]
BinaryReader = Annotated[Actor, Depends(require("Binary", "r"))]
Caller = Annotated[Actor, Depends(authenticate)]
AuditSearcher = Annotated[Actor, Depends(require("AuditEvent", "s"))]
Administrator = Annotated[Actor, Depends(require_service_scope(ADMIN_SCOPE))]
MetricsReader = Annotated[Actor, Depends(require_service_scope(METRICS_SCOPE))]


def document_rules(settings: SettingsDep) -> DocumentRules:
    """The size limit and accepted media types of documents, from the settings."""
    return DocumentRules(settings.document_max_bytes, tuple(settings.document_content_types))


DocumentRulesDep = Annotated[DocumentRules, Depends(document_rules)]
