"""Payment liability: rule sets, an episode's liability, a municipality's monthly report."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Annotated, Any, Literal

import orjson
from fastapi import Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import Response, StreamingResponse

from app.api.v1.common import router
from app.domain.episodes import check_aware
from app.domain.errors import InvalidInput
from app.domain.liability import AverageRuleSet, money
from app.http.deps import (
    Caller,
    EncounterReader,
    LiabilityDep,
    LiabilityRulesDep,
    NowDep,
    UowDep,
)
from app.http.errors import errors_for
from app.http.values import Instant
from app.security.access import Actor
from app.services import liability as service
from app.store.unit_of_work import UnitOfWork, write_failed_access

api = router("/api/v1", "liability")

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
# Every amount and rate the API shows has this one form, with the currency beside it.
Amount = Annotated[
    str,
    Field(
        pattern=r"^-?[0-9]+\.[0-9]{2}$",
        description="a decimal string with two places, in `currency`",
        examples=["18600.00"],
    ),
]


class RuleSetListing(BaseModel):
    """Every rule set, rate table and binding in force; each is data, loaded at start-up."""

    rule_sets: list[dict[str, Any]]
    rate_tables: list[dict[str, Any]]
    bindings: list[dict[str, Any]] = Field(
        description="which rule set applies to which region/municipality pair; the most "
        "specific match wins"
    )


@api.get("/liability/rule-sets", response_model=RuleSetListing)
async def list_rule_sets(_actor: Caller, config: LiabilityDep) -> RuleSetListing:
    """List the liability rule sets, rate tables and bindings."""
    return RuleSetListing(
        rule_sets=[r.to_dict() for r in config.rule_sets.values()],
        rate_tables=[t.to_dict() for t in config.rate_tables.values()],
        bindings=[b.to_dict() for b in config.bindings],
    )


EPISODE_EXAMPLE = {
    "episode_id": "0b7c4f1e-3a53-4a4e-9d2b-6f51f0d3c1aa",
    "rule_set_id": "se-statutory-somatic",
    "model": "individual",
    "rate_table_id": "se-socialstyrelsen",
    "currency": "SEK",
    "as_of": "2026-03-12T09:00:00+00:00",
    "liable_days": 2,
    "amount": None,
    "notes": ["no rate for 2026"],
    "rates": [{"year": 2026, "rate": None, "note": "no rate for 2026"}],
    "clocks": [
        {
            "notice_at": "2026-03-05T10:40:00+00:00",
            "day0": "2026-03-05",
            "liable_from": "2026-03-08",
            "ended_at": "2026-03-10T09:00:00+00:00",
            "end_reason": "discharge",
            "liable_days": 2,
            "liable_dates": ["2026-03-08", "2026-03-09"],
            "period_starts": [],
            "amount": None,
            "unmet_conditions": [],
        }
    ],
}


@api.get(
    "/episodes/{episode_id}/liability",
    tags=["episodes"],
    responses={
        **errors_for(404, 422),
        200: {
            "content": {"application/json": {"example": EPISODE_EXAMPLE}},
            "description": "the computed liability, with the rule set and rates it used",
        },
    },
)
async def get_episode_liability(
    actor: EncounterReader,
    episode_id: str,
    uow: UowDep,
    config: LiabilityDep,
    now: NowDep,
    as_of: Annotated[Instant | None, Query(description="default: now")] = None,
) -> dict[str, Any]:
    """Compute an episode's payment liability: clocks, liable days, rates and amount."""
    if as_of is not None:
        check_aware(as_of, "as_of")
    result = await service.episode_liability(uow, actor, episode_id, config, as_of=as_of or now)
    if isinstance(result, AverageRuleSet):
        return {
            "episode_id": episode_id,
            "rule_set_id": result.id,
            "model": "average",
            "detail": "this municipality pays under an average model; the amount is reckoned per "
            "month in the municipality's liability report",
            "rule_set": result.to_dict(),
        }
    return result.to_dict()


