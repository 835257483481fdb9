"""The rules of the deviations that raise themselves, as pure functions of an episode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.deviation_rules import (
    RULES,
    Facts,
    late_admission_notice,
    missing_discharge_information,
    summons_deadline_missed,
)
from app.domain.deviations import DeviationCategory
from app.domain.episodes import AdmissionType, CareType, Episode

FAR = datetime(2030, 1, 1, tzinfo=UTC)
# Monday 2026-03-02 08:00 UTC (09:00 in Stockholm).
ADMITTED = datetime(2026, 3, 2, 8, tzinfo=UTC)


def episode(jurisdiction: str = "SE") -> Episode:
    return Episode(
        id="e1",
        person_id="p1",
        hospital_unit_id="ward",
        region_id="region",
        municipality_id="municipality",
        primary_care_unit_id=None,
        jurisdiction=jurisdiction,
        admitted_at=ADMITTED,
        admission_type=AdmissionType.ACUTE,
        care_type=CareType.SOMATIC,
    )


@pytest.mark.parametrize(
    ("after", "raised"),
    [
        (timedelta(hours=23, minutes=59), False),
        (timedelta(hours=24), False),
        (timedelta(hours=24, seconds=1), True),
    ],
)
@pytest.mark.parametrize("jurisdiction", ["SE", "NO"])
def test_an_admission_notice_later_than_24_hours_is_raised_in_both_countries(
    after: timedelta, raised: bool, jurisdiction: str
) -> None:
    stay = episode(jurisdiction)
    assert late_admission_notice(stay, Facts(), FAR) == []  # no notice yet: nothing to decide
    stay.send_admission_notice(ADMITTED + after, now=FAR)
    (finding,) = late_admission_notice(stay, Facts(), FAR)
    assert (finding.rule, finding.record_id, finding.part) == ("late-admission-notice", "e1", 0)
    assert (finding.raised is not None) is raised
    if finding.raised is not None:
        assert finding.raised.reporter_id == "municipality"
        assert finding.raised.handler_principal_id == "region"
        assert finding.raised.category is DeviationCategory.LATE_ADMISSION_NOTICE


def ready(coordinated: bool = True) -> Episode:
    stay = episode()
    stay.send_admission_notice(ADMITTED + timedelta(hours=1), now=FAR)
    # Tuesday 2026-03-03 10:00 Stockholm: the summons is due by the end of Friday 03-06.
    stay.declare_discharge_ready(
        datetime(2026, 3, 3, 9, tzinfo=UTC), now=FAR, coordinated_planning=coordinated
    )
    return stay


END_OF_FRIDAY = datetime(2026, 3, 6, 23, tzinfo=UTC)  # midnight into Saturday, Stockholm


@pytest.mark.parametrize(
    ("summonses", "now", "outcome"),
    [
        ([], END_OF_FRIDAY - timedelta(minutes=1), "open"),
        ([], END_OF_FRIDAY, "raised"),
        ([END_OF_FRIDAY - timedelta(hours=2)], FAR, "kept"),
        ([END_OF_FRIDAY + timedelta(hours=1)], FAR, "raised"),
        # A summons before the notice does not answer it.
        ([datetime(2026, 3, 2, 12, tzinfo=UTC)], FAR, "raised"),
    ],
)
def test_a_summons_deadline_is_decided_once_it_has_passed_or_was_kept(
    summonses: list[datetime], now: datetime, outcome: str
) -> None:
    findings = summons_deadline_missed(ready(), Facts(summonses), now)
    if outcome == "open":
        assert findings == []
        return
    (finding,) = findings
    assert (finding.record_id, finding.part) == ("e1", 2)
    assert (finding.raised is not None) is (outcome == "raised")


def test_a_withdrawal_before_the_deadline_lifts_it_and_no_coordination_asks_for_none() -> None:
    withdrawn = ready()
    withdrawn.withdraw_discharge_ready(datetime(2026, 3, 4, 9, tzinfo=UTC), now=FAR)
    (finding,) = summons_deadline_missed(withdrawn, Facts(), FAR)
    assert finding.raised is None
    assert summons_deadline_missed(ready(coordinated=False), Facts(), FAR) == []


# Wednesday 2026-03-04 22:30 UTC is 23:30 in Stockholm and Oslo: the discharge day ends at
# 23:00 UTC, an hour before the UTC day does.
DISCHARGED = datetime(2026, 3, 4, 22, 30, tzinfo=UTC)
DAY_ENDS = datetime(2026, 3, 4, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    ("arrivals", "now", "outcome"),
    [
        ([], DAY_ENDS - timedelta(seconds=1), "open"),
        ([DISCHARGED], DAY_ENDS - timedelta(seconds=1), "kept"),
        ([DAY_ENDS - timedelta(seconds=1)], FAR, "kept"),
        ([], DAY_ENDS, "raised"),
        ([DAY_ENDS], FAR, "raised"),
        # Before midnight UTC but after midnight local time: late.
        ([DAY_ENDS + timedelta(minutes=30)], FAR, "raised"),
        # One on time is enough, whatever came later.
        ([DAY_ENDS + timedelta(hours=5), DISCHARGED], FAR, "kept"),
    ],
)
@pytest.mark.parametrize("jurisdiction", ["SE", "NO"])
def test_missing_discharge_information_is_decided_when_the_local_discharge_day_ends(
    arrivals: list[datetime], now: datetime, outcome: str, jurisdiction: str
) -> None:
    stay = episode(jurisdiction)
    facts = Facts(discharge_information=arrivals)
    assert missing_discharge_information(stay, facts, FAR) == []  # not discharged
    stay.send_admission_notice(ADMITTED + timedelta(hours=1), now=FAR)
    stay.discharge(DISCHARGED, now=FAR)
    findings = missing_discharge_information(stay, facts, now)
    if outcome == "open":
        assert findings == []
        return
    (finding,) = findings
    assert (finding.rule, finding.record_id, finding.part) == (
        "missing-discharge-information",
        "e1",
        0,
    )
    assert (finding.raised is not None) is (outcome == "raised")
    if finding.raised is not None:
        assert finding.raised.category is DeviationCategory.MISSING_DISCHARGE_INFORMATION
        assert (finding.raised.reporter_id, finding.raised.handler_principal_id) == (
            "municipality",
            "region",
        )
        assert "discharged 2026-03-04 23:30" in finding.raised.description
        assert "discharge day ended (2026-03-05 00:00)" in finding.raised.description
        came = "it came" if arrivals else "none had come"
        assert came in finding.raised.description


def test_each_rule_is_registered_under_the_category_it_raises() -> None:
    assert {rule_id: rule.category.value for rule_id, rule in RULES.items()} == {
        "late-admission-notice": "late-admission-notice",
        "summons-deadline-missed": "summons-deadline-missed",
        "missing-discharge-information": "missing-discharge-information",
    }
    assert RULES["summons-deadline-missed"].jurisdictions == {"SE"}
    assert RULES["late-admission-notice"].jurisdictions == {"SE", "NO"}
    assert RULES["missing-discharge-information"].jurisdictions == {"SE", "NO"}
