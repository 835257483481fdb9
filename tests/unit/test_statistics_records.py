"""The drill-down's cursor: it round-trips, and anything it did not make is refused naming it."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.domain.errors import InvalidInput
from app.domain.parties import RecordType
from app.domain.statistics import INDICATORS
from app.domain.statistics_records import COUNTED, Key, link, parse_cursor


def encoded(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def test_a_cursor_names_the_key_it_was_made_from_in_utc() -> None:
    local = datetime(2022, 10, 30, 2, 30, tzinfo=timezone(timedelta(hours=2)))
    key = Key(local, "0b9f", "12")
    found = parse_cursor(key.cursor())
    assert found == key and found.at.utcoffset() == timedelta(0)
    assert found.at == datetime(2022, 10, 30, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not-a-cursor",
        encoded(5),
        encoded(["2022-10-30T00:30:00", "a", "b"]),  # no offset
        encoded(["2022-10-30T00:30:00+00:00", 1, "b"]),
        encoded(["9999-12-31T23:00:00-05:00", "a", "b"]),  # past the last instant in UTC
        encoded(["2022-10-30T00:30:00+00:00", "a"]),
    ],
)
def test_a_cursor_it_did_not_make_is_refused_naming_the_parameter(cursor: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_cursor(cursor)
    assert refused.value.field == "cursor"


def test_every_indicator_names_what_it_counts_and_its_records_link_to_their_reads() -> None:
    assert set(COUNTED) == {i.code for i in INDICATORS}
    assert link(RecordType.MESSAGE, "m1") == "/api/v1/care-messages/m1"
    assert {c.resource_type for c in COUNTED.values()} == {
        "Encounter", "CarePlan", "Appointment", "Communication", "Task"
    }  # fmt: skip
