"""Validation and normalisation of Swedish and Norwegian person identifiers.

The module is pure standard-library Python so it can be used from the API layer, from
importers and from test-data generators alike.  The single entry point for incoming data is
:func:`normalize_person_identifier`, which either returns a canonical
:class:`PersonIdentifier` or raises :class:`InvalidIdentifier` with a one-sentence English
reason meant for the integrator who sent the value.

Canonical forms:

* Swedish personnummer and samordningsnummer: 12 digits ``YYYYMMDDNNNC`` without separator,
  under the ``http://electronichealth.se/...`` system URIs (OID aliases are mapped).
* Norwegian fødselsnummer, D-nummer and H-nummer: 11 digits ``DDMMYYIIIKK``.
* Reserve numbers (locally configured systems): the stripped value, unchanged.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Final

PERSONNUMMER: Final = "http://electronichealth.se/identifier/personnummer"
PERSONNUMMER_OID: Final = "urn:oid:1.2.752.129.2.1.3.1"
SAMORDNINGSNUMMER: Final = "http://electronichealth.se/identifier/samordningsnummer"
SAMORDNINGSNUMMER_OID: Final = "urn:oid:1.2.752.129.2.1.3.3"
FODSELSNUMMER: Final = "urn:oid:2.16.578.1.12.4.1.4.1"
D_NUMMER: Final = "urn:oid:2.16.578.1.12.4.1.4.2"
H_NUMMER: Final = "urn:oid:2.16.578.1.12.4.1.4.3"

_ALIASES: Final[dict[str, str]] = {
    PERSONNUMMER_OID: PERSONNUMMER,
    SAMORDNINGSNUMMER_OID: SAMORDNINGSNUMMER,
}
_SWEDISH_SYSTEMS: Final = frozenset({PERSONNUMMER, SAMORDNINGSNUMMER})
_NORWEGIAN_SYSTEMS: Final = frozenset({FODSELSNUMMER, D_NUMMER, H_NUMMER})
_LABELS: Final[dict[str, str]] = {
    PERSONNUMMER: "personnummer",
    SAMORDNINGSNUMMER: "samordningsnummer",
    FODSELSNUMMER: "fødselsnummer",
    D_NUMMER: "D-nummer",
    H_NUMMER: "H-nummer",
}
_OFFSET_HINTS: Final[dict[str, str]] = {
    PERSONNUMMER: "day of birth without offset",
    SAMORDNINGSNUMMER: "day of birth + 60",
    FODSELSNUMMER: "no day or month offset",
    D_NUMMER: "day of birth + 40",
    H_NUMMER: "month of birth + 40",
}

# ``[0-9]`` rather than ``\d``: ``\d`` would also accept non-ASCII digits.
_SE_LONG: Final = re.compile(r"([0-9]{8})-?([0-9]{4})")
_SE_SHORT: Final = re.compile(r"([0-9]{6})([-+]?)([0-9]{4})")
_NO_FORM: Final = re.compile(r"([0-9]{6}) ?([0-9]{5})")
_RESERVE_FORM: Final = re.compile(r"[A-Za-z0-9\-]{1,40}")

_K1_WEIGHTS: Final = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_K2_WEIGHTS: Final = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
_SYSTEM_ECHO_LIMIT: Final = 100


class InvalidIdentifier(ValueError):
    """A person identifier was refused; ``reason`` is one English sentence for integrators."""

    def __init__(self, system: str, reason: str) -> None:
        """Store the submitted ``system`` and the human-readable ``reason``."""
        super().__init__(reason)
        self.system = system
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PersonIdentifier:
    """A validated person identifier in canonical form (see the module docstring)."""

    system: str
    value: str

    @property
    def jurisdiction(self) -> str | None:
        """Return ``"SE"`` or ``"NO"`` for national identifiers, ``None`` for reserve numbers."""
        system = _ALIASES.get(self.system, self.system)
        if system in _SWEDISH_SYSTEMS:
            return "SE"
        if system in _NORWEGIAN_SYSTEMS:
            return "NO"
        return None

    @property
    def birth_date(self) -> datetime.date | None:
        """Return the date of birth encoded in the value, or ``None`` if it is not derivable."""
        system = _ALIASES.get(self.system, self.system)
        if system in _SWEDISH_SYSTEMS:
            return _swedish_birth_date(self.value)
        if system in _NORWEGIAN_SYSTEMS:
            return _norwegian_birth_date(self.value)
        return None


def _require_digits(digits: str, length: int | None = None) -> None:
    if not digits or any(char not in "0123456789" for char in digits):
        raise ValueError("expected a non-empty string of ASCII digits")
    if length is not None and len(digits) != length:
        raise ValueError(f"expected exactly {length} digits")


def luhn_check_digit(digits: str) -> int:
    """Return the Luhn (mod 10) check digit for ``digits``.

    Weights 2, 1, 2, 1, ... are applied from the rightmost digit leftwards, which for the
    nine Swedish digits ``YYMMDDNNN`` means 2, 1, 2, ... starting from the first digit.
    Products above 9 have their digits summed; the result is ``(10 - sum % 10) % 10``.
    Raises ``ValueError`` unless ``digits`` is a non-empty string of ASCII digits.
    """
    _require_digits(digits)
    total = 0
    for index, char in enumerate(reversed(digits)):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return (10 - total % 10) % 10


def _mod11(digits: str, weights: tuple[int, ...]) -> int:
    """Return 11 - (weighted sum mod 11), mapping 11 to 0; 10 means "no valid digit"."""
    result = 11 - sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return 0 if result == 11 else result


def mod11_check_digits(nine: str) -> tuple[int, int] | None:
    """Return the Norwegian check digits (K1, K2) for the first nine digits of a number.

    Returns ``None`` when either check digit computes to 10, i.e. no valid number exists
    with these nine digits.  Raises ``ValueError`` unless ``nine`` is nine ASCII digits.
    """
    _require_digits(nine, 9)
    k1 = _mod11(nine, _K1_WEIGHTS)
    if k1 == 10:
        return None
    k2 = _mod11(nine + str(k1), _K2_WEIGHTS)
    if k2 == 10:
        return None
    return k1, k2


def _real_date(year: int, month: int, day: int) -> datetime.date | None:
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def _swedish_birth_date(value: str) -> datetime.date | None:
    if len(value) != 12 or any(char not in "0123456789" for char in value):
        return None
    day = int(value[6:8])
    return _real_date(int(value[:4]), int(value[4:6]), day - 60 if day > 60 else day)


def _swedish_year(two_digits: int, month: int, day: int, today: datetime.date) -> int:
    """Most recent year ending in ``two_digits`` whose (month, day) is not after ``today``."""
    year = today.year - (today.year - two_digits) % 100
    if year == today.year and (month, day) > (today.month, today.day):
        year -= 100
    return year


def _normalize_swedish(
    submitted: str, system: str, raw: str, today: datetime.date
) -> PersonIdentifier:
    label = _LABELS[system]
    long_form = _SE_LONG.fullmatch(raw)
    short_form = _SE_SHORT.fullmatch(raw)
    if long_form is not None:
        date_digits, tail = long_form[1][2:], long_form[2]
        year = int(long_form[1][:4])
    elif short_form is not None:
        date_digits, tail = short_form[1], short_form[3]
        year = 0  # resolved below, once month and day are known
    else:
        raise InvalidIdentifier(
            submitted,
            f"the value is not a {label}: expected one of the forms YYYYMMDDNNNC, "
            "YYYYMMDD-NNNC, YYMMDDNNNC, YYMMDD-NNNC or YYMMDD+NNNC",
        )

    expected = luhn_check_digit(date_digits + tail[:3])
    if expected != int(tail[3]):
        raise InvalidIdentifier(
            submitted, f"the check digit of {label} {raw} is wrong: expected {expected}"
        )

    month, day_field = int(date_digits[2:4]), int(date_digits[4:6])
    coordination = day_field > 60
    day = day_field - 60 if coordination else day_field
    if short_form is not None:
        year = _swedish_year(int(date_digits[:2]), month, day, today)
        if short_form[2] == "+":
            year -= 100

    birth = _real_date(year, month, day) if year >= 1 else None
    if birth is None:
        raise InvalidIdentifier(
            submitted,
            f"{label} {raw} does not contain a real date of birth "
            f"(year {year}, month {month:02d}, day {day_field:02d})",
        )

    looks_like = SAMORDNINGSNUMMER if coordination else PERSONNUMMER
    if looks_like != system:
        raise InvalidIdentifier(
            submitted,
            f"{raw} was sent as a {label} but looks like a {_LABELS[looks_like]} "
            f"({_OFFSET_HINTS[looks_like]}); send it with system {looks_like}",
        )
    if birth > today:
        raise InvalidIdentifier(
            submitted, f"the date of birth in {label} {raw} ({birth.isoformat()}) is in the future"
        )
    return PersonIdentifier(system, f"{year:04d}{month:02d}{day_field:02d}{tail}")


def _norwegian_century(individual: int, two_digits: int) -> int | None:
    """Century from the individual number, per the Norwegian population register rules."""
    if individual <= 499:
        return 1900
    if individual <= 749 and two_digits >= 54:
        return 1800
    if two_digits <= 39:
        return 2000
    if individual >= 900:
        return 1900
    return None


def _norwegian_fields(digits: str) -> tuple[str, int | None, int, int]:
    """Split 11 digits into (looks-like system, year or None, month, day) without offsets."""
    day, month = int(digits[0:2]), int(digits[2:4])
    kind = FODSELSNUMMER
    if day > 40:
        kind, day = D_NUMMER, day - 40
    elif month > 40:
        kind, month = H_NUMMER, month - 40
    two_digits = int(digits[4:6])
    century = _norwegian_century(int(digits[6:9]), two_digits)
    year = None if century is None else century + two_digits
    return kind, year, month, day


def _norwegian_birth_date(value: str) -> datetime.date | None:
    if len(value) != 11 or any(char not in "0123456789" for char in value):
        return None
    _, year, month, day = _norwegian_fields(value)
    return None if year is None else _real_date(year, month, day)


def _normalize_norwegian(
    submitted: str, system: str, raw: str, today: datetime.date
) -> PersonIdentifier:
    label = _LABELS[system]
    match = _NO_FORM.fullmatch(raw)
    if match is None:
        raise InvalidIdentifier(
            submitted,
            f"the value is not a {label}: expected 11 digits DDMMYYIIIKK, "
            "optionally with one space after the first six",
        )
    digits = match[1] + match[2]

    for position, name, weights in ((9, "first", _K1_WEIGHTS), (10, "second", _K2_WEIGHTS)):
        expected = _mod11(digits[:position], weights)
        if expected == 10:
            raise InvalidIdentifier(
                submitted,
                f"{label} {raw} cannot exist: its {name} check digit computes to 10",
            )
        if expected != int(digits[position]):
            raise InvalidIdentifier(
                submitted,
                f"the {name} check digit of {label} {raw} is wrong: expected {expected}",
            )

    kind, year, month, day = _norwegian_fields(digits)
    if year is None:
        raise InvalidIdentifier(
            submitted,
            f"{label} {raw} is invalid: individual number {digits[6:9]} is not issued "
            f"for birth years ending in {digits[4:6]}",
        )
    birth = _real_date(year, month, day)
    if birth is None:
        raise InvalidIdentifier(
            submitted,
            f"{label} {raw} does not contain a real date of birth "
            f"(year {year}, month {digits[2:4]}, day {digits[0:2]})",
        )
    if kind != system:
        raise InvalidIdentifier(
            submitted,
            f"{raw} was sent as a {label} but looks like a {_LABELS[kind]} "
            f"({_OFFSET_HINTS[kind]}); send it with system {kind}",
        )
    if birth > today:
        raise InvalidIdentifier(
            submitted, f"the date of birth in {label} {raw} ({birth.isoformat()}) is in the future"
        )
    return PersonIdentifier(system, digits)


def normalize_person_identifier(
    system: str,
    value: str,
    *,
    today: datetime.date,
    reserve_systems: frozenset[str] = frozenset(),
) -> PersonIdentifier:
    """Validate ``value`` under ``system`` and return its canonical :class:`PersonIdentifier`.

    ``today`` resolves the century of 10-digit Swedish numbers and rejects future birth dates.
    ``reserve_systems`` lists locally accepted reserve-number systems whose values are only
    checked for shape (1-40 characters of ``A-Z a-z 0-9 -``).  The national systems always
    get full validation, even if they also appear in ``reserve_systems``.

    Raises :class:`InvalidIdentifier` with a one-sentence reason when the value is refused.
    """
    canonical = _ALIASES.get(system, system)
    raw = value.strip()
    if canonical in _SWEDISH_SYSTEMS:
        return _normalize_swedish(system, canonical, raw, today)
    if canonical in _NORWEGIAN_SYSTEMS:
        return _normalize_norwegian(system, canonical, raw, today)
    if system in reserve_systems:
        if _RESERVE_FORM.fullmatch(raw) is None:
            raise InvalidIdentifier(
                system,
                "a reserve number must be 1 to 40 characters from A-Z, a-z, 0-9 and '-'",
            )
        return PersonIdentifier(system, raw)
    accepted = sorted(_LABELS) + sorted(_ALIASES) + sorted(reserve_systems)
    shown = system if len(system) <= _SYSTEM_ECHO_LIMIT else system[:_SYSTEM_ECHO_LIMIT] + "..."
    raise InvalidIdentifier(
        system, f"unknown identifier system {shown!r}; accepted: {', '.join(accepted)}"
    )


def make_personnummer(birth: datetime.date, serial: int, *, coordination: bool = False) -> str:
    """Return a valid 12-digit personnummer (or samordningsnummer) for test data.

    ``serial`` (0-999) becomes the three-digit birth number NNN; with ``coordination`` the
    day is increased by 60.  Raises ``ValueError`` for a serial outside 0-999.
    """
    if not 0 <= serial <= 999:
        raise ValueError("serial must be between 0 and 999")
    day = birth.day + 60 if coordination else birth.day
    body = f"{birth.year:04d}{birth.month:02d}{day:02d}{serial:03d}"
    return body + str(luhn_check_digit(body[2:]))


def _individual_range(year: int) -> tuple[int, int]:
    """Return (first individual number, count) usable for births in ``year``."""
    if 1854 <= year <= 1899:
        return 500, 250
    if 1900 <= year <= 1999:
        return 0, 500
    if 2000 <= year <= 2039:
        return 500, 500
    raise ValueError("Norwegian fødselsnummer encode birth years 1854-2039 only")


def make_fodselsnummer(birth: datetime.date, serial: int) -> str | None:
    """Return a valid 11-digit fødselsnummer for test data, or ``None`` if none exists.

    ``serial`` is an offset into the individual-number range for the birth year
    (500-749 for 1854-1899, 000-499 for 1900-1999, 500-999 for 2000-2039).  Returns ``None``
    when a check digit computes to 10.  Raises ``ValueError`` for an out-of-range serial or
    a birth year outside 1854-2039.
    """
    start, count = _individual_range(birth.year)
    if not 0 <= serial < count:
        raise ValueError(f"serial must be between 0 and {count - 1} for {birth.year}")
    nine = f"{birth.day:02d}{birth.month:02d}{birth.year % 100:02d}{start + serial:03d}"
    checks = mod11_check_digits(nine)
    return None if checks is None else f"{nine}{checks[0]}{checks[1]}"
