"""Payment liability (DESIGN §4): hand-worked cases for both models and the configuration.

Every case states its arithmetic in a comment. Times are built in local time and handed to the
domain in UTC, as the API does; Stockholm is UTC+1 in winter and UTC+2 in summer.
"""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.domain.episodes import AdmissionType, CareType, Episode
from app.domain.errors import InvalidInput
from app.domain.liability import (
    AppliedRate,
    AverageRuleSet,
    Condition,
    DischargeStay,
    EndReason,
    IndividualRuleSet,
    LiabilityConfig,
    compute_average_month,
    compute_episode_liability,
    months_needed_for,
    resolve_for,
    stay_from_episode,
)
from app.services.liability_config import parse_liability_config

DATA_FILE = Path(__file__).resolve().parents[2] / "app" / "data" / "liability.json"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
OSLO = ZoneInfo("Europe/Oslo")
FAR = datetime(2100, 1, 1, tzinfo=UTC)


def raw_shipped() -> dict[str, Any]:
    with DATA_FILE.open(encoding="utf-8") as handle:
        raw: dict[str, Any] = json.load(handle)
    return raw


SHIPPED = parse_liability_config(raw_shipped())


def individual(rule_set_id: str, config: LiabilityConfig = SHIPPED) -> IndividualRuleSet:
    rule_set = config.rule_sets[rule_set_id]
    assert isinstance(rule_set, IndividualRuleSet)
    return rule_set


def average(rule_set_id: str, config: LiabilityConfig = SHIPPED) -> AverageRuleSet:
    rule_set = config.rule_sets[rule_set_id]
    assert isinstance(rule_set, AverageRuleSet)
    return rule_set


