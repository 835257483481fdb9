"""The opaque ``_cursor`` of FHIR next links (``app.fhir.cursors``): every position the service
pages after comes back as it was, no cursor shows the id it continues after, and a cursor the
service did not give out is refused naming ``_cursor``."""

from __future__ import annotations

import uuid

import pytest

from app.domain.errors import InvalidInput
from app.fhir.cursors import cursor_position, cursor_text

PERSON = str(uuid.UUID(int=0x3049D274C20A4447AE7203807C80A437))


@pytest.mark.parametrize(
    "position",
    [
        PERSON,  # a Patient search's: the last person's id
        "region-norrbotten-sunderby-med",  # an Organization search's
        "2026-03-01T10:00:00+01:00~plan-1~12",  # a type history's (time, id, version)
        "12345",  # the AuditEvent history's: an access-log entry's id
        "å",  # whatever the text, one byte or several
    ],
)
def test_a_cursor_gives_back_its_position_and_does_not_show_it(position: str) -> None:
    text = cursor_text(position)
    assert cursor_position(text) == position
    assert position not in text and PERSON not in text
    assert text.isascii() and "=" not in text  # nothing to escape in a query string


def test_no_cursor_is_the_first_page() -> None:
    assert cursor_position(None) is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        PERSON,  # a plain id, as cursors were before they were opaque
        "x~1",
        cursor_text(PERSON) + "=",  # padded: not the text given out
        cursor_text("ab")[:-1] + "h",  # decodes, but is not the text given out
        "_w",  # not UTF-8
        "A",  # not base64 at all
        "a" * 401,
    ],
)
def test_a_cursor_the_service_did_not_give_out_is_refused_naming_it(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        cursor_position(text)
    assert refused.value.field == "_cursor"
