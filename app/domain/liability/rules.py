"""The data of payment liability: rate tables, rule sets and the bindings that choose them.

Rule sets, rate tables and bindings are data (``app/data/liability.json``, or a municipality's own
agreement in the same shape), read and validated outside the domain
(`app.services.liability_config`); nothing here branches on a rule set's id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, time
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, TypeAlias
from zoneinfo import ZoneInfo

from app.domain.episodes import CareType
from app.domain.errors import InvalidInput

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parents[2] / "data" / "liability.json"
"""The shipped rule sets, rate tables and bindings (JSON)."""

_TWO_DECIMALS = Decimal("0.01")


def money(amount: Decimal | None) -> str | None:
    """An amount or rate as every output shows it: a decimal string with two places (or null)."""
    if amount is None:
        return None
    return str(amount.quantize(_TWO_DECIMALS, rounding=ROUND_HALF_UP))


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


def content_version(content: Mapping[str, Any]) -> str:
    """A short, stable digest of a JSON-able description: equal content, equal version."""
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- rates ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppliedRate:
    """The daily rate for the days of one calendar year, or None when the table has none.

    A year without a published rate never borrows another year's: its days are still counted
    and reported, its amount is left empty and ``note`` says "no rate for YEAR" (DESIGN §4).
    """

    year: int
    rate: Decimal | None

    @property
    def note(self) -> str | None:
        """ "no rate for YEAR" when the table has no rate for the year, else None."""
        return f"no rate for {self.year}" if self.rate is None else None

    def to_dict(self) -> dict[str, Any]:
        """Render as a JSON-able dict (the rate as a string, or null)."""
        return {
            "year": self.year,
            "rate": money(self.rate),
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class RateTable:
    """Daily rates per calendar year, in one currency, from one named source."""

    id: str
    title: str
    currency: str
    source: str
    rates: Mapping[int, Decimal]
    note: str | None = None

    def rate_for(self, year: int) -> AppliedRate:
        """The rate for the days of ``year``; its ``rate`` is None when the table has none."""
        return AppliedRate(year, self.rates.get(year))

    @property
    def version(self) -> str:
        """A digest of the table's content; a changed rate gives a new version."""
        return content_version(self.to_dict())

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


def price(days_by_year: Mapping[int, int], rates: RateTable) -> tuple[Decimal | None, list[int]]:
    """The amount of liable days counted per year, and the years that have no rate.

    The amount is None as soon as one year with liable days has no rate: part of a sum is not
    an amount anyone may invoice.
    """
    missing = sorted(
        year for year, days in days_by_year.items() if days and year not in rates.rates
    )
    if missing:
        return None, missing
    total = sum(
        (rates.rates[year] * days for year, days in days_by_year.items() if days), Decimal(0)
    )
    return total, []