def sthlm(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """A Stockholm wall-clock time, as the UTC instant the API would receive."""
    return datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM).astimezone(UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def make_episode(
    admitted_at: datetime,
    *,
    jurisdiction: str = "SE",
    care_type: CareType = CareType.SOMATIC,
    episode_id: str = "episode-1",
    person_id: str = "person-1",
    admission_notice_after: timedelta = timedelta(hours=1),
) -> Episode:
    episode = Episode(
        id=episode_id,
        person_id=person_id,
        hospital_unit_id="unit-ward-7",
        region_id="region-x",
        municipality_id="municipality-y",
        primary_care_unit_id=None,
        jurisdiction=jurisdiction,
        admitted_at=admitted_at,
        admission_type=AdmissionType.ACUTE,
        care_type=care_type,
    )
    episode.send_admission_notice(admitted_at + admission_notice_after, now=FAR)
    return episode


def inline_config(
    rule_set: dict[str, Any], rates: dict[str, str], currency: str = "SEK"
) -> LiabilityConfig:
    return parse_liability_config(
        {
            "rate_tables": {
                "t": {"title": "test", "currency": currency, "source": "test", "rates": rates}
            },
            "rule_sets": [rule_set],
            "bindings": [],
        }
    )


def individual_rule(**overrides: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": "test-individual",
        "model": "individual",
        "jurisdiction": "SE",
        "timezone": "Europe/Stockholm",
        "start_offset_days": 3,
        "cutoff_time": None,
        "counting": "calendar-days",
        "conditions": ["admission-notice-sent"],
        "stop_when_municipality_can_receive": True,
        "rate_table": "t",
    }
    return rule | overrides


def days(*dates: tuple[int, int, int]) -> tuple[date, ...]:
    return tuple(date(*ymd) for ymd in dates)


# -- 1. cutoff time ---------------------------------------------------------------------------


CUTOFF = inline_config(individual_rule(id="cutoff-12", cutoff_time="12:00"), {"2024": "1000"})


@pytest.mark.parametrize(
    ("hour", "minute", "day0", "liable_from", "liable_days"),
    [
        # 11:59 local: Jan 10 is day 0, liable from Jan 13; Jan 13..19 (discharge Jan 20) = 7.
        (11, 59, date(2024, 1, 10), date(2024, 1, 13), 7),
        # 12:00 is "at or after" the cutoff: Jan 11 is day 0, liable from Jan 14; 14..19 = 6.
        (12, 0, date(2024, 1, 11), date(2024, 1, 14), 6),
        # 12:01 local: as 12:00.
        (12, 1, date(2024, 1, 11), date(2024, 1, 14), 6),
    ],
)
def test_cutoff_moves_day0_to_the_next_day(
    hour: int, minute: int, day0: date, liable_from: date, liable_days: int
) -> None:
    episode = make_episode(sthlm(2024, 1, 8, 8))
    # 11:59 Stockholm in January is 10:59 UTC: the cutoff is compared in local time.
    episode.declare_discharge_ready(sthlm(2024, 1, 10, hour, minute), now=FAR)
    episode.discharge(sthlm(2024, 1, 20, 10), now=FAR)
    rule_set = individual("cutoff-12", CUTOFF)

    result = compute_episode_liability(episode, rule_set, CUTOFF.rate_tables["t"], as_of=FAR)

    (clock,) = result.clocks
    assert (clock.day0, clock.liable_from) == (day0, liable_from)
    assert result.liable_days == liable_days
    assert result.amount == Decimal(1000) * liable_days


def test_shipped_cutoff_example_is_a_1200_cutoff() -> None:
    rule_set = individual("se-cutoff-example")
    assert rule_set.cutoff_time == time(12, 0)
    assert rule_set.to_dict()["cutoff_time"] == "12:00"


# -- 2. withdrawal and a new notice ------------------------------------------------------------


def test_withdrawal_and_new_notice_make_two_clocks_and_the_gap_is_free() -> None:
    somatic = individual("se-statutory-somatic")
    episode = make_episode(sthlm(2022, 2, 25, 8))
    episode.declare_discharge_ready(sthlm(2022, 3, 1, 9), now=FAR)
    episode.withdraw_discharge_ready(sthlm(2022, 3, 6, 10), now=FAR)
    episode.declare_discharge_ready(sthlm(2022, 3, 10, 9), now=FAR)
    episode.discharge(sthlm(2022, 3, 15, 10), now=FAR)

    result = compute_episode_liability(episode, somatic, SHIPPED.rates_for(somatic), as_of=FAR)

    # Clock 1: day 0 Mar 1, liable from Mar 4, withdrawn Mar 6 → Mar 4, 5 = 2 days.
    # Clock 2: day 0 Mar 10, liable from Mar 13, discharged Mar 15 → Mar 13, 14 = 2 days.
    # The gap Mar 6..9 is not liable (one clock from Mar 1 to 15 would give 11 days).
    # 4 days × 9 300 SEK (2022) = 37 200 SEK.
    first, second = result.clocks
    assert first.liable_dates == days((2022, 3, 4), (2022, 3, 5))
    assert first.end_reason is EndReason.WITHDRAWAL
    assert second.liable_dates == days((2022, 3, 13), (2022, 3, 14))
    assert second.end_reason is EndReason.DISCHARGE
    assert result.liable_days == 4
    assert result.amount == Decimal(37200)
    assert result.currency == "SEK"


# -- 3. discharge on the day liability starts --------------------------------------------------


@pytest.mark.parametrize(
    ("discharge_day", "expected"),
    [
        # Notice Mar 1 (day 0) + 3 → liable from Mar 4; a discharge on Mar 4 leaves 0 days,
        # because the discharge day itself is not liable.
        (4, ()),
        # A discharge on Mar 5 leaves exactly Mar 4.
        (5, days((2022, 3, 4))),
    ],
)
def test_discharge_day_is_not_liable(discharge_day: int, expected: tuple[date, ...]) -> None:
    somatic = individual("se-statutory-somatic")
    episode = make_episode(sthlm(2022, 2, 25, 8))
    episode.declare_discharge_ready(sthlm(2022, 3, 1, 9), now=FAR)
    episode.discharge(sthlm(2022, 3, discharge_day, 15), now=FAR)

    result = compute_episode_liability(episode, somatic, SHIPPED.rates_for(somatic), as_of=FAR)

    assert result.clocks[0].liable_from == date(2022, 3, 4)
    assert result.clocks[0].liable_dates == expected
    assert result.amount == Decimal(9300) * len(expected)


def test_count_end_day_flag_makes_the_discharge_day_liable() -> None:
    config = inline_config(individual_rule(count_end_day=True), {"2022": "9300"})
    episode = make_episode(sthlm(2022, 2, 25, 8))
    episode.declare_discharge_ready(sthlm(2022, 3, 1, 9), now=FAR)
    episode.discharge(sthlm(2022, 3, 4, 15), now=FAR)

    result = compute_episode_liability(
        episode, individual("test-individual", config), config.rate_tables["t"], as_of=FAR
    )

    # Liable from Mar 4, and the agreement counts the discharge day Mar 4 → 1 day.
    assert result.clocks[0].liable_dates == days((2022, 3, 4))


def test_running_clock_counts_up_to_and_including_the_day_of_as_of() -> None:
    somatic = individual("se-statutory-somatic")
    episode = make_episode(sthlm(2022, 2, 25, 8))
    episode.declare_discharge_ready(sthlm(2022, 3, 1, 9), now=FAR)
    episode.discharge(sthlm(2022, 3, 8, 10), now=FAR)

    # As of Mar 5 08:00 the discharge (Mar 8) has not happened yet: the clock runs, and the
    # liable days are Mar 4 and Mar 5 (today counts) = 2.
    result = compute_episode_liability(
        episode, somatic, SHIPPED.rates_for(somatic), as_of=sthlm(2022, 3, 5, 8)
    )

    (clock,) = result.clocks
    assert clock.end_reason is EndReason.RUNNING
    assert clock.ended_at is None
    assert clock.liable_dates == days((2022, 3, 4), (2022, 3, 5))


# -- 4. days across a DST change are counted by local date -------------------------------------


def test_spring_dst_change_counts_local_dates() -> None:
    somatic = individual("se-statutory-somatic")
    episode = make_episode(utc(2022, 3, 24, 10))
    # 2022-03-25 23:30 UTC is 2022-03-26 00:30 in Stockholm (CET, UTC+1): day 0 is Mar 26.
    episode.declare_discharge_ready(utc(2022, 3, 25, 23, 30), now=FAR)
    # DST begins Sunday Mar 27. 2022-03-31 12:00 UTC is 14:00 CEST on Mar 31.
    episode.discharge(utc(2022, 3, 31, 12), now=FAR)

    result = compute_episode_liability(episode, somatic, SHIPPED.rates_for(somatic), as_of=FAR)

    # Local: day 0 Mar 26 → liable from Mar 29, discharge Mar 31 → Mar 29, 30 = 2 days.
    # (By UTC date: day 0 Mar 25 → Mar 28, 29, 30 = 3 days.)
    (clock,) = result.clocks
    assert clock.day0 == date(2022, 3, 26)
    assert clock.liable_dates == days((2022, 3, 29), (2022, 3, 30))


def test_autumn_dst_change_counts_local_dates() -> None:
    somatic = individual("se-statutory-somatic")
    episode = make_episode(utc(2022, 10, 27, 10))
    # 2022-10-28 22:30 UTC is 2022-10-29 00:30 CEST (UTC+2): day 0 is Oct 29.
    episode.declare_discharge_ready(utc(2022, 10, 28, 22, 30), now=FAR)
    # DST ends Sunday Oct 30. 2022-11-01 23:30 UTC is 2022-11-02 00:30 CET.
    episode.discharge(utc(2022, 11, 1, 23, 30), now=FAR)

    result = compute_episode_liability(episode, somatic, SHIPPED.rates_for(somatic), as_of=FAR)

    # Local: day 0 Oct 29 → liable from Nov 1, discharge Nov 2 → Nov 1 only.
    # (By UTC date it would be Oct 31; with a fixed UTC+1 offset, Oct 31 and Nov 1.)
    assert result.clocks[0].liable_dates == days((2022, 11, 1))
    assert result.in_month(2022, 10) == (0, Decimal(0))
    assert result.in_month(2022, 11) == (1, Decimal(9300))


NORWAY_DOGN = inline_config(
    individual_rule(
        id="no-dogn",
        jurisdiction="NO",
        timezone="Europe/Oslo",
        start_offset_days=0,
        counting="døgn",
    ),
    {"2023": "5508"},
    currency="NOK",
)


def test_dogn_counts_whole_real_24_hour_periods_across_dst() -> None:
    episode = make_episode(utc(2023, 3, 24, 8), jurisdiction="NO")
    # Notice 2023-03-25 10:00 UTC (11:00 CET); DST begins Mar 26; discharge 2023-03-28
    # 09:00 UTC (11:00 CEST). Elapsed: 2 days 23 hours → 2 whole døgn, starting on the local
    # dates Mar 25 and Mar 26. 2 × 5 508 NOK = 11 016 NOK.
    # (Wall clock 11:00 → 11:00 would say 3; calendar days Mar 25, 26, 27 would say 3.)
    episode.declare_discharge_ready(utc(2023, 3, 25, 10), now=FAR)
    episode.discharge(utc(2023, 3, 28, 9), now=FAR)

    result = compute_episode_liability(
        episode, individual("no-dogn", NORWAY_DOGN), NORWAY_DOGN.rate_tables["t"], as_of=FAR
    )

    (clock,) = result.clocks
    assert clock.period_starts == (utc(2023, 3, 25, 10), utc(2023, 3, 26, 10))
    assert clock.liable_dates == days((2023, 3, 25), (2023, 3, 26))
    assert result.amount == Decimal(11016)


def test_dogn_after_a_cutoff_start_at_local_midnight_and_last_24_real_hours() -> None:
    config = inline_config(
        individual_rule(
            id="no-dogn",
            jurisdiction="NO",
            timezone="Europe/Oslo",
            start_offset_days=0,
            counting="døgn",
            cutoff_time="12:00",
        ),
        {"2023": "5508"},
        currency="NOK",
    )
    episode = make_episode(utc(2023, 3, 24, 8), jurisdiction="NO")
    # Notice 13:00 CET on Mar 25 (after the cutoff) → the clock starts at Mar 26 00:00 CET
    # = Mar 25 23:00 UTC. Discharge Mar 28 22:30 UTC: 2 days 23.5 hours → 2 døgn, starting
    # Mar 25 23:00 and Mar 26 23:00 UTC. (Adding 24 wall-clock hours across the DST change
    # of Mar 26 would start the second one at Mar 26 22:00 UTC and find 3 døgn.)
    episode.declare_discharge_ready(utc(2023, 3, 25, 12), now=FAR)
    episode.discharge(utc(2023, 3, 28, 22, 30), now=FAR)

    result = compute_episode_liability(
        episode, individual("no-dogn", config), config.rate_tables["t"], as_of=FAR
    )

    (clock,) = result.clocks
    assert clock.day0 == date(2023, 3, 26)
    assert clock.period_starts == (utc(2023, 3, 25, 23), utc(2023, 3, 26, 23))


def test_dogn_with_count_end_day_counts_the_last_partial_period() -> None:
    config = inline_config(
        individual_rule(
            id="no-dogn",
            jurisdiction="NO",
            timezone="Europe/Oslo",
            start_offset_days=0,
            counting="døgn",
            count_end_day=True,
        ),
        {"2023": "5508"},
        currency="NOK",
    )
    episode = make_episode(utc(2023, 3, 24, 8), jurisdiction="NO")
    episode.declare_discharge_ready(utc(2023, 3, 25, 10), now=FAR)
    episode.discharge(utc(2023, 3, 28, 9), now=FAR)

    result = compute_episode_liability(
        episode, individual("no-dogn", config), config.rate_tables["t"], as_of=FAR
    )

    # 2 whole døgn + the 23-hour remainder = 3.
    assert result.liable_days == 3


# -- 5. New Year with two yearly rates ---------------------------------------------------------


def test_new_year_prices_each_day_at_its_own_years_rate() -> None:
    somatic = individual("se-statutory-somatic")
    episode = make_episode(sthlm(2019, 12, 20, 10))
    episode.declare_discharge_ready(sthlm(2019, 12, 28, 9), now=FAR)
    episode.discharge(sthlm(2020, 1, 4, 10), now=FAR)

    result = compute_episode_liability(episode, somatic, SHIPPED.rates_for(somatic), as_of=FAR)

    # Day 0 Dec 28 → liable from Dec 31; discharge Jan 4 → Dec 31, Jan 1, 2, 3.
    # 1 × 7 800 (2019) + 3 × 8 200 (2020) = 7 800 + 24 600 = 32 400 SEK.
    assert result.liable_days == 4
    assert result.amount == Decimal(32400)
    assert result.rates == (
        AppliedRate(2019, Decimal(7800)),
        AppliedRate(2020, Decimal(8200)),
    )
    assert result.in_month(2019, 12) == (1, Decimal(7800))
    assert result.in_month(2020, 1) == (3, Decimal(24600))


# -- 6. Norway: the municipality's answer and the conditions -----------------------------------


def norwegian_episode(admission_notice_after: timedelta = timedelta(hours=12)) -> Episode:
    # Admitted 2024-02-01 08:00 UTC (09:00 in Oslo).
    return make_episode(
        utc(2024, 2, 1, 8), jurisdiction="NO", admission_notice_after=admission_notice_after
    )


def test_norway_liability_stops_on_the_day_the_municipality_can_receive() -> None:
    rule_set = individual("no-statutory")
    episode = norwegian_episode()
    episode.declare_discharge_ready(utc(2024, 2, 5, 10), now=FAR)
    episode.record_municipality_response(utc(2024, 2, 5, 14), date(2024, 2, 9), now=FAR)
    episode.discharge(utc(2024, 2, 12, 10), now=FAR)

    result = compute_episode_liability(episode, rule_set, SHIPPED.rates_for(rule_set), as_of=FAR)

    # Offset 0: day 0 Feb 5 is liable; the municipality can receive from Feb 9, so Feb 5..8
    # = 4 days (to the discharge on Feb 12 it would be 7). 4 × 5 745 NOK = 22 980 NOK.
    (clock,) = result.clocks
    assert clock.end_reason is EndReason.MUNICIPALITY_CAN_RECEIVE
    assert clock.ended_at == datetime(2024, 2, 9, tzinfo=OSLO)
    assert clock.liable_dates == days((2024, 2, 5), (2024, 2, 6), (2024, 2, 7), (2024, 2, 8))
    assert result.amount == Decimal(22980)
    assert result.currency == "NOK"


def test_without_the_stop_flag_the_municipality_answer_does_not_end_the_clock() -> None:
    raw = raw_shipped()
    for rule in raw["rule_sets"]:
        if rule["id"] == "no-statutory":
            rule["stop_when_municipality_can_receive"] = False
    config = parse_liability_config(raw)
    episode = norwegian_episode()
    episode.declare_discharge_ready(utc(2024, 2, 5, 10), now=FAR)
    episode.record_municipality_response(utc(2024, 2, 5, 14), date(2024, 2, 9), now=FAR)
    episode.discharge(utc(2024, 2, 12, 10), now=FAR)

    result = compute_episode_liability(
        episode,
        individual("no-statutory", config),
        config.rate_tables["no-helsedirektoratet"],
        as_of=FAR,
    )

    # Feb 5..11 = 7 days, ended by the discharge.
    assert result.liable_days == 7
    assert result.clocks[0].end_reason is EndReason.DISCHARGE


@pytest.mark.parametrize(
    ("answers", "expected_days"),
    [
        # A revised answer sent before the first date replaces it: Feb 12, then (on Feb 7)
        # Feb 9 → Feb 5..8 = 4.
        ([(utc(2024, 2, 5, 14), date(2024, 2, 12)), (utc(2024, 2, 7, 9), date(2024, 2, 9))], 4),
        # An answer sent after the clock stopped cannot reopen it: Feb 9, then (on Feb 10)
        # Feb 12 → still Feb 5..8 = 4.
        ([(utc(2024, 2, 5, 14), date(2024, 2, 9)), (utc(2024, 2, 10, 10), date(2024, 2, 12))], 4),
        # An answer dated before its own day takes effect on its day: sent Feb 7 saying Feb 6
        # → stops Feb 7 → Feb 5, 6 = 2.
        ([(utc(2024, 2, 7, 10), date(2024, 2, 6))], 2),
        # The latest answer holds: Feb 9, then (on Feb 7) "cannot receive yet" → the clock
        # runs to the discharge on Feb 12: Feb 5..11 = 7.
        ([(utc(2024, 2, 5, 14), date(2024, 2, 9)), (utc(2024, 2, 7, 9), None)], 7),
        # "Cannot receive yet", then (on Feb 8) Feb 10 → Feb 5..9 = 5.
        ([(utc(2024, 2, 5, 14), None), (utc(2024, 2, 8, 9), date(2024, 2, 10))], 5),
    ],
)
def test_norway_municipality_answers_in_order(
    answers: list[tuple[datetime, date | None]], expected_days: int
) -> None:
    rule_set = individual("no-statutory")
    episode = norwegian_episode()
    episode.declare_discharge_ready(utc(2024, 2, 5, 10), now=FAR)
    for sent, can_receive_from in answers:
        episode.record_municipality_response(sent, can_receive_from, now=FAR)
    episode.discharge(utc(2024, 2, 12, 10), now=FAR)

    result = compute_episode_liability(episode, rule_set, SHIPPED.rates_for(rule_set), as_of=FAR)

    assert result.liable_days == expected_days


def test_norway_answer_in_the_future_leaves_the_clock_running() -> None:
    rule_set = individual("no-statutory")
    episode = norwegian_episode()
    episode.declare_discharge_ready(utc(2024, 2, 5, 10), now=FAR)
    episode.record_municipality_response(utc(2024, 2, 5, 14), date(2024, 2, 9), now=FAR)

    result = compute_episode_liability(
        episode, rule_set, SHIPPED.rates_for(rule_set), as_of=utc(2024, 2, 7, 12)
    )

    # As of Feb 7 the named day (Feb 9) has not come: running, Feb 5, 6, 7 = 3 days.
    assert result.clocks[0].end_reason is EndReason.RUNNING
    assert result.liable_days == 3


@pytest.mark.parametrize(
    ("after", "met"),
    [
        (timedelta(hours=24), True),  # exactly 24 h after admission is within 24 h
        (timedelta(hours=24, minutes=1), False),
    ],
)
def test_norway_late_admission_notice_means_no_liability(after: timedelta, met: bool) -> None:
    rule_set = individual("no-statutory")
    episode = norwegian_episode(admission_notice_after=after)
    episode.declare_discharge_ready(utc(2024, 2, 5, 10), now=FAR)
    episode.discharge(utc(2024, 2, 7, 10), now=FAR)

    result = compute_episode_liability(episode, rule_set, SHIPPED.rates_for(rule_set), as_of=FAR)

    (clock,) = result.clocks
    if met:
        # Feb 5, 6 = 2 days.
        assert (result.liable_days, clock.unmet_conditions) == (2, ())
    else:
        assert result.liable_days == 0
        assert result.amount == Decimal(0)
        assert clock.unmet_conditions == (Condition.ADMISSION_NOTICE_WITHIN_24H,)
        rendered = clock.to_dict()["unmet_conditions"]
        assert rendered[0]["condition"] == "admission-notice-within-24h"
        assert "24 hours" in rendered[0]["explanation"]


def test_norway_notice_on_a_later_local_day_than_the_decision_means_no_liability() -> None:
    rule_set = individual("no-statutory")
    episode = norwegian_episode()
    # Decided 2024-02-04 22:30 UTC = Feb 4 23:30 in Oslo; notice 2024-02-04 23:30 UTC =
    # Feb 5 00:30 in Oslo. Same UTC date, different local dates → the condition fails.
    episode.declare_discharge_ready(
        utc(2024, 2, 4, 23, 30), decided_at=utc(2024, 2, 4, 22, 30), now=FAR
    )
    episode.discharge(utc(2024, 2, 8, 10), now=FAR)

    result = compute_episode_liability(episode, rule_set, SHIPPED.rates_for(rule_set), as_of=FAR)

    assert result.liable_days == 0
    assert result.clocks[0].unmet_conditions == (Condition.DISCHARGE_READY_NOTIFIED_SAME_DAY,)


# -- 7. psychiatric care: 30 free days for notices of 2018 only ---------------------------------


def test_psychiatric_rule_of_thirty_free_days_applies_to_notices_of_2018() -> None:
    episode = make_episode(sthlm(2018, 4, 28, 10), care_type=CareType.PSYCHIATRIC)
    episode.declare_discharge_ready(sthlm(2018, 5, 1, 9), now=FAR)
    episode.discharge(sthlm(2018, 6, 5, 10), now=FAR)
    psychiatric = resolve_for(SHIPPED, episode)
    assert isinstance(psychiatric, IndividualRuleSet)

    result = compute_episode_liability(
        episode, psychiatric, SHIPPED.rates_for(psychiatric), as_of=FAR
    )

    # Day 0 May 1 + 30 → liable from May 31; discharge Jun 5 → May 31, Jun 1..4 = 5 days.
    # (The three-day default would give May 4..Jun 4 = 32 days.) 2018 has no sourced rate in
    # the table, so the days are reported and the amount is empty, flagged.
    assert result.rule_set_id == "se-statutory-psychiatric"
    assert result.clocks[0].liable_from == date(2018, 5, 31)
    assert result.liable_days == 5
    assert result.amount is None
    assert result.notes == ["no rate for 2018"]
    # 11. in_month splits the clock: May 31 in May, Jun 1..4 in June.
    assert result.in_month(2018, 5) == (1, None)
    assert result.in_month(2018, 6) == (4, None)


@pytest.mark.parametrize(
    ("notice", "expected"),
    [
        (sthlm(2017, 12, 31, 23, 30), "se-statutory-somatic"),
        (sthlm(2018, 1, 1, 0, 30), "se-statutory-psychiatric"),
        (sthlm(2018, 12, 31, 23, 30), "se-statutory-psychiatric"),
        # 23:30 UTC on Dec 31 is already Jan 1 in Stockholm: the local date decides.
        (utc(2018, 12, 31, 23, 30), "se-statutory-somatic"),
        (sthlm(2022, 5, 1, 9), "se-statutory-somatic"),
    ],
)
def test_psychiatric_ward_follows_the_three_day_default_from_2019(
    notice: datetime, expected: str
) -> None:
    episode = make_episode(notice - timedelta(days=3), care_type=CareType.PSYCHIATRIC)
    episode.declare_discharge_ready(notice, now=FAR)
    assert resolve_for(SHIPPED, episode).id == expected


# -- 8. a year without a rate ------------------------------------------------------------------


def test_year_without_a_rate_reports_the_days_with_an_empty_amount_flagged() -> None:
    somatic = individual("se-statutory-somatic")
    episode = make_episode(sthlm(2023, 1, 30, 10))
    episode.declare_discharge_ready(sthlm(2023, 2, 1, 9), now=FAR)
    episode.discharge(sthlm(2023, 2, 10, 10), now=FAR)

    result = compute_episode_liability(episode, somatic, SHIPPED.rates_for(somatic), as_of=FAR)

    # Liable Feb 4..9 = 6 days; 2023 has no rate: no amount, never another year's rate.
    assert result.liable_days == 6
    assert result.amount is None
    assert result.rates == (AppliedRate(2023, None),)
    rendered = result.to_dict()
    assert rendered["amount"] is None and rendered["notes"] == ["no rate for 2023"]
    assert rendered["rates"][0] == {"year": 2023, "rate": None, "note": "no rate for 2023"}


def test_a_clock_over_new_year_into_a_year_without_a_rate_has_no_amount() -> None:
    somatic = individual("se-statutory-somatic")
    episode = make_episode(sthlm(2022, 12, 20, 10))
    episode.declare_discharge_ready(sthlm(2022, 12, 27, 9), now=FAR)
    episode.discharge(sthlm(2023, 1, 3, 10), now=FAR)

    result = compute_episode_liability(episode, somatic, SHIPPED.rates_for(somatic), as_of=FAR)

    # Dec 30, 31 (2022: 9 300 each) and Jan 1, 2 (2023: no rate) = 4 days, no amount in all;
    # December alone is still priced.
    assert result.liable_days == 4 and result.amount is None
    assert result.in_month(2022, 12) == (2, Decimal(18600))
    assert result.in_month(2023, 1) == (2, None)


def test_rate_table_gap_and_years_before_the_table() -> None:
    table = SHIPPED.rate_tables["se-socialstyrelsen"]
    assert table.rate_for(2021) == AppliedRate(2021, None)
    assert table.rate_for(2021).note == "no rate for 2021"
    assert table.rate_for(2022) == AppliedRate(2022, Decimal(9300))
    assert table.rate_for(2018).rate is None
    norway = SHIPPED.rate_tables["no-helsedirektoratet"]
    assert norway.rate_for(2019).rate == Decimal(4885)
    assert "Helsedirektoratet" in norway.source and "HSLF-FS 2018:67" in table.source


# -- 9. average model --------------------------------------------------------------------------


def average_stay(episode_id: str, discharged_on: date, stay_days: int) -> DischargeStay:
    """A discharged episode whose notice came ``stay_days`` local days before the discharge."""
    notice_day = discharged_on - timedelta(days=stay_days)
    episode = make_episode(
        sthlm(notice_day.year, notice_day.month, notice_day.day, 0, 30) - timedelta(days=1),
        episode_id=episode_id,
        person_id=f"person-{episode_id}",
    )
    episode.declare_discharge_ready(
        sthlm(notice_day.year, notice_day.month, notice_day.day, 9), now=FAR
    )
    episode.discharge(
        sthlm(discharged_on.year, discharged_on.month, discharged_on.day, 14), now=FAR
    )
    stay = stay_from_episode(episode, average("se-average-stockholm"))
    assert stay is not None
    assert stay.days == stay_days
    return stay


def stays_in(year: int, month: int, lengths: list[int]) -> list[DischargeStay]:
    return [
        average_stay(f"{year}-{month}-{n}", date(year, month, 10 + n), length)
        for n, length in enumerate(lengths)
    ]


# Q1 2022 (evaluated in March): Jan [0, 7], Feb [4], Mar [0, 6] → 17 days / 5 persons = 3.4,
# just under the level 3.5. (Without the two day-0 discharges: 17 / 3 = 5.67, over it.)
# Q2 2022 (evaluated in June): Apr [0, 4, 4, 5, 5, 6] = 24, May [2], Jun [3] → 29 days /
# 8 persons = 3.625, just over. (An unweighted mean of the monthly averages, (4 + 2 + 3) / 3
# = 3.0, would be under.)
# July 2022: [0, 5, 9] → 14 days, 3 persons.
STAYS_2022 = [
    *stays_in(2022, 1, [0, 7]),
    *stays_in(2022, 2, [4]),
    *stays_in(2022, 3, [0, 6]),
    *stays_in(2022, 4, [0, 4, 4, 5, 5, 6]),
    *stays_in(2022, 5, [2]),
    *stays_in(2022, 6, [3]),
    *stays_in(2022, 7, [0, 5, 9]),
]


def test_average_month_after_a_quarter_under_the_level_does_not_pay() -> None:
    rule_set = average("se-average-stockholm")
    month = compute_average_month(
        STAYS_2022, rule_set, SHIPPED.rates_for(rule_set), year=2022, month=4
    )

    # April is decided by March: 3.4 ≤ 3.5, so no payment, though April's own average is
    # 24 / 6 = 4. Its excess would be 24 − 3.5 × 6 = 3.
    assert month.evaluation_year_month == (2022, 3)
    assert month.rolling_average == Decimal("3.4")
    assert (month.persons, month.total_days, month.average) == (6, 24, Decimal(4))
    assert month.payment_applies is False
    assert month.excess_days == Decimal(3)
    assert month.amount == Decimal(0)


def test_average_month_after_a_quarter_over_the_level_pays_the_excess_days() -> None:
    rule_set = average("se-average-stockholm")
    month = compute_average_month(
        STAYS_2022, rule_set, SHIPPED.rates_for(rule_set), year=2022, month=7
    )

    # July is decided by June: 29 / 8 = 3.625 > 3.5 → payment applies.
    # Excess days = 14 − 3.5 × 3 = 3.5; amount = 3.5 × 9 300 (Socialstyrelsen 2022) = 32 550 SEK.
    assert month.evaluation_year_month == (2022, 6)
    assert (month.evaluation_total_days, month.evaluation_persons) == (29, 8)
    assert month.rolling_average == Decimal("3.625")
    assert month.payment_applies is True
    assert month.excess_days == Decimal("3.5")
    assert month.amount == Decimal(32550)
    rendered = month.to_dict()
    assert rendered["rolling_average"] == "3.63"  # rounded for display only
    assert rendered["average"] == "4.67"  # 14 / 3
    json.dumps(rendered)


def test_per_person_excess_formula_is_data() -> None:
    raw = raw_shipped()
    for rule in raw["rule_sets"]:
        if rule["id"] == "se-average-stockholm":
            rule["amount_formula"] = "per-person-excess"
    config = parse_liability_config(raw)
    rule_set = average("se-average-stockholm", config)

    month = compute_average_month(
        STAYS_2022, rule_set, config.rates_for(rule_set), year=2022, month=7
    )

    # Per stay: max(0, 0 − 3.5) + (5 − 3.5) + (9 − 3.5) = 0 + 1.5 + 5.5 = 7;
    # 7 × 9 300 (Socialstyrelsen 2022) = 65 100 SEK.
    assert month.excess_days == Decimal(7)
    assert month.amount == Decimal(65100)


@pytest.mark.parametrize(
    ("september", "applies"),
    [
        ([3, 4], False),  # 7 / 2 = 3.5, not strictly above 3.5
        ([3, 5], True),  # 8 / 2 = 4
    ],
)
def test_average_exactly_at_the_level_does_not_pay(september: list[int], applies: bool) -> None:
    rule_set = average("se-average-stockholm")
    month = compute_average_month(
        stays_in(2022, 9, september), rule_set, SHIPPED.rates_for(rule_set), year=2022, month=10
    )
    assert month.evaluation_year_month == (2022, 9)
    assert month.payment_applies is applies


def test_first_months_are_decided_by_last_years_december() -> None:
    rule_set = average("se-average-stockholm")
    assert months_needed_for(2022, 7, rule_set) == [(2022, 4), (2022, 5), (2022, 6), (2022, 7)]
    assert months_needed_for(2022, 2, rule_set) == [(2021, 10), (2021, 11), (2021, 12), (2022, 2)]
    # March is decided by December 2021, which has no stays: no rolling average, no payment.
    march = compute_average_month(
        STAYS_2022, rule_set, SHIPPED.rates_for(rule_set), year=2022, month=3
    )
    assert march.evaluation_year_month == (2021, 12)
    assert march.rolling_average is None
    assert march.payment_applies is False


def test_stay_days_are_local_dates_and_a_withdrawn_notice_does_not_count() -> None:
    rule_set = average("se-average-stockholm")
    episode = make_episode(utc(2022, 1, 5, 10))
    # Notice 2022-01-10 23:30 UTC = Jan 11 00:30 local; discharge 2022-01-31 23:30 UTC =
    # Feb 1 00:30 local. Local: Feb 1 − Jan 11 = 21 days, in February (UTC: 21 days, January).
    episode.declare_discharge_ready(utc(2022, 1, 10, 23, 30), now=FAR)
    episode.discharge(utc(2022, 1, 31, 23, 30), now=FAR)
    stay = stay_from_episode(episode, rule_set)
    assert stay is not None
    assert (stay.days, stay.month) == (21, (2022, 2))

    withdrawn = make_episode(sthlm(2022, 1, 5, 10), episode_id="withdrawn")
    withdrawn.declare_discharge_ready(sthlm(2022, 1, 10), now=FAR)
    withdrawn.withdraw_discharge_ready(sthlm(2022, 1, 12), now=FAR)
    withdrawn.discharge(sthlm(2022, 1, 20), now=FAR)
    assert stay_from_episode(withdrawn, rule_set) is None

    renewed = make_episode(sthlm(2022, 1, 5, 10), episode_id="renewed")
    renewed.declare_discharge_ready(sthlm(2022, 1, 10), now=FAR)
    renewed.withdraw_discharge_ready(sthlm(2022, 1, 12), now=FAR)
    renewed.declare_discharge_ready(sthlm(2022, 1, 15), now=FAR)
    renewed.discharge(sthlm(2022, 1, 20), now=FAR)
    renewed_stay = stay_from_episode(renewed, rule_set)
    # Counted from the notice in force at discharge: Jan 20 − Jan 15 = 5.
    assert renewed_stay is not None and renewed_stay.days == 5

    still_in = make_episode(sthlm(2022, 1, 5, 10), episode_id="still-in")
    still_in.declare_discharge_ready(sthlm(2022, 1, 10), now=FAR)
    assert stay_from_episode(still_in, rule_set) is None


# -- 10. configuration and bindings ------------------------------------------------------------


def _set(rule_set_id: str, key: str, value: Any) -> Any:
    def mutate(raw: dict[str, Any]) -> None:
        for rule in raw["rule_sets"]:
            if rule["id"] == rule_set_id:
                rule[key] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "owner", "field"),
    [
        (_set("se-cutoff-example", "cutoff_time", "25:00"), "se-cutoff-example", "cutoff_time"),
        (_set("se-cutoff-example", "cutoff_time", "12.00"), "se-cutoff-example", "cutoff_time"),
        (_set("se-cutoff-example", "cutoff_time", "9:00"), "se-cutoff-example", "cutoff_time"),
        (
            _set("se-statutory-somatic", "timezone", "Europe/Stockhlm"),
            "se-statutory-somatic",
            "timezone",
        ),
        (_set("se-statutory-somatic", "timezone", "Europe"), "se-statutory-somatic", "timezone"),
        (
            _set("se-statutory-somatic", "rate_table", "se-unknown"),
            "se-statutory-somatic",
            "rate_table",
        ),
        (
            _set("no-statutory", "conditions", ["admission-notice-sent", "patient-agreed"]),
            "no-statutory",
            "conditions",
        ),
        (_set("no-statutory", "model", "hybrid"), "no-statutory", "model"),
        (
            _set("se-statutory-psychiatric", "start_offset_days", -1),
            "se-statutory-psychiatric",
            "start_offset_days",
        ),
        (
            _set("se-statutory-psychiatric", "start_offset_days", True),
            "se-statutory-psychiatric",
            "start_offset_days",
        ),
        (_set("se-statutory-somatic", "counting", "hours"), "se-statutory-somatic", "counting"),
        (
            _set("se-statutory-somatic", "start_ofset_days", 3),
            "se-statutory-somatic",
            "start_ofset_days",
        ),
        (_set("se-average-stockholm", "level_days", "-1"), "se-average-stockholm", "level_days"),
        (_set("se-average-stockholm", "level_days", 3.5), "se-average-stockholm", "level_days"),
        (
            _set("se-average-stockholm", "evaluation_months", [3, 13]),
            "se-average-stockholm",
            "evaluation_months",
        ),
        (
            _set("se-average-stockholm", "amount_formula", "all-days"),
            "se-average-stockholm",
            "amount_formula",
        ),
    ],
)
def test_config_errors_name_the_rule_set_and_the_field(mutate: Any, owner: str, field: str) -> None:
    raw = raw_shipped()
    mutate(raw)
    with pytest.raises(InvalidInput) as caught:
        parse_liability_config(raw)
    assert owner in caught.value.message
    assert field in caught.value.message
    assert caught.value.field is not None and caught.value.field.endswith(f".{field}")


