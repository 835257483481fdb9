"""The drill-down of the follow-up statistics: the records behind one cell, as JSON or CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from app.api.v1.common import next_link, router
from app.api.v1.statistics import AskedDep, periods_asked
from app.domain.errors import InvalidInput
from app.domain.statistics_records import COUNTED, CountedRecord
from app.http.deps import Caller, PageDep, UowDep, require
from app.http.errors import errors_for
from app.security.access import Actor
from app.services import statistics_records as service

api = router("/api/v1", "statistics")

ACCESS = (
    "Only the records you are a party to are listed (access follows the record), even where "
    "the figure covers more; nothing is said about the others. Persons with a protected "
    "identity are never named."
)
DESCRIPTION = f"""The records one figure of `GET /api/v1/statistics` counted: which episodes'
notices or discharges, plans, meetings, deviations, care messages or acknowledgements. Ask with
the same parameters as the figures (`period`, or `from`/`to`/`interval`; `organization` or
`area`; `by`), and name the cell: `period_start` (the figure's `period_start`; needed for a
series) and `group` (the figure's `group`; needed with `by`).

{ACCESS} So a figure masked as small for an area is not revealed here: you see the records you
could read one by one anyway. Every record listed is in the access log.

The caller needs the search scope of the records the indicator counts, as their own lists do
(`system/Encounter.s`, `system/CarePlan.s`, `system/Appointment.s`, `system/Communication.s`,
`system/Task.s`).

Each entry gives the record's `type` and `id`, its `person_id`, the `unit_id` and
`municipality_id` it counts for, `at` (the instant that placed it in the period), the other
`instants` that made it count, the days, hours or minutes it counted (`value`), for a share
whether it is in the numerator (`in_numerator`; every entry is in the denominator), a
deviation's category or state (`stratum`), and `link`, the REST path that reads it. A notice,
or an acknowledgement, is one entry each: an episode with two discharge-ready notices in the
period is listed twice. Pages follow `next_cursor`. `Accept: text/csv` gives the page as CSV
(the next page in the `Link` header).
"""


class CountedRecordRead(BaseModel):
    """One record (or notice, or acknowledgement) a figure counted."""

    type: str = Field(
        description="episode, plan, meeting, message or deviation", examples=["episode"]
    )
    id: str
    person_id: str | None = Field(description="null: about no person, or a protected identity")
    unit_id: str | None = Field(description="the unit it counts for, where it has one")
    municipality_id: str | None = Field(description="the municipality it counts for")
    at: datetime = Field(description="the instant that placed it in the period")
    instants: dict[str, datetime | None] = Field(
        description="the instants that made it count, by name (the first is `at`)"
    )
    value: int | None = Field(description="the days, hours or minutes it counted")
    in_numerator: bool | None = Field(description="for a share: whether it is in the numerator")
    stratum: str | None = Field(description="a deviation's category or state")
    link: str = Field(
        description="the REST path that reads the record", examples=["/api/v1/episodes/0b9f…"]
    )


class CellRecordsRead(BaseModel):
    """One page of the records behind one cell of an indicator."""

    indicator: str = Field(description="the indicator's code", examples=["readmissions-30-days"])
    period: str = Field(description="the cell's period", examples=["2026-03"])
    period_start: str = Field(description="the first local date of the period")
    period_end: str = Field(description="the first local date after the period")
    by: str | None = Field(description="the breakdown: unit, municipality or area; null: none")
    group: str | None = Field(description="the cell's unit, municipality or area; null: all")
    subject: dict[str, str]
    access: str = Field(description="which records are listed")
    items: list[CountedRecordRead]
    next_cursor: str | None = Field(description="pass as `cursor` to get the next page")
    next: str | None = Field(description="URL of the next page")


def _item(entry: CountedRecord) -> CountedRecordRead:
    return CountedRecordRead(
        type=entry.record_type.value,
        id=entry.key.record_id,
        person_id=entry.person_id,
        unit_id=entry.unit_id,
        municipality_id=entry.municipality_id,
        at=entry.key.at,
        instants=entry.instants,
        value=entry.value,
        in_numerator=entry.in_numerator,
        stratum=entry.stratum,
        link=entry.link,
    )


BASE_COLUMNS = ["type", "id", "person_id", "unit_id", "municipality_id"]
TAIL_COLUMNS = ["value", "in_numerator", "stratum", "link"]


def _csv(code: str, items: list[CountedRecordRead]) -> str:
    """One row per entry; the instants are columns named as the indicator names them."""
    names = list(COUNTED[code].instants)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(BASE_COLUMNS + names + TAIL_COLUMNS)
    for item in items:
        instants = [item.instants.get(name) for name in names]
        writer.writerow(
            [item.type, item.id, item.person_id or "", item.unit_id or ""]
            + [item.municipality_id or ""]
            + [i.isoformat() if i else "" for i in instants]
            + ["" if item.value is None else item.value]
            + ["" if item.in_numerator is None else str(item.in_numerator).lower()]
            + [item.stratum or "", item.link]
        )
    return out.getvalue()


IndicatorPath = Annotated[str, Path(max_length=64, description="one indicator code")]


async def searcher(actor: Caller, indicator: IndicatorPath) -> Actor:
    """The caller, who must hold the search scope of the records the indicator counts
    (`system/Encounter.s` for an episode indicator, `system/Task.s` for deviations, ...), as
    their own lists require; an unknown indicator is refused by the use case, naming it."""
    counted = COUNTED.get(indicator)
    if counted is not None:
        await require(counted.resource_type, "s")(actor)
    return actor


def _start(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as err:
        raise InvalidInput(
            f"period_start must be a date (2026-03-01), not {text!r}", field="period_start"
        ) from err


@api.get(
    "/statistics/{indicator}/records",
    response_model=CellRecordsRead,
    description=DESCRIPTION,
    responses={
        **errors_for(404, 422),
        200: {
            "content": {"text/csv": {"example": ",".join(BASE_COLUMNS + TAIL_COLUMNS) + "\r\n"}},
            "description": "JSON, or CSV with `Accept: text/csv`",
        },
    },
)
async def list_statistics_records(
    actor: Annotated[Actor, Depends(searcher)],
    request: Request,
    uow: UowDep,
    query: AskedDep,
    page: PageDep,
    indicator: IndicatorPath,
    period_start: Annotated[
        str | None,
        Query(max_length=10, description="the cell's period, by its first day (2026-03-01)"),
    ] = None,
    group: Annotated[
        str | None, Query(max_length=64, description="the cell's group (with `by`)")
    ] = None,
) -> Response:
    """The records behind one cell of an indicator that you are a party to (JSON or CSV)."""
    if query.organization is not None and query.area is not None:
        raise InvalidInput("give organization or area, not both", field="area")
    periods = periods_asked(query.period, query.start, query.end, query.interval)
    result = await service.counted_records(
        uow,
        actor,
        indicator,
        periods,
        period_start=_start(period_start),
        by=query.by,
        group=group,
        organization_id=query.organization,
        area_id=query.area,
        now=query.now,
        limit=page.limit,
        cursor=page.cursor,
    )
    items = [_item(entry) for entry in result.items]
    link = next_link(request, result.next_cursor)
    if "text/csv" in request.headers.get("accept", ""):
        headers = {"Content-Disposition": 'attachment; filename="statistics-records.csv"'}
        if link is not None:
            headers["Link"] = f'<{link}>; rel="next"'
        return Response(
            _csv(result.code, items), media_type="text/csv; charset=utf-8", headers=headers
        )
    read = CellRecordsRead(
        indicator=result.code,
        period=result.period.label,
        period_start=result.period.first_day.isoformat(),
        period_end=result.period.stop_day.isoformat(),
        by=result.by.value if result.by else None,
        group=result.group,
        subject={"kind": result.subject.kind, "id": result.subject.id},
        access=ACCESS,
        items=items,
        next_cursor=result.next_cursor,
        next=link,
    )
    return Response(read.model_dump_json(), media_type="application/json")
