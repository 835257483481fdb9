"""Every indicator worked out by hand on one small scenario across a month boundary and a DST
change, and asserted over REST JSON, CSV and FHIR $evaluate-measure; a municipality's figures add
up over its units, and the region's over its municipalities.

The scenario runs in Region Norrbotten in October and November 2022, through the API, with the
routes' clock set to each moment. Sweden left summer time on Sunday 30 October 2022 at 01:00 UTC
(03:00 CEST became 02:00 CET): before it local time is UTC+2, after it UTC+1. Persons: L1 and L2
live in Luleå (kommun-2580), B1 in Boden (kommun-2582); both are in the area Luleå–Boden. Wards:
S (Sunderby, medicine) and P (Piteå, medicine). Figures are asked for on 15 December 2022.

Episodes (SE statutory rules: liable from the notice's local day + 3, the end day not liable,
9 300 SEK a day in 2022):
  E1  L1 at S. Admitted 24 Oct 06:00Z, notified 07:00Z (1 h: within 24 h). Discharge-ready
      29 Oct 20:00Z (22:00 local, Oct 29) asking for coordinated planning; a summons M1 is sent
      31 Oct 10:00Z (local day Oct 31 < Oct 29 + 4: met). Discharged 3 Nov 09:00Z (local Nov 3):
      5 days; liable Nov 1, Nov 2 = 2 days.
  E2  L2 at P. Admitted 30 Oct 00:30Z (02:30 CEST, before the change), notified 31 Oct 01:00Z:
      24.5 h, late. Discharge-ready 31 Oct 23:30Z — 00:30 on 1 Nov in Sweden, so November —
      withdrawn 2 Nov 08:00Z (nothing liable: it would have been from Nov 4), ready again
      4 Nov 08:00Z, discharged 8 Nov 12:00Z: 4 days from the notice in force; liable Nov 7 =
      1 day. No coordinated planning: no summons deadline.
  E3  B1 at S. Admitted 10 Nov 07:00Z, notified 07:30Z (within). Ready 12 Nov 10:00Z asking for
      coordinated planning, no summons ever (breached); discharged 12 Nov 15:00Z: 0 days.
  E4  L1 again at S, acutely, 20 Nov 10:00Z (17 days after E1's discharge: a readmission),
      notified 11:00Z (within). Still in hospital.

Plans (SIP, made by Hälsocentral Luleå, counted by the person's residence municipality):
  PL1 L1: recorded 28 Oct, activated 31 Oct 23:30Z (1 Nov locally: November); follow-ups
      15 Nov and 20 Jan 2023; meeting M2 starts 15 Nov 22:30Z (23:30 local, Nov 15: no later
      than the follow-up date, so it answers it).
  PL2 L2: recorded and activated 5 Nov; follow-up 20 Nov; meeting M4 on 25 Nov is cancelled,
      so nothing answers it: overdue from 21 Nov.
  PL3 B1: recorded 30 Oct 00:30Z (02:30 CEST), activated 30 Oct 12:00Z; follow-up 7 Nov;
      meeting M3 starts 31 Oct 22:30Z (23:30 local, October); completed 30 Nov 23:30Z, which is
      1 Dec locally: completed in December, and no longer active when asked.
Meetings held (each marked held by its organizer the morning after, held at its planned start):
M3 (Oct, Boden), M1 and M2 (Nov, Luleå).

Deviations (by the person's residence municipality; the region is reporter or handler of all):
  D1 about E1, by Luleå's home health care at 29 Oct 21:30Z (23:30 CEST, Oct), missing discharge
     information; answered 30 Oct 02:30Z — 5 hours later, though the wall clock moved 4 —
     then closed.
  D2 about E2, by ward P at 31 Oct 23:30Z (Nov locally), late admission notice; answered
     2 Nov 01:30Z: 26 hours.
  D3 about E3, by Boden at 12 Nov 16:00Z, medication list missing; never answered.

Care messages (counted by the sending unit; acknowledgements by the acknowledging unit):
  C1 ward S → Luleå home care, 29 Oct 22:00Z (00:00 on Oct 30 local: October); acknowledged
     30 Oct 01:30Z: 210 minutes (the wall clock moved 150).
  C2 Luleå home care → ward S, 31 Oct 23:30Z (Nov locally); acknowledged 1 Nov 00:15Z: 45 min.
  C3 Boden home care → ward S, 12 Nov 12:00Z; not acknowledged.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

import httpx

from app.api.v1.plan_schemas import EXAMPLE_CONTENT
from app.domain.statistics import DEVIATION_CATEGORIES as CATEGORIES
from app.domain.statistics import DEVIATION_STATES as STATES
from app.domain.statistics import INDICATORS, Dimension
from tests.conftest import ClientFor, Clock
from tests.factories import admit, create_person, notice

REGION = "region-norrbotten"
LULEA, BODEN = "kommun-2580", "kommun-2582"
S, P = "region-norrbotten-sunderby-med", "region-norrbotten-pitea-med"
HEALTH_CENTRE = "region-norrbotten-hc-lulea"
ASKED = datetime(2022, 12, 15, 12, tzinfo=UTC)
PERIODS = ("2022-10", "2022-11", "2022-12", "2022-Q4")
BUCKETS = ("0", "1", "2", "3", "4-7", "8-14", "15-30", ">30")


def utc(month: int, day: int, hour: int, minute: int = 0, year: int = 2022) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


class Scenario:
    """The API calls of the scenario, each at its moment on the routes' clock."""

    def __init__(self, client_for: ClientFor, clock: Clock) -> None:
        self.client_for = client_for
        self.clock = clock

    async def at(self, moment: datetime, org: str) -> httpx.AsyncClient:
        """A client of ``org``'s principal, acting for ``org`` when it is one of its units."""
        self.clock.at = moment
        principal = next(p for p in (REGION, LULEA, BODEN) if org.startswith(p))
        client = await self.client_for(principal)
        if org != principal:
            client.headers["X-Samverkan-Unit"] = org
        return client

    async def step(self, episode_id: str, kind: str, moment: datetime, **extra: Any) -> None:
        region = await self.at(moment, REGION)
        ok(await notice(region, episode_id, kind, moment, **extra))

    async def episode(self, person_id: str, unit: str, admitted: datetime) -> str:
        region = await self.at(admitted, REGION)
        return str((await admit(region, person_id, admitted, unit=unit))["id"])

    async def plan(self, person_id: str, municipality: str, follow_ups: list[date]) -> str:
        hc = await self.at(self.clock.at or ASKED, HEALTH_CENTRE)
        content = {
            **EXAMPLE_CONTENT,
            "interventions": [
                {
                    "id": "i1",
                    "description": "Hemsjukvård",
                    "responsible_unit_id": f"{municipality}-hemsjukvard",
                },
                {"id": "i2", "description": "Uppföljning", "responsible_unit_id": HEALTH_CENTRE},
            ],
            "responsible_principal_id": municipality,
            "coordinator": {"name": "Anna Berg", "unit_id": f"{municipality}-hemsjukvard"},
            "start_date": "2022-10-01",
            "planned_end_date": "2023-06-30",
            "follow_up_dates": [d.isoformat() for d in follow_ups],
        }
        plan_id = str(
            ok(await hc.post("/api/v1/plans", json={"person_id": person_id, **content}), 201)["id"]
        )
        consent = {
            "given_by": "person",
            "given_at": self.clock.at.isoformat() if self.clock.at else None,
            "method": "oral",
            "share_with": [REGION, municipality],
        }
        ok(await hc.post(f"/api/v1/plans/{plan_id}/consents", json=consent), 201)
        return plan_id

    async def plan_step(self, plan_id: str, step: str, moment: datetime) -> None:
        hc = await self.at(moment, HEALTH_CENTRE)
        ok(await hc.post(f"/api/v1/plans/{plan_id}/{step}", json={}))

    async def meeting(self, sent: datetime, starts: datetime, **about: str) -> str:
        organizer = await self.at(sent, HEALTH_CENTRE if "plan_id" in about else S)
        body = {
            **about,
            "starts_at": starts.isoformat(),
            "reply_by": sent.date().isoformat(),
            "participants": [{"id": "person", "kind": "person"}],
            "location": "Sunderby sjukhus",
        }
        return str(ok(await organizer.post("/api/v1/meetings", json=body), 201)["id"])

    async def held(self, meeting_id: str, organizer: str, moment: datetime) -> None:
        """The organizer marks the meeting held (at its planned start), the person attending."""
        client = await self.at(moment, organizer)
        body = {"attended": ["person"]}
        ok(await client.post(f"/api/v1/meetings/{meeting_id}/held", json=body))

    async def deviation(
        self, reporter: str, moment: datetime, category: str, episode_id: str
    ) -> dict[str, Any]:
        client = await self.at(moment, reporter)
        body = {"category": category, "episode_id": episode_id, "description": "Avvikelse."}
        return ok(await client.post("/api/v1/deviations", json=body), 201)  # type: ignore[no-any-return]

    async def handle(self, deviation: dict[str, Any], state: str, moment: datetime) -> None:
        handler = await self.at(moment, deviation["handler_id"])
        body = {"state": state, "note": "Rutinen är ändrad." if state == "answered" else None}
        ok(await handler.post(f"/api/v1/deviations/{deviation['id']}/handling", json=body))

    async def message(self, sender: str, recipient: str, person_id: str, moment: datetime) -> str:
        client = await self.at(moment, sender)
        body = {"recipients": [recipient], "person_id": person_id, "text": "Hemgång."}
        return str(ok(await client.post("/api/v1/care-messages", json=body), 201)["id"])

    async def acknowledge(self, recipient: str, message_id: str, moment: datetime) -> None:
        client = await self.at(moment, recipient)
        path = f"/api/v1/care-messages/{message_id}/acknowledgement"
        ok(await client.post(path, json={"outcome": "ok"}))


