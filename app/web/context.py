"""What every console request needs: its unit of work, session, caller, language and CSRF check.

``ConsoleRoute`` runs each page in one unit of work, as the API's routes run: committed when the
page rendered (so its access-log entries are kept with the page), rolled back otherwise, with the
refused and failed accesses written on their own. A domain error becomes an HTML page with the
status the API would give; a request without a live session is sent to sign in.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from asgi_correlation_id import correlation_id
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import RedirectResponse, Response

from app.domain.errors import (
    DomainError,
)
from app.domain.sessions import ConsoleSession, Identity
from app.http.vocabulary import classify
from app.security.access import Actor
from app.security.scopes import scope_allows
from app.services import console_sessions
from app.settings import Settings
from app.store.unit_of_work import UnitOfWork, write_failed_access
from app.web import i18n
from app.web.render import error_page

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
COOKIE = "samverkan_console"
SECURE_COOKIE = "__Host-samverkan_console"
CSRF_FIELD = "csrf_token"


class SignInRequired(Exception):
    """No live session: the person signs in (again), then comes back to ``next``."""

    def __init__(self, next_path: str, *, expired: bool) -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.expired = expired


class Refused(Exception):
    """A request the console refuses outright (a form without its CSRF token), with a status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def status_of(error: DomainError) -> int:
    """The HTTP status of a domain error, as the API answers it (``app.http.vocabulary``)."""
    return classify(error).status


def cookie_name(settings: Settings) -> str:
    """A Secure cookie takes the ``__Host-`` prefix: no domain, path /, never over plain http."""
    return SECURE_COOKIE if settings.console_cookie_secure else COOKIE


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    """Hand the browser its session token: HttpOnly, SameSite=Lax, Secure but on loopback http."""
    response.set_cookie(
        cookie_name(settings),
        token,
        httponly=True,
        secure=settings.console_cookie_secure,
        samesite="lax",
        path="/",
        max_age=settings.console_session_hours * 3600,
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    """Make the browser forget its session token."""
    response.delete_cookie(
        cookie_name(settings),
        path="/",
        httponly=True,
        secure=settings.console_cookie_secure,
        samesite="lax",
    )


@dataclass(frozen=True, slots=True)
class Console:
    """One console request: its unit of work, session, and (once signed in) who acts."""

    request: Request
    uow: UnitOfWork
    settings: Settings
    now: datetime
    session: ConsoleSession | None
    token: str | None
    actor: Actor | None
    organization_name: str = ""

    @property
    def identity(self) -> Identity | None:
        """Who is signed in, if anyone."""
        return self.session.identity if self.session else None

    @property
    def signed_in(self) -> Actor:
        """The caller; only on pages that require a signed-in person."""
        assert self.actor is not None
        return self.actor

    def may(self, resource: str, permission: str) -> bool:
        """Whether the person's role grants ``permission`` on ``resource`` (as a scope would)."""
        return self.actor is not None and scope_allows(self.actor.scopes, resource, permission)


def _lifetimes(settings: Settings) -> tuple[timedelta, timedelta]:
    return timedelta(minutes=settings.console_idle_minutes), timedelta(
        hours=settings.console_session_hours
    )


async def load_console(request: Request) -> Console:
    """The request's console state, signed in or not."""
    settings: Settings = request.app.state.settings
    uow: UnitOfWork = request.state.uow
    now = datetime.now(UTC)
    i18n.activate(
        i18n.choose(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language"))
    )
    token = request.cookies.get(cookie_name(settings))
    session = None
    if token:
        idle, lifetime = _lifetimes(settings)
        session = await console_sessions.find_session(
            uow, token, now=now, idle=idle, lifetime=lifetime
        )
    actor, name = None, ""
    if session is not None and session.identity is not None:
        # The request's id (X-Request-ID, or the one made for it) ties the log lines and the
        # access-log entries of one page together, as for an API call.
        actor, name = await console_sessions.actor_of(uow, session.identity, correlation_id.get())
    return Console(request, uow, settings, now, session, token if session else None, actor, name)


async def require_person(console: Annotated[Console, Depends(load_console)]) -> Console:
    """The console state of a signed-in person; anyone else is sent to sign in."""
    if console.actor is None:
        request = console.request
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            # A form cannot be sent again by a redirect: back to the first page instead.
            path = "/console/worklist"
        had_cookie = cookie_name(console.settings) in request.cookies
        raise SignInRequired(path, expired=had_cookie)
    return console


async def check_csrf(request: Request, session: ConsoleSession | None) -> None:
    """Refuse (403) a form whose CSRF token is missing or not the session's."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if (
        session is None
        or not isinstance(sent, str)
        or not hmac.compare_digest(sent.encode(), session.csrf_token.encode())
    ):
        raise Refused(403, "csrf")


async def person_form(console: Annotated[Console, Depends(require_person)]) -> Console:
    """A signed-in person's form submission, with its CSRF token checked."""
    await check_csrf(console.request, console.session)
    return console


Page = Annotated[Console, Depends(require_person)]
Form = Annotated[Console, Depends(person_form)]
Anyone = Annotated[Console, Depends(load_console)]


def sign_in_redirect(next_path: str, *, expired: bool) -> RedirectResponse:
    """To the sign-in page, and back to ``next_path`` afterwards."""
    query = f"next={quote(next_path, safe='')}" + ("&expired=1" if expired else "")
    return RedirectResponse(f"/console/sign-in?{query}", status_code=303)


class ConsoleRoute(APIRoute):
    """A console route: one unit of work per request, errors as pages."""

    def get_route_handler(self) -> Handler:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            uow = UnitOfWork(request.app.state.engine)
            try:
                async with uow:
                    request.state.uow = uow
                    try:
                        response = await original(request)
                    except SignInRequired as exc:
                        response = sign_in_redirect(exc.next_path, expired=exc.expired)
                    except Refused as exc:
                        response = error_page(request, exc.status, exc.message)
                    except DomainError as exc:
                        response = error_page(request, status_of(exc), exc.message)
                    except RequestValidationError as exc:
                        response = error_page(request, 422, _invalid(exc))
                    if response.status_code < 400:
                        await uow.commit()
                    _harden(response)
                    return response
            finally:
                if uow.pending_access:
                    await write_failed_access(request.app.state.engine, uow.pending_access)

        return handler


def _invalid(exc: RequestValidationError) -> str:
    """The form's faulty fields, named."""
    return "; ".join(
        f"{err['loc'][-1]}: {err.get('msg')}" for err in exc.errors() if err.get("loc")
    )


def _harden(response: Response) -> None:
    """Pages with personal data are neither cached nor framed, and load only our own files."""
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
