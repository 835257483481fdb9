"""The way in: the landing page, sign-in (OpenID Connect or, outside production, development),
sign-out and the language switch."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from app.domain.errors import InvalidInput
from app.domain.organizations import OrgKind
from app.domain.sessions import Identity, Role
from app.services import console_sessions, demo_flow, organizations
from app.web import i18n
from app.web.context import (
    Anyone,
    Console,
    ConsoleRoute,
    Refused,
    check_csrf,
    clear_session_cookie,
    set_session_cookie,
)
from app.web.oidc import OidcClient, SignInFailed
from app.web.render import render

api = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,100}$")


def local_path(value: str | None) -> str | None:
    """A path of this service's own pages, or None: a redirect never sends anyone elsewhere."""
    if not value or "\\" in value or value.startswith("//"):
        return None
    return value if value == "/" or value.startswith("/console") else None


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a console page other than the sign-in itself."""
    path = local_path(value)
    if path is None or path == "/" or path.startswith("/console/sign-in"):
        return "/console/worklist"
    return path


@api.get("/")
async def landing(console: Anyone) -> Response:
    """Where a person arriving at the service is sent on: the console or the API docs."""
    return render(console, "landing.html")


@api.get("/console")
async def console_home(console: Anyone) -> Response:
    """A signed-in person's first page is their organization's worklist."""
    target = "/console/worklist" if console.actor else "/console/sign-in"
    return RedirectResponse(target, status_code=303)


async def _anonymous(console: Console) -> tuple[Console, str | None]:
    """The console with a session to carry the sign-in form's CSRF token; a new token if made."""
    if console.session is not None:
        return console, None
    token, session = await console_sessions.open_session(
        console.uow, now=console.now, idle=timedelta(minutes=console.settings.console_idle_minutes)
    )
    return replace(console, session=session, token=token), token


async def _organizations(console: Console) -> list[tuple[str, list[tuple[str, str]]]]:
    """Every principal with its units, for the development sign-in's choice."""
    page = await organizations.list_organizations(
        console.uow,
        limit=2000,
        after=None,
        kind=None,
        jurisdiction=None,
        parent_id=None,
        function=None,
        identifier=None,
    )
    principals = sorted(
        (o for o in page.items if o.kind is not OrgKind.UNIT), key=lambda o: (o.kind, o.name)
    )
    units: dict[str, list[tuple[str, str]]] = {}
    for org in page.items:
        if org.kind is OrgKind.UNIT and org.parent_id:
            units.setdefault(org.parent_id, []).append((org.id, org.name))
    return [
        (p.name, [(p.id, p.name), *sorted(units.get(p.id, []), key=lambda u: u[1])])
        for p in principals
    ]


@api.get("/console/sign-in")
async def sign_in_page(
    console: Anyone, next: str | None = None, expired: str | None = None
) -> Response:
    """Sign in with the IdP, or (outside production) as a demo organization and role."""
    if console.actor is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    console, token = await _anonymous(console)
    response = render(
        console,
        "sign_in.html",
        next=safe_next(next),
        expired=expired is not None,
        oidc=console.settings.oidc_configured,
        dev=console.settings.dev_sign_in_allowed,
        organizations=await _organizations(console) if console.settings.dev_sign_in_allowed else [],
        roles=list(Role),
        preselected=demo_flow.MUNICIPALITY,
        failed=None,
    )
    if token is not None:
        set_session_cookie(response, console.settings, token)
    return response


@api.post("/console/sign-in/dev")
async def dev_sign_in(
    console: Anyone,
    organization: Annotated[str, Form(max_length=64)],
    role: Annotated[str, Form(max_length=32)],
    name: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """The development sign-in: refused in production, whatever the form says."""
    if not console.settings.dev_sign_in_allowed:
        raise Refused(403, "the development sign-in is off in production")
    await check_csrf(console.request, console.session)
    if role not in {r.value for r in Role}:
        raise InvalidInput(f"unknown role {role}", field="role")
    shown = name.strip() or i18n.gettext("Demo user")
    if not NAME.match(shown):
        raise InvalidInput("the name must be printable text", field="name")
    identity = Identity(
        user_id=f"dev:{shown}", name=shown, organization_id=organization, role=Role(role)
    )
    return await _signed_in(console, identity, next)


async def _signed_in(console: Console, identity: Identity, next_path: str | None) -> Response:
    token, _session = await console_sessions.sign_in(
        console.uow,
        console.session,
        identity,
        now=console.now,
        idle=timedelta(minutes=console.settings.console_idle_minutes),
    )
    response = RedirectResponse(safe_next(next_path), status_code=303)
    set_session_cookie(response, console.settings, token)
    return response


def _oidc(request: Request) -> OidcClient:
    client: OidcClient | None = getattr(request.app.state, "oidc", None)
    if client is None:
        raise Refused(404, "no sign-in service is configured")
    return client


@api.get("/console/sign-in/oidc")
async def oidc_start(console: Anyone) -> Response:
    """Send the browser to the IdP (authorization code with PKCE, state and nonce)."""
    client = _oidc(console.request)
    console, token = await _anonymous(console)
    assert console.session is not None
    try:
        url, pending = await client.start()
    except SignInFailed as exc:
        raise Refused(502, exc.reason) from exc
    await console_sessions.begin_login(console.uow, console.session, pending)
    response = RedirectResponse(url, status_code=303)
    if token is not None:
        set_session_cookie(response, console.settings, token)
    return response


@api.get("/console/sign-in/callback")
async def oidc_callback(console: Anyone) -> Response:
    """The IdP sends the browser back here with a code; the person is signed in."""
    client = _oidc(console.request)
    pending = console.session.pending if console.session else None
    error = console.request.query_params.get("error")
    if pending is None or error:
        reason = (
            f"the sign-in service answered {error}"
            if error
            else "this sign-in was not started here, or it took too long"
        )
        return _failed(console, reason)
    try:
        identity = await client.finish(str(console.request.url), pending)
    except SignInFailed as exc:
        return _failed(console, exc.reason)
    return await _signed_in(console, identity, None)


def _failed(console: Console, reason: str) -> Response:
    return render(
        console,
        "sign_in.html",
        status=401,
        next=safe_next(None),
        expired=False,
        oidc=console.settings.oidc_configured,
        dev=False,
        organizations=[],
        roles=[],
        preselected="",
        failed=reason,
    )


@api.post("/console/sign-out")
async def sign_out(console: Anyone) -> Response:
    """End the session here and forget its cookie."""
    await check_csrf(console.request, console.session)
    if console.session is not None:
        await console_sessions.sign_out(console.uow, console.session)
    response = RedirectResponse("/console/sign-in", status_code=303)
    clear_session_cookie(response, console.settings)
    return response


@api.get("/console/language")
async def choose_language(console: Anyone, lang: str, next: str | None = None) -> Response:
    """Switch the console's language (kept in a cookie of its own, for a year)."""
    if lang not in i18n.LANGUAGES:
        raise InvalidInput(f"the console speaks {', '.join(i18n.LANGUAGES)}", field="lang")
    response = RedirectResponse(local_path(next) or "/console", status_code=303)
    response.set_cookie(
        i18n.COOKIE,
        lang,
        max_age=365 * 24 * 3600,
        samesite="lax",
        secure=console.settings.console_cookie_secure,
        path="/",
    )
    return response
