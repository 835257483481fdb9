"""Follow-up statistics: indicators per period and unit of analysis, as JSON, CSV and charts."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from app.api.v1.common import router
from app.domain.errors import InvalidInput
from app.domain.statistics import (
    BY_CODE,
    INDICATORS,
    SMALL,
    Dimension,
    Figure,
    Grain,
    Indicator,
    Period,
    indicator,
    parse_period,
    series,
)
from app.http.charts import render_chart
from app.http.deps import Caller, LiabilityRulesDep, NowDep, UowDep
from app.http.errors import errors_for
from app.security.access import Actor
from app.services import statistics as service
from app.services.liability_rules import LiabilityRules
from app.store.unit_of_work import UnitOfWork

api = router("/api/v1", "statistics")

_TABLE = "\n".join(
    f"| `{i.code}` | {i.unit} | {', '.join(sorted(d.value for d in i.dimensions))} | "
    f"{i.definition} |"
    for i in INDICATORS
)
DESCRIPTION = f"""Indicators computed in the database from the stored notices, plans, meetings,
deviations and messages; never typed in. Ask for one `period` (`2026-03`, `2026-Q1`, `2026`), or
a series `from`/`to` (same forms) by `interval` (`month`, `quarter`, `year`; at most 10 years).
Whose figures: your own organization (default: your principal), one of its units
(`organization`), or a cooperation area you belong to (`area`); `by` breaks them down. Figures of
an area, and breakdowns by municipality or area, are shared beyond one principal: counts under
{SMALL} are masked (null, named in `suppressed`), and so is any complement that would reveal one.
`Accept: text/csv` gives CSV. Periods are in the jurisdiction's local time.

| indicator | unit | by | definition |
|---|---|---|---|
{_TABLE}
"""


class FigureRead(BaseModel):
    """One indicator's figure for one period and group."""

    period: str = Field(examples=["2026-03"])
    period_start: str
    period_end: str = Field(description="the first local date after the period")
    group: str | None = Field(description="the unit, municipality or area; null: all")
    values: dict[str, Any] = Field(
        description="count; numerator, denominator, share; n, median, p90, mean; days, "
        "episodes, amount (decimal string), currency"
    )
    strata: dict[str, int | None] = Field(description="buckets or categories, when it has them")
    suppressed: list[str] = Field(description="values masked as small cells")
    notes: list[str] = Field(description='e.g. "no rate for 2026"')


class IndicatorRead(BaseModel):
    """An indicator with its definition and its figures."""

    code: str
    title: str
    definition: str
    unit: str
    kind: str
    figures: list[FigureRead]


class StatisticsRead(BaseModel):
    """The figures asked for, with whose they are and how they were protected."""

    subject: dict[str, str]
    by: str | None
    time_zone: str
    suppression: str | None = Field(description="the rule applied, when the figures are shared")
    indicators: list[IndicatorRead]


def _value(value: object) -> object:
    return str(value.quantize(Decimal("0.01"))) if isinstance(value, Decimal) else value


def _figure(figure: Figure) -> FigureRead:
    return FigureRead(
        period=figure.period.label,
        period_start=figure.period.first_day.isoformat(),
        period_end=figure.period.stop_day.isoformat(),
        group=figure.group,
        values={name: _value(value) for name, value in figure.values.items()},
        strata=figure.strata,
        suppressed=figure.suppressed,
        notes=figure.notes,
    )


def _read(result: service.Statistics) -> StatisticsRead:
    subject = result.subject
    return StatisticsRead(
        subject={"kind": subject.kind, "id": subject.id, "name": subject.name},
        by=result.by.value if result.by else None,
        time_zone={"SE": "Europe/Stockholm", "NO": "Europe/Oslo"}[subject.jurisdiction],
        suppression=(
            f"counts under {SMALL} and the complements that would reveal them are masked"
            if result.shared
            else None
        ),
        indicators=[
            IndicatorRead(
                code=code,
                title=BY_CODE[code].title,
                definition=BY_CODE[code].definition,
                unit=BY_CODE[code].unit,
                kind=BY_CODE[code].kind.value,
                figures=[_figure(f) for f in figures],
            )
            for code, figures in result.figures.items()
        ],
    )


CSV_COLUMNS = ["indicator", "period", "group", "measure", "value", "suppressed", "unit"]


def _csv(read: StatisticsRead) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in read.indicators:
        for figure in item.figures:
            measures = list(figure.values.items()) + [
                (f"strata.{name}", count) for name, count in figure.strata.items()
            ]
            for name, value in measures:
                writer.writerow(
                    [
                        item.code,
                        figure.period,
                        figure.group or "",
                        name,
                        "" if value is None else value,
                        "yes" if name in figure.suppressed else "",
                        item.unit,
                    ]
                )
    return out.getvalue()