def test_config_errors_in_rate_tables_and_bindings() -> None:
    raw = raw_shipped()
    raw["rate_tables"]["se-socialstyrelsen"]["rates"]["2023"] = 9800.5
    with pytest.raises(InvalidInput, match=r"se-socialstyrelsen.*rates.*2023"):
        parse_liability_config(raw)

    raw = raw_shipped()
    raw["bindings"].append({"municipality": "m-1", "rule_set": "se-nowhere"})
    with pytest.raises(InvalidInput, match="binding 4: rule_set"):
        parse_liability_config(raw)

    raw = raw_shipped()
    raw["bindings"].append({"jurisdiction": "NO", "rule_set": "no-statutory"})
    with pytest.raises(InvalidInput, match="already bound"):
        parse_liability_config(raw)

    raw = raw_shipped()
    raw["bindings"].append({"jurisdiction": "NO", "rule_set": "se-statutory-somatic"})
    with pytest.raises(InvalidInput, match="binding 4: jurisdiction"):
        parse_liability_config(raw)

    raw = raw_shipped()
    raw["rule_sets"].append(copy.deepcopy(raw["rule_sets"][0]))
    with pytest.raises(InvalidInput, match="se-statutory-somatic: id"):
        parse_liability_config(raw)


@pytest.mark.parametrize(
    ("jurisdiction", "region", "care_type", "notice", "expected"),
    [
        ("SE", "region-norrbotten", CareType.SOMATIC, date(2018, 5, 1), "se-statutory-somatic"),
        (
            "SE",
            "region-norrbotten",
            CareType.PSYCHIATRIC,
            date(2018, 5, 1),
            "se-statutory-psychiatric",
        ),
        ("SE", "region-norrbotten", CareType.PSYCHIATRIC, date(2019, 1, 1), "se-statutory-somatic"),
        # {region, care_type} beats {jurisdiction}.
        ("SE", "region-vgr", CareType.SOMATIC, date(2026, 3, 1), "se-average-stockholm"),
        # In 2018 the dated psychiatric binding (3 keys) beats everything else.
        ("SE", "region-vgr", CareType.PSYCHIATRIC, date(2018, 3, 1), "se-statutory-psychiatric"),
        ("SE", "region-vgr", CareType.PSYCHIATRIC, date(2026, 3, 1), "se-statutory-somatic"),
        ("NO", "helse-stavanger", CareType.SOMATIC, date(2026, 3, 1), "no-statutory"),
    ],
)
def test_shipped_bindings_resolve(
    jurisdiction: str, region: str, care_type: CareType, notice: date, expected: str
) -> None:
    assert SHIPPED.resolve(jurisdiction, region, "municipality-y", care_type, notice).id == expected


