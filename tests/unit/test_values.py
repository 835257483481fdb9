"""The checked values both edges share (app.domain.values, app.http.values)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from app.domain.errors import InvalidInput, Malformed
from app.domain.values import (
    InstantBounds,
    PartialDate,
    check_id,
    check_instant,
    instant_bounds,
    parse_day,
    parse_instant,
    parse_int,
    parse_partial_date,
    set_instant_bounds,
    storable,
)
from app.http.values import check_json_body, json_depth_exceeds


def nested(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


@pytest.mark.parametrize("depth", [0, 1, 63, 64, 65, 200])
def test_json_depth_is_measured_without_parsing(depth: int) -> None:
    assert json_depth_exceeds(nested(depth), 64) is (depth > 64)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"a": "[" * 500 + '\\"{' * 100, "b": [[{"c": "]]]"}]]}).encode()
    assert not json_depth_exceeds(text, 8)
    assert json_depth_exceeds(json.dumps({"a": [[[[[[[[[1]]]]]]]]]}).encode(), 8)


def test_wide_but_shallow_bodies_pass() -> None:
    wide = json.dumps({"entry": [{"resource": {"a": [1, {"b": 2}]}} for _ in range(2000)]})
    assert not json_depth_exceeds(wide.encode(), 8)


def test_a_nul_in_a_json_string_is_named() -> None:
    with pytest.raises(Malformed) as refused:
        check_json_body(json.dumps({"name": [{"given": ["a", "b\u0000"]}]}).encode(), 64)
    assert refused.value.field == "name[0].given[1]"
    check_json_body(json.dumps({"text": "a\\u0000"}).encode(), 64)


@pytest.mark.parametrize(
    "value",
    [
        datetime(1899, 12, 31, 23, 59, tzinfo=UTC),
        datetime(2201, 1, 1, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
        datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_instants_outside_the_years_kept_are_refused(value: datetime) -> None:
    with pytest.raises(InvalidInput, match="outside the years 1900 to 2200") as refused:
        check_instant(value, "starts_at")
    assert refused.value.field == "starts_at"


def test_naive_instants_are_refused() -> None:
    with pytest.raises(InvalidInput, match="UTC offset"):
        check_instant(datetime(2026, 3, 1), "since")


def test_the_bounds_are_configurable() -> None:
    before = instant_bounds()
    try:
        set_instant_bounds(InstantBounds(2000, 2100))
        with pytest.raises(InvalidInput):
            check_instant(datetime(1999, 12, 31, 23, tzinfo=UTC), "at")
        assert check_instant(datetime(2100, 12, 31, tzinfo=UTC), "at")
        with pytest.raises(ValueError):
            set_instant_bounds(InstantBounds(1, 9999))
    finally:
        set_instant_bounds(before)


def test_partial_dates() -> None:
    assert parse_partial_date("1950", "birthDate") == PartialDate(1950)
    month = parse_partial_date("1950-07", "birthDate")
    assert month == PartialDate(1950, 7) and month.contains(date(1950, 7, 31))
    assert not month.contains(date(1950, 8, 1)) and month.isoformat() == "1950-07"
    assert parse_partial_date("1950-07-03", "birthDate").is_day
    for bad in ("1950-13", "1950-02-30", "50", "0001", 1950, None):
        with pytest.raises(InvalidInput):
            parse_partial_date(bad, "birthDate")
    with pytest.raises(InvalidInput, match="must name a day"):
        parse_day("2026-03", "CarePlan.period.start")
    with pytest.raises(InvalidInput, match="date and time"):
        parse_instant("2026", "Encounter.period.start")
    assert parse_instant("2026-03-01T10:00:00Z", "x") == datetime(2026, 3, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2147483648", "99999999999999999999", "²", "١", "-1", "", "1 "])
def test_integers_must_be_ascii_digits_within_int4(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_int(text, "cursor")


def test_ids_and_what_the_log_keeps_of_junk() -> None:
    assert check_id("kommun-2580.a", "id") == "kommun-2580.a"
    for junk in ("a" * 65, "a b", "a\x00", ""):
        with pytest.raises(Malformed):
            check_id(junk, "id")
    assert storable("short") == "short"
    kept = storable("a" * 200)
    assert kept is not None and kept.startswith("sha256:") and len(kept) == 64
    assert storable("a\x00b") != storable("a\x00c")
    person = storable("x" * 40, 36)
    assert person is not None and len(person) == 36
