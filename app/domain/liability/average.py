"""The average model: per municipality and month, as in Region Stockholm's and Västra
Götaland's agreements (DESIGN §4).

The average number of days from discharge-ready notice to discharge is compared, every
evaluation month, with the agreed level (`stay_from_episode`, `compute_average_month`,
`months_needed_for`). Days are local dates of the rule set's time zone; money is `Decimal`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.domain.episodes import Episode, EventKind
from app.domain.errors import InvalidInput
from app.domain.liability.rules import (
    AmountFormula,
    AppliedRate,
    AverageRuleSet,
    RateTable,
    money,
)


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
    ``amount`` is ``excess_days`` × ``rate`` when payment applies, else 0; None when payment
    applies in a year without a rate ("no rate for YEAR").
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
    amount: Decimal | None
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
            "average": money(self.average),
            "evaluation_month": f"{evaluation_year:04d}-{evaluation_month:02d}",
            "evaluation_persons": self.evaluation_persons,
            "evaluation_total_days": self.evaluation_total_days,
            "rolling_average": money(self.rolling_average),
            "level": str(self.level),
            "payment_applies": self.payment_applies,
            "excess_days": str(self.excess_days),
            "rate": self.rate.to_dict(),
            "amount": money(self.amount),
            "notes": [self.rate.note] if self.payment_applies and self.rate.note else [],
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
        amount=_amount(excess, rate, payment_applies),
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


def _amount(excess: Decimal, rate: AppliedRate, payment_applies: bool) -> Decimal | None:
    if not payment_applies:
        return Decimal(0)
    return excess * rate.rate if rate.rate is not None else None
