"""The console's pages: worklist, the person's flow, plans, deviations, liability, notice boards.

Each page reads through the services the API uses, as the signed-in person (their organization,
role and user id), so it shows what the API would show that organization and logs it the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from app.domain.deviations import DeviationState
from app.domain.errors import InvalidInput
from app.domain.notice_board import BulletinCategory
from app.domain.organizations import Organization, OrgKind
from app.domain.plans import PlanStatus
from app.services import deviations, flow, liability, notice_board, organizations, plans, worklist
from app.services.liability_rules import LiabilityRules
from app.services.plans import principal_of
from app.services.worklist import WorklistRow
from app.web.context import Console, ConsoleRoute, Page
from app.web.render import ZONE, render

api = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)
MONTH = re.compile(r"^(\d{4})-(\d{2})$")
LIST_LIMIT = 200

SORTS: dict[str, Any] = {
    "name": lambda r: (r.person.family_name.lower(), r.person.given_name.lower()),
    "admitted": lambda r: r.episode.admitted_at,
    "expected": lambda r: (
        r.episode.expected_discharge_date is None,
        r.episode.expected_discharge_date,
    ),
    "ready": lambda r: (r.days_discharge_ready is None, -(r.days_discharge_ready or 0)),
    "liability": lambda r: (r.liability_from is None, r.liability_from),
    "answer": lambda r: (r.can_receive_from is None, r.can_receive_from),
    "summons": lambda r: (r.summons is None, r.summons.due_by if r.summons else None),
}


async def names(console: Console, ids: Sequence[str | None]) -> dict[str, str]:
    """Organization names for the ids a page shows (an unknown id shows as itself)."""
    found = await organizations.organizations_by_id(console.uow, [i for i in ids if i])
    return {org_id: org.name for org_id, org in found.items()}


def _filtered(rows: list[WorklistRow], state: str | None, text: str | None) -> list[WorklistRow]:
    if state:
        rows = [r for r in rows if r.episode.state.value == state]
    if text:
        needle = text.strip().lower()
        rows = [
            r
            for r in rows
            if needle in f"{r.person.given_name} {r.person.family_name}".lower()
            or needle in r.person.identifier.value.lower()
        ]
    return rows


@api.get("/worklist")
async def worklist_page(
    console: Page,
    sort: Annotated[str, Query(max_length=20)] = "ready",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "asc",
    state: Annotated[str | None, Query(max_length=20)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """The organization's patients in the discharge flow, and (receiving side) its unread inbox."""
    if sort not in SORTS:
        raise InvalidInput(f"sort by one of {', '.join(SORTS)}", field="sort")
    rules: LiabilityRules = console.request.app.state.liability
    found = await worklist.worklist(
        console.uow, console.signed_in, rules.config, now=console.now, limit=LIST_LIMIT
    )
    rows = sorted(_filtered(found.rows, state, q), key=SORTS[sort], reverse=order == "desc")
    org_ids: list[str | None] = [r.episode.hospital_unit_id for r in rows]
    org_ids += [r.episode.municipality_id for r in rows]
    org_ids += [u.item.event.sender_id for u in found.unread]
    return render(
        console,
        "worklist.html",
        worklist=found,
        rows=rows,
        sort=sort,
        order=order,
        state=state or "",
        q=q or "",
        names=await names(console, [*org_ids, found.organization.id]),
        today=console.now.astimezone(ZONE).date(),
    )


@api.get("/persons/{person_id}")
async def person_page(console: Page, person_id: str) -> Response:
    """One timeline for one person, as far as the organization may see it."""
    found = await flow.person_flow(console.uow, console.signed_in, person_id)
    org_ids = [e.organization_id for e in found.entries]
    org_ids += [p.organization_id for m in found.meetings for p in m.participants]
    org_ids += [e.hospital_unit_id for e in found.episodes]
    participants = await organizations.organizations_by_id(
        console.uow,
        [p.organization_id for m in found.meetings for p in m.participants if p.organization_id],
    )
    # A unit answers for itself and its principal answers for its units, as the API allows.
    answerable = {
        (m.id, p.id)
        for m in found.meetings
        for p in m.participants
        if p.organization_id in participants
        and principal_of(participants[p.organization_id]) == console.signed_in.principal_id
    }
    return render(
        console,
        "person.html",
        flow=found,
        names=await names(console, [*org_ids, found.person.residence_municipality_id]),
        organizations=set(console.signed_in.organizations),
        answerable=answerable,
        today=console.now.astimezone(ZONE).date(),
    )


@api.get("/plans")
async def plans_page(
    console: Page, status: Annotated[str | None, Query(max_length=20)] = None
) -> Response:
    """The plans the organization takes part in, the overdue follow-ups first."""
    chosen = PlanStatus(status) if status in {s.value for s in PlanStatus} else None
    actor = console.signed_in
    today = console.now.astimezone(ZONE).date()
    shared = await plans.list_plans(
        console.uow, actor, limit=LIST_LIMIT, after=None, person_id=None, status=chosen
    )
    late = await plans.overdue(console.uow, actor, now=console.now, responsible_principal_id=None)
    overdue_by_plan: dict[str, int] = {}
    for plan, missed in late:
        overdue_by_plan[plan.id] = max(overdue_by_plan.get(plan.id, 0), missed.days_overdue)
    rows = sorted(
        shared.items,
        key=lambda p: (
            -overdue_by_plan.get(p.id, 0),
            _next_follow_up(p.content.follow_up_dates, today) or date.max,
        ),
    )
    return render(
        console,
        "plans.html",
        plans=rows,
        overdue=overdue_by_plan,
        next_follow_up={p.id: _next_follow_up(p.content.follow_up_dates, today) for p in rows},
        chosen=status or "",
        statuses=list(PlanStatus),
        names=await names(console, [p.content.responsible_principal_id for p in rows]),
    )


