"""Use cases of web-console sessions: open, find, sign in, sign out.

The browser holds a random token; the store keeps only its SHA-256, the CSRF token the forms carry,
and who signed in. Signing in replaces the session (and its token) so that a token planted before
sign-in is worth nothing after it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from app.domain.errors import InvalidInput
from app.domain.sessions import ConsoleSession, Identity, PendingLogin
from app.security.access import Actor
from app.security.people import person_actor
from app.services.plans import principal_of
from app.store.unit_of_work import UnitOfWork


def session_id_of(token: str) -> str:
    """The stored id of the session a cookie's token names."""
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(
    uow: UnitOfWork, *, now: datetime, idle: timedelta, identity: Identity | None = None
) -> tuple[str, ConsoleSession]:
    """A new session (anonymous unless ``identity``): the cookie's token and the session.

    Sessions idle for longer than ``idle`` are cleared on the way, so that sign-in pages that
    were opened and left do not pile up.
    """
    await uow.console_sessions.remove_idle(now - idle)
    token = secrets.token_urlsafe(32)
    session = ConsoleSession(
        id=session_id_of(token),
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        identity=identity,
    )
    await uow.console_sessions.add(session)
    return token, session


async def find_session(
    uow: UnitOfWork, token: str, *, now: datetime, idle: timedelta, lifetime: timedelta
) -> ConsoleSession | None:
    """The live session of a token, or None; an idle or too old session is ended here."""
    session = await uow.console_sessions.get(session_id_of(token))
    if session is None:
        return None
    if session.is_over(now, idle=idle, lifetime=lifetime):
        await uow.console_sessions.remove(session.id)
        return None
    if session.needs_touch(now):
        await uow.console_sessions.touch(session.id, now)
    return session


async def begin_login(uow: UnitOfWork, session: ConsoleSession, pending: PendingLogin) -> None:
    """Keep what the OpenID Connect callback must find again."""
    await uow.console_sessions.set_pending(session.id, pending)


async def sign_in(
    uow: UnitOfWork,
    replaced: ConsoleSession | None,
    identity: Identity,
    *,
    now: datetime,
    idle: timedelta,
) -> tuple[str, ConsoleSession]:
    """Sign a person in: a new session for ``identity``, replacing the anonymous one.

    The organization must be registered here.
    """
    org = await uow.organizations.get(identity.organization_id)
    if org is None:
        raise InvalidInput(
            f"{identity.organization_id} is not an organization registered here",
            field="organization",
        )
    if replaced is not None:
        await uow.console_sessions.remove(replaced.id)
    return await open_session(uow, now=now, idle=idle, identity=identity)


async def sign_out(uow: UnitOfWork, session: ConsoleSession) -> None:
    """End the session."""
    await uow.console_sessions.remove(session.id)


async def actor_of(
    uow: UnitOfWork, identity: Identity, request_id: str | None
) -> tuple[Actor, str]:
    """The caller a signed-in person is (with their organization's principal), and the name of
    their organization."""
    org = await uow.organizations.get(identity.organization_id)
    if org is None:
        raise InvalidInput(
            f"{identity.organization_id} is no longer registered here", field="organization"
        )
    return person_actor(identity, principal_of(org), request_id), org.name