def test_no_matching_binding_raises() -> None:
    with pytest.raises(InvalidInput, match="DK"):
        SHIPPED.resolve("DK", "region-x", "municipality-y", CareType.SOMATIC)


@pytest.mark.parametrize("reverse", [False, True])
def test_most_specific_binding_wins_whatever_the_order(reverse: bool) -> None:
    bindings = [
        {"jurisdiction": "SE", "care_type": "somatic", "rule_set": "se-statutory-somatic"},
        {"region": "region-r", "rule_set": "se-statutory-psychiatric"},
        {"municipality": "municipality-m", "rule_set": "se-cutoff-example"},
    ]
    config = parse_liability_config(
        raw_shipped() | {"bindings": bindings[::-1] if reverse else bindings}
    )

    # Somatic at municipality-m: all three match; 2 keys beat 1.
    assert config.resolve("SE", "region-r", "municipality-m", CareType.SOMATIC).id == (
        "se-statutory-somatic"
    )
    # Psychiatric at municipality-m: region and municipality match, 1 key each; municipality wins.
    assert config.resolve("SE", "region-r", "municipality-m", CareType.PSYCHIATRIC).id == (
        "se-cutoff-example"
    )
    # Psychiatric elsewhere in region-r: only the region binding matches.
    assert config.resolve("SE", "region-r", "municipality-z", CareType.PSYCHIATRIC).id == (
        "se-statutory-psychiatric"
    )


