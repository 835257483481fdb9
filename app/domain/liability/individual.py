"""The individual model: per episode, each discharge-ready notice starts a payment clock.

The days the clock runs past the agreed free days are liable (`compute_episode_liability`), and
the same clocks, as intervals of local days that a database can sum (`liable_intervals`), are
what the service stores beside the episode's notices and what the invoice basis and the
statistics add up.

Days are counted in the rule set's local time zone (``Europe/Stockholm``, ``Europe/Oslo``), so a
notice sent at 23:30 UTC in winter belongs to the next Swedish day, and a day across a DST change
is still one day. Money is `Decimal` throughout.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, assert_never

from app.domain.episodes import ZONES, Episode, EpisodeEvent, EventKind, check_aware
from app.domain.errors import InvalidInput
from app.domain.liability.rules import (
    CONDITION_EXPLANATIONS,
    AppliedRate,
    Condition,
    Counting,
    EndReason,
    IndividualRuleSet,
    LiabilityConfig,
    LiabilityModel,
    RateTable,
    RuleSet,
    money,
    price,
)

_DAY = timedelta(days=1)
_PERIOD = timedelta(hours=24)
# A clock's end as the stored intervals see it: every notice there is, and no end of time.
_END_OF_TIME = datetime(9000, 1, 1, tzinfo=UTC)


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
    amount: Decimal | None
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
    amount: Decimal | None
    rates: tuple[AppliedRate, ...]

    def in_month(self, year: int, month: int) -> tuple[int, Decimal | None]:
        """Return the liable days falling in a local calendar month and their amount.

        This is the invoice basis of a monthly report: a clock running from one month into the
        next is split by the local date of each liable day. The amount is None when the year
        has no rate.
        """
        first, stop = _month_dates(year, month)
        days = sum(clock.days_in(first, stop) for clock in self.clocks)
        if not days:
            return 0, Decimal(0)
        rate = next(applied.rate for applied in self.rates if applied.year == year)
        return days, rate * days if rate is not None else None

    @property
    def notes(self) -> list[str]:
        """ "no rate for YEAR" for each year with liable days and no rate."""
        return [applied.note for applied in self.rates if applied.note is not None]

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
            "notes": self.notes,
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
    calendar year (`RateTable.rate_for`); a clock with days in a year without a rate has no
    amount, and neither has the episode, while its days are still counted.
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
        for year in per_year:
            applied.setdefault(year, rates.rate_for(year))
        amount, _missing = price(per_year, rates)
        clocks.append(
            LiabilityClock(
                notice_at=event.at,
                day0=day0,
                liable_from=liable_from,
                ended_at=ended_at,
                end_reason=reason,
                liable_days=sum(per_year.values()),
                amount=amount,
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
        amount=_total(clock.amount for clock in clocks),
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
        ):
            # The latest answer holds: "cannot receive yet" takes back a date not yet reached.
            # A date before the day of the answer would take back days already spent waiting
            # for it, so the answer takes effect on its own day at the earliest.
            can_receive_from = (
                max(later.can_receive_from, later.at.astimezone(zone).date())
                if later.can_receive_from is not None
                else None
            )
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


def notice_date(episode: Episode) -> date:
    """The local date a binding is chosen by: that of the episode's first discharge-ready
    notice, or of the admission before any notice."""
    first = next(
        (event.at for event in episode.events if event.kind is EventKind.DISCHARGE_READY),
        episode.admitted_at,
    )
    return first.astimezone(ZONES[episode.jurisdiction]).date()


def resolve_for(config: LiabilityConfig, episode: Episode) -> RuleSet:
    """The rule set that applies to an episode: its jurisdiction, region, municipality, care
    type and the date of its first discharge-ready notice (DESIGN §4: the psychiatric rule
    applies only to notices sent during 2018)."""
    return config.resolve(
        episode.jurisdiction,
        episode.region_id,
        episode.municipality_id,
        episode.care_type,
        notice_date(episode),
    )


@dataclass(frozen=True, slots=True)
class LiableInterval:
    """One clock's liable days in the form the service stores and a database sums.

    Calendar days are the local dates ``first_day <= d < stop_day``; ``stop_day`` is None while
    the clock runs, and the days then run up to and including the local date of the moment
    asked about. For ``døgn`` counting the periods start at ``first_at`` and every 24 real
    hours after it; ``periods`` of them when the clock ends at ``ends_at``, and while it runs
    (or before ``ends_at``) only the whole periods elapsed; ``first_day`` and ``stop_day`` are
    then the local date of the first period and the day after the last one's (to narrow a
    search). ``clock`` is the sequence number of the discharge-ready notice.
    """

    clock: int
    rule_set_id: str
    rule_set_version: str
    rate_table_id: str
    rate_table_version: str
    counting: Counting
    first_day: date
    stop_day: date | None
    first_at: datetime | None = None
    periods: int | None = None
    ends_at: datetime | None = None


def liable_intervals(episode: Episode, config: LiabilityConfig) -> tuple[LiableInterval, ...]:
    """The liable intervals of an episode from all of its notices, under the rule set bound to
    it; none under an average rule set (whose figures are the municipality's, per month).

    Summed over any month as of any moment at or after the last notice, they give exactly the
    days `compute_episode_liability` gives for that month as of that moment.
    """
    rule_set = resolve_for(config, episode)
    if not isinstance(rule_set, IndividualRuleSet):
        return ()
    rates = config.rates_for(rule_set)
    events = episode.events
    zone = rule_set.zone
    intervals: list[LiableInterval] = []
    for index, event in enumerate(events):
        if event.kind is not EventKind.DISCHARGE_READY:
            continue
        if _unmet_conditions(episode, events, index, rule_set):
            continue
        ended_at, reason = _clock_end(episode, events, index, rule_set, _END_OF_TIME)
        running = reason is EndReason.RUNNING

        def interval(
            first_day: date,
            stop_day: date | None,
            first_at: datetime | None = None,
            periods: int | None = None,
            ends_at: datetime | None = None,
            seq: int = event.seq,
        ) -> LiableInterval:
            return LiableInterval(
                seq,
                rule_set.id,
                rule_set.version,
                rates.id,
                rates.version,
                rule_set.counting,
                first_day,
                stop_day,
                first_at,
                periods,
                ends_at,
            )

        if rule_set.counting is Counting.CALENDAR_DAYS:
            _day0, liable_from, count = _calendar_days(
                event.at, None if running else ended_at, rule_set, _END_OF_TIME
            )
            if not running and count == 0:
                continue
            stop = None if running else liable_from + timedelta(days=count)
            intervals.append(interval(liable_from, stop))
            continue
        start = _day0_start(event.at, rule_set).astimezone(UTC)
        first = start + _PERIOD * rule_set.start_offset_days
        periods = None
        stop_day = None
        if not running:
            assert ended_at is not None
            _s, _f, starts = _day_periods(event.at, ended_at, rule_set, _END_OF_TIME)
            if not starts:
                continue
            periods = len(starts)
            stop_day = starts[-1].astimezone(zone).date() + _DAY
        intervals.append(
            interval(
                first.astimezone(zone).date(),
                stop_day,
                first,
                periods,
                None if running else ended_at,
            )
        )
    return tuple(intervals)


def _total(amounts: Iterable[Decimal | None]) -> Decimal | None:
    total = Decimal(0)
    for amount in amounts:
        if amount is None:
            return None
        total += amount
    return total


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
