"""``GET /fhir/Measure/{id}/$evaluate-measure``: an indicator's figure as a summary
MeasureReport (https://hl7.org/fhir/R4/measure-operation-evaluate-measure.html).

``periodStart`` and ``periodEnd`` (dates) must span one calendar month, quarter or year in the
subject's local time; ``subject`` is ``Organization/<id>``, the caller's principal or one of its
units (default: the principal); ``reportType`` is ``summary``, the only one served (no patient
is ever named). The figure is the one `GET /api/v1/statistics` gives, computed in SQL.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from app.domain.errors import InvalidInput, NotFound
from app.domain.statistics import BY_CODE, Grain, Period
from app.domain.values import parse_day
from app.fhir.mappers import measure
from app.fhir.outcome import fhir_response
from app.http.deps import NowDep, UowDep, require
from app.http.routing import UnitOfWorkRoute
from app.security.access import Actor
from app.services import statistics as statistics_service

api = APIRouter(prefix="/fhir", tags=["FHIR"], route_class=UnitOfWorkRoute)
MeasureReader = Annotated[Actor, Depends(require("Measure", "r"))]
DEFINITION = "http://hl7.org/fhir/OperationDefinition/Measure-evaluate-measure"


def _day(value: str, name: str) -> date:
    return parse_day(value, name)


def period_of(start: date, end: date) -> Period:
    """The month, quarter or year from ``start`` to ``end`` (both included)."""
    for grain in (Grain.MONTH, Grain.QUARTER, Grain.YEAR):
        index = {Grain.MONTH: start.month, Grain.QUARTER: (start.month + 2) // 3, Grain.YEAR: 1}
        period = Period(start.year, index[grain], grain)
        if period.first_day == start and period.last_day == end:
            return period
    raise InvalidInput(
        "periodStart and periodEnd must span one calendar month, quarter or year "
        "(e.g. 2026-01-01 and 2026-03-31)",
        field="periodStart",
    )


@api.get(
    "/Measure/{measure_id}/$evaluate-measure",
    summary="Evaluate an indicator: a summary MeasureReport",
)
async def evaluate_measure(
    request: Request,
    actor: MeasureReader,
    uow: UowDep,
    now: NowDep,
    measure_id: Annotated[str, Path(max_length=64)],
    period_start: Annotated[str, Query(alias="periodStart")],
    period_end: Annotated[str, Query(alias="periodEnd")],
    subject: Annotated[str | None, Query(description="Organization/<id>")] = None,
    report_type: Annotated[str, Query(alias="reportType")] = "summary",
) -> Response:
    """The indicator's figure for the subject over one month, quarter or year."""
    item = BY_CODE.get(measure_id)
    if item is None:
        raise NotFound(f"no Measure with id {measure_id}")
    if report_type != "summary":
        raise InvalidInput("only summary reports are served", field="reportType")
    organization_id = None
    if subject is not None:
        kind, _sep, organization_id = subject.partition("/")
        if kind != "Organization" or not organization_id:
            raise InvalidInput("subject must be Organization/<id>", field="subject")
    period = period_of(_day(period_start, "periodStart"), _day(period_end, "periodEnd"))
    result = await statistics_service.statistics(
        uow,
        actor,
        [item],
        [period],
        by=None,
        organization_id=organization_id,
        area_id=None,
        rules=request.app.state.liability,
        now=now,
    )
    [figure] = result.figures[item.code]
    zone = {"SE": "Europe/Stockholm", "NO": "Europe/Oslo"}[result.subject.jurisdiction]
    return fhir_response(measure.report(item, figure, result.subject.id, zone, now))
