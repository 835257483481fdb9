"""Client registration and the client-credentials grant (SMART Backend Services).

A client is registered with its public JWK set, the organization it acts for and the scopes it may
be granted. At the token endpoint it proves itself with a JWT signed by one of its keys
(``private_key_jwt``); each assertion's ``jti`` is accepted once.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jwt

from app.domain.clients import Client
from app.domain.errors import InvalidInput, UnknownReference
from app.security.assertions import (
    generate_client_key,
    public_jwks_of,
    validate_client_jwks,
    verify_client_assertion,
)
from app.security.scopes import grant_scopes, parse_scopes
from app.security.tokens import SigningKey, TokenError, issue_access_token
from app.store.unit_of_work import UnitOfWork

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


async def register_client(
    uow: UnitOfWork,
    *,
    organization_id: str,
    jwks: Any,
    scopes: str,
    name: str,
    client_id: str | None = None,
) -> Client:
    """Register a client for an organization; its JWK set must hold public keys only."""
    if await uow.organizations.get(organization_id) is None:
        raise UnknownReference(f"unknown organization {organization_id}", field="organization_id")
    try:
        public = validate_client_jwks(jwks)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="jwks") from exc
    try:
        allowed = parse_scopes(scopes)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="scopes") from exc
    client = Client(
        id=client_id or f"{organization_id}-{secrets.token_hex(4)}",
        name=name,
        organization_id=organization_id,
        jwks=public,
        scopes=" ".join(sorted(allowed)),
        active=True,
    )
    if await uow.clients.get(client.id) is not None:
        raise InvalidInput(f"client {client.id} already exists", field="client_id")
    await uow.clients.add(client)
    return client


DEMO_SCOPES = "system/*.cruds"


async def ensure_demo_clients(uow: UnitOfWork, directory: Path) -> int:
    """Give every organization a client ``demo-<org id>`` whose private key is in ``directory``.

    For development and demos only: the keys are written unencrypted (mode 0600). Existing keys
    are kept; a client whose key file went missing gets a new key. Returns how many were created.
    """
    created = 0
    after = None
    while True:
        page = await uow.organizations.page(limit=500, after=after)
        for org in page.items:
            jwks = await asyncio.to_thread(_demo_key, directory, org.id)
            client_id = f"demo-{org.id}"
            existing = await uow.clients.get(client_id)
            if existing is None:
                await register_client(
                    uow,
                    organization_id=org.id,
                    jwks=jwks,
                    scopes=DEMO_SCOPES,
                    name=f"demo client of {org.name}",
                    client_id=client_id,
                )
                created += 1
            elif existing.jwks != jwks:
                await uow.clients.set_jwks(client_id, jwks)
        if page.next_cursor is None:
            return created
        after = page.next_cursor


def _demo_key(directory: Path, org_id: str) -> dict[str, Any]:
    """The public JWK set of the organization's demo key, made (mode 0600) when missing."""
    directory.mkdir(parents=True, exist_ok=True)
    key_file = directory / f"{org_id}.pem"
    if key_file.exists():
        return public_jwks_of(key_file.read_bytes())
    pem, jwks = generate_client_key("ES384")
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return jwks


async def set_active(uow: UnitOfWork, client: Client, active: bool, *, now: datetime) -> Client:
    """Enable or disable a client; disabling also revokes every token it holds now."""
    await uow.clients.set_active(client.id, active)
    if not active:
        await uow.clients.revoke(client.id, now)
    return replace(client, active=active)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """An access token response (RFC 6749 §5.1)."""

    access_token: str
    expires_in: int
    scope: str
    token_type: str = "bearer"  # noqa: S105 (the RFC 6749 token type, not a secret)


async def client_credentials(
    uow: UnitOfWork,
    *,
    key: SigningKey,
    issuer: str,
    token_endpoint: str,
    lifetime: timedelta,
    grant_type: str | None,
    assertion_type: str | None,
    assertion: str | None,
    scope: str | None,
    now: datetime,
) -> IssuedToken:
    """Check a client-credentials request and issue an access token (or raise TokenError)."""
    if grant_type != "client_credentials":
        raise TokenError("grant_type must be client_credentials", error="unsupported_grant_type")
    if assertion_type != ASSERTION_TYPE or not assertion:
        raise TokenError(
            f"client_assertion_type must be {ASSERTION_TYPE} with a client_assertion",
            error="invalid_request",
        )
    try:
        issuer_claim = jwt.decode(assertion, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError as exc:
        raise TokenError("the client assertion is not a JWT", error="invalid_client") from exc
    client = await uow.clients.get(str(issuer_claim)) if issuer_claim else None
    if client is None or not client.active:
        raise TokenError(
            "the client assertion's iss names no registered client", error="invalid_client"
        )
    claims = verify_client_assertion(
        assertion, client.jwks, client_id=client.id, token_endpoint=token_endpoint, now=now
    )
    if await uow.clients.assertion_used(client.id, claims.jti):
        raise TokenError(
            "this client assertion was already used (jti replayed)", error="invalid_client"
        )
    await uow.clients.use_assertion(client.id, claims.jti, claims.expires_at)
    try:
        requested = parse_scopes(scope) if scope else parse_scopes(client.scopes)
    except ValueError as exc:
        raise TokenError(str(exc), error="invalid_scope") from exc
    granted = grant_scopes(requested, parse_scopes(client.scopes))
    if not granted:
        raise TokenError(
            "none of the requested scopes is allowed for this client", error="invalid_scope"
        )
    token = issue_access_token(
        key,
        client_id=client.id,
        organization_id=client.organization_id,
        scopes=granted,
        audience=issuer,
        issuer=issuer,
        lifetime=lifetime,
        now=now,
    )
    return IssuedToken(token, int(lifetime.total_seconds()), " ".join(sorted(granted)))
