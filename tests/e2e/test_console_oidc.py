"""Signing in to the console with OpenID Connect, end to end over real HTTP: the console runs as
`samverkan serve`, the IdP is a real OpenID Connect provider on loopback, and the test walks the
redirects as a browser does (authorization code with PKCE, state and nonce)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.console.idp import Provider, running_provider
from tests.e2e.test_http_server import Server, server  # noqa: F401 (the fixture)

# Committing: a uvicorn process reads and writes the database.
pytestmark = pytest.mark.committing

CLIENT_ID = "samverkan-console"


@pytest.fixture(scope="module")
def idp() -> Iterator[Provider]:
    with running_provider() as provider:
        yield provider


@pytest.fixture
def server_env(idp: Provider, tmp_path: Path) -> dict[str, str]:
    """The console configured for the IdP, with the administrator's mapping for one subject."""
    mapping = tmp_path / "people.json"
    mapping.write_text(
        json.dumps({"olle": {"organization": "kommun-0880", "role": "mas", "name": "Olle MAS"}})
    )
    return {
        "SAMVERKAN_OIDC_ISSUER": idp.issuer,
        "SAMVERKAN_OIDC_CLIENT_ID": CLIENT_ID,
        "SAMVERKAN_OIDC_CLIENT_SECRET": "console-secret",
        "SAMVERKAN_OIDC_USER_MAP_FILE": str(mapping),
    }


@pytest.fixture
def live(server: Server) -> Server:  # noqa: F811 (the imported fixture)
    """The console as `samverkan serve` runs it, configured for the IdP."""
    return server


def set_user(idp: Provider, sub: str, claims: dict[str, str]) -> None:
    response = httpx.put(f"{idp.issuer}/users/{sub}", json=claims)
    assert response.status_code == 204, response.text


async def walk_to_callback(http: httpx.AsyncClient, idp: Provider, sub: str) -> str:
    """Start the sign-in, authorize as ``sub`` at the IdP; the URL the IdP sends back to."""
    start = await http.get("/console/sign-in/oidc")
    assert start.status_code == 303, start.text
    authorize = start.headers["location"]
    assert authorize.startswith(f"{idp.issuer}/oauth2/authorize?")
    query = parse_qs(urlparse(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["client_id"] == [CLIENT_ID] and query["scope"] == ["openid profile"]
    assert query["state"] and query["nonce"] and "code_verifier" not in query
    form = await http.get(authorize)
    assert form.status_code == 200
    granted = await http.post(authorize, data={"sub": sub})
    assert granted.status_code == 302, granted.text
    return granted.headers["location"]


async def test_sign_in_with_the_idp_claims(live: Server, idp: Provider) -> None:
    set_user(
        idp,
        "anna",
        {
            "name": "Anna Planerare",
            "samverkan_organization": "kommun-2580-hemtjanst",
            "samverkan_role": "planner",
        },
    )
    verified = idp.pkce.verified
    async with httpx.AsyncClient(base_url=live.url) as http:
        page = await http.get("/console/sign-in")
        assert "Sign in with your e-identity" in page.text
        callback = await walk_to_callback(http, idp, "anna")
        assert callback.startswith(f"{live.url}/console/sign-in/callback?code=")
        before = http.cookies["samverkan_console"]
        signed = await http.get(callback)
        assert signed.status_code == 303, signed.text
        assert signed.headers["location"] == "/console/worklist"
        assert http.cookies["samverkan_console"] != before
        worklist = await http.get("/console/worklist")
        assert worklist.status_code == 200
        assert "Anna Planerare" in worklist.text and "Luleå hemtjänst" in worklist.text
        assert idp.pkce.verified == verified + 1
        # The same answer again belongs to no sign-in under way.
        again = await http.get(callback)
        assert again.status_code == 401 and "was not started here" in again.text


async def test_the_administrators_mapping_names_organization_and_role(
    live: Server, idp: Provider
) -> None:
    set_user(idp, "olle", {"name": "Olle"})
    async with httpx.AsyncClient(base_url=live.url) as http:
        signed = await http.get(await walk_to_callback(http, idp, "olle"))
        assert signed.status_code == 303, signed.text
        page = await http.get("/console/worklist")
        assert "Olle MAS" in page.text and "Kalmar kommun" in page.text


async def test_a_failed_sign_in_says_why_and_signs_no_one_in(live: Server, idp: Provider) -> None:
    set_user(idp, "nobody", {"name": "No Organization"})
    async with httpx.AsyncClient(base_url=live.url) as http:
        callback = await walk_to_callback(http, idp, "nobody")
        refused = await http.get(callback)
        assert refused.status_code == 401 and "no organization is known for nobody" in refused.text
        assert (await http.get("/console/worklist")).status_code == 303
        # An answer whose state is not this browser's sign-in is refused before any code is used.
        set_user(idp, "anna", {"samverkan_organization": "kommun-2580", "samverkan_role": "mas"})
        callback = await walk_to_callback(http, idp, "anna")
        forged = callback.replace("state=", "state=x")
        refused = await http.get(forged)
        assert refused.status_code == 401 and "does not belong to this sign-in" in refused.text
    async with httpx.AsyncClient(base_url=live.url) as stranger:
        # Another browser cannot finish a sign-in started here.
        assert (await stranger.get(callback)).status_code == 401
