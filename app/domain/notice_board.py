"""Notice boards (DESIGN §6): bulletins for all units of a region or of a cooperation area.

A board belongs to a region or to a cooperation area; its members are principals: a region's
board serves the region and the municipalities of its cooperation areas, an area's board the
region and the area's municipalities. Every unit of a member principal reads the board and may
post on it. A bulletin is shown from ``valid_from`` until ``valid_until`` (open-ended without
one); the principal that posted it may withdraw it, which ends its validity at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.domain.errors import Forbidden, IllegalTransition, InvalidInput


class BulletinCategory(StrEnum):
    """What a bulletin is about."""

    ROUTINE = "routine"
    OUTAGE = "outage"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Board:
    """A notice board and the principals it serves."""

    id: str
    kind: str  # "region" or "cooperation-area"
    name: str
    members: frozenset[str]


@dataclass(slots=True)
class Bulletin:
    """A bulletin on a board."""

    id: str
    board_id: str
    author_id: str
    author_principal_id: str
    category: BulletinCategory
    title: str
    text: str
    valid_from: datetime
    valid_until: datetime | None
    created_at: datetime
    withdrawn_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise InvalidInput("valid_until must be after valid_from", field="valid_until")

    def shown_at(self, moment: datetime) -> bool:
        """Whether the bulletin is on the board at ``moment``."""
        return self.valid_from <= moment and (self.valid_until is None or moment < self.valid_until)

    def withdraw(self, principal_id: str, at: datetime) -> None:
        """Take the bulletin down now (the posting principal only)."""
        if principal_id != self.author_principal_id:
            raise Forbidden("only the principal that posted a bulletin withdraws it", field=None)
        if self.withdrawn_at is not None:
            raise IllegalTransition("the bulletin is already withdrawn")
        self.withdrawn_at = at
        if self.valid_until is None or self.valid_until > at:
            self.valid_until = max(at, self.valid_from)