async def build(client_for: ClientFor, clock: Clock) -> None:
    """The scenario of the module's docstring, in the order things happened."""
    s = Scenario(client_for, clock)
    region = await s.at(utc(10, 1, 8), REGION)
    l1 = (await create_person(region, municipality=LULEA))["id"]
    l2 = (await create_person(region, municipality=LULEA))["id"]
    b1 = (await create_person(region, municipality=BODEN))["id"]

    e1 = await s.episode(l1, S, utc(10, 24, 6))
    await s.step(e1, "admission-notice", utc(10, 24, 7))
    clock.at = utc(10, 28, 10)
    pl1 = await s.plan(l1, LULEA, [date(2022, 11, 15), date(2023, 1, 20)])
    await s.step(e1, "discharge-ready", utc(10, 29, 20), coordinated_planning=True)
    d1 = await s.deviation(
        f"{LULEA}-hemsjukvard", utc(10, 29, 21, 30), "missing-discharge-information", e1
    )
    c1 = await s.message(S, f"{LULEA}-hemtjanst", l1, utc(10, 29, 22))
    e2 = await s.episode(l2, P, utc(10, 30, 0, 30))
    clock.at = utc(10, 30, 0, 30)
    pl3 = await s.plan(b1, BODEN, [date(2022, 11, 7)])
    await s.acknowledge(f"{LULEA}-hemtjanst", c1, utc(10, 30, 1, 30))
    await s.handle(d1, "investigating", utc(10, 30, 2))
    await s.handle(d1, "answered", utc(10, 30, 2, 30))
    await s.handle(d1, "closed", utc(10, 30, 3))
    await s.plan_step(pl3, "activate", utc(10, 30, 12))
    m3 = await s.meeting(utc(10, 30, 13), utc(10, 31, 22, 30), plan_id=pl3)
    await s.step(e2, "admission-notice", utc(10, 31, 1))
    m1 = await s.meeting(utc(10, 31, 10), utc(11, 2, 13), episode_id=e1)
    await s.step(e2, "discharge-ready", utc(10, 31, 23, 30))
    await s.plan_step(pl1, "activate", utc(10, 31, 23, 30))
    d2 = await s.deviation(P, utc(10, 31, 23, 30), "late-admission-notice", e2)
    c2 = await s.message(f"{LULEA}-hemtjanst", S, l1, utc(10, 31, 23, 30))
    await s.acknowledge(S, c2, utc(11, 1, 0, 15))
    await s.held(m3, HEALTH_CENTRE, utc(11, 1, 8))
    await s.handle(d2, "answered", utc(11, 2, 1, 30))
    await s.step(e2, "withdrawal", utc(11, 2, 8))
    await s.held(m1, S, utc(11, 2, 15))
    await s.step(e1, "discharge", utc(11, 3, 9))
    await s.step(e2, "discharge-ready", utc(11, 4, 8))
    clock.at = utc(11, 5, 10)
    pl2 = await s.plan(l2, LULEA, [date(2022, 11, 20)])
    await s.plan_step(pl2, "activate", utc(11, 5, 11))
    m4 = await s.meeting(utc(11, 5, 12), utc(11, 25, 10), plan_id=pl2)
    await s.step(e2, "discharge", utc(11, 8, 12))
    e3 = await s.episode(b1, S, utc(11, 10, 7))
    await s.step(e3, "admission-notice", utc(11, 10, 7, 30))
    await s.step(e3, "discharge-ready", utc(11, 12, 10), coordinated_planning=True)
    await s.message(f"{BODEN}-hemtjanst", S, b1, utc(11, 12, 12))
    await s.step(e3, "discharge", utc(11, 12, 15))
    await s.deviation(BODEN, utc(11, 12, 16), "medication-list-missing", e3)
    m2 = await s.meeting(utc(11, 14, 9), utc(11, 15, 22, 30), plan_id=pl1)
    await s.held(m2, HEALTH_CENTRE, utc(11, 16, 8))
    e4 = await s.episode(l1, S, utc(11, 20, 10))
    await s.step(e4, "admission-notice", utc(11, 20, 11))
    hc = await s.at(utc(11, 21, 9), HEALTH_CENTRE)
    ok(await hc.post(f"/api/v1/meetings/{m4}/cancel", json={"reason": "Sjuk."}))
    await s.plan_step(pl3, "complete", utc(11, 30, 23, 30))
    clock.at = ASKED


