"""The ``_cursor`` of a FHIR page's ``next`` link: opaque to the client.

Every FHIR page (a search, a type history, the Subscription search) continues after a position
the service knows: a record's id (a Patient search's is the last person's id), or a type
history's (time, id, version). The link carries that position encoded (base64url, unpadded),
the same way for every page, so that:

- a client follows the link and never builds or parses a cursor (the position can change, e.g.
  to a compound key, without a client noticing);
- no URL of a page names a record, a person in particular: the ``self`` link of a Patient
  search's second page repeats its cursor, which as a plain id named the last person of the page
  before in a response that neither lists nor logs that person (DESIGN §10; the test guard of
  ``tests/conftest.py`` flagged it). It is an encoding, not a secret: it keeps ids out of URLs
  and out of the client's hands, not from someone who decodes it.

A ``_cursor`` the service did not give out is a 4xx naming ``_cursor``, never a 5xx.
"""

from __future__ import annotations

import base64
import binascii
import re

from app.domain.errors import InvalidInput

# base64url without padding: what ``cursor_text`` makes. The longest position (a history's
# time, id and version) is far below it.
_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,400}")
_NOT_OURS = "_cursor is not one this search gave out: follow the next link of the page before"


def cursor_text(position: str) -> str:
    """The ``_cursor`` of a next link that continues after ``position``."""
    return base64.urlsafe_b64encode(position.encode()).decode("ascii").rstrip("=")


def cursor_position(text: str | None) -> str | None:
    """The position a ``_cursor`` given by ``cursor_text`` continues after (None: no cursor, the
    first page); 422 naming ``_cursor`` for one the service did not give out."""
    if text is None:
        return None
    if not _CURSOR.fullmatch(text):
        raise InvalidInput(_NOT_OURS, field="_cursor")
    try:
        position = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput(_NOT_OURS, field="_cursor") from None
    # One text per position: a cursor that decodes but is not the one given out is refused.
    if not position or cursor_text(position) != text:
        raise InvalidInput(_NOT_OURS, field="_cursor")
    return position
