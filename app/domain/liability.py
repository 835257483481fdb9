"""Municipal payment liability for discharge-ready patients (DESIGN §4, "Payment liability").

Liability is computed, never typed in: it is a pure function of an episode's notices
(`app.domain.episodes`), the rule set of the agreement that applies and the rate table of that
rule set. Rule sets, rate tables and the bindings that choose a rule set are data
(`app/data/liability.json`, or a municipality's own agreement in the same shape), parsed and
validated by `parse_liability_config`; nothing here branches on a rule set's id.

Two models exist:

* **individual** — per episode: each discharge-ready notice starts a clock, and the days the
  clock runs past the agreed free days are liable (`compute_episode_liability`);
* **average** — per municipality and month: the average number of days from discharge-ready
  notice to discharge is compared, every evaluation month, with the agreed level
  (`stay_from_episode`, `compute_average_month`, `months_needed_for`).

Days are counted in the rule set's local time zone (``Europe/Stockholm``, ``Europe/Oslo``), so a
notice sent at 23:30 UTC in winter belongs to the next Swedish day, and a day across a DST change
is still one day. Money is `Decimal` throughout.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, NoReturn, TypeAlias, assert_never
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.domain.episodes import CareType, Episode, EpisodeEvent, EventKind, check_aware
from app.domain.errors import InvalidInput

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "data" / "liability.json"
"""The shipped rule sets, rate tables and bindings (JSON; parse with `parse_liability_config`)."""

_DAY = timedelta(days=1)
_TWO_DECIMALS = Decimal("0.01")
_HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_YEAR = re.compile(r"^\d{4}$")


class LiabilityModel(StrEnum):
    """How liability is reckoned: per episode, or per municipality from a monthly average."""

    INDIVIDUAL = "individual"
    AVERAGE = "average"


class Counting(StrEnum):
    """The unit an individual rule set counts in."""

    CALENDAR_DAYS = "calendar-days"
    TWENTY_FOUR_HOUR_PERIODS = "døgn"


class Condition(StrEnum):
    """A condition an individual rule set puts on a clock before any day is liable."""

    ADMISSION_NOTICE_SENT = "admission-notice-sent"
    ADMISSION_NOTICE_WITHIN_24H = "admission-notice-within-24h"
    DISCHARGE_READY_NOTIFIED_SAME_DAY = "discharge-ready-notified-same-day"


CONDITION_EXPLANATIONS: Mapping[Condition, str] = MappingProxyType(
    {
        Condition.ADMISSION_NOTICE_SENT: (
            "The hospital must have sent an admission notice before the discharge-ready notice."
        ),
        Condition.ADMISSION_NOTICE_WITHIN_24H: (
            "The hospital must have sent the admission notice within 24 hours of the admission."
        ),
        Condition.DISCHARGE_READY_NOTIFIED_SAME_DAY: (
            "The discharge-ready notice must be sent on the same local day the doctor decided "
            "that the patient is discharge-ready."
        ),
    }
)
"""One English sentence per condition, shown next to an unmet condition."""


class EndReason(StrEnum):
    """Why a payment clock stopped, or ``running`` when it had not stopped at ``as_of``."""

    WITHDRAWAL = "withdrawal"
    DISCHARGE = "discharge"
    MUNICIPALITY_CAN_RECEIVE = "municipality-can-receive"
    RUNNING = "running"


class AmountFormula(StrEnum):
    """How the average model turns a paying month into excess days.

    ``excess-days``: max(0, total days − level × persons) — the service's default.
    ``per-person-excess``: the sum over the month's stays of max(0, days − level).
    Both must be checked against the real agreement before an amount is invoiced.
    """

    EXCESS_DAYS = "excess-days"
    PER_PERSON_EXCESS = "per-person-excess"


# -- rates ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppliedRate:
    """The daily rate used for the days of one calendar year.

    ``rate_year`` differs from ``year`` when the table has no rate for ``year`` and the latest
    earlier year's rate was carried forward; ``carried_forward`` then says so, so that the figure
    is never silently stale.
    """

    year: int
    rate_year: int
    rate: Decimal
    carried_forward: bool

    @property
    def note(self) -> str | None:
        """A sentence for the output when the rate was carried forward, else None."""
        if not self.carried_forward:
            return None
        return f"rate of {self.rate_year} carried forward to {self.year}"

    def to_dict(self) -> dict[str, Any]:
        """Render as a JSON-able dict (the rate as a string)."""
        return {
            "year": self.year,
            "rate_year": self.rate_year,
            "rate": money(self.rate),
            "carried_forward": self.carried_forward,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class RateTable:
    """Daily rates per calendar year, in one currency, from one source."""

    id: str
    title: str
    currency: str
    source: str
    rates: Mapping[int, Decimal]
    note: str | None = None

    def rate_for(self, year: int) -> AppliedRate:
        """Return the rate for the days of ``year``.

        A year without a rate takes the latest earlier year's rate, flagged as carried forward;
        a year before every rate of the table raises `InvalidInput`, since there is nothing
        honest to charge.
        """
        if year in self.rates:
            return AppliedRate(year, year, self.rates[year], carried_forward=False)
        earlier = [known for known in self.rates if known < year]
        if not earlier:
            raise InvalidInput(
                f"rate table {self.id} has no rate for {year} nor for any earlier year; add the "
                f"rate of {year} to the table",
                field=f"rate_tables.{self.id}.rates",
            )
        rate_year = max(earlier)
        return AppliedRate(year, rate_year, self.rates[rate_year], carried_forward=True)

    def to_dict(self) -> dict[str, Any]:
        """Render as a JSON-able dict (years as strings, rates as strings)."""
        return {
            "id": self.id,
            "title": self.title,
            "currency": self.currency,
            "source": self.source,
            "note": self.note,
            "rates": {str(year): money(self.rates[year]) for year in sorted(self.rates)},
        }


# -- rule sets ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndividualRuleSet:
    """An agreement that makes the municipality liable per episode after some free days.

    ``start_offset_days`` free days follow day 0 (the local day of the discharge-ready notice,
    or the next day when the notice is sent at or after ``cutoff_time``). The day the clock
    ends on (discharge, withdrawal, or the day the municipality said it can receive the
    patient) is not liable unless ``count_end_day`` is set. ``conditions`` must all hold for a
    clock to have any liable day.
    """

    model: ClassVar[LiabilityModel] = LiabilityModel.INDIVIDUAL

    id: str
    title: str
    jurisdiction: str
    timezone: str
    start_offset_days: int
    cutoff_time: time | None
    counting: Counting
    conditions: tuple[Condition, ...]
    stop_when_municipality_can_receive: bool
    count_end_day: bool
    rate_table: str
    source: str
    note: str | None = None

    @property
    def zone(self) -> ZoneInfo:
        """The rule set's time zone; days are counted in it."""
        return ZoneInfo(self.timezone)

    def to_dict(self) -> dict[str, Any]:
        """Render as a JSON-able dict, in the shape of the configuration file."""
        return {
            "id": self.id,
            "model": self.model.value,
            "title": self.title,
            "jurisdiction": self.jurisdiction,
            "timezone": self.timezone,
            "start_offset_days": self.start_offset_days,
            "cutoff_time": _hh_mm(self.cutoff_time),
            "counting": self.counting.value,
            "conditions": [condition.value for condition in self.conditions],
            "stop_when_municipality_can_receive": self.stop_when_municipality_can_receive,
            "count_end_day": self.count_end_day,
            "rate_table": self.rate_table,
            "source": self.source,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class AverageRuleSet:
    """An agreement that makes a municipality liable when its average stay is above a level.

    Every month in ``evaluation_months`` the rolling three-month average of days from
    discharge-ready notice to discharge is compared with ``level_days``; above it, payment
    applies in the months up to and including the next evaluation month, reckoned with
    ``amount_formula``.
    """

    model: ClassVar[LiabilityModel] = LiabilityModel.AVERAGE

    id: str
    title: str
    jurisdiction: str
    timezone: str
    level_days: Decimal
    evaluation_months: tuple[int, ...]
    amount_formula: AmountFormula
    rate_table: str
    source: str
    note: str | None = None

    @property
    def zone(self) -> ZoneInfo:
        """The rule set's time zone; days and months are counted in it."""
        return ZoneInfo(self.timezone)

    def to_dict(self) -> dict[str, Any]:
        """Render as a JSON-able dict, in the shape of the configuration file."""
        return {
            "id": self.id,
            "model": self.model.value,
            "title": self.title,
            "jurisdiction": self.jurisdiction,
            "timezone": self.timezone,
            "level_days": str(self.level_days),
            "evaluation_months": list(self.evaluation_months),
            "amount_formula": self.amount_formula.value,
            "rate_table": self.rate_table,
            "source": self.source,
            "note": self.note,
        }


RuleSet: TypeAlias = IndividualRuleSet | AverageRuleSet


@dataclass(frozen=True, slots=True)
class Binding:
    """Which rule set applies to episodes of a jurisdiction, region, municipality, care type.

    A key left as None matches anything.
    """

    rule_set: str
    jurisdiction: str | None = None
    region: str | None = None
    municipality: str | None = None
    care_type: CareType | None = None

    def matches(
        self, jurisdiction: str, region_id: str, municipality_id: str, care_type: CareType
    ) -> bool:
        """True when every key the binding sets equals the episode's value."""
        return (
            self.jurisdiction in (None, jurisdiction)
            and self.region in (None, region_id)
            and self.municipality in (None, municipality_id)
            and self.care_type in (None, care_type)
        )

    @property
    def specificity(self) -> tuple[int, bool, bool, bool]:
        """Sort key: more keys first; on a tie, municipality beats region beats jurisdiction."""
        keys = (self.jurisdiction, self.region, self.municipality, self.care_type)
        return (
            sum(key is not None for key in keys),
            self.municipality is not None,
            self.region is not None,
            self.jurisdiction is not None,
        )

    def to_dict(self) -> dict[str, Any]:
        """Render as a JSON-able dict with only the keys the binding sets."""
        rendered: dict[str, Any] = {
            "jurisdiction": self.jurisdiction,
            "region": self.region,
            "municipality": self.municipality,
            "care_type": self.care_type.value if self.care_type is not None else None,
        }
        return {key: value for key, value in rendered.items() if value is not None} | {
            "rule_set": self.rule_set
        }


@dataclass(frozen=True, slots=True)
class LiabilityConfig:
    """The validated rate tables, rule sets and bindings."""

    rate_tables: Mapping[str, RateTable]
    rule_sets: Mapping[str, RuleSet]
    bindings: tuple[Binding, ...]

    def resolve(
        self, jurisdiction: str, region_id: str, municipality_id: str, care_type: CareType
    ) -> RuleSet:
        """Return the rule set of the most specific binding that matches.

        Raises `InvalidInput` when no binding matches, since liability must never be reckoned
        under a guessed agreement.
        """
        matching = [
            binding
            for binding in self.bindings
            if binding.matches(jurisdiction, region_id, municipality_id, care_type)
        ]
        if not matching:
            raise InvalidInput(
                f"no liability rule set is bound to jurisdiction {jurisdiction}, region "
                f"{region_id}, municipality {municipality_id}, care type {care_type.value}; add a "
                "binding to the liability configuration",
                field="bindings",
            )
        # Parsing refuses two bindings with the same keys and values, so two matching bindings
        # never share a specificity and the winner is unambiguous.
        chosen = max(matching, key=lambda binding: binding.specificity)
        rule_set = self.rule_sets[chosen.rule_set]
        if rule_set.jurisdiction != jurisdiction:
            raise InvalidInput(
                f"the binding chosen for jurisdiction {jurisdiction} names rule set {rule_set.id} "
                f"of jurisdiction {rule_set.jurisdiction}; bind a rule set of {jurisdiction}",
                field="bindings",
            )
        return rule_set

    def rates_for(self, rule_set: RuleSet) -> RateTable:
        """Return the rate table a rule set prices with."""
        return self.rate_tables[rule_set.rate_table]


# -- parsing --------------------------------------------------------------------------------------

_RATE_TABLE_KEYS = frozenset({"title", "currency", "source", "note", "rates"})
_COMMON_RULE_SET_KEYS = frozenset(
    {"id", "model", "title", "jurisdiction", "timezone", "rate_table", "source", "note"}
)
_INDIVIDUAL_KEYS = _COMMON_RULE_SET_KEYS | {
    "start_offset_days",
    "cutoff_time",
    "counting",
    "conditions",
    "stop_when_municipality_can_receive",
    "count_end_day",
}
_AVERAGE_KEYS = _COMMON_RULE_SET_KEYS | {"level_days", "evaluation_months", "amount_formula"}
_BINDING_KEYS = frozenset({"jurisdiction", "region", "municipality", "care_type", "rule_set"})
_REQUIRED = object()


@dataclass(frozen=True, slots=True)
class _Fields:
    """One JSON object being read; every error names its owner and the field at fault."""

    raw: Mapping[str, Any]
    owner: str
    path: str

    def fail(self, name: str, problem: str) -> NoReturn:
        raise InvalidInput(f"{self.owner}: {name} {problem}", field=f"{self.path}.{name}")

    def refuse_unknown(self, allowed: frozenset[str]) -> None:
        # A misspelt key in a money agreement ("start_ofset_days") must not fall back to a
        # default without anyone noticing.
        for name in sorted(set(self.raw) - allowed):
            self.fail(name, f"is not a known field; known fields: {', '.join(sorted(allowed))}")

    def get(self, name: str, default: object) -> Any:
        if name not in self.raw:
            if default is _REQUIRED:
                self.fail(name, "is required")
            return default
        return self.raw[name]

    def text(self, name: str, default: object = _REQUIRED) -> str:
        value = self.get(name, default)
        if not isinstance(value, str) or not value.strip():
            self.fail(name, f"must be a non-empty string, not {value!r}")
        return value

    def optional_text(self, name: str) -> str | None:
        value = self.get(name, None)
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(name, f"must be a string or null, not {value!r}")
        return value

    def integer(self, name: str, *, minimum: int) -> int:
        value = self.get(name, _REQUIRED)
        # bool is an int in Python; `true` as an offset is a typo, not 1.
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, f"must be a whole number, not {value!r}")
        if value < minimum:
            self.fail(name, f"must be at least {minimum}, not {value}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self.get(name, default)
        if not isinstance(value, bool):
            self.fail(name, f"must be true or false, not {value!r}")
        return value

    def decimal(self, name: str, *, minimum: Decimal) -> Decimal:
        return _parse_decimal(self.get(name, _REQUIRED), minimum, lambda p: self.fail(name, p))

    def choice(self, name: str, enum: type[StrEnum], default: object = _REQUIRED) -> Any:
        value = self.get(name, default)
        try:
            return enum(value)
        except ValueError:
            known = ", ".join(member.value for member in enum)
            self.fail(name, f"is {value!r}, which is not one of: {known}")

    def sequence(self, name: str, default: object = _REQUIRED) -> Sequence[Any]:
        value = self.get(name, default)
        if isinstance(value, str) or not isinstance(value, Sequence):
            self.fail(name, f"must be a list, not {value!r}")
        return value


def _parse_decimal(value: Any, minimum: Decimal, fail: Callable[[str], NoReturn]) -> Decimal:
    # Floats are refused: 0.1 in JSON is already inexact by the time it reaches us, and money
    # written as a string keeps every digit the agreement states.
    if isinstance(value, bool) or not isinstance(value, str | int):
        fail(f'must be a decimal number written as a string (e.g. "8200"), not {value!r}')
    try:
        number = Decimal(value)
    except InvalidOperation:
        fail(f"is {value!r}, which is not a decimal number")
    if not number.is_finite():
        fail(f"is {value!r}, which is not a finite number")
    if number < minimum:
        fail(f"must be at least {minimum}, not {value}")
    return number


def _mapping(value: Any, what: str, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be a JSON object, not {type(value).__name__}", field=path)
    return value


def _list(value: Any, what: str, path: str) -> Sequence[Any]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidInput(f"{what} must be a JSON list, not {type(value).__name__}", field=path)
    return value


def parse_liability_config(raw: Mapping[str, Any]) -> LiabilityConfig:
    """Validate an already-parsed liability configuration and build its typed form.

    ``raw`` has ``rate_tables`` (object of id → table), ``rule_sets`` (list) and ``bindings``
    (list), as in ``app/data/liability.json``. Every problem — an unknown rate table, time zone,
    condition, model, counting unit or formula, a cutoff that is not ``HH:MM``, a negative
    offset or level, an unknown or misspelt field, a duplicate id or binding — raises
    `InvalidInput` whose message names the rule set (or table, or binding) and the field, and
    whose ``field`` is the dotted path to it.
    """
    top = _Fields(_mapping(raw, "the liability configuration", "$"), "liability configuration", "$")
    top.refuse_unknown(frozenset({"rate_tables", "rule_sets", "bindings", "note"}))
    raw_tables = _mapping(top.get("rate_tables", _REQUIRED), "rate_tables", "rate_tables")
    rate_tables = {
        table_id: _parse_rate_table(table_id, body) for table_id, body in raw_tables.items()
    }

    rule_sets: dict[str, RuleSet] = {}
    for index, body in enumerate(_list(top.get("rule_sets", _REQUIRED), "rule_sets", "rule_sets")):
        rule_set = _parse_rule_set(index, body, rate_tables)
        if rule_set.id in rule_sets:
            raise InvalidInput(
                f"rule set {rule_set.id}: id is used by more than one rule set",
                field=f"rule_sets[{index}].id",
            )
        rule_sets[rule_set.id] = rule_set

    bindings: list[Binding] = []
    for index, body in enumerate(_list(top.get("bindings", _REQUIRED), "bindings", "bindings")):
        binding = _parse_binding(index, body, rule_sets)
        if any(_same_keys(binding, earlier) for earlier in bindings):
            raise InvalidInput(
                f"binding {index} (rule set {binding.rule_set}): the same jurisdiction, region, "
                "municipality and care type are already bound; one of the two would never apply",
                field=f"bindings[{index}]",
            )
        bindings.append(binding)

    return LiabilityConfig(
        rate_tables=MappingProxyType(rate_tables),
        rule_sets=MappingProxyType(rule_sets),
        bindings=tuple(bindings),
    )


def _parse_rate_table(table_id: str, body: Any) -> RateTable:
    path = f"rate_tables.{table_id}"
    fields = _Fields(_mapping(body, f"rate table {table_id}", path), f"rate table {table_id}", path)
    fields.refuse_unknown(_RATE_TABLE_KEYS)
    currency = fields.text("currency")
    if not _CURRENCY.match(currency):
        fields.fail("currency", f"is {currency!r}, which is not an ISO 4217 code such as SEK")
    raw_rates = _mapping(
        fields.get("rates", _REQUIRED), f"rate table {table_id}: rates", f"{path}.rates"
    )
    if not raw_rates:
        fields.fail("rates", "must hold at least one year")
    rates: dict[int, Decimal] = {}
    for year_text, amount in raw_rates.items():
        if not _YEAR.match(str(year_text)):
            fields.fail("rates", f"has the key {year_text!r}, which is not a four-digit year")

        def fail(problem: str, year_text: str = str(year_text)) -> NoReturn:
            fields.fail("rates", f"for {year_text} {problem}")

        rates[int(year_text)] = _parse_decimal(amount, Decimal(0), fail)
    return RateTable(
        id=table_id,
        title=fields.text("title", table_id),
        currency=currency,
        source=fields.text("source", "not stated"),
        rates=MappingProxyType(rates),
        note=fields.optional_text("note"),
    )


def _parse_rule_set(index: int, body: Any, rate_tables: Mapping[str, RateTable]) -> RuleSet:
    path = f"rule_sets[{index}]"
    body = _mapping(body, f"rule set {index}", path)
    fields = _Fields(body, f"rule set {index}", path)
    rule_set_id = fields.text("id")
    fields = _Fields(body, f"rule set {rule_set_id}", path)

    model: LiabilityModel = fields.choice("model", LiabilityModel)
    fields.refuse_unknown(_INDIVIDUAL_KEYS if model is LiabilityModel.INDIVIDUAL else _AVERAGE_KEYS)
    timezone = fields.text("timezone")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        fields.fail(
            "timezone", f"is {timezone!r}, which is not an IANA time zone such as Europe/Stockholm"
        )
    jurisdiction = fields.text("jurisdiction")
    rate_table = fields.text("rate_table")
    if rate_table not in rate_tables:
        fields.fail(
            "rate_table",
            f"names {rate_table!r}, which is not a rate table of the "
            f"configuration (known: {', '.join(sorted(rate_tables))})",
        )
    title = fields.text("title", rule_set_id)
    source = fields.text("source", "not stated")
    note = fields.optional_text("note")

    if model is LiabilityModel.AVERAGE:
        months = fields.sequence("evaluation_months")
        if not months:
            fields.fail("evaluation_months", "must name at least one month")
        for month in months:
            if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
                fields.fail("evaluation_months", f"holds {month!r}, which is not a month 1–12")
        if len(set(months)) != len(months):
            fields.fail("evaluation_months", "names a month twice")
        return AverageRuleSet(
            id=rule_set_id,
            title=title,
            jurisdiction=jurisdiction,
            timezone=timezone,
            level_days=fields.decimal("level_days", minimum=Decimal(0)),
            evaluation_months=tuple(sorted(months)),
            amount_formula=fields.choice(
                "amount_formula", AmountFormula, AmountFormula.EXCESS_DAYS.value
            ),
            rate_table=rate_table,
            source=source,
            note=note,
        )

    conditions: list[Condition] = []
    for name in fields.sequence("conditions", []):
        try:
            condition = Condition(name)
        except ValueError:
            known = ", ".join(member.value for member in Condition)
            fields.fail("conditions", f"holds {name!r}, which is not one of: {known}")
        if condition in conditions:
            fields.fail("conditions", f"names {name!r} twice")
        conditions.append(condition)
    return IndividualRuleSet(
        id=rule_set_id,
        title=title,
        jurisdiction=jurisdiction,
        timezone=timezone,
        start_offset_days=fields.integer("start_offset_days", minimum=0),
        cutoff_time=_parse_cutoff(fields),
        counting=fields.choice("counting", Counting),
        conditions=tuple(conditions),
        stop_when_municipality_can_receive=fields.flag("stop_when_municipality_can_receive", False),
        count_end_day=fields.flag("count_end_day", False),
        rate_table=rate_table,
        source=source,
        note=note,
    )


def _parse_cutoff(fields: _Fields) -> time | None:
    value = fields.get("cutoff_time", None)
    if value is None:
        return None
    match = _HH_MM.match(value) if isinstance(value, str) else None
    if match is None:
        fields.fail(
            "cutoff_time",
            f"is {value!r}, which is not a time of day written HH:MM (00:00–23:59), or null",
        )
    return time(int(match.group(1)), int(match.group(2)))


def _parse_binding(index: int, body: Any, rule_sets: Mapping[str, RuleSet]) -> Binding:
    path = f"bindings[{index}]"
    fields = _Fields(_mapping(body, f"binding {index}", path), f"binding {index}", path)
    fields.refuse_unknown(_BINDING_KEYS)
    rule_set_id = fields.text("rule_set")
    if rule_set_id not in rule_sets:
        fields.fail(
            "rule_set", f"names {rule_set_id!r}, which is not a rule set of the configuration"
        )
    care_type: CareType | None = None
    if fields.get("care_type", None) is not None:
        care_type = fields.choice("care_type", CareType)
    binding = Binding(
        rule_set=rule_set_id,
        jurisdiction=fields.text("jurisdiction") if "jurisdiction" in body else None,
        region=fields.text("region") if "region" in body else None,
        municipality=fields.text("municipality") if "municipality" in body else None,
        care_type=care_type,
    )
    bound = rule_sets[rule_set_id]
    if binding.jurisdiction is not None and binding.jurisdiction != bound.jurisdiction:
        fields.fail(
            "jurisdiction",
            f"is {binding.jurisdiction}, but rule set {bound.id} is of "
            f"jurisdiction {bound.jurisdiction}",
        )
    return binding


def _same_keys(first: Binding, second: Binding) -> bool:
    return (first.jurisdiction, first.region, first.municipality, first.care_type) == (
        second.jurisdiction,
        second.region,
        second.municipality,
        second.care_type,
    )


# -- individual model -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiabilityClock:
    """One payment clock: a discharge-ready notice and how long it ran.

    ``day0`` is the local day counting starts from (the notice's day, or the next day after a
    cutoff); ``liable_from`` is ``day0`` plus the rule set's free days. Calendar-day clocks are
    liable on the ``liable_days`` consecutive local dates from ``liable_from``. For ``døgn``
    counting, ``period_starts`` are the start instants of the liable 24-hour periods and
    ``period_dates`` the local dates they start on (a date may then repeat across an autumn DST
    change). ``ended_at`` is None while the clock runs; for ``municipality-can-receive`` it is
    the local midnight that starts the day the municipality named.
    """

    notice_at: datetime
    day0: date
    liable_from: date
    ended_at: datetime | None
    end_reason: EndReason
    liable_days: int
    amount: Decimal
    unmet_conditions: tuple[Condition, ...]
    period_starts: tuple[datetime, ...] = ()
    period_dates: tuple[date, ...] = ()

    @property
    def liable_dates(self) -> tuple[date, ...]:
        """The local date of each liable day (døgn: the date each liable period starts on)."""
        if self.period_starts:
            return self.period_dates
        return tuple(self.liable_from + timedelta(days=n) for n in range(self.liable_days))

    def days_in(self, first: date, stop: date) -> int:
        """How many liable days fall on the local dates ``first <= d < stop``."""
        if self.period_starts:
            return sum(1 for day in self.period_dates if first <= day < stop)
        return _overlap(self.liable_from, self.liable_days, first, stop)

    def to_dict(self) -> dict[str, Any]:
        """Render as a JSON-able dict (ISO dates and times, the amount as a string)."""
        return {
            "notice_at": self.notice_at.isoformat(),
            "day0": self.day0.isoformat(),
            "liable_from": self.liable_from.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at is not None else None,
            "end_reason": self.end_reason.value,
            "liable_days": self.liable_days,
            "liable_dates": [day.isoformat() for day in self.liable_dates],
            "period_starts": [start.isoformat() for start in self.period_starts],
            "amount": money(self.amount),
            "unmet_conditions": [
                {"condition": condition.value, "explanation": CONDITION_EXPLANATIONS[condition]}
                for condition in self.unmet_conditions
            ],
        }


@dataclass(frozen=True, slots=True)
class EpisodeLiability:
    """The liability of one episode under one individual rule set, as of one instant."""

    episode_id: str
    rule_set_id: str
    model: LiabilityModel
    rate_table_id: str
    currency: str
    as_of: datetime
    clocks: tuple[LiabilityClock, ...]
    liable_days: int
    amount: Decimal
    rates: tuple[AppliedRate, ...]

    def in_month(self, year: int, month: int) -> tuple[int, Decimal]:
        """Return the liable days falling in a local calendar month and their amount.

        This is the invoice basis of a monthly report: a clock running from one month into the
        next is split by the local date of each liable day.
        """
        first, stop = _month_dates(year, month)
        days = sum(clock.days_in(first, stop) for clock in self.clocks)
        if not days:
            return 0, Decimal(0)
        rate = next(applied.rate for applied in self.rates if applied.year == year)
        return days, rate * days

    def to_dict(self) -> dict[str, Any]:
        """Render as a JSON-able dict (ISO dates and times, money as strings)."""
        return {
            "episode_id": self.episode_id,
            "rule_set_id": self.rule_set_id,
            "model": self.model.value,
            "rate_table_id": self.rate_table_id,
            "currency": self.currency,
            "as_of": self.as_of.isoformat(),
            "liable_days": self.liable_days,
            "amount": money(self.amount),
            "rates": [applied.to_dict() for applied in self.rates],
            "clocks": [clock.to_dict() for clock in self.clocks],
        }


def compute_episode_liability(
    episode: Episode, rule_set: IndividualRuleSet, rates: RateTable, *, as_of: datetime
) -> EpisodeLiability:
    """Compute an episode's payment liability under an individual rule set, as of ``as_of``.

    Only notices sent at or before ``as_of`` are taken into account. Each discharge-ready notice
    starts a clock; the clock ends at the first later withdrawal or discharge notice, or — when
    the rule set has ``stop_when_municipality_can_receive`` — on the date a municipality
    response says it can receive the patient from (a later response sent before that date
    replaces it; one sent on or after it cannot reopen the clock; a date earlier than the day
    the response was sent takes effect on that day). A clock not ended by ``as_of`` is
    ``running``.

    Calendar days (the default reading): day 0 is the local date of the notice, or the next
    date when the notice is sent at or after ``cutoff_time`` (local time). The liable days are
    the local dates d with ``day0 + start_offset_days <= d < end date``, where the end date is
    the local date of the ending event: the discharge day, the withdrawal day and the
    can-receive-from day are not liable, unless ``count_end_day`` is set. A running clock counts
    every day up to and including the local date of ``as_of``.

    ``døgn``: the clock starts at the notice time (or at the local midnight that begins day 0
    when the cutoff moved it); after ``start_offset_days`` × 24 hours, every whole 24 hours
    of elapsed time before the end is one liable døgn. With ``count_end_day`` an ended clock's
    last, partial døgn counts too; a running clock counts whole døgn only. Hours are real
    elapsed hours, so a døgn across a DST change is still 24 hours long.

    A clock whose conditions are not met has no liable day and names the unmet conditions.
    Each day (døgn: the local date its period starts on) is priced at the rate of its own
    calendar year (`RateTable.rate_for`).
    """
    check_aware(as_of, "as_of")
    if rates.id != rule_set.rate_table:
        raise InvalidInput(
            f"rule set {rule_set.id} prices with rate table {rule_set.rate_table}, not {rates.id}",
            field="rate_table",
        )
    zone = rule_set.zone
    events = [event for event in episode.events if event.at <= as_of]
    applied: dict[int, AppliedRate] = {}

    def price(year: int) -> Decimal:
        if year not in applied:
            applied[year] = rates.rate_for(year)
        return applied[year].rate

    clocks: list[LiabilityClock] = []
    for index, event in enumerate(events):
        if event.kind is not EventKind.DISCHARGE_READY:
            continue
        ended_at, reason = _clock_end(episode, events, index, rule_set, as_of)
        unmet = _unmet_conditions(episode, events, index, rule_set)
        starts: tuple[datetime, ...] = ()
        dates: tuple[date, ...] = ()
        if rule_set.counting is Counting.CALENDAR_DAYS:
            day0, liable_from, count = _calendar_days(event.at, ended_at, rule_set, as_of)
            per_year = _days_by_year(liable_from, 0 if unmet else count)
        else:
            day0, liable_from, starts = _day_periods(event.at, ended_at, rule_set, as_of)
            if unmet:
                starts = ()
            dates = tuple(start.astimezone(zone).date() for start in starts)
            per_year = {}
            for day in dates:
                per_year[day.year] = per_year.get(day.year, 0) + 1
        clocks.append(
            LiabilityClock(
                notice_at=event.at,
                day0=day0,
                liable_from=liable_from,
                ended_at=ended_at,
                end_reason=reason,
                liable_days=sum(per_year.values()),
                amount=sum((price(year) * n for year, n in per_year.items()), Decimal(0)),
                unmet_conditions=unmet,
                period_starts=starts,
                period_dates=dates,
            )
        )
    return EpisodeLiability(
        episode_id=episode.id,
        rule_set_id=rule_set.id,
        model=LiabilityModel.INDIVIDUAL,
        rate_table_id=rates.id,
        currency=rates.currency,
        as_of=as_of,
        clocks=tuple(clocks),
        liable_days=sum(clock.liable_days for clock in clocks),
        amount=sum((clock.amount for clock in clocks), Decimal(0)),
        rates=tuple(applied[year] for year in sorted(applied)),
    )


def _clock_end(
    episode: Episode,
    events: Sequence[EpisodeEvent],
    index: int,
    rule_set: IndividualRuleSet,
    as_of: datetime,
) -> tuple[datetime | None, EndReason]:
    zone = rule_set.zone
    notice = events[index]
    can_receive_from: date | None = None
    for later in events[index + 1 :]:
        if can_receive_from is not None and later.at.astimezone(zone).date() >= can_receive_from:
            break  # the day the municipality named came first; that ended the clock
        if later.kind is EventKind.DISCHARGE_READY_WITHDRAWN:
            return later.at, EndReason.WITHDRAWAL
        if later.kind is EventKind.DISCHARGE_NOTICE:
            return later.at, EndReason.DISCHARGE
        if later.kind is EventKind.DISCHARGE_READY:
            # The episode refuses a second notice while one is in force; two overlapping clocks
            # would charge the same days twice, so refuse rather than guess.
            raise InvalidInput(
                f"episode {episode.id} has a discharge-ready notice (seq {later.seq}) while the "
                f"one of seq {notice.seq} is still in force; withdraw the first one",
                field="events",
            )
        if (
            later.kind is EventKind.MUNICIPALITY_RESPONSE
            and rule_set.stop_when_municipality_can_receive
            and later.can_receive_from is not None
        ):
            # A date before the day of the answer would take back days already spent waiting
            # for it, so the answer takes effect on its own day at the earliest.
            can_receive_from = max(later.can_receive_from, later.at.astimezone(zone).date())
    if can_receive_from is not None:
        # The municipality can receive the patient from the start of that local day; a date
        # before the notice cannot end the clock before it started.
        ends = datetime.combine(can_receive_from, time(0), tzinfo=zone)
        if ends <= as_of:
            return max(ends, notice.at), EndReason.MUNICIPALITY_CAN_RECEIVE
    return None, EndReason.RUNNING


def _day0_start(notice_at: datetime, rule_set: IndividualRuleSet) -> datetime:
    """The instant counting starts: the notice, or the next local midnight after a cutoff."""
    local = notice_at.astimezone(rule_set.zone)
    if rule_set.cutoff_time is not None and local.time() >= rule_set.cutoff_time:
        return datetime.combine(local.date() + _DAY, time(0), tzinfo=rule_set.zone)
    return notice_at


def _calendar_days(
    notice_at: datetime, ended_at: datetime | None, rule_set: IndividualRuleSet, as_of: datetime
) -> tuple[date, date, int]:
    zone = rule_set.zone
    day0 = _day0_start(notice_at, rule_set).astimezone(zone).date()
    liable_from = day0 + timedelta(days=rule_set.start_offset_days)
    if ended_at is None:
        stop = as_of.astimezone(zone).date() + _DAY
    else:
        stop = ended_at.astimezone(zone).date() + (_DAY if rule_set.count_end_day else timedelta())
    return day0, liable_from, max(0, (stop - liable_from).days)


def _overlap(start: date, count: int, first: date, stop: date) -> int:
    """How many of the ``count`` dates from ``start`` fall on ``first <= d < stop``."""
    return max(0, (min(start + timedelta(days=count), stop) - max(start, first)).days)


def _month_dates(year: int, month: int) -> tuple[date, date]:
    """The first date of a month and of the month after it."""
    return date(year, month, 1), date(year + month // 12, month % 12 + 1, 1)


def _days_by_year(start: date, count: int) -> dict[int, int]:
    """How many of the ``count`` consecutive dates from ``start`` fall in each calendar year."""
    if count <= 0:
        return {}
    last = start + timedelta(days=count - 1)
    return {
        year: _overlap(start, count, date(year, 1, 1), date(year + 1, 1, 1))
        for year in range(start.year, last.year + 1)
    }


def _day_periods(
    notice_at: datetime, ended_at: datetime | None, rule_set: IndividualRuleSet, as_of: datetime
) -> tuple[date, date, tuple[datetime, ...]]:
    zone = rule_set.zone
    # Arithmetic in UTC: adding 24 hours to a zoned datetime in Python adds wall-clock time,
    # which would make a døgn across a DST change 23 or 25 real hours long.
    start = _day0_start(notice_at, rule_set).astimezone(UTC)
    first = start + timedelta(hours=24 * rule_set.start_offset_days)
    end = (ended_at if ended_at is not None else as_of).astimezone(UTC)
    whole = max(0, (end - first) // timedelta(hours=24))
    count = whole
    partial = first + whole * timedelta(hours=24) < end
    if ended_at is not None and rule_set.count_end_day and partial:
        count += 1
    starts = tuple(first + timedelta(hours=24 * n) for n in range(count))
    return start.astimezone(zone).date(), first.astimezone(zone).date(), starts


def _unmet_conditions(
    episode: Episode, events: Sequence[EpisodeEvent], index: int, rule_set: IndividualRuleSet
) -> tuple[Condition, ...]:
    if not rule_set.conditions:
        return ()
    zone = rule_set.zone
    notice = events[index]

    def is_met(condition: Condition) -> bool:
        # Each condition is looked at only when the rule set has it.
        match condition:
            case Condition.ADMISSION_NOTICE_SENT:
                return any(event.kind is EventKind.ADMISSION_NOTICE for event in events[:index])
            case Condition.ADMISSION_NOTICE_WITHIN_24H:
                admission = next(
                    (e for e in episode.events if e.kind is EventKind.ADMISSION_NOTICE), None
                )
                return admission is not None and (
                    admission.at - episode.admitted_at <= timedelta(hours=24)
                )
            case Condition.DISCHARGE_READY_NOTIFIED_SAME_DAY:
                decided = (notice.decided_at or notice.at).astimezone(zone).date()
                return decided == notice.at.astimezone(zone).date()
        assert_never(condition)

    return tuple(condition for condition in rule_set.conditions if not is_met(condition))


# -- average model --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DischargeStay:
    """One discharge counted by the average model: days from discharge-ready to discharge.

    ``days`` is the local date of the discharge minus the local date of the discharge-ready
    notice in force at discharge (0 when both fall on the same day); ``month`` is the local
    (year, month) of the discharge.
    """

    episode_id: str
    person_id: str
    discharge_ready_at: datetime
    discharged_at: datetime
    days: int
    month: tuple[int, int]

    def to_dict(self) -> dict[str, Any]:
        """Render as a JSON-able dict."""
        return {
            "episode_id": self.episode_id,
            "person_id": self.person_id,
            "discharge_ready_at": self.discharge_ready_at.isoformat(),
            "discharged_at": self.discharged_at.isoformat(),
            "days": self.days,
            "month": f"{self.month[0]:04d}-{self.month[1]:02d}",
        }


def stay_from_episode(episode: Episode, rule_set: AverageRuleSet) -> DischargeStay | None:
    """Return the stay an episode contributes to the average model, or None.

    A stay counts when the episode has an admission notice, a discharge-ready notice and a
    discharge notice, and a discharge-ready notice was still in force at discharge: a clock
    that was withdrawn does not count, and after a withdrawal and a new notice the days run
    from the new notice. Dates are local to the rule set's time zone.
    """
    zone = rule_set.zone
    admitted = False
    in_force: datetime | None = None
    for event in episode.events:
        if event.kind is EventKind.ADMISSION_NOTICE:
            admitted = True
        elif event.kind is EventKind.DISCHARGE_READY:
            in_force = event.at
        elif event.kind is EventKind.DISCHARGE_READY_WITHDRAWN:
            in_force = None
        elif event.kind is EventKind.DISCHARGE_NOTICE:
            if not admitted or in_force is None:
                return None
            discharged = event.at.astimezone(zone).date()
            return DischargeStay(
                episode_id=episode.id,
                person_id=episode.person_id,
                discharge_ready_at=in_force,
                discharged_at=event.at,
                days=(discharged - in_force.astimezone(zone).date()).days,
                month=(discharged.year, discharged.month),
            )
    return None


@dataclass(frozen=True, slots=True)
class AverageMonth:
    """The average-model figures of one month for one municipality.

    ``average`` is the month's total days over its persons; ``rolling_average`` is the
    weighted three-month average at ``evaluation_year_month`` (the latest evaluation month
    before this one), which decides ``payment_applies``. ``excess_days`` is the formula's
    result for this month whether or not payment applies, so a reader sees what was at stake;
    ``amount`` is ``excess_days`` × ``rate`` when payment applies, else 0.
    """

    year: int
    month: int
    persons: int
    total_days: int
    average: Decimal | None
    evaluation_year_month: tuple[int, int]
    evaluation_persons: int
    evaluation_total_days: int
    rolling_average: Decimal | None
    level: Decimal
    payment_applies: bool
    excess_days: Decimal
    rate: AppliedRate
    amount: Decimal
    rule_set_id: str
    formula: AmountFormula
    rate_table_id: str
    currency: str

    def to_dict(self) -> dict[str, Any]:
        """Render as a JSON-able dict; averages rounded to two decimals for display only."""
        evaluation_year, evaluation_month = self.evaluation_year_month
        return {
            "year": self.year,
            "month": self.month,
            "persons": self.persons,
            "total_days": self.total_days,
            "average": _display(self.average),
            "evaluation_month": f"{evaluation_year:04d}-{evaluation_month:02d}",
            "evaluation_persons": self.evaluation_persons,
            "evaluation_total_days": self.evaluation_total_days,
            "rolling_average": _display(self.rolling_average),
            "level": str(self.level),
            "payment_applies": self.payment_applies,
            "excess_days": str(self.excess_days),
            "rate": self.rate.to_dict(),
            "amount": money(self.amount),
            "rule_set_id": self.rule_set_id,
            "formula": self.formula.value,
            "rate_table_id": self.rate_table_id,
            "currency": self.currency,
        }


def months_needed_for(year: int, month: int, rule_set: AverageRuleSet) -> list[tuple[int, int]]:
    """Return the (year, month) pairs whose stays `compute_average_month` needs, oldest first.

    They are the three months ending at the evaluation month that decides ``month``, and
    ``month`` itself.
    """
    _check_month(year, month)
    evaluation = _evaluation_month(year, month, rule_set)
    return [*_window(evaluation), (year, month)]


def compute_average_month(
    stays: Iterable[DischargeStay],
    rule_set: AverageRuleSet,
    rates: RateTable,
    *,
    year: int,
    month: int,
) -> AverageMonth:
    """Compute one month of the average model for one municipality's stays.

    ``stays`` must hold every stay of the months `months_needed_for` names (others are
    ignored). A person is counted once per stay: a person discharged twice in a month counts
    as two persons, as each discharge is a separate stay under the agreements.

    The month's average is its total days over its persons. The evaluation month E that
    decides the month is the latest evaluation month before it (in the previous year for the
    first months); the rolling average at E is the total days over the persons of the three
    months ending at E (weighted by persons, not an average of averages). Payment applies when
    that rolling average is strictly above ``level_days``; comparisons use exact figures,
    never rounded ones.

    The amount of a paying month is excess days × the rate of the month's year. With
    ``excess-days`` (the service's default) the excess is max(0, total days − level ×
    persons); with ``per-person-excess`` it is the sum over the month's stays of
    max(0, days − level). Which formula an agreement uses must be checked against the real
    agreement.
    """
    _check_month(year, month)
    if rates.id != rule_set.rate_table:
        raise InvalidInput(
            f"rule set {rule_set.id} prices with rate table {rule_set.rate_table}, not {rates.id}",
            field="rate_table",
        )
    by_month: dict[tuple[int, int], list[DischargeStay]] = {}
    for stay in stays:
        by_month.setdefault(stay.month, []).append(stay)

    own = by_month.get((year, month), [])
    persons = len(own)
    total_days = sum(stay.days for stay in own)
    evaluation = _evaluation_month(year, month, rule_set)
    window = [stay for key in _window(evaluation) for stay in by_month.get(key, [])]
    window_persons = len(window)
    window_days = sum(stay.days for stay in window)
    level = rule_set.level_days
    # total / persons > level  ⇔  total > level × persons, exactly, without dividing.
    payment_applies = window_persons > 0 and window_days > level * window_persons

    if rule_set.amount_formula is AmountFormula.EXCESS_DAYS:
        excess = max(Decimal(0), total_days - level * persons)
    else:
        excess = sum((max(Decimal(0), stay.days - level) for stay in own), Decimal(0))
    rate = rates.rate_for(year)
    return AverageMonth(
        year=year,
        month=month,
        persons=persons,
        total_days=total_days,
        average=Decimal(total_days) / persons if persons else None,
        evaluation_year_month=evaluation,
        evaluation_persons=window_persons,
        evaluation_total_days=window_days,
        rolling_average=Decimal(window_days) / window_persons if window_persons else None,
        level=level,
        payment_applies=payment_applies,
        excess_days=excess,
        rate=rate,
        amount=excess * rate.rate if payment_applies else Decimal(0),
        rule_set_id=rule_set.id,
        formula=rule_set.amount_formula,
        rate_table_id=rates.id,
        currency=rates.currency,
    )


def _check_month(year: int, month: int) -> None:
    if not 1 <= month <= 12:
        raise InvalidInput(f"month must be 1–12, not {month}", field="month")
    if not 1 <= year <= 9999:
        raise InvalidInput(f"year must be 1–9999, not {year}", field="year")


def _evaluation_month(year: int, month: int, rule_set: AverageRuleSet) -> tuple[int, int]:
    earlier = [candidate for candidate in rule_set.evaluation_months if candidate < month]
    if earlier:
        return year, max(earlier)
    return year - 1, max(rule_set.evaluation_months)


def _window(evaluation: tuple[int, int]) -> list[tuple[int, int]]:
    year, month = evaluation
    index = year * 12 + (month - 1)
    return [((index - back) // 12, (index - back) % 12 + 1) for back in (2, 1, 0)]


def money(amount: Decimal) -> str:
    """An amount or rate as every output shows it: a decimal string with two places."""
    return str(amount.quantize(_TWO_DECIMALS, rounding=ROUND_HALF_UP))


def _display(value: Decimal | None) -> str | None:
    return str(value.quantize(_TWO_DECIMALS, rounding=ROUND_HALF_UP)) if value is not None else None


def _hh_mm(value: time | None) -> str | None:
    return value.strftime("%H:%M") if value is not None else None


__all__ = [
    "CONDITION_EXPLANATIONS",
    "DEFAULT_CONFIG_PATH",
    "AmountFormula",
    "AppliedRate",
    "AverageMonth",
    "AverageRuleSet",
    "Binding",
    "Condition",
    "Counting",
    "DischargeStay",
    "EndReason",
    "EpisodeLiability",
    "IndividualRuleSet",
    "LiabilityClock",
    "LiabilityConfig",
    "LiabilityModel",
    "RateTable",
    "RuleSet",
    "compute_average_month",
    "compute_episode_liability",
    "months_needed_for",
    "parse_liability_config",
    "stay_from_episode",
]
