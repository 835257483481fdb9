"""Date search: ``date`` and ``_lastUpdated`` (https://hl7.org/fhir/R4/search.html#date)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.domain.errors import InvalidInput
from app.fhir import parse
from app.fhir.resources.spec import Resource, ResourceSpec

_PREFIXES = ("eq", "gt", "ge", "lt", "le")
NEVER = datetime.min.replace(tzinfo=UTC)
ALWAYS = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DateTest:
    """One date parameter: a prefix and the range its value stands for, [low, high)."""

    name: str
    prefix: str
    low: datetime
    high: datetime

    def matches(self, start: datetime, end: datetime) -> bool:
        """Whether a target range [start, end] satisfies the test (R4 search, date prefixes)."""
        if self.prefix == "eq":
            return self.low <= start and end < self.high
        if self.prefix == "gt":
            return end >= self.high
        if self.prefix == "ge":
            return end >= self.low
        if self.prefix == "lt":
            return start < self.low
        return start < self.high  # le


def date_test(name: str, value: str) -> DateTest:
    prefix = value[:2] if value[:2] in _PREFIXES else "eq"
    text = value[2:] if value[:2] in _PREFIXES else value
    problem = f"{name}: {value} is not [prefix]YYYY[-MM[-DD[Thh:mm:ss[+zz:zz]]]]"
    # Searched dates lie within the years instants are kept in (app.domain.values), so the
    # range a value stands for can always be computed.
    try:
        if len(text) in (4, 7, 10):
            partial = parse.partial_date(text, name)
            first = partial.first_day
            low = datetime(first.year, first.month, first.day, tzinfo=UTC)
            if partial.day is not None:
                high = low + timedelta(days=1)
            elif partial.month is not None:
                high = (low + timedelta(days=32)).replace(day=1)
            else:
                high = low.replace(year=low.year + 1)
        elif len(text) > 10 and "T" in text:
            low = parse.search_instant(text, name)
            high = low + timedelta(seconds=1)
        else:
            raise ValueError(text)
    except ValueError as exc:
        raise InvalidInput(problem, field=name) from exc
    return DateTest(name, prefix, low, high)


def moment(value: str | None, default: datetime) -> datetime:
    if not value:
        return default
    return parse.written_instant(value)


def dated(spec: ResourceSpec, tests: list[DateTest], resource: Resource) -> bool:
    for test in tests:
        if test.name == "_lastUpdated":
            updated = (resource.get("meta") or {}).get("lastUpdated")
            if updated is None:
                return False
            at = moment(updated, NEVER)
            start, end = at, at
        else:
            assert spec.period is not None
            low, high = spec.period(resource)
            if low is None and high is None:
                return False
            start, end = moment(low, NEVER), moment(high, ALWAYS)
            if high is not None and len(high) == 10:
                end += timedelta(days=1) - timedelta(microseconds=1)
        if not test.matches(start, end):
            return False
    return True