class ReportRowRead(BaseModel):
    """One episode's liable days in the month (persons with protected identity masked)."""

    episode_id: str
    person_id: str
    person_name: str
    person_identifier: str
    protected_identity: bool
    hospital_unit_id: str
    admitted_at: datetime
    discharge_ready_at: datetime | None
    discharged_at: datetime | None
    rule_set_id: str
    liable_days: int
    rate: Amount | None = Field(
        description="the daily rate of the month's year, in `currency`; null: no rate"
    )
    rates: list[dict[str, Any]]
    amount: Amount | None = Field(
        description="liable days × rate, in `currency`; null when the year has no rate"
    )
    currency: str | None
    notes: list[str] = Field(description='"no rate for YEAR" when the year has no rate')


class MonthlyReportRead(BaseModel):
    """A municipality's invoice basis for one month."""

    municipality_id: str
    municipality_name: str
    month: str = Field(examples=["2026-03"])
    as_of: datetime
    currency: str | None
    rows: list[ReportRowRead]
    total_liable_days: int
    averages: list[dict[str, Any]] = Field(
        description="average-model figures (month average, rolling average, level, amount) when "
        "the municipality pays by average"
    )
    total_amount: Amount | None = Field(
        description="the sum of the rows' amounts, in `currency`; null when a part of the month "
        "has no rate"
    )
    notes: list[str] = Field(description='"no rate for YEAR" when the month\'s year has no rate')


class _RowRenderer:
    """Report rows as ``ReportRowRead`` shows them, as plain values: a region's month is
    thousands of rows, which go straight to JSON without a model each (issue 20). The rows
    share a few rates and amounts, each rendered once."""

    def __init__(self, currency: str | None) -> None:
        self._currency = currency
        self._rates: dict[int, tuple[str | None, list[dict[str, Any]], list[str]]] = {}
        self._amounts: dict[Decimal | None, str | None] = {}

    def __call__(self, row: service.ReportRow) -> dict[str, Any]:
        person, episode, rate = row.person, row.episode, row.rate
        if id(rate) not in self._rates:
            note = [rate.note] if rate.note else []
            self._rates[id(rate)] = (money(rate.rate), [rate.to_dict()], note)
        shown_rate, applied, notes = self._rates[id(rate)]
        if row.amount not in self._amounts:
            self._amounts[row.amount] = money(row.amount)
        return {
            "episode_id": episode.id,
            "person_id": person.id,
            "person_name": f"{person.given_name} {person.family_name}".strip(),
            "person_identifier": person.identifier.value,
            "protected_identity": person.protected_identity,
            "hospital_unit_id": episode.hospital_unit_id,
            "admitted_at": episode.admitted_at,
            "discharge_ready_at": episode.discharge_ready_at,
            "discharged_at": episode.discharged_at,
            "rule_set_id": row.rule_set_id,
            "liable_days": row.liable_days,
            "rate": shown_rate,
            "rates": applied,
            "amount": self._amounts[row.amount],
            "currency": self._currency,
            "notes": notes,
        }


def _json(value: object) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_UTC_Z)


# How many rows a report reads, logs and sends at a time: the response is sent as it is read,
# so no process holds a whole month's rows (a region's month at 1 000 000 persons is tens of
# thousands), and each part's access-log entries are written before the part is sent.
REPORT_PART = 2000


async def _parts(
    engine: AsyncEngine, actor: Actor, scope: service.ReportScope, part: int
) -> AsyncIterator[list[service.ReportRow]]:
    """The report's rows, ``part`` at a time, each part read and logged in a unit of work of
    its own that has committed before the part is handed on.

    The first part is read from the month's rows; when it is full, its transaction also reads
    the places of every later row in the report's order (once, without persons), and each
    later part sums and reads only its own episodes' rows between its places: a report costs
    the month about twice and its rows once, not the month once per part (issue 20: 40 s for
    a region's reports at 1 000 000 persons, parts × month). Later parts are the rows that
    were in the month when its order was read, with the days they have when their part is."""
    first = UnitOfWork(engine, reads_only=True)
    later: list[service.LaterPart] = []
    try:
        async with first:
            rows = await service.report_rows(first, actor, scope, limit=part)
            if len(rows) == part:
                after = service.row_key(rows[-1])
                later = await service.later_parts(first, scope, after=after, part=part)
            await first.commit()
    finally:
        if first.pending_access:
            await write_failed_access(engine, first.pending_access)
    if rows:
        yield rows
    for each in later:
        uow = UnitOfWork(engine, reads_only=True)
        try:
            async with uow:
                rows = await service.report_rows(
                    uow,
                    actor,
                    scope,
                    after=after,
                    episode_ids=each.episode_ids,
                    until=each.until,
                )
                await uow.commit()
        finally:
            if uow.pending_access:
                await write_failed_access(engine, uow.pending_access)
        if rows:
            yield rows
        after = each.until