# -- rule sets ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Agreement:
    """What every rule set has: who it is for, the time zone it counts in, the rate table it
    prices with and where it comes from; the model's own terms are its subclass's fields."""

    model: ClassVar[LiabilityModel]

    id: str
    title: str
    jurisdiction: str
    timezone: str
    rate_table: str
    source: str
    note: str | None = None

    @property
    def zone(self) -> ZoneInfo:
        """The rule set's time zone; days (and months) are counted in it."""
        return ZoneInfo(self.timezone)

    @property
    def version(self) -> str:
        """A digest of the rule set's content; any changed rule gives a new version."""
        return content_version(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """Render as a JSON-able dict, in the shape of the configuration file."""
        rendered: dict[str, Any] = {"id": self.id, "model": self.model.value}
        for item in fields(self):
            if item.name != "id":
                rendered[item.name] = _plain(getattr(self, item.name))
        return rendered


@dataclass(frozen=True, slots=True, kw_only=True)
class IndividualRuleSet(Agreement):
    """An agreement that makes the municipality liable per episode after some free days.

    ``start_offset_days`` free days follow day 0 (the local day of the discharge-ready notice,
    or the next day when the notice is sent at or after ``cutoff_time``). The day the clock
    ends on (discharge, withdrawal, or the day the municipality said it can receive the
    patient) is not liable unless ``count_end_day`` is set. ``conditions`` must all hold for a
    clock to have any liable day.
    """

    model: ClassVar[LiabilityModel] = LiabilityModel.INDIVIDUAL

    start_offset_days: int
    cutoff_time: time | None
    counting: Counting
    conditions: tuple[Condition, ...]
    stop_when_municipality_can_receive: bool
    count_end_day: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class AverageRuleSet(Agreement):
    """An agreement that makes a municipality liable when its average stay is above a level.

    Every month in ``evaluation_months`` the rolling three-month average of days from
    discharge-ready notice to discharge is compared with ``level_days``; above it, payment
    applies in the months up to and including the next evaluation month, reckoned with
    ``amount_formula``.
    """

    model: ClassVar[LiabilityModel] = LiabilityModel.AVERAGE

    level_days: Decimal
    evaluation_months: tuple[int, ...]
    amount_formula: AmountFormula


RuleSet: TypeAlias = IndividualRuleSet | AverageRuleSet


@dataclass(frozen=True, slots=True)
class Binding:
    """Which rule set applies to episodes of a jurisdiction, region, municipality, care type,
    and discharge-ready notices sent from ``notices_from`` to ``notices_until`` (inclusive,
    local dates).

    A key left as None matches anything; a binding with a date range matches only a notice
    date inside it.
    """

    rule_set: str
    jurisdiction: str | None = None
    region: str | None = None
    municipality: str | None = None
    care_type: CareType | None = None
    notices_from: date | None = None
    notices_until: date | None = None

    def matches(
        self,
        jurisdiction: str,
        region_id: str,
        municipality_id: str,
        care_type: CareType,
        notice_date: date | None,
    ) -> bool:
        """True when every key the binding sets equals the episode's value."""
        if self.dated:
            if notice_date is None:
                return False
            if self.notices_from is not None and notice_date < self.notices_from:
                return False
            if self.notices_until is not None and notice_date > self.notices_until:
                return False
        return (
            self.jurisdiction in (None, jurisdiction)
            and self.region in (None, region_id)
            and self.municipality in (None, municipality_id)
            and self.care_type in (None, care_type)
        )

    @property
    def dated(self) -> bool:
        """Whether the binding applies only to notices of a date range."""
        return self.notices_from is not None or self.notices_until is not None

    @property
    def keys(self) -> tuple[object, ...]:
        """What the binding matches on: two bindings with equal keys would shadow each other."""
        return (
            self.jurisdiction,
            self.region,
            self.municipality,
            self.care_type,
            self.notices_from,
            self.notices_until,
        )

    @property
    def specificity(self) -> tuple[int, bool, bool, bool, bool]:
        """Sort key: more keys first; on a tie, a date range, then municipality beats region
        beats jurisdiction."""
        keys = (self.jurisdiction, self.region, self.municipality, self.care_type)
        return (
            sum(key is not None for key in keys) + self.dated,
            self.dated,
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
            "notices_from": self.notices_from.isoformat() if self.notices_from else None,
            "notices_until": self.notices_until.isoformat() if self.notices_until else None,
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
    # A digest of everything: stored liable intervals carry the version they came from. Made
    # once, with the configuration, which never changes: every notice that moves a payment clock
    # stores it, and rendering the configuration for it was a twentieth of a
    # ``$process-message``'s Python (cProfile, `python -m bench.inprocess messages`).
    version: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "version", content_version(self.to_dict()))

    def resolve(
        self,
        jurisdiction: str,
        region_id: str,
        municipality_id: str,
        care_type: CareType,
        notice_date: date | None = None,
    ) -> RuleSet:
        """Return the rule set of the most specific binding that matches.

        ``notice_date`` is the local date of the discharge-ready notice the rule set is wanted
        for (a dated binding, such as the psychiatric rule of 2018, applies only to notices of
        its dates). Raises `InvalidInput` when no binding matches, since liability must never
        be reckoned under a guessed agreement.
        """
        matching = [
            binding
            for binding in self.bindings
            if binding.matches(jurisdiction, region_id, municipality_id, care_type, notice_date)
        ]
        if not matching:
            raise InvalidInput(
                f"no liability rule set is bound to jurisdiction {jurisdiction}, region "
                f"{region_id}, municipality {municipality_id}, care type {care_type.value}; add a "
                "binding to the liability configuration",
                field="bindings",
            )
        # Reading refuses two bindings with the same keys, so two matching bindings never
        # share a specificity and the winner is unambiguous.
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

    def to_dict(self) -> dict[str, Any]:
        """Render as a JSON-able dict in the shape of the configuration file."""
        return {
            "rate_tables": {
                table_id: {k: v for k, v in table.to_dict().items() if k != "id"}
                for table_id, table in self.rate_tables.items()
            },
            "rule_sets": [rule_set.to_dict() for rule_set in self.rule_sets.values()],
            "bindings": [binding.to_dict() for binding in self.bindings],
        }


def _plain(value: Any) -> Any:
    """A rule's value as the configuration file writes it."""
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value