def test_binding_to_a_rule_set_of_another_jurisdiction_is_refused_at_resolve() -> None:
    raw = raw_shipped()
    raw["bindings"] = [{"region": "region-r", "rule_set": "no-statutory"}]
    config = parse_liability_config(raw)
    with pytest.raises(InvalidInput, match="jurisdiction"):
        config.resolve("SE", "region-r", "municipality-y", CareType.SOMATIC)


# -- 11. months, rendering, guards -------------------------------------------------------------


def test_in_month_splits_a_clock_across_months() -> None:
    somatic = individual("se-statutory-somatic")
    episode = make_episode(sthlm(2022, 1, 20, 10))
    episode.declare_discharge_ready(sthlm(2022, 1, 27, 9), now=FAR)
    episode.discharge(sthlm(2022, 2, 3, 10), now=FAR)

    result = compute_episode_liability(episode, somatic, SHIPPED.rates_for(somatic), as_of=FAR)

    # Liable from Jan 30; discharge Feb 3 → Jan 30, 31 | Feb 1, 2.
    assert result.in_month(2022, 1) == (2, Decimal(18600))
    assert result.in_month(2022, 2) == (2, Decimal(18600))
    assert result.in_month(2022, 3) == (0, Decimal(0))


@pytest.mark.parametrize("counting", ["calendar-days", "døgn"])
def test_month_and_year_sums_agree_with_counting_day_by_day(counting: str) -> None:
    # The report sums whole spans of days per month and per year; each figure must equal what
    # listing every liable date and pricing it at its own year's rate gives. Clocks of random
    # length over New Year and DST changes, in both countings.
    config = inline_config(
        individual_rule(counting=counting, cutoff_time="12:00", start_offset_days=1),
        {"2021": "1000", "2022": "1100.50", "2023": "1207.25"},
    )
    rule_set = individual("test-individual", config)
    rates = config.rates_for(rule_set)
    chance = random.Random(7)
    for n in range(300):
        ready = sthlm(2021, 9, 1, 8) + timedelta(hours=chance.randrange(0, 24 * 500))
        episode = make_episode(ready - timedelta(days=2), episode_id=f"e{n}")
        episode.declare_discharge_ready(ready, now=FAR)
        as_of = ready + timedelta(hours=chance.randrange(0, 24 * 120))
        if chance.random() < 0.7:
            episode.discharge(max(ready, as_of - timedelta(hours=chance.randrange(0, 48))), now=FAR)
            as_of = FAR
        result = compute_episode_liability(episode, rule_set, rates, as_of=as_of)
        listed = [day for clock in result.clocks for day in clock.liable_dates]
        by_year = {applied.year: applied.rate for applied in result.rates}
        assert result.liable_days == len(listed)
        assert result.amount == sum((by_year[day.year] for day in listed), Decimal(0))
        for year, month in {(day.year, day.month) for day in listed} | {(2022, 2)}:
            in_month = [day for day in listed if (day.year, day.month) == (year, month)]
            expected = sum((by_year[day.year] for day in in_month), Decimal(0))
            assert result.in_month(year, month) == (len(in_month), expected)