async def _report_json(
    parts: AsyncIterator[list[service.ReportRow]], scope: service.ReportScope
) -> AsyncIterator[bytes]:
    """The ``MonthlyReportRead`` document, its rows sent as they are read and the totals
    after them."""
    head = {
        "municipality_id": scope.municipality.id,
        "municipality_name": scope.municipality.name,
        "month": f"{scope.year:04d}-{scope.month:02d}",
        "as_of": scope.as_of,
        "currency": scope.currency,
        "averages": [a.to_dict() for a in scope.averages],
    }
    yield _json(head)[:-1] + b',"rows":['
    render, totals, first = _RowRenderer(scope.currency), service.ReportTotals(), True
    async for rows in parts:
        totals.add(rows)
        body = b",".join(_json(render(row)) for row in rows)
        yield body if first else b"," + body
        first = False
    done = totals.closed(scope.averages)
    tail = {
        "total_liable_days": done.days,
        "total_amount": money(done.amount),
        "notes": sorted(done.notes),
    }
    yield b"]," + _json(tail)[1:]


async def _report_csv(
    parts: AsyncIterator[list[service.ReportRow]], scope: service.ReportScope
) -> AsyncIterator[bytes]:
    """`service.report_csv`'s lines, its rows sent as they are read."""
    month = f"{scope.year:04d}-{scope.month:02d}"
    line = partial(service.csv_lines, scope.municipality.id, month, scope.currency)
    yield line((), header=True).encode()
    async for rows in parts:
        yield line(rows).encode()
    yield line((), scope.averages).encode()


@api.get(
    "/liability/reports/{municipality_id}/{month}",
    response_model=MonthlyReportRead,
    responses={
        **errors_for(404, 422),
        200: {
            "content": {"text/csv": {"example": ",".join(service.CSV_COLUMNS) + "\r\n"}},
            "description": "JSON, or CSV with `format=csv` or `Accept: text/csv`",
        },
    },
)
async def get_monthly_report(
    actor: EncounterReader,
    request: Request,
    uow: UowDep,
    rules: LiabilityRulesDep,
    now: NowDep,
    municipality_id: str,
    month: Annotated[str, Path(description="YYYY-MM, in the municipality's local time")],
    format: Annotated[
        Literal["json", "csv"] | None,
        Query(description="csv for the invoice basis as a spreadsheet"),
    ] = None,
) -> Response:
    """A municipality's monthly liability report (the invoice basis), as JSON or CSV."""
    match = MONTH.match(month)
    if match is None:
        raise InvalidInput("month must be given as YYYY-MM", field="month")
    scope = await service.report_scope(
        uow, actor, municipality_id, int(match[1]), int(match[2]), rules, as_of=now
    )
    wants_csv = format == "csv" or (
        format is None and "text/csv" in request.headers.get("accept", "")
    )
    # The declared ``MonthlyReportRead`` is the document's; the body is sent in parts as the
    # rows are read, after every refusal the report can give has been decided.
    parts = _parts(request.app.state.engine, actor, scope, REPORT_PART)
    if wants_csv:
        return StreamingResponse(
            _report_csv(parts, scope),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": (
                    f'attachment; filename="liability-{municipality_id}-{month}.csv"'
                )
            },
        )
    return StreamingResponse(_report_json(parts, scope), media_type="application/json")