# -- the figures, worked out by hand from the docstring -------------------------------------------
# For each subject and indicator: the values (and strata) of October, November, December and the
# fourth quarter, in the shape the API gives them.

Values = dict[str, Any]
Cell = tuple[Values, dict[str, int]]


def count(*counts: int) -> list[Cell]:
    return [({"count": n}, {}) for n in counts]


def share(numerator: int, denominator: int, value: float | None) -> Cell:
    return {"numerator": numerator, "denominator": denominator, "share": value}, {}


NO_SHARE = share(0, 0, None)


def hours(n: int, median: float | None, p90: int | None, mean: float | None) -> Cell:
    return {"n": n, "median": median, "p90": p90, "mean": mean}, {}


NO_VALUES = hours(0, None, None, None)


def days(n: int, median: float | None, p90: int | None, mean: float | None, **b: int) -> Cell:
    buckets = dict.fromkeys(BUCKETS, 0) | {k.replace("_", "-"): v for k, v in b.items()}
    return hours(n, median, p90, mean)[0], buckets


def liable(days_: int, episodes: int, amount: str, currency: str | None) -> Cell:
    return {"days": days_, "episodes": episodes, "amount": amount, "currency": currency}, {}


NOTHING_LIABLE = liable(0, 0, "0.00", None)


