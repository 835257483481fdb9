"""Deviation reports: report, list, read, and handle (investigating → answered → closed)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.v1.common import IfMatch, ListPage, page_of, parse_if_match, router, version_tag
from app.domain.deviations import Deviation, DeviationCategory, DeviationState
from app.http.deps import (
    NowDep,
    PageDep,
    TaskCreator,
    TaskReader,
    TaskSearcher,
    TaskUpdater,
    UowDep,
)
from app.http.errors import errors_for
from app.http.shapes import command, shaped
from app.services import deviations as service

api = router("/api/v1", "deviations")


class DeviationCreate(BaseModel):
    """A report that cooperation failed, about an episode or a plan; or a general one, about no
    episode, plan or person, naming the organizations involved (`organization_ids`)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "category": "missing-discharge-information",
                    "episode_id": "9d2f0c4e-1b7a-4c3e-8f5d-6a7b8c9d0e1f",
                    "description": "Läkemedelslistan saknades vid hemgång.",
                },
                {
                    "category": "other",
                    "organization_ids": ["region-norrbotten-sunderby-med"],
                    "handler_principal_id": "region-norrbotten",
                    "description": "Avdelningen svarar inte i telefon under helgerna.",
                },
            ]
        },
    )

    category: DeviationCategory
    description: str = Field(min_length=1, max_length=10_000)
    episode_id: str | None = Field(default=None, max_length=36)
    plan_id: str | None = Field(default=None, max_length=36)
    handler_principal_id: str | None = Field(default=None, max_length=64)
    organization_ids: list[str] = Field(
        default=[],
        max_length=service.MAX_INVOLVED,
        description="a general report (no episode, no plan): the organizations involved; their "
        "principals become parties to it, and one of them (other than the reporter's) handles it",
    )


class Handling(BaseModel):
    """The next step: investigating, answered (with the answer) or closed."""

    model_config = ConfigDict(extra="forbid")

    state: Literal["investigating", "answered", "closed"]
    note: str | None = Field(default=None, max_length=10_000)


class StepRead(BaseModel):
    """One step of the handling."""

    state: DeviationState
    at: datetime
    organization_id: str
    note: str | None


class DeviationRead(BaseModel):
    """A deviation report and its handling."""

    id: str
    person_id: str | None = Field(description="the person; none in a general report")
    category: DeviationCategory
    description: str
    episode_id: str | None
    plan_id: str | None
    reporter_id: str
    reporter_principal_id: str
    handler_principal_id: str
    handler_id: str = Field(
        description="the organization that handles it: where the principal's MAS (or deviation "
        "handler) works, else the principal; only it moves the report on"
    )
    handler_role_id: str | None = Field(description="that role in the staff register")
    reported_at: datetime
    state: DeviationState
    answer: str | None
    history: list[StepRead]
    organization_ids: list[str] = Field(description="a general report's organizations involved")
    raised_by_rule: str | None = Field(
        description="the rule that raised it, when the service raised it itself (on behalf of "
        "the reporter, the party let down)"
    )
    version: int


def deviation_read(deviation: Deviation) -> DeviationRead:
    """The API shape of a deviation report."""
    return shaped(
        DeviationRead,
        deviation,
        organization_ids=list(deviation.organizations),
        raised_by_rule=deviation.rule,
    )


def _answer(deviation: Deviation, response: Response) -> DeviationRead:
    response.headers["ETag"] = version_tag(deviation.version)
    return deviation_read(deviation)


@api.post(
    "/deviations",
    status_code=201,
    response_model=DeviationRead,
    responses=errors_for(404, 415, 422),
)
async def report_deviation(
    actor: TaskCreator,
    body: DeviationCreate,
    uow: UowDep,
    now: NowDep,
    request: Request,
    response: Response,
) -> DeviationRead:
    """Report a deviation; it goes to the principal that must handle it."""
    deviation = await service.report(
        uow,
        actor,
        command(service.Report, body, organization_ids=tuple(body.organization_ids)),
        now=now,
    )
    response.headers["Location"] = str(request.url_for("get_deviation", deviation_id=deviation.id))
    return _answer(deviation, response)


@api.get("/deviations", response_model=ListPage[DeviationRead], responses=errors_for(422))
async def list_deviations(
    actor: TaskSearcher,
    uow: UowDep,
    page: PageDep,
    request: Request,
    role: Annotated[Literal["reporter", "handler", "involved"] | None, Query()] = None,
    person_id: str | None = None,
    state: DeviationState | None = None,
    category: DeviationCategory | None = None,
) -> dict[str, object]:
    """The reports the caller's principal made or handles."""
    result = await service.list_deviations(
        uow,
        actor,
        limit=page.limit,
        after=page.cursor,
        role=role,
        person_id=person_id,
        state=state,
        category=category,
    )
    return page_of(request, result.items, result.next_cursor, deviation_read)


@api.get("/deviations/{deviation_id}", response_model=DeviationRead, responses=errors_for(404))
async def get_deviation(
    actor: TaskReader, deviation_id: str, uow: UowDep, response: Response
) -> DeviationRead:
    """Read a deviation report with its handling so far."""
    return _answer(await service.get_deviation(uow, actor, deviation_id), response)


@api.post(
    "/deviations/{deviation_id}/handling",
    response_model=DeviationRead,
    responses=errors_for(403, 404, 409, 412, 415, 422),
)
async def handle_deviation(
    actor: TaskUpdater,
    deviation_id: str,
    body: Handling,
    uow: UowDep,
    now: NowDep,
    response: Response,
    if_match: IfMatch = None,
) -> DeviationRead:
    """Move the handling on: only the handler investigates, answers and closes."""
    deviation = await service.move(
        uow,
        actor,
        deviation_id,
        DeviationState(body.state),
        body.note,
        if_match=parse_if_match(if_match),
        now=now,
    )
    return _answer(deviation, response)
