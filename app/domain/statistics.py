"""Follow-up statistics (DESIGN §8): the indicators, their periods and small-cell suppression.

One registry (`INDICATORS`) names every indicator with its one-sentence definition (numerator,
denominator, which events count, time zone), its unit and the dimensions it can be broken down
by; the REST route, the CSV, the FHIR Measures and the charts are all generated from it. The
figures themselves are computed in the database (`app.store.statistics`); what is here is pure:
periods in local time, quantiles read off a histogram the database made, and suppression.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from app.domain.errors import InvalidInput

SMALL = 5
"""Counts under this are masked in aggregates shared beyond one principal."""
MAX_YEARS = 10
DAY_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0", 0, 0),
    ("1", 1, 1),
    ("2", 2, 2),
    ("3", 3, 3),
    ("4-7", 4, 7),
    ("8-14", 8, 14),
    ("15-30", 15, 30),
    (">30", 31, None),
)


class Grain(StrEnum):
    """The length of a period."""

    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class Dimension(StrEnum):
    """What a figure can be broken down by."""

    UNIT = "unit"
    MUNICIPALITY = "municipality"
    AREA = "area"


class Kind(StrEnum):
    """The shape of an indicator's figure."""

    COUNT = "count"
    SHARE = "share"
    DISTRIBUTION = "distribution"
    AMOUNT = "amount"
    STRATA = "strata"


class Family(StrEnum):
    """Which records an indicator counts, which decides who the figures belong to."""

    EPISODES = "episodes"
    PLANS = "plans"
    DEVIATIONS = "deviations"
    MESSAGES = "messages"


@dataclass(frozen=True, slots=True)
class Indicator:
    """One indicator: code, title, one-sentence definition, unit, shape and dimensions."""

    code: str
    title: str
    definition: str
    unit: str
    kind: Kind
    family: Family
    dimensions: frozenset[Dimension]
    strata: tuple[str, ...] = ()


_EPISODE_DIMS = frozenset({Dimension.UNIT, Dimension.MUNICIPALITY, Dimension.AREA})
_PERSON_DIMS = frozenset({Dimension.MUNICIPALITY, Dimension.AREA})
_TZ = "in the local time of the jurisdiction (Europe/Stockholm, Europe/Oslo)"
DEVIATION_CATEGORIES = (
    "late-admission-notice",
    "missing-discharge-information",
    "summons-deadline-missed",
    "medication-list-missing",
    "unsafe-transition",
    "other",
)
DEVIATION_STATES = ("reported", "investigating", "answered", "closed")

INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "admissions-notified",
        "Admissions notified",
        "The number of admission notices sent in the period, counted by when they were sent "
        f"{_TZ}.",
        "notices",
        Kind.COUNT,
        Family.EPISODES,
        _EPISODE_DIMS,
    ),
    Indicator(
        "admission-notice-within-24h",
        "Admission notices sent within 24 hours",
        "Numerator: admission notices of the period sent at most 24 hours after the admission; "
        f"denominator: every admission notice sent in the period {_TZ}.",
        "share",
        Kind.SHARE,
        Family.EPISODES,
        _EPISODE_DIMS,
    ),
    Indicator(
        "discharge-ready-notices",
        "Discharge-ready notices",
        "The number of discharge-ready notices sent in the period (a renewed notice after a "
        f"withdrawal counts again), counted by when they were sent {_TZ}.",
        "notices",
        Kind.COUNT,
        Family.EPISODES,
        _EPISODE_DIMS,
    ),
    Indicator(
        "discharge-ready-withdrawals",
        "Discharge-ready notices withdrawn",
        f"The number of withdrawals of discharge-ready notices sent in the period {_TZ}.",
        "withdrawals",
        Kind.COUNT,
        Family.EPISODES,
        _EPISODE_DIMS,
    ),
    Indicator(
        "days-ready-to-discharge",
        "Days from discharge-ready to discharge",
        "For every discharge of the period with a discharge-ready notice in force: the local "
        "date of the discharge minus the local date of that notice (0 on the same day), as "
        f"median, 90th percentile (nearest rank), mean and buckets, {_TZ}.",
        "days",
        Kind.DISTRIBUTION,
        Family.EPISODES,
        _EPISODE_DIMS,
        tuple(label for label, _low, _high in DAY_BUCKETS),
    ),
    Indicator(
        "liable-days",
        "Liable days and amount",
        "The liable days of the period under the individual rule sets (the stored liable "
        "intervals the invoice basis sums), counted on local dates, priced at the rate of each "
        "day's year; municipalities paying under an average model are in their monthly "
        "liability report instead.",
        "days",
        Kind.AMOUNT,
        Family.EPISODES,
        _EPISODE_DIMS,
    ),
    Indicator(
        "summons-within-deadline",
        "Summonses sent within the 3-day deadline (Sweden)",
        "Numerator: discharge-ready notices of the period asking for coordinated planning "
        "whose first summons (not cancelled) for the person was sent before the end of the "
        "third local day after the notice; denominator: those notices with a summons sent "
        "(met or late) or none by the deadline (breached); lapsed and open ones are left out, "
        f"{_TZ}.",
        "share",
        Kind.SHARE,
        Family.EPISODES,
        _EPISODE_DIMS,
    ),
    Indicator(
        "readmissions-30-days",
        "Unplanned readmissions within 30 days",
        "Numerator: discharges of the period after which the same person was admitted acutely "
        "within 30 days (as known when asked); denominator: every discharge of the period, "
        f"{_TZ}.",
        "share",
        Kind.SHARE,
        Family.EPISODES,
        _EPISODE_DIMS,
    ),
    Indicator(
        "plans-started",
        "Coordinated plans (SIP/IP) started",
        "The number of coordinated plans whose first version was recorded in the period, by the "
        f"person's residence municipality, {_TZ}.",
        "plans",
        Kind.COUNT,
        Family.PLANS,
        _PERSON_DIMS,
    ),
    Indicator(
        "plans-activated",
        "Coordinated plans (SIP/IP) activated",
        "The number of coordinated plans whose first active version was recorded in the period, "
        f"by the person's residence municipality, {_TZ}.",
        "plans",
        Kind.COUNT,
        Family.PLANS,
        _PERSON_DIMS,
    ),
    Indicator(
        "plans-completed",
        "Coordinated plans (SIP/IP) completed",
        "The number of coordinated plans whose first completed version was recorded in the "
        f"period, by the person's residence municipality, {_TZ}.",
        "plans",
        Kind.COUNT,
        Family.PLANS,
        _PERSON_DIMS,
    ),
    Indicator(
        "plans-with-overdue-follow-up",
        "Coordinated plans (SIP/IP) with an overdue follow-up",
        "The number of plans active when asked with a follow-up date in the period that has "
        "passed with no meeting of the plan marked held after the previous follow-up date (or "
        "the plan's start) and no later than the next one (a meeting only summoned does not "
        "count), by the person's "
        f"residence municipality, dates {_TZ}.",
        "plans",
        Kind.COUNT,
        Family.PLANS,
        _PERSON_DIMS,
    ),
    Indicator(
        "meetings-held",
        "Planning meetings held",
        "The number of planning meetings marked held whose time held fell in the period (a "
        "meeting only summoned does not count, even once its start has passed), by the "
        f"person's residence municipality, {_TZ}.",
        "meetings",
        Kind.COUNT,
        Family.PLANS,
        _PERSON_DIMS,
    ),
    Indicator(
        "deviations-by-category",
        "Deviations by category",
        "The number of deviation reports made in the period, in all and per category, by the "
        f"person's residence municipality, {_TZ}.",
        "reports",
        Kind.STRATA,
        Family.DEVIATIONS,
        _PERSON_DIMS,
        DEVIATION_CATEGORIES,
    ),
    Indicator(
        "deviations-by-state",
        "Deviations by state",
        "The number of deviation reports made in the period, in all and per state they are in "
        f"when asked, by the person's residence municipality, {_TZ}.",
        "reports",
        Kind.STRATA,
        Family.DEVIATIONS,
        _PERSON_DIMS,
        DEVIATION_STATES,
    ),
    Indicator(
        "deviation-hours-to-answer",
        "Hours from a deviation report to its answer",
        "For every deviation report first answered in the period: the whole hours from the "
        "report to the answer, as median and 90th percentile (nearest rank), by the person's "
        f"residence municipality, {_TZ}.",
        "hours",
        Kind.DISTRIBUTION,
        Family.DEVIATIONS,
        _PERSON_DIMS,
    ),
    Indicator(
        "care-messages",
        "Care messages sent",
        "The number of care messages sent in the period by the organization's units, counted "
        f"by when they were sent {_TZ}.",
        "messages",
        Kind.COUNT,
        Family.MESSAGES,
        frozenset({Dimension.UNIT}),
    ),
    Indicator(
        "acknowledgement-minutes",
        "Minutes from a care message to its acknowledgement",
        "For every recipient's acknowledgement of a care message made in the period: the whole "
        "minutes from sending to acknowledging, as median and 90th percentile (nearest rank), "
        f"by the acknowledging unit, {_TZ}.",
        "minutes",
        Kind.DISTRIBUTION,
        Family.MESSAGES,
        frozenset({Dimension.UNIT}),
    ),
)
BY_CODE: Mapping[str, Indicator] = {indicator.code: indicator for indicator in INDICATORS}