def strata(names: tuple[str, ...], **found: int) -> Cell:
    cells = dict.fromkeys(names, 0) | {k.replace("_", "-"): v for k, v in found.items()}
    return {"count": sum(found.values())}, cells


def category(**found: int) -> Cell:
    return strata(CATEGORIES, **found)


def state(**found: int) -> Cell:
    return strata(STATES, **found)


NO_DAYS = days(0, None, None, None)
REGION_FIGURES: dict[str, list[Cell]] = {
    # E1 (Oct 24), E2 (Oct 31 02:00 local) | E3, E4 | - | all four.
    "admissions-notified": count(2, 2, 0, 4),
    # E2's notice came 24.5 h after the admission.
    "admission-notice-within-24h": [
        share(1, 2, 0.5), share(2, 2, 1.0), NO_SHARE, share(3, 4, 0.75)
    ],
    # E1 | E2 (Nov 1 local), E2 again, E3 | - | 4.
    "discharge-ready-notices": count(1, 3, 0, 4),
    "discharge-ready-withdrawals": count(0, 1, 0, 1),
    # Discharges of November: E3 0, E2 4, E1 5 days: median 4, p90 the 3rd of 3, mean 3.
    "days-ready-to-discharge": [
        NO_DAYS, days(3, 4.0, 5, 3.0, **{"0": 1, "4_7": 2}), NO_DAYS,
        days(3, 4.0, 5, 3.0, **{"0": 1, "4_7": 2}),
    ],
    # E1's Nov 1 and 2, E2's Nov 7: 3 days × 9 300 SEK.
    "liable-days": [
        NOTHING_LIABLE, liable(3, 2, "27900.00", "SEK"), NOTHING_LIABLE,
        liable(3, 2, "27900.00", "SEK"),
    ],
    # E1's notice (Oct) met by M1; E3's (Nov) breached; E2 asked for no planning.
    "summons-within-deadline": [
        share(1, 1, 1.0), share(0, 1, 0.0), NO_SHARE, share(1, 2, 0.5)
    ],
    # Of November's three discharges, E1 was followed by E4.
    "readmissions-30-days": [NO_SHARE, share(1, 3, 0.3333), NO_SHARE, share(1, 3, 0.3333)],
    "plans-started": count(2, 1, 0, 3),  # PL1, PL3 | PL2
    "plans-activated": count(1, 2, 0, 3),  # PL3 | PL1 (Nov 1 local), PL2
    "plans-completed": count(0, 0, 1, 1),  # PL3 on Dec 1 local
    "plans-with-overdue-follow-up": count(0, 1, 0, 1),  # PL2's Nov 20
    "meetings-held": count(1, 2, 0, 3),  # M3 | M1, M2; M4 cancelled
    "deviations-by-category": [
        category(missing_discharge_information=1),
        category(late_admission_notice=1, medication_list_missing=1),
        category(),
        category(
            missing_discharge_information=1, late_admission_notice=1, medication_list_missing=1
        ),
    ],
    "deviations-by-state": [
        state(closed=1), state(answered=1, reported=1), state(),
        state(closed=1, answered=1, reported=1),
    ],
    # D1 5 h (Oct), D2 26 h (Nov): the quarter's median is their mean, 15.5.
    "deviation-hours-to-answer": [
        hours(1, 5.0, 5, 5.0), hours(1, 26.0, 26, 26.0), NO_VALUES, hours(2, 15.5, 26, 15.5)
    ],
    "care-messages": count(1, 0, 0, 1),  # C1, sent by ward S
    "acknowledgement-minutes": [  # C2, acknowledged by ward S after 45 minutes
        NO_VALUES, hours(1, 45.0, 45, 45.0), NO_VALUES, hours(1, 45.0, 45, 45.0)
    ],
}  # fmt: skip
LULEA_FIGURES: dict[str, list[Cell]] = {
    "admissions-notified": count(2, 1, 0, 3),  # E1, E2 | E4
    "admission-notice-within-24h": [
        share(1, 2, 0.5), share(1, 1, 1.0), NO_SHARE, share(2, 3, 0.6667)
    ],
    "discharge-ready-notices": count(1, 2, 0, 3),  # E1 | E2 twice
    "discharge-ready-withdrawals": count(0, 1, 0, 1),
    # E2 4, E1 5 days: median 4.5, p90 the 2nd of 2.
    "days-ready-to-discharge": [
        NO_DAYS, days(2, 4.5, 5, 4.5, **{"4_7": 2}), NO_DAYS, days(2, 4.5, 5, 4.5, **{"4_7": 2})
    ],
    "liable-days": REGION_FIGURES["liable-days"],  # E1 and E2 are both Luleå's
    "summons-within-deadline": [share(1, 1, 1.0), NO_SHARE, NO_SHARE, share(1, 1, 1.0)],
    "readmissions-30-days": [NO_SHARE, share(1, 2, 0.5), NO_SHARE, share(1, 2, 0.5)],
    "plans-started": count(1, 1, 0, 2),  # PL1 | PL2
    "plans-activated": count(0, 2, 0, 2),
    "plans-completed": count(0, 0, 0, 0),
    "plans-with-overdue-follow-up": count(0, 1, 0, 1),
    "meetings-held": count(0, 2, 0, 2),  # M1, M2
    "deviations-by-category": [
        category(missing_discharge_information=1), category(late_admission_notice=1),
        category(), category(missing_discharge_information=1, late_admission_notice=1),
    ],
    "deviations-by-state": [
        state(closed=1), state(answered=1), state(), state(closed=1, answered=1)
    ],
    "deviation-hours-to-answer": REGION_FIGURES["deviation-hours-to-answer"],
    "care-messages": count(0, 1, 0, 1),  # C2, sent by Luleå's home care
    "acknowledgement-minutes": [  # C1, acknowledged by Luleå's home care after 210 minutes
        hours(1, 210.0, 210, 210.0), NO_VALUES, NO_VALUES, hours(1, 210.0, 210, 210.0)
    ],
}  # fmt: skip
BODEN_FIGURES: dict[str, list[Cell]] = {
    "admissions-notified": count(0, 1, 0, 1),  # E3
    "admission-notice-within-24h": [NO_SHARE, share(1, 1, 1.0), NO_SHARE, share(1, 1, 1.0)],
    "discharge-ready-notices": count(0, 1, 0, 1),
    "discharge-ready-withdrawals": count(0, 0, 0, 0),
    "days-ready-to-discharge": [
        NO_DAYS, days(1, 0.0, 0, 0.0, **{"0": 1}), NO_DAYS, days(1, 0.0, 0, 0.0, **{"0": 1})
    ],
    "liable-days": [NOTHING_LIABLE] * 4,
    "summons-within-deadline": [NO_SHARE, share(0, 1, 0.0), NO_SHARE, share(0, 1, 0.0)],
    "readmissions-30-days": [NO_SHARE, share(0, 1, 0.0), NO_SHARE, share(0, 1, 0.0)],
    "plans-started": count(1, 0, 0, 1),  # PL3
    "plans-activated": count(1, 0, 0, 1),
    "plans-completed": count(0, 0, 1, 1),
    "plans-with-overdue-follow-up": count(0, 0, 0, 0),
    "meetings-held": count(1, 0, 0, 1),  # M3
    "deviations-by-category": [
        category(), category(medication_list_missing=1), category(),
        category(medication_list_missing=1),
    ],
    "deviations-by-state": [state(), state(reported=1), state(), state(reported=1)],
    "deviation-hours-to-answer": [NO_VALUES] * 4,
    "care-messages": count(0, 1, 0, 1),  # C3
    "acknowledgement-minutes": [NO_VALUES] * 4,
}  # fmt: skip
EXPECTED = {REGION: REGION_FIGURES, LULEA: LULEA_FIGURES, BODEN: BODEN_FIGURES}


