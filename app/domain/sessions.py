"""Sessions of people signed in to the web console, and the roles they act in (DESIGN §2, §10).

A session is kept on the server; the browser holds only a random token whose hash names the row,
so a copy of the table signs no one in. A session that was not used for the idle timeout, or
that is older than its lifetime, is over whatever the cookie says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Role(StrEnum):
    """The roles people hold at an organization (DESIGN §2)."""

    COORDINATOR = "coordinator"
    FIXED_CARE_CONTACT = "fixed-care-contact"
    PLANNER = "planner"
    MAS = "mas"
    DEVIATION_HANDLER = "deviation-handler"
    ADMINISTRATOR = "administrator"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who signed in: the IdP's subject, a display name, the organization (unit) and role."""

    user_id: str
    name: str
    organization_id: str
    role: Role


@dataclass(frozen=True, slots=True)
class PendingLogin:
    """An OpenID Connect sign-in under way: what the callback must find again (RFC 7636)."""

    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A browser's session: anonymous (before sign-in) or of a signed-in person.

    ``id`` is the SHA-256 of the cookie's token. ``csrf_token`` is sent back with every form.
    """

    id: str
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    identity: Identity | None = None
    pending: PendingLogin | None = None

    def is_over(self, now: datetime, *, idle: timedelta, lifetime: timedelta) -> bool:
        """Whether the session ended: idle too long, or older than its lifetime."""
        return now - self.last_seen_at > idle or now - self.created_at > lifetime

    def needs_touch(self, now: datetime) -> bool:
        """Whether ``last_seen_at`` is stale enough to be worth a write (once a minute)."""
        return now - self.last_seen_at >= timedelta(minutes=1)