def indicator(code: str) -> Indicator:
    """The indicator with this code; an unknown code is refused naming the parameter."""
    found = BY_CODE.get(code)
    if found is None:
        raise InvalidInput(
            f"unknown indicator {code!r}; known: {', '.join(BY_CODE)}", field="indicator"
        )
    return found


# -- periods --------------------------------------------------------------------------------------

_PERIOD = re.compile(r"^(\d{4})(?:-(?:(0[1-9]|1[0-2])|Q([1-4])))?$")


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """A calendar month, quarter or year."""

    year: int
    index: int
    grain: Grain

    @property
    def first_day(self) -> date:
        """The first local date of the period."""
        month = {Grain.MONTH: self.index, Grain.QUARTER: 3 * self.index - 2, Grain.YEAR: 1}
        return date(self.year, month[self.grain], 1)

    @property
    def stop_day(self) -> date:
        """The first local date after the period."""
        months = {Grain.MONTH: 1, Grain.QUARTER: 3, Grain.YEAR: 12}[self.grain]
        index = self.first_day.year * 12 + self.first_day.month - 1 + months
        return date(index // 12, index % 12 + 1, 1)

    @property
    def last_day(self) -> date:
        """The last local date of the period."""
        return self.stop_day - timedelta(days=1)

    @property
    def label(self) -> str:
        """``2026-03``, ``2026-Q1`` or ``2026``."""
        if self.grain is Grain.MONTH:
            return f"{self.year:04d}-{self.index:02d}"
        if self.grain is Grain.QUARTER:
            return f"{self.year:04d}-Q{self.index}"
        return f"{self.year:04d}"

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The first instant of the period and of the next one, in local time."""
        return (
            datetime.combine(self.first_day, time(), zone),
            datetime.combine(self.stop_day, time(), zone),
        )

    def split(self, grain: Grain) -> list[Period]:
        """The periods of ``grain`` that make up this one (a month stays itself)."""
        if grain is Grain.YEAR or grain is self.grain:
            return [self]
        per = 1 if grain is Grain.MONTH else 3
        first, stop = self.first_day, self.stop_day
        months = (stop.year * 12 + stop.month) - (first.year * 12 + first.month)
        return [
            Period(first.year, (first.month - 1) // per + 1 + step, grain)
            for step in range(months // per)
        ]


def parse_period(text: str, name: str) -> Period:
    """A period written ``YYYY``, ``YYYY-MM`` or ``YYYY-Qn``; anything else names ``name``."""
    match = _PERIOD.match(text)
    if match is None or not 1900 < int(match[1]) < 2200:
        raise InvalidInput(
            f"{name} must be a month (2026-03), a quarter (2026-Q1) or a year (2026), not {text!r}",
            field=name,
        )
    if match[2]:
        return Period(int(match[1]), int(match[2]), Grain.MONTH)
    if match[3]:
        return Period(int(match[1]), int(match[3]), Grain.QUARTER)
    return Period(int(match[1]), 1, Grain.YEAR)


def series(start: Period, end: Period, interval: Grain) -> list[Period]:
    """The periods of ``interval`` from the start of ``start`` to the end of ``end``."""
    if start.first_day > end.first_day:
        raise InvalidInput("from is after to", field="from")
    if (end.stop_day.year - start.first_day.year) * 12 + (
        end.stop_day.month - start.first_day.month
    ) > 12 * MAX_YEARS:
        raise InvalidInput(f"a range covers at most {MAX_YEARS} years", field="to")
    whole: list[Period] = []
    year = start.first_day.year
    while year <= end.stop_day.year:
        whole += Period(year, 1, Grain.YEAR).split(interval)
        year += 1
    return [
        period
        for period in whole
        if period.first_day >= start.first_day and period.stop_day <= end.stop_day
    ]


# -- figures --------------------------------------------------------------------------------------


@dataclass(slots=True)
class Figure:
    """One indicator's figure for one period and group (None: the subject as a whole).

    ``values`` holds what the kind has (count; numerator, denominator, share; n, median, p90,
    mean; days, episodes, amount); ``strata`` the buckets or categories; a masked value is
    None and named in ``suppressed``.
    """

    period: Period
    group: str | None
    values: dict[str, int | float | Decimal | str | None]
    strata: dict[str, int | None] = field(default_factory=dict)
    suppressed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def quantiles(histogram: Mapping[int, int]) -> dict[str, int | float | None]:
    """n, median, 90th percentile (nearest rank) and mean of a histogram value → count.

    The median of an even count is the mean of the two middle values, so it always lies within
    the smallest and largest value.
    """
    n = sum(histogram.values())
    if n == 0:
        return {"n": 0, "median": None, "p90": None, "mean": None}
    ordered = sorted(histogram.items())

    def rank(r: int) -> int:
        seen = 0
        for value, count in ordered:
            seen += count
            if seen >= r:
                return value
        return ordered[-1][0]

    low, high = rank((n + 1) // 2), rank(n // 2 + 1)
    return {
        "n": n,
        "median": (low + high) / 2,
        "p90": rank(-(-9 * n // 10)),
        "mean": round(sum(v * c for v, c in ordered) / n, 2),
    }


def day_buckets(histogram: Mapping[int, int]) -> dict[str, int | None]:
    """The days histogram in the buckets 0, 1, 2, 3, 4–7, 8–14, 15–30, >30."""
    return {
        label: sum(c for v, c in histogram.items() if v >= low and (high is None or v <= high))
        for label, low, high in DAY_BUCKETS
    }


def suppress(figures: Sequence[Figure], kind: Kind) -> list[Figure]:
    """Mask small cells in figures shared beyond one principal.

    Any count under 5 is masked, and so is any complement that would reveal it: the other
    part of a share (denominator − numerator), the last unmasked bucket or stratum beside a
    single masked one (the total minus the others would give it away), and, across the groups
    of one period, the next smallest group beside a single masked one (the subject's total
    minus the other groups would give it away). A distribution of fewer than 5 values shows
    nothing but that.
    """
    masked = [_mask_cell(figure, kind) for figure in figures]
    by_period: dict[Period, list[Figure]] = {}
    for figure in masked:
        if figure.group is not None:
            by_period.setdefault(figure.period, []).append(figure)
    key = _primary(kind)
    for groups in by_period.values():
        hidden = [f for f in groups if f.values.get(key) is None and key in f.suppressed]
        shown = [f for f in groups if f.values.get(key) is not None]
        if len(hidden) == 1 and shown:
            smallest = min(shown, key=lambda f: _number(f.values[key]))
            _mask_all(smallest, kind)
    return masked


def _primary(kind: Kind) -> str:
    return {
        Kind.COUNT: "count",
        Kind.SHARE: "denominator",
        Kind.DISTRIBUTION: "n",
        Kind.AMOUNT: "episodes",
        Kind.STRATA: "count",
    }[kind]


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float | Decimal) else 0.0


def _mask_all(figure: Figure, kind: Kind) -> None:
    for name in list(figure.values):
        if name not in ("currency",) and figure.values[name] is not None:
            figure.values[name] = None
            figure.suppressed.append(name)
    for name in figure.strata:
        if figure.strata[name] is not None:
            figure.strata[name] = None
            figure.suppressed.append(f"strata.{name}")


def _mask_cell(figure: Figure, kind: Kind) -> Figure:
    figure = replace(figure, values=dict(figure.values), strata=dict(figure.strata), suppressed=[])
    values = figure.values
    if kind is Kind.SHARE:
        numerator = int(_number(values["numerator"]))
        denominator = int(_number(values["denominator"]))
        if denominator < SMALL:
            _mask_all(figure, kind)
        elif numerator < SMALL or denominator - numerator < SMALL:
            for name in ("numerator", "share"):
                values[name] = None
                figure.suppressed.append(name)
        return figure
    total = int(_number(values[_primary(kind)]))
    if total < SMALL:
        _mask_all(figure, kind)
        return figure
    small = [name for name, count in figure.strata.items() if count is not None and count < SMALL]
    shown = [
        (count, name)
        for name, count in figure.strata.items()
        if count is not None and count >= SMALL
    ]
    if len(small) == 1 and shown:
        small.append(min(shown)[1])
    for name in small:
        figure.strata[name] = None
        figure.suppressed.append(f"strata.{name}")
    return figure
