"""The values every input is checked against, at both edges (REST and FHIR) alike.

What cannot be stored, or could be stored but not read back, is refused here with the element
named (``field``): instants without an offset or outside the years the service keeps
(``SAMVERKAN_INSTANT_MIN_YEAR``–``SAMVERKAN_INSTANT_MAX_YEAR``, by default 1900–2200), ids that
are no FHIR id or longer than their column, integers beyond the database's integer columns,
text holding a NUL character. FHIR's partial dates (``YYYY``, ``YYYY-MM``) are parsed as what
they are: a year or a month, never silently a day.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from app.domain.errors import InvalidInput, Malformed

# https://hl7.org/fhir/R4/datatypes.html#id; also the length of the id columns.
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
ID_MAX_LENGTH = 64
# PostgreSQL's integer (int4) and bigint (int8); SQLite's INTEGER holds int8.
INT4_MAX = 2**31 - 1
INT8_MAX = 2**63 - 1
NUL = "\x00"

_DIGITS = re.compile(r"[0-9]{1,20}")
_PARTIAL = re.compile(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")


@dataclass(frozen=True, slots=True)
class InstantBounds:
    """The years an instant may fall in (inclusive), the same on every engine."""

    min_year: int = 1900
    max_year: int = 2200

    @property
    def low(self) -> datetime:
        """The first instant kept."""
        return datetime(self.min_year, 1, 1, tzinfo=UTC)

    @property
    def high(self) -> datetime:
        """The first instant no longer kept."""
        return datetime(self.max_year + 1, 1, 1, tzinfo=UTC)

    def describe(self) -> str:
        """The bounds in words, for an error message."""
        return f"years {self.min_year} to {self.max_year}"


_bounds = InstantBounds()


def set_instant_bounds(bounds: InstantBounds) -> None:
    """Configure the years instants may fall in (from the settings, when the app is made)."""
    global _bounds
    if not 1 < bounds.min_year <= bounds.max_year < 9999:
        raise ValueError(f"instant bounds {bounds} must lie within the years 2 to 9998")
    _bounds = bounds


def instant_bounds() -> InstantBounds:
    """The configured years instants may fall in."""
    return _bounds


def check_instant(value: datetime, field: str) -> datetime:
    """``value`` when it carries a UTC offset and lies within the configured years."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            f"{field} must carry a UTC offset, e.g. 2026-03-01T10:00:00+01:00", field=field
        )
    bounds = _bounds
    # Compared on the naive UTC wall time: astimezone() itself overflows near year 1 and 9999.
    try:
        utc = value.replace(tzinfo=None) - (value.utcoffset() or timedelta(0))
    except OverflowError:
        utc = None
    if utc is None or not bounds.low.replace(tzinfo=None) <= utc < bounds.high.replace(tzinfo=None):
        raise InvalidInput(
            f"{field} {value.isoformat()} is outside the {bounds.describe()} the service keeps",
            field=field,
        )
    return value


def check_day(value: date, field: str) -> date:
    """``value`` when it lies within the configured years."""
    bounds = _bounds
    if not bounds.min_year <= value.year <= bounds.max_year:
        raise InvalidInput(
            f"{field} {value.isoformat()} is outside the {bounds.describe()} the service keeps",
            field=field,
        )
    return value


def parse_instant(text: object, field: str) -> datetime:
    """An ISO 8601 / FHIR instant with date, time and offset (``Z`` or ``±hh:mm``)."""
    if not isinstance(text, str) or "T" not in text:
        raise InvalidInput(
            f"{field} must be a date and time with a UTC offset, e.g. 2026-03-01T10:00:00+01:00"
            f" (not {str(text)[:40]!r})",
            field=field,
        )
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"{field}: {text[:40]!r} is not a date and time", field=field) from exc
    return check_instant(value, field)


@dataclass(frozen=True, slots=True)
class PartialDate:
    """A FHIR ``date``: a year, a month, or a day (https://hl7.org/fhir/R4/datatypes.html#date)."""

    year: int
    month: int | None = None
    day: int | None = None

    @property
    def first_day(self) -> date:
        """The first day it stands for."""
        return date(self.year, self.month or 1, self.day or 1)

    @property
    def is_day(self) -> bool:
        """Whether it names one day."""
        return self.day is not None

    def contains(self, value: date) -> bool:
        """Whether the day ``value`` lies within it."""
        return (
            value.year == self.year
            and (self.month is None or value.month == self.month)
            and (self.day is None or value.day == self.day)
        )

    def isoformat(self) -> str:
        """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``."""
        text = f"{self.year:04d}"
        if self.month is not None:
            text += f"-{self.month:02d}"
        if self.day is not None:
            text += f"-{self.day:02d}"
        return text