def as_found(body: dict[str, Any]) -> dict[str, list[Cell]]:
    """The figures of a response, per indicator in period order, as (values, strata)."""
    return {
        item["code"]: [(f["values"], f["strata"]) for f in item["figures"]]
        for item in body["indicators"]
    }


async def months_and_quarter(client: httpx.AsyncClient, **params: Any) -> dict[str, list[Cell]]:
    """October to December as a series, then the quarter, of every indicator."""
    months = ok(
        await client.get(
            "/api/v1/statistics", params={"from": "2022-10", "to": "2022-12", **params}
        )
    )
    quarter = ok(await client.get("/api/v1/statistics", params={"period": "2022-Q4", **params}))
    assert all(not f["suppressed"] for i in months["indicators"] for f in i["figures"])
    found = as_found(months)
    for code, cells in as_found(quarter).items():
        found[code] += cells
    return found


async def test_every_indicator_by_hand_over_json_csv_and_fhir(
    client_for: ClientFor, clock: Clock
) -> None:
    await build(client_for, clock)
    for subject, expected in EXPECTED.items():
        client = await client_for(subject)
        found = await months_and_quarter(client)
        assert set(found) == set(expected)
        for code, cells in expected.items():
            assert found[code] == cells, (subject, code)

    # CSV: one row per measure and stratum, the same values written as text.
    region = await client_for(REGION)
    as_csv = await region.get(
        "/api/v1/statistics",
        params={"from": "2022-10", "to": "2022-12"},
        headers={"Accept": "text/csv"},
    )
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    rows = {
        (r["indicator"], r["period"], r["measure"]): r["value"]
        for r in csv.DictReader(io.StringIO(as_csv.text))
    }
    wanted = {}
    for code, cells in REGION_FIGURES.items():
        for period, (values, cell_strata) in zip(PERIODS[:3], cells, strict=False):
            measures = list(values.items()) + [(f"strata.{k}", v) for k, v in cell_strata.items()]
            for name, value in measures:
                wanted[(code, period, name)] = "" if value is None else str(value)
    assert rows == wanted

    # FHIR: each indicator's summary MeasureReport for each month and the quarter.
    spans = [
        ("2022-10-01", "2022-10-31"),
        ("2022-11-01", "2022-11-30"),
        ("2022-12-01", "2022-12-31"),
        ("2022-10-01", "2022-12-31"),
    ]
    for code, cells in REGION_FIGURES.items():
        for (start, end), (values, cell_strata) in zip(spans, cells, strict=True):
            report = ok(
                await region.get(
                    f"/fhir/Measure/{code}/$evaluate-measure",
                    params={
                        "periodStart": start,
                        "periodEnd": end,
                        "subject": f"Organization/{REGION}",
                    },
                )
            )
            assert report["period"] == {"start": start, "end": end}
            [group] = report["group"]
            populations = {
                p["code"]["coding"][0]["code"]: p.get("count") for p in group["population"]
            }
            assert populations == fhir_populations(values), (code, start)
            assert group.get("measureScore", {}).get("value") == fhir_score(values), (code, start)
            found_strata = {
                s["value"]["text"]: s["population"][0]["count"]
                for s in (group.get("stratifier") or [{"stratum": []}])[0]["stratum"]
            }
            assert found_strata == cell_strata, (code, start)


