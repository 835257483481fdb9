"""The statistics page: the follow-up indicators as charts drawn by the service, each with a table
beside it, per period and for the organization or one of its cooperation areas.

The figures come from the same service as `GET /api/v1/statistics` (computed in the database,
small cells suppressed where shared), the charts from the same renderer as its chart endpoint.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from starlette.responses import Response

from app.domain.errors import InvalidInput
from app.domain.statistics import BY_CODE, INDICATORS, Grain, Indicator, parse_period, series
from app.http.charts import describe, render_chart
from app.services import notice_board, statistics
from app.services.liability_rules import LiabilityRules
from app.web.context import Console, ConsoleRoute, Page
from app.web.render import ZONE, render

api = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

# What a coordinator or steering group looks at first; the choice offers every indicator.
FIRST = (
    "admissions-notified",
    "admission-notice-within-24h",
    "days-ready-to-discharge",
    "liable-days",
    "summons-within-deadline",
    "readmissions-30-days",
)


def _months(console: Console, start: str | None, end: str | None) -> tuple[str, str]:
    """The series asked for, by default the last twelve months up to this one."""
    today = console.now.astimezone(ZONE).date()
    last = date(today.year, today.month, 1)
    first = (
        date(last.year - 1, last.month, 1)
        if last.month == 12
        else date(last.year - 1, last.month + 1, 1)
    )
    return start or first.strftime("%Y-%m"), end or last.strftime("%Y-%m")


async def _figures(
    console: Console, chosen: list[Indicator], start: str, end: str, area: str | None
) -> statistics.Statistics:
    periods = series(parse_period(start, "from"), parse_period(end, "to"), Grain.MONTH)
    rules: LiabilityRules = console.request.app.state.liability
    return await statistics.statistics(
        console.uow,
        console.signed_in,
        chosen,
        periods,
        by=None,
        organization_id=None,
        area_id=area or None,
        rules=rules,
        now=console.now,
    )


def _chosen(indicator: str | None) -> list[Indicator]:
    if indicator in (None, ""):
        return [BY_CODE[code] for code in FIRST]
    if indicator == "all":
        return list(INDICATORS)
    if indicator not in BY_CODE:
        raise InvalidInput(f"no indicator {indicator}", field="indicator")
    return [BY_CODE[indicator]]


@api.get("/statistics")
async def statistics_page(
    console: Page,
    indicator: Annotated[str | None, Query(max_length=40)] = None,
    start: Annotated[str | None, Query(alias="from", max_length=7)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=7)] = None,
    area: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The indicators per month as charts, each with its table."""
    start, end = _months(console, start, end)
    chosen = _chosen(indicator)
    result = await _figures(console, chosen, start, end, area)
    areas = [
        board
        for board in await notice_board.boards_of(console.uow, console.signed_in)
        if board.kind == "cooperation-area"
    ]
    charts = {
        item.code: "/console/statistics/chart.svg?"
        + urlencode({"indicator": item.code, "from": start, "to": end, "area": area or ""})
        for item in chosen
    }
    return render(
        console,
        "statistics.html",
        result=result,
        chosen=chosen,
        indicators=INDICATORS,
        indicator=indicator or "",
        start=start,
        end=end,
        area=area or "",
        areas=areas,
        charts=charts,
        descriptions={item.code: describe(result, item) for item in chosen},
    )


@api.get("/statistics/chart.svg")
async def statistics_chart(
    console: Page,
    indicator: Annotated[str, Query(max_length=40)],
    start: Annotated[str, Query(alias="from", max_length=7)],
    end: Annotated[str, Query(alias="to", max_length=7)],
    area: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """One indicator's chart, as the API's chart endpoint draws it (SVG with title and desc)."""
    chosen = _chosen(indicator)
    result = await _figures(console, chosen, start, end, area)
    chart = render_chart(result, chosen[0], "svg")
    return Response(
        chart.body,
        media_type=chart.media_type,
        # The drawing styles itself inline; it runs no script and loads nothing.
        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
    )
