"""Care messages between units (DESIGN §6): threads, replies, and each recipient's state.

A message goes from the sender's organization to one or more organizations, about a person or
not. Each recipient's copy moves ``delivered → read → acknowledged``; the acknowledgement carries
MedCom's outcome (``ok``, ``transient-error``, ``fatal-error``). A ``transient-error`` may later be
followed by a final acknowledgement; a final one stands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.domain.delivery import Outcome
from app.domain.errors import Forbidden, IllegalTransition


class Category(StrEnum):
    """What a message is about."""

    CARE_COORDINATION = "care-coordination"
    DISCHARGE = "discharge"
    MEDICATION = "medication"
    OTHER = "other"


class Priority(StrEnum):
    """How soon the receiver should act (FHIR request-priority)."""

    ROUTINE = "routine"
    URGENT = "urgent"
    ASAP = "asap"
    STAT = "stat"


class RecipientState(StrEnum):
    """Where one recipient's copy is."""

    DELIVERED = "delivered"
    READ = "read"
    ACKNOWLEDGED = "acknowledged"


@dataclass(slots=True)
class Recipient:
    """One addressed organization and its copy's state."""

    organization_id: str
    state: RecipientState = RecipientState.DELIVERED
    read_at: datetime | None = None
    outcome: Outcome | None = None
    detail: str | None = None
    acknowledged_at: datetime | None = None


@dataclass(slots=True)
class CareMessage:
    """A message in a thread; ``in_reply_to`` names the message it answers."""

    id: str
    thread_id: str
    sender_id: str
    recipients: list[Recipient]
    category: Category
    priority: Priority
    subject: str
    text: str
    sent_at: datetime
    person_id: str | None = None
    in_reply_to: str | None = None
    version: int = 1

    @property
    def last_changed_at(self) -> datetime:
        """When this version was written: every change after sending is a recipient's read or
        acknowledgement, each stamped, so the latest of those instants."""
        stamps = [self.sent_at]
        for recipient in self.recipients:
            stamps += [s for s in (recipient.read_at, recipient.acknowledged_at) if s is not None]
        return max(stamps)

    def _copies(self, organizations: Iterable[str]) -> list[Recipient]:
        wanted = set(organizations)
        copies = [r for r in self.recipients if r.organization_id in wanted]
        if not copies:
            raise Forbidden(
                "only a recipient marks a message read or acknowledges it", field="recipient"
            )
        return copies

    def mark_read(self, organizations: Iterable[str], at: datetime) -> bool:
        """The recipient has read the message; whether that changed anything (a later read
        does not)."""
        unread = [c for c in self._copies(organizations) if c.state is RecipientState.DELIVERED]
        for copy in unread:
            copy.state = RecipientState.READ
            copy.read_at = at
        if unread:
            self.version += 1
        return bool(unread)

    def acknowledge(
        self, organizations: Iterable[str], outcome: Outcome, detail: str | None, at: datetime
    ) -> None:
        """The recipient acknowledges; a final acknowledgement (ok, fatal-error) stands."""
        copies = self._copies(organizations)
        for copy in copies:
            if copy.outcome in (Outcome.OK, Outcome.FATAL_ERROR):
                raise IllegalTransition(
                    f"{copy.organization_id} already acknowledged this message "
                    f"({copy.outcome.value}); a final acknowledgement stands",
                    field="outcome",
                )
        for copy in copies:
            copy.state = RecipientState.ACKNOWLEDGED
            copy.read_at = copy.read_at or at
            copy.outcome = outcome
            copy.detail = detail
            copy.acknowledged_at = at
        self.version += 1