def parse_partial_date(text: object, field: str) -> PartialDate:
    """A FHIR date (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``) within the configured years."""
    found = _PARTIAL.fullmatch(text) if isinstance(text, str) else None
    if found is None:
        raise InvalidInput(
            f"{field} must be a date YYYY, YYYY-MM or YYYY-MM-DD (not {str(text)[:40]!r})",
            field=field,
        )
    year, month, day = (int(g) if g else None for g in found.groups())
    assert year is not None
    try:
        date(year, month or 1, day or 1)
    except ValueError as exc:
        raise InvalidInput(f"{field}: {text!r} is no date ({exc})", field=field) from exc
    value = PartialDate(year, month, day)
    check_day(value.first_day, field)
    return value


def parse_day(text: object, field: str) -> date:
    """A date that must name one day: a partial date (a year, a month) is refused, named."""
    value = parse_partial_date(text, field)
    if not value.is_day:
        raise InvalidInput(
            f"{field} must name a day (YYYY-MM-DD); {value.isoformat()} names a "
            f"{'month' if value.month else 'year'}",
            field=field,
        )
    return value.first_day


def parse_instant_or_day(text: object, field: str) -> datetime:
    """A FHIR dateTime that must be a moment: a day is taken as its start in UTC; a year or a
    month is refused, named."""
    if isinstance(text, str) and "T" not in text:
        day = parse_day(text, field)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    return parse_instant(text, field)


def check_id(value: str, field: str) -> str:
    """``value`` when it is a FHIR id (letters, digits, ``-``, ``.``; 1 to 64 characters)."""
    if not isinstance(value, str) or FHIR_ID.fullmatch(value) is None:
        shown = value[:64] if isinstance(value, str) else value
        raise Malformed(
            f"{field} must be 1 to {ID_MAX_LENGTH} letters, digits, '-' or '.' "
            f"(not {str(shown).replace(NUL, '')!r})",
            field=field,
        )
    return value


def check_int(value: int, field: str, *, maximum: int = INT4_MAX, minimum: int = 0) -> int:
    """``value`` when it lies within ``minimum``..``maximum`` (by default a non-negative int4)."""
    if not minimum <= value <= maximum:
        raise InvalidInput(f"{field} must lie within {minimum} to {maximum}", field=field)
    return value


def parse_int(
    text: object, field: str, *, maximum: int = INT4_MAX, minimum: int = 0, what: str = ""
) -> int:
    """A whole number written in ASCII digits within ``minimum``..``maximum`` (by default what
    an int4 column holds): ``²`` and ``١`` are digits to ``str.isdigit``, but no number here."""
    if not isinstance(text, str) or _DIGITS.fullmatch(text) is None:
        raise InvalidInput(
            what or f"{field} must be a whole number (not {str(text)[:40]!r})", field=field
        )
    value = int(text)
    if not minimum <= value <= maximum:
        raise InvalidInput(what or f"{field} must lie within {minimum} to {maximum}", field=field)
    return value


def storable(value: str | None, length: int = ID_MAX_LENGTH) -> str | None:
    """``value`` as a log can keep it: itself when it fits ``length`` characters and holds no
    NUL, else ``sha256:`` and the start of its SHA-256 digest (hex), ``length`` long.

    An access that names junk (an overlong id, a NUL) is still logged; the digest tells equal
    junk apart from other junk without storing what cannot be stored.
    """
    if value is None or (len(value) <= length and NUL not in value):
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return ("sha256:" + digest)[:length]


def check_text(value: str, field: str) -> str:
    """``value`` when it holds no NUL character (no database column can store one)."""
    if NUL in value:
        raise Malformed(f"{field} holds a NUL character", field=field)
    return value


def check_chosen(
    chosen: Sequence[str],
    known: Collection[str],
    field: str,
    *,
    unknown: Callable[[str], str],
    twice: str,
) -> tuple[str, ...]:
    """``chosen``, each one of ``known`` and named once: an unknown one is refused with
    ``unknown(it)``, naming its place (``field[index]``); a repeat with ``twice``, naming
    ``field``."""
    for index, value in enumerate(chosen):
        if value not in known:
            raise InvalidInput(unknown(value), field=f"{field}[{index}]")
    if len(set(chosen)) != len(chosen):
        raise InvalidInput(twice, field=field)
    return tuple(chosen)
