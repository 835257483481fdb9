"""A follow-up date falls overdue at local midnight (Europe/Stockholm), not at UTC midnight: the
plans' overdue list and the overdue-follow-up statistic agree on either side of it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx

from tests.conftest import ClientFor, Clock
from tests.e2e.test_statistics import active_plan, figures
from tests.factories import create_person

FOLLOW_UP = date(2025, 1, 15)  # winter: Stockholm is UTC+1
CODE = "plans-with-overdue-follow-up"


async def overdue_now(region: httpx.AsyncClient) -> tuple[list[dict[str, object]], int]:
    listed = await region.get("/api/v1/plans/overdue-follow-ups")
    assert listed.status_code == 200, listed.text
    counted = await region.get(
        "/api/v1/statistics", params={"period": "2025-01", "indicator": CODE}
    )
    assert counted.status_code == 200, counted.text
    return listed.json(), figures(counted.json())[CODE]["values"]["count"]


async def test_a_follow_up_is_overdue_from_local_midnight(
    client_for: ClientFor, clock: Clock
) -> None:
    hc = await client_for("region-kalmar-hc-kalmar")
    region = await client_for("region-kalmar")
    clock.at = datetime(2024, 12, 1, 9, tzinfo=UTC)
    person = await create_person(region, municipality="kommun-0880")
    plan_id = await active_plan(hc, person["id"], (FOLLOW_UP,), given_at=clock.at)

    # 22:30 UTC is 23:30 on the follow-up date in Stockholm: not overdue yet.
    clock.at = datetime(2025, 1, 15, 22, 30, tzinfo=UTC)
    assert await overdue_now(region) == ([], 0)

    # 23:30 UTC is still January 15 in UTC but 00:30 on January 16 in Stockholm: overdue by a day.
    clock.at = datetime(2025, 1, 15, 23, 30, tzinfo=UTC)
    listed, count = await overdue_now(region)
    assert [(i["plan_id"], i["follow_up_date"], i["days_overdue"]) for i in listed] == [
        (plan_id, "2025-01-15", 1)
    ]
    assert count == 1

    # An explicit as_of still decides by itself.
    earlier = await region.get("/api/v1/plans/overdue-follow-ups", params={"as_of": "2025-01-15"})
    assert earlier.status_code == 200 and earlier.json() == []