def test_everything_renders_as_json() -> None:
    for rule_set in SHIPPED.rule_sets.values():
        rendered = rule_set.to_dict()
        assert rendered["id"] == rule_set.id
        assert rendered["model"] == rule_set.model.value
    json.dumps([rule_set.to_dict() for rule_set in SHIPPED.rule_sets.values()])
    json.dumps([table.to_dict() for table in SHIPPED.rate_tables.values()])
    assert SHIPPED.rule_sets["se-average-stockholm"].to_dict()["level_days"] == "3.5"

    somatic = individual("se-statutory-somatic")
    episode = make_episode(sthlm(2022, 2, 25, 8))
    episode.declare_discharge_ready(sthlm(2022, 3, 1, 9), now=FAR)
    episode.discharge(sthlm(2022, 3, 5, 10), now=FAR)
    rendered = compute_episode_liability(
        episode, somatic, SHIPPED.rates_for(somatic), as_of=FAR
    ).to_dict()
    assert rendered["amount"] == "9300.00"
    assert rendered["clocks"][0]["liable_dates"] == ["2022-03-04"]
    json.dumps(rendered)


def test_guards_against_wrong_rate_table_and_naive_as_of() -> None:
    somatic = individual("se-statutory-somatic")
    episode = make_episode(sthlm(2022, 2, 25, 8))
    with pytest.raises(InvalidInput, match="rate table"):
        compute_episode_liability(
            episode, somatic, SHIPPED.rate_tables["no-helsedirektoratet"], as_of=FAR
        )
    with pytest.raises(InvalidInput, match="as_of"):
        compute_episode_liability(
            episode, somatic, SHIPPED.rates_for(somatic), as_of=datetime(2022, 3, 1)
        )