def fhir_populations(values: Values) -> dict[str, int]:
    """Which population of the MeasureReport carries which hand-worked value."""
    if "numerator" in values:
        return {"denominator": values["denominator"], "numerator": values["numerator"]}
    if "n" in values:
        return {"measure-population": values["n"]}
    if "episodes" in values:
        return {"initial-population": values["episodes"]}
    return {"initial-population": values["count"]}


def fhir_score(values: Values) -> int | float | None:
    """The measure score: the share, the median, the liable days or the count."""
    for name in ("share", "median", "days", "count"):
        if name in values:
            return values[name]  # type: ignore[no-any-return]
    raise AssertionError(values)


BY_UNIT = [i.code for i in INDICATORS if Dimension.UNIT in i.dimensions]
ADDITIVE = ("count", "numerator", "denominator", "n", "days", "episodes")


def totals(cells: list[Cell]) -> list[dict[str, Any]]:
    """The additive parts of each period's figure: counts, numerators, denominators, n, days,
    episodes, amounts and strata."""
    return [
        {k: v for k, v in values.items() if k in ADDITIVE or k == "amount"}
        | {f"strata.{k}": v for k, v in cell_strata.items()}
        for values, cell_strata in cells
    ]


def add(*parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    summed: list[dict[str, Any]] = []
    for figures in zip(*parts, strict=True):
        cell: dict[str, Any] = {}
        for figure in figures:
            for key, value in figure.items():
                if key == "amount":
                    cell[key] = f"{float(cell.get(key, 0)) + float(value):.2f}"
                else:
                    cell[key] = cell.get(key, 0) + value
        summed.append(cell)
    return summed


async def test_municipalities_add_up_over_units_and_the_region_over_municipalities(
    client_for: ClientFor, clock: Clock
) -> None:
    await build(client_for, clock)
    own = {org: await months_and_quarter(await client_for(org)) for org in EXPECTED}
    # Care messages count the sending (or acknowledging) units' own: the region's units are
    # not the municipalities', so those two indicators do not add up across principals.
    for code in set(REGION_FIGURES) - {"care-messages", "acknowledgement-minutes"}:
        assert totals(own[REGION][code]) == add(
            totals(own[LULEA][code]), totals(own[BODEN][code])
        ), code

    for org in EXPECTED:
        client = await client_for(org)
        by_unit = ok(
            await client.get(
                "/api/v1/statistics",
                params={"from": "2022-10", "to": "2022-12", "by": "unit", "indicator": BY_UNIT},
            )
        )
        assert by_unit["suppression"] is None
        for item in by_unit["indicators"]:
            code = item["code"]
            per_group: dict[str, list[Cell]] = {}
            for figure in item["figures"]:
                per_group.setdefault(figure["group"], []).append(
                    (figure["values"], figure["strata"])
                )
            assert all(len(cells) == 3 for cells in per_group.values())
            whole = totals(own[org][code][:3])
            summed = add(*(totals(cells) for cells in per_group.values())) if per_group else None
            assert summed in (whole, None), (org, code)
            if summed is None:
                # No unit had any: the whole is nothing too.
                assert all(v in (0, "0.00") for cell in whole for v in cell.values()), (org, code)
        groups = {
            item["code"]: {f["group"] for f in item["figures"]} for item in by_unit["indicators"]
        }
        if org == LULEA:
            # Luleå's episodes were at both wards; its message was sent by its home care.
            assert groups["admissions-notified"] == {S, P}
            assert groups["care-messages"] == {f"{LULEA}-hemtjanst"}
