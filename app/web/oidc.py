"""Signing people in with OpenID Connect: authorization code with PKCE (RFC 7636), any IdP.

In Sweden that is SITHS eID through a regional IdP, in Norway HelseID; both publish discovery
metadata. The protocol's parameters are built and checked with Authlib's OAuth 2.0 core, the ID
token with joserfc (Authlib's JOSE library): signature by the IdP's published keys, issuer,
audience, expiry and the nonce this sign-in sent. The person's organization (unit) and role are
the ID token's claims, unless the administrator's mapping names them for the subject.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.errors import MismatchingStateException, MissingCodeException
from authlib.oauth2.rfc6749.parameters import (
    parse_authorization_code_response,
    prepare_grant_uri,
    prepare_token_request,
)
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from app.domain.sessions import Identity, PendingLogin, Role
from app.settings import Settings

# Discovery metadata and keys are read again after this long (an IdP rotates its keys slowly).
METADATA_SECONDS = 3600
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]


class SignInFailed(Exception):
    """The sign-in cannot be completed; ``reason`` says why, for the person and the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OidcClient:
    """The console as an OpenID Connect relying party of the configured IdP."""

    def __init__(self, settings: Settings) -> None:
        assert settings.oidc_issuer and settings.oidc_client_id
        self.settings = settings
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self.redirect_uri = f"{settings.public_base_url.rstrip('/')}/console/sign-in/callback"
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._keys: tuple[float, KeySet] | None = None

    async def _get(self, url: str) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(url)
        if response.status_code != 200:
            raise SignInFailed(f"the sign-in service answered {response.status_code} for {url}")
        document: dict[str, Any] = response.json()
        return document

    async def metadata(self) -> dict[str, Any]:
        """The IdP's discovery document (OpenID Connect Discovery 1.0), cached."""
        if self._metadata is None or time.monotonic() - self._metadata[0] > METADATA_SECONDS:
            document = await self._get(f"{self.issuer}/.well-known/openid-configuration")
            if document.get("issuer", "").rstrip("/") != self.issuer:
                raise SignInFailed(
                    f"the sign-in service calls itself {document.get('issuer')}, not {self.issuer}"
                )
            self._metadata = (time.monotonic(), document)
        return self._metadata[1]

    async def keys(self) -> KeySet:
        """The IdP's published signing keys, cached."""
        if self._keys is None or time.monotonic() - self._keys[0] > METADATA_SECONDS:
            jwks = await self._get((await self.metadata())["jwks_uri"])
            self._keys = (time.monotonic(), KeySet.import_key_set(jwks))  # type: ignore[arg-type]
        return self._keys[1]

    async def start(self) -> tuple[str, PendingLogin]:
        """Where to send the browser, and what the callback must find again."""
        pending = PendingLogin(
            state=generate_token(32), nonce=generate_token(32), code_verifier=generate_token(64)
        )
        url = prepare_grant_uri(
            (await self.metadata())["authorization_endpoint"],
            client_id=self.client_id,
            response_type="code",
            redirect_uri=self.redirect_uri,
            scope=self.settings.oidc_scopes,
            state=pending.state,
            nonce=pending.nonce,
            code_challenge=create_s256_code_challenge(pending.code_verifier),
            code_challenge_method="S256",
        )
        return url, pending

    async def finish(self, callback_url: str, pending: PendingLogin) -> Identity:
        """Redeem the callback's code and tell who signed in; ``SignInFailed`` otherwise."""
        try:
            params = parse_authorization_code_response(callback_url, state=pending.state)
        except MismatchingStateException as exc:
            raise SignInFailed("the sign-in answer does not belong to this sign-in") from exc
        except MissingCodeException as exc:
            raise SignInFailed("the sign-in answer carries no code") from exc
        metadata = await self.metadata()
        body = prepare_token_request(
            "authorization_code",
            code=params["code"],
            redirect_uri=self.redirect_uri,
            code_verifier=pending.code_verifier,
        )
        secret = self.settings.oidc_client_secret
        # client_secret_basic when the IdP gave a secret; a public client sends its id instead.
        if secret is None:
            body += "&" + urlencode({"client_id": self.client_id})
        auth = httpx.BasicAuth(self.client_id, secret.get_secret_value()) if secret else None
        async with httpx.AsyncClient(timeout=10, auth=auth) as http:
            response = await http.post(
                metadata["token_endpoint"],
                content=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        if response.status_code != 200:
            raise SignInFailed(f"the sign-in service refused the code ({response.status_code})")
        id_token = response.json().get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed("the sign-in service sent no ID token")
        return self.identity(await self._claims(id_token, pending.nonce))

    async def _claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        try:
            token = jwt.decode(id_token, await self.keys(), algorithms=ID_TOKEN_ALGORITHMS)
            jwt.JWTClaimsRegistry(
                leeway=60,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                sub={"essential": True},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(token.claims)
        except (JoseError, ValueError) as exc:
            raise SignInFailed(f"the ID token is not valid: {exc}") from exc
        return dict(token.claims)

    def identity(self, claims: dict[str, Any]) -> Identity:
        """The person, organization and role named by the claims or the administrator's map."""
        subject = str(claims["sub"])
        mapped = _user_map(self.settings).get(subject, {})
        organization = mapped.get("organization") or claims.get(
            self.settings.oidc_organization_claim
        )
        role = mapped.get("role") or claims.get(self.settings.oidc_role_claim)
        name = mapped.get("name") or claims.get(self.settings.oidc_name_claim) or subject
        if not isinstance(organization, str) or not organization:
            raise SignInFailed(f"no organization is known for {subject}")
        if role not in {r.value for r in Role}:
            raise SignInFailed(f"{subject} holds no role the console knows ({role})")
        return Identity(
            user_id=subject[:200],
            name=str(name)[:200],
            organization_id=organization,
            role=Role(role),
        )


def _user_map(settings: Settings) -> dict[str, dict[str, str]]:
    """The administrator's mapping of subjects to organization, role and name (if configured)."""
    if settings.oidc_user_map_file is None:
        return {}
    with settings.oidc_user_map_file.open(encoding="utf-8") as handle:
        loaded: dict[str, dict[str, str]] = json.load(handle)
    return loaded