def periods_asked(
    period: str | None, start: str | None, end: str | None, interval: Grain | None
) -> list[Period]:
    """The periods asked for: one `period`, or the series `from`–`to` by `interval`."""
    if period is not None:
        if start is not None or end is not None:
            raise InvalidInput("give either period, or from and to", field="period")
        return [parse_period(period, "period")]
    if start is None or end is None:
        raise InvalidInput("give period, or both from and to", field="from" if not start else "to")
    return series(parse_period(start, "from"), parse_period(end, "to"), interval or Grain.MONTH)


Codes = Annotated[
    list[str] | None,
    Query(description="indicator codes (repeatable; default: all)", max_length=len(INDICATORS)),
]
PeriodQ = Annotated[str | None, Query(description="2026-03, 2026-Q1 or 2026")]
FromQ = Annotated[str | None, Query(alias="from", description="first period of a series")]
ToQ = Annotated[str | None, Query(alias="to", description="last period of a series")]
IntervalQ = Annotated[Grain | None, Query(description="a series' step (default month)")]
ByQ = Annotated[Dimension | None, Query(description="break down by unit, municipality or area")]
OrgQ = Annotated[
    str | None, Query(max_length=64, description="your principal (default) or one of its units")
]
AreaQ = Annotated[str | None, Query(max_length=64, description="a cooperation area you belong to")]


@dataclass(frozen=True, slots=True)
class Asked:
    """What both the figures and the chart are asked with, besides the indicator: the query
    parameters they share, the liability rules in force and the request's now."""

    rules: LiabilityRules
    now: datetime
    period: str | None
    start: str | None
    end: str | None
    interval: Grain | None
    by: Dimension | None
    organization: str | None
    area: str | None


async def asked(
    rules: LiabilityRulesDep,
    now: NowDep,
    period: PeriodQ = None,
    start: FromQ = None,
    end: ToQ = None,
    interval: IntervalQ = None,
    by: ByQ = None,
    organization: OrgQ = None,
    area: AreaQ = None,
) -> Asked:
    """The query parameters the statistics routes share."""
    return Asked(rules, now, period, start, end, interval, by, organization, area)


AskedDep = Annotated[Asked, Depends(asked)]


async def _compute(
    actor: Actor, uow: UnitOfWork, codes: list[str] | None, query: Asked
) -> service.Statistics:
    chosen: list[Indicator] = [indicator(code) for code in codes] if codes else list(INDICATORS)
    if query.organization is not None and query.area is not None:
        raise InvalidInput("give organization or area, not both", field="area")
    periods = periods_asked(query.period, query.start, query.end, query.interval)
    return await service.statistics(
        uow,
        actor,
        chosen,
        periods,
        by=query.by,
        organization_id=query.organization,
        area_id=query.area,
        rules=query.rules,
        now=query.now,
    )


@api.get(
    "/statistics",
    response_model=StatisticsRead,
    description=DESCRIPTION,
    responses={
        **errors_for(404, 422),
        200: {
            "content": {"text/csv": {"example": ",".join(CSV_COLUMNS) + "\r\n"}},
            "description": "JSON, or CSV with `Accept: text/csv`",
        },
    },
)
async def get_statistics(
    actor: Caller,
    request: Request,
    uow: UowDep,
    query: AskedDep,
    indicator: Codes = None,
) -> Response:
    """Follow-up indicators per period and unit of analysis (JSON or CSV)."""
    result = await _compute(actor, uow, indicator, query)
    read = _read(result)
    if "text/csv" in request.headers.get("accept", ""):
        return Response(
            _csv(read),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="statistics.csv"'},
        )
    return Response(read.model_dump_json(), media_type="application/json")


@api.get(
    "/statistics/chart",
    response_class=Response,
    responses={
        **errors_for(404, 422),
        200: {
            "content": {"image/svg+xml": {}, "image/png": {}},
            "description": "SVG (with <title> and <desc>), or PNG with `Accept: image/png`; "
            "the text alternative is in the `X-Text-Alternative` header (percent-encoded)",
        },
    },
)
async def get_statistics_chart(
    actor: Caller,
    request: Request,
    uow: UowDep,
    query: AskedDep,
    indicator: Annotated[str, Query(description="one indicator code")],
    format: Annotated[Literal["svg", "png"] | None, Query(description="default: Accept")] = None,
) -> Response:
    """One indicator as a chart drawn on the server (SVG, or PNG), with a text alternative."""
    result = await _compute(actor, uow, [indicator], query)
    wants_png = format == "png" or (
        format is None and "image/png" in request.headers.get("accept", "")
    )
    chart = render_chart(result, BY_CODE[indicator], "png" if wants_png else "svg")
    data_link = str(request.url).replace("/statistics/chart", "/statistics", 1)
    return Response(
        chart.body,
        media_type=chart.media_type,
        headers={
            "X-Text-Alternative": quote(chart.description, safe=" ,.:;()/-"),
            "Link": f'<{data_link}>; rel="describedby"; type="application/json"',
        },
    )
