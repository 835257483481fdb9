"""Authentication: the token endpoint, bearer tokens, scopes, the admin API and rate limits."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.security.assertions import generate_client_key, make_client_assertion
from app.security.clients import ASSERTION_TYPE
from app.security.tokens import SigningKey, issue_access_token
from app.settings import Settings
from tests.conftest import ClientFor, Tokens, fetch_token, register_test_client


@pytest.fixture
async def http(
    app_engine: tuple[object, AsyncEngine], engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """A plain client of the application, without a token."""
    app, _eng = app_engine
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def form(assertion: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
        **extra,
    }


async def test_smart_configuration_describes_the_token_endpoint(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    config = (await http.get("/.well-known/smart-configuration")).json()
    assert config["token_endpoint"] == settings.token_endpoint
    assert config["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert set(config["token_endpoint_auth_signing_alg_values_supported"]) == {"RS384", "ES384"}
    assert "client-confidential-asymmetric" in config["capabilities"]
    keys = (await http.get("/.well-known/jwks.json")).json()["keys"]
    assert keys and all("d" not in key for key in keys)


@pytest.mark.parametrize("alg", ["ES384", "RS384"])
async def test_a_client_gets_a_token_that_the_api_accepts(
    http: httpx.AsyncClient, engine: AsyncEngine, settings: Settings, alg: str
) -> None:
    client_id, pem, kid = await register_test_client(
        engine, "kommun-2580", "system/Patient.rs system/Organization.rs", alg=alg
    )
    issued = await fetch_token(http, settings, client_id, pem, kid, alg)
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert body["scope"] == "system/Organization.rs system/Patient.rs"
    assert issued.headers["cache-control"] == "no-store"
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await http.get("/api/v1/persons", headers=auth)).status_code == 200
    # The token carries only what was granted: Encounter needs a scope it does not have.
    refused = await http.get("/api/v1/episodes", headers=auth)
    assert refused.status_code == 403
    assert "system/Encounter.s" in refused.json()["detail"]


async def test_requested_scopes_are_narrowed_to_what_the_client_may_have(
    http: httpx.AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    client_id, pem, kid = await register_test_client(engine, "kommun-2580", "system/Patient.rs")
    now = datetime.now(UTC)

    async def ask(scope: str) -> httpx.Response:
        assertion = make_client_assertion(
            pem,
            kid=kid,
            alg="ES384",
            client_id=client_id,
            token_endpoint=settings.token_endpoint,
            now=now,
        )
        return await http.post("/auth/token", data=form(assertion, scope=scope))

    narrowed = await ask("system/*.cruds")
    assert narrowed.status_code == 200 and narrowed.json()["scope"] == "system/Patient.rs"
    none_allowed = await ask("system/Encounter.r")
    assert none_allowed.status_code == 400 and none_allowed.json()["error"] == "invalid_scope"
    unknown = await ask("patient/*.read")
    assert unknown.status_code == 400 and "patient/*.read" in unknown.json()["error_description"]


def assertion_for(
    pem: bytes, kid: str, client_id: str, settings: Settings, **overrides: Any
) -> str:
    arguments: dict[str, Any] = {
        "kid": kid,
        "alg": "ES384",
        "client_id": client_id,
        "token_endpoint": settings.token_endpoint,
        "now": datetime.now(UTC),
        **overrides,
    }
    return make_client_assertion(pem, **arguments)


async def test_bad_client_assertions_are_refused_with_oauth_errors(
    http: httpx.AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    client_id, pem, kid = await register_test_client(engine, "kommun-2580", "system/*.rs")
    other_pem, _jwks = generate_client_key("ES384")
    now = datetime.now(UTC)
    cases = {
        "another audience": assertion_for(
            pem, kid, client_id, settings, token_endpoint="https://elsewhere.example/token"
        ),
        "expiring too late": assertion_for(
            pem, kid, client_id, settings, lifetime=timedelta(minutes=10)
        ),
        "expired": assertion_for(pem, kid, client_id, settings, now=now - timedelta(minutes=10)),
        "signed with another key": assertion_for(other_pem, kid, client_id, settings),
        "unknown client": assertion_for(pem, kid, "no-such-client", settings),
    }
    for case, assertion in cases.items():
        response = await http.post("/auth/token", data=form(assertion))
        assert response.status_code == 401, (case, response.text)
        assert response.json()["error"] == "invalid_client", case
        assert response.json()["error_description"], case
        assert "access_token" not in response.text

    replayed = assertion_for(pem, kid, client_id, settings, jti=uuid.uuid4().hex)
    assert (await http.post("/auth/token", data=form(replayed))).status_code == 200
    again = await http.post("/auth/token", data=form(replayed))
    assert again.status_code == 401 and "jti" in again.json()["error_description"]

    wrong_grant = await http.post(
        "/auth/token",
        data={**form(assertion_for(pem, kid, client_id, settings)), "grant_type": "password"},
    )
    assert wrong_grant.status_code == 400
    assert wrong_grant.json()["error"] == "unsupported_grant_type"
    as_json = await http.post(
        "/auth/token", json=form(assertion_for(pem, kid, client_id, settings))
    )
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    no_assertion = await http.post("/auth/token", data={"grant_type": "client_credentials"})
    assert no_assertion.status_code == 400 and no_assertion.json()["error"] == "invalid_request"


def expect_401(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="samverkan"')
    assert reason in response.json()["detail"], response.json()["detail"]


async def test_bad_bearer_tokens_get_401_with_a_reason(
    http: httpx.AsyncClient, settings: Settings, app_engine: tuple[Any, AsyncEngine]
) -> None:
    app, _eng = app_engine
    key: SigningKey = app.state.signing_key
    now = datetime.now(UTC)

    def token(**overrides: Any) -> str:
        arguments: dict[str, Any] = {
            "client_id": "someone",
            "organization_id": "kommun-2580",
            "scopes": frozenset({"system/*.rs"}),
            "audience": settings.issuer,
            "issuer": settings.issuer,
            "lifetime": timedelta(minutes=5),
            "now": now,
            **overrides,
        }
        signer = arguments.pop("key", key)
        return issue_access_token(signer, **arguments)

    cases = {
        "malformed": ("not-a-jwt", "malformed"),
        "expired": (token(now=now - timedelta(hours=1)), "expired"),
        "wrong signature": (token(key=SigningKey.generate()), "current key"),
        "wrong audience": (token(audience="https://other.example"), "audience"),
        "wrong issuer": (token(issuer="https://other.example"), "issuer"),
        "unknown organization": (token(organization_id="no-such-org"), "organization"),
        # Signed with the service's own key, but for ten years: no token of ours lives that long.
        "ten years": (token(lifetime=timedelta(days=3650)), "lives longer"),
        "a second too long": (
            token(lifetime=timedelta(seconds=settings.access_token_max_lifetime_seconds + 1)),
            "lives longer",
        ),
    }
    for case, (value, reason) in cases.items():
        response = await http.get("/api/v1/persons", headers={"Authorization": f"Bearer {value}"})
        expect_401(response, reason)
        assert 'error="invalid_token"' in response.headers["www-authenticate"], case
    basic = await http.get("/api/v1/persons", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401
    missing = await http.get("/api/v1/persons")
    expect_401(missing, "bearer access token")


async def test_a_disabled_client_gets_no_new_tokens(
    http: httpx.AsyncClient, engine: AsyncEngine, settings: Settings, client_for: ClientFor
) -> None:
    admin = await client_for("region-norrbotten", scopes="samverkan/admin")
    pem, jwks = generate_client_key("RS384")
    created = await admin.post(
        "/api/v1/admin/clients",
        json={
            "organization_id": "kommun-2582",
            "name": "Boden EHR",
            "jwks": jwks,
            "scopes": "system/*.rs",
        },
    )
    assert created.status_code == 201, created.text
    client_id = created.json()["client_id"]
    assert client_id.startswith("kommun-2582-")
    kid = jwks["keys"][0]["kid"]
    assert (await fetch_token(http, settings, client_id, pem, kid, "RS384")).status_code == 200
    disabled = await admin.put(f"/api/v1/admin/clients/{client_id}/active", json={"active": False})
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    refused = await fetch_token(http, settings, client_id, pem, kid, "RS384")
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    listed = (await admin.get("/api/v1/admin/clients", params={"limit": 200})).json()
    assert listed["items"]


@pytest.mark.committing
async def test_disabling_a_client_revokes_its_live_tokens_on_every_process(
    settings: Settings, client_for: ClientFor
) -> None:
    """Three application instances on one database: the client is disabled through one (the
    session's), and within the revocation cache's lifetime (1 s here) the two others refuse
    the token they accepted before."""
    quick = settings.model_copy(update={"token_revocation_cache_seconds": 1.0})
    first, second = create_app(quick), create_app(quick)
    admin = await client_for("region-norrbotten", scopes="samverkan/admin")
    pem, jwks = generate_client_key("ES384")
    created = await admin.post(
        "/api/v1/admin/clients",
        json={
            "organization_id": "kommun-2582",
            "name": "Boden",
            "jwks": jwks,
            "scopes": "system/*.rs",
        },
    )
    client_id, kid = created.json()["client_id"], jwks["keys"][0]["kid"]
    async with (
        first.router.lifespan_context(first),
        second.router.lifespan_context(second),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://a") as one,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="http://b") as two,
    ):
        issued = (await fetch_token(one, settings, client_id, pem, kid, "ES384")).json()
        auth = {"Authorization": f"Bearer {issued['access_token']}"}
        for instance in (one, two):
            assert (await instance.get("/api/v1/organizations", headers=auth)).status_code == 200
        disabled = await admin.put(
            f"/api/v1/admin/clients/{client_id}/active", json={"active": False}
        )
        assert disabled.status_code == 200
        started = time.monotonic()
        waited: dict[str, float] = {}
        while len(waited) < 2 and time.monotonic() - started < 10:
            for name, instance in (("one", one), ("two", two)):
                if name not in waited:
                    answer = await instance.get("/api/v1/organizations", headers=auth)
                    if answer.status_code == 401:
                        assert "revoked" in answer.json()["detail"]
                        waited[name] = time.monotonic() - started
            await asyncio.sleep(0.1)
        assert max(waited.values()) <= 2.0, waited
        # Enabled again, the client gets tokens that work; the revoked one stays refused.
        enabled = await admin.put(
            f"/api/v1/admin/clients/{client_id}/active", json={"active": True}
        )
        assert enabled.status_code == 200
        await asyncio.sleep(1.1)  # a new token's iat is a whole second past the revocation
        fresh = (await fetch_token(one, settings, client_id, pem, kid, "ES384")).json()
        renewed = {"Authorization": f"Bearer {fresh['access_token']}"}
        await asyncio.sleep(1.1)
        assert (await two.get("/api/v1/organizations", headers=renewed)).status_code == 200
        assert (await two.get("/api/v1/organizations", headers=auth)).status_code == 401


async def test_admin_api_refuses_private_keys_and_non_admins(client_for: ClientFor) -> None:
    admin = await client_for("region-norrbotten", scopes="samverkan/admin")
    private_jwk = {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA", "d": "AA"}
    leaked = await admin.post(
        "/api/v1/admin/clients",
        json={"organization_id": "kommun-2582", "name": "x", "jwks": {"keys": [private_jwk]}},
    )
    assert leaked.status_code == 422 and leaked.json()["errors"][0]["field"] == "jwks"
    unknown_org = await admin.post(
        "/api/v1/admin/clients",
        json={"organization_id": "nowhere", "name": "x", "jwks": generate_client_key()[1]},
    )
    assert unknown_org.status_code == 422
    assert unknown_org.json()["errors"][0]["field"] == "organization_id"
    ordinary = await client_for("region-norrbotten")
    refused = await ordinary.get("/api/v1/admin/clients")
    assert refused.status_code == 403 and "samverkan/admin" in refused.json()["detail"]


@pytest.mark.committing
async def test_a_client_over_its_rate_limit_gets_429_with_retry_after(
    settings: Settings, tokens: Tokens, engine: AsyncEngine
) -> None:
    limited = create_app(settings.model_copy(update={"rate_limit_per_minute": 3}))
    token = await tokens.get("kommun-2580")
    async with limited.router.lifespan_context(limited):
        transport = httpx.ASGITransport(app=limited)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {token}"},
        ) as http:
            codes = [(await http.get("/api/v1/organizations")).status_code for _ in range(4)]
            assert codes == [200, 200, 200, 429]
            over = await http.get("/api/v1/organizations")
            assert over.status_code == 429 and int(over.headers["retry-after"]) >= 1
            assert "rate limit" in over.json()["detail"]
            # The probes are not rate limited: load balancers must always get through.
            assert (await http.get("/healthz")).status_code == 200


def run_cli(
    settings: Settings, *args: str, environment: str = "development"
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SAMVERKAN_DATABASE_URL": settings.database_url,
        "SAMVERKAN_ENVIRONMENT": environment,
        "SAMVERKAN_SIGNING_KEY_FILE": str(settings.signing_key_file),
        "SAMVERKAN_PUBLIC_BASE_URL": settings.public_base_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.committing
async def test_dev_token_works_locally_and_never_in_production(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    made = run_cli(settings, "dev-token", "--org", "kommun-2580", "--scopes", "system/*.rs")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    auth = {"Authorization": f"Bearer {token}"}
    assert (await http.get("/api/v1/persons", headers=auth)).status_code == 200
    assert (await http.post("/api/v1/persons", headers=auth, json={})).status_code == 403
    unknown = run_cli(settings, "dev-token", "--org", "no-such-org")
    assert unknown.returncode == 2 and "unknown organization" in unknown.stderr
    production = run_cli(
        settings.model_copy(update={"database_url": "postgresql+asyncpg://nobody@127.0.0.1/x"}),
        "dev-token",
        "--org",
        "kommun-2580",
        environment="production",
    )
    assert production.returncode == 2 and "refused in production" in production.stderr
    assert "eyJ" not in production.stdout
    too_long = run_cli(settings, "dev-token", "--org", "kommun-2580", "--minutes", "61")
    assert too_long.returncode == 2 and "refuses tokens living over 3600" in too_long.stderr
