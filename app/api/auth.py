"""The OAuth 2.0 token endpoint and the discovery documents (SMART Backend Services).

``POST /auth/token`` takes ``grant_type=client_credentials`` with a ``private_key_jwt`` client
assertion and answers with a short-lived access token. Its errors follow RFC 6749 §5.2 (JSON with
``error`` and ``error_description``), as OAuth client libraries expect, not problem+json.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from starlette.responses import JSONResponse

from app.http.routing import DocumentedRoute
from app.security.clients import ASSERTION_TYPE, client_credentials
from app.security.scopes import ADMIN_SCOPE, LOG_EXTRACT_SCOPE, METRICS_SCOPE
from app.security.tokens import TokenError
from app.settings import Settings
from app.store.unit_of_work import UnitOfWork

api = APIRouter(tags=["auth"], route_class=DocumentedRoute)

SUPPORTED_SCOPES = [
    "system/*.cruds",
    "system/*.rs",
    "system/Patient.cruds",
    "system/Encounter.cruds",
    "system/CarePlan.cruds",
    "system/Appointment.cruds",
    "system/Organization.rs",
    "system/AuditEvent.rs",
    "system/Practitioner.rs",
    "system/PractitionerRole.cruds",
    LOG_EXTRACT_SCOPE,
    ADMIN_SCOPE,
    METRICS_SCOPE,
]
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_FORM = "application/x-www-form-urlencoded"


class TokenResponse(BaseModel):
    """An access token (RFC 6749 §5.1)."""

    access_token: str
    token_type: str = Field(examples=["bearer"])
    expires_in: int = Field(description="seconds", examples=[300])
    scope: str = Field(examples=["system/Encounter.cruds system/Patient.rs"])


class TokenErrorResponse(BaseModel):
    """An OAuth error (RFC 6749 §5.2)."""

    error: str = Field(examples=["invalid_client"])
    error_description: str


def _oauth_error(exc: TokenError) -> JSONResponse:
    status = 401 if exc.error == "invalid_client" else 400
    headers = dict(_NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="samverkan", error="invalid_client"'
    return JSONResponse(
        {"error": exc.error, "error_description": exc.reason}, status, headers=headers
    )


_TOKEN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            _FORM: {
                "schema": {
                    "type": "object",
                    "required": ["grant_type", "client_assertion_type", "client_assertion"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "client_assertion_type": {"type": "string", "enum": [ASSERTION_TYPE]},
                        "client_assertion": {
                            "type": "string",
                            "description": "a JWT signed with the client's registered key "
                            "(RS384 or ES384): iss = sub = client id, aud = this endpoint's URL, "
                            "exp at most 5 minutes ahead, a jti never used before",
                        },
                        "scope": {
                            "type": "string",
                            "description": "space-separated SMART v2 system scopes; default: "
                            "all the client may have",
                        },
                    },
                }
            }
        },
    }
}


@api.post(
    "/auth/token",
    response_model=TokenResponse,
    responses={
        400: {"model": TokenErrorResponse, "description": "invalid request, grant or scope"},
        401: {"model": TokenErrorResponse, "description": "the client could not be authenticated"},
    },
    openapi_extra=_TOKEN_BODY,
)
async def token(request: Request) -> JSONResponse:
    """Exchange a signed client assertion for an access token (client credentials)."""
    settings: Settings = request.app.state.settings
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != _FORM:
        return _oauth_error(TokenError(f"the body must be {_FORM}", error="invalid_request"))
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    async with UnitOfWork(request.app.state.engine) as uow:
        try:
            issued = await client_credentials(
                uow,
                key=request.app.state.signing_key,
                issuer=settings.issuer,
                token_endpoint=settings.token_endpoint,
                lifetime=timedelta(seconds=settings.access_token_lifetime_seconds),
                grant_type=values.get("grant_type"),
                assertion_type=values.get("client_assertion_type"),
                assertion=values.get("client_assertion"),
                scope=values.get("scope"),
                now=datetime.now(UTC),
            )
            await uow.commit()
        except TokenError as exc:
            return _oauth_error(exc)
        except IntegrityError:
            # The same assertion was presented twice at once; the other request got the token.
            return _oauth_error(
                TokenError(
                    "this client assertion was already used (jti replayed)", error="invalid_client"
                )
            )
    return JSONResponse(
        {
            "access_token": issued.access_token,
            "token_type": issued.token_type,
            "expires_in": issued.expires_in,
            "scope": issued.scope,
        },
        headers=_NO_STORE,
    )


@api.get("/.well-known/smart-configuration")
async def smart_configuration(request: Request) -> dict[str, Any]:
    """How to obtain an access token here (SMART App Launch discovery)."""
    settings: Settings = request.app.state.settings
    return {
        "issuer": settings.issuer,
        "jwks_uri": f"{settings.issuer}/.well-known/jwks.json",
        "token_endpoint": settings.token_endpoint,
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": SUPPORTED_SCOPES,
        "capabilities": ["client-confidential-asymmetric", "permission-v2"],
    }


@api.get("/.well-known/jwks.json")
async def jwks(request: Request) -> dict[str, Any]:
    """The public key that signs this service's access tokens."""
    result: dict[str, Any] = request.app.state.signing_key.public_jwks()
    return result