def _next_follow_up(dates: tuple[date, ...], today: date) -> date | None:
    coming = [d for d in dates if d >= today]
    return min(coming) if coming else None


@api.get("/plans/{plan_id}")
async def plan_page(console: Page, plan_id: str) -> Response:
    """A plan: goals, interventions by responsible unit, and its versions."""
    plan, versions = await plans.plan_history(console.uow, console.signed_in, plan_id)
    by_unit: dict[str, list[Any]] = {}
    for intervention in plan.content.interventions:
        key = intervention.responsible_unit_id or intervention.responsible_principal_id or ""
        by_unit.setdefault(key, []).append(intervention)
    ids = [*by_unit, plan.content.responsible_principal_id, *(v[3] for v in versions)]
    if plan.content.coordinator:
        ids.append(plan.content.coordinator.unit_id)
    return render(
        console,
        "plan.html",
        plan=plan,
        versions=versions,
        by_unit=by_unit,
        names=await names(console, ids),
    )


@api.get("/deviations")
async def deviations_page(
    console: Page, role: Annotated[str, Query(pattern="^(handler|reporter)$")] = "handler"
) -> Response:
    """Open deviation reports, oldest first, with their handling steps."""
    found = []
    for state in (DeviationState.REPORTED, DeviationState.INVESTIGATING, DeviationState.ANSWERED):
        page = await deviations.list_deviations(
            console.uow,
            console.signed_in,
            limit=LIST_LIMIT,
            after=None,
            role=role,
            person_id=None,
            state=state,
            category=None,
        )
        found += page.items
    found.sort(key=lambda d: d.reported_at)
    ids = [d.reporter_id for d in found] + [d.handler_principal_id for d in found]
    ids += [step.organization_id for d in found for step in d.history]
    return render(
        console,
        "deviations.html",
        deviations=found,
        role=role,
        today=console.now.astimezone(ZONE).date(),
        names=await names(console, ids),
    )


async def _report(
    console: Console, municipality: str | None, month: str | None
) -> tuple[liability.MonthlyReport, list[Organization], str, str]:
    """The monthly report the liability page shows, the municipalities to choose from (for a
    region), and the municipality and month shown."""
    actor = console.signed_in
    principal = (await organizations.organizations_by_id(console.uow, [actor.principal_id]))[
        actor.principal_id
    ]
    month = month or console.now.astimezone(ZONE).strftime("%Y-%m")
    match = MONTH.match(month)
    if match is None:
        raise InvalidInput("month must be given as YYYY-MM", field="month")
    choices: list[Organization] = []
    if principal.kind is OrgKind.REGION:
        listed = await organizations.list_organizations(
            console.uow,
            limit=1000,
            after=None,
            kind=OrgKind.MUNICIPALITY,
            jurisdiction=principal.jurisdiction,
            parent_id=None,
            function=None,
            identifier=None,
        )
        choices = sorted(listed.items, key=lambda o: o.name)
        municipality = municipality or (choices[0].id if choices else None)
    else:
        municipality = principal.id
    if municipality is None:
        raise InvalidInput("choose a municipality", field="municipality")
    rules: LiabilityRules = console.request.app.state.liability
    report = await liability.monthly_report(
        console.uow, actor, municipality, int(match[1]), int(match[2]), rules, as_of=console.now
    )
    return report, choices, municipality, month


@api.get("/liability")
async def liability_page(
    console: Page,
    municipality: Annotated[str | None, Query(max_length=64)] = None,
    month: Annotated[str | None, Query(max_length=7)] = None,
) -> Response:
    """The month's invoice basis per municipality, with its total and average-model figures.

    The invoice basis is between principals: a person signed in for a unit is told so.
    """
    if not console.signed_in.is_principal_level:
        return render(console, "liability.html", report=None, choices=[], names={})
    report, choices, municipality, month = await _report(console, municipality, month)
    return render(
        console,
        "liability.html",
        report=report,
        choices=choices,
        municipality=municipality,
        month=month,
        names=await names(console, [r.episode.hospital_unit_id for r in report.rows]),
    )


@api.get("/liability.csv")
async def liability_csv(
    console: Page,
    municipality: Annotated[str | None, Query(max_length=64)] = None,
    month: Annotated[str | None, Query(max_length=7)] = None,
) -> Response:
    """The same invoice basis as CSV, as the API serves it."""
    report, _choices, municipality, month = await _report(console, municipality, month)
    return Response(
        liability.report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="liability-{municipality}-{month}.csv"'
        },
    )


@api.get("/notice-boards")
async def notice_boards_page(console: Page) -> Response:
    """The bulletins on the boards of the organization's region and cooperation areas."""
    actor = console.signed_in
    boards = await notice_board.boards_of(console.uow, actor)
    bulletins = {
        board.id: (
            await notice_board.list_bulletins(
                console.uow, actor, board.id, limit=50, after=None, shown_at=console.now
            )
        ).items
        for board in boards
    }
    authors = [b.author_id for items in bulletins.values() for b in items]
    return render(
        console,
        "notice_boards.html",
        boards=boards,
        bulletins=bulletins,
        names=await names(console, authors),
        categories=list(BulletinCategory),
    )
