"""The console's actions: acknowledge an inbox item, the municipality's answer, a reply to a
summons, a bulletin. Each is a form with the session's CSRF token, allowed by the person's role as
a scope would allow it, and done by the same service as the API's endpoint."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path
from starlette.responses import RedirectResponse, Response

from app.domain.delivery import Outcome
from app.domain.errors import InvalidInput
from app.domain.meetings import Reply
from app.domain.notice_board import BulletinCategory
from app.services import episodes, inbox, meetings, notice_board
from app.services.commands import RecordMunicipalityResponse
from app.services.liability_rules import LiabilityRules
from app.web.context import Console, ConsoleRoute, Refused
from app.web.context import Form as PersonForm
from app.web.render import ZONE
from app.web.sign_in import local_path

api = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


def _allowed(console: Console, resource: str, permission: str) -> None:
    if not console.may(resource, permission):
        identity = console.identity
        role = identity.role.value if identity else "none"
        raise Refused(403, f"the role {role} does not allow this")


def _back(next_path: str, default: str, done: str) -> Response:
    """Back to the page the form was on, which then says what was done."""
    target = local_path(next_path) or default
    joiner = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{joiner}{urlencode({'done': done})}", status_code=303)


@api.post("/inbox/{item_id}/acknowledgement")
async def acknowledge(
    console: PersonForm,
    item_id: Annotated[int, Path(ge=1)],
    outcome: Annotated[Outcome, Form()] = Outcome.OK,
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Acknowledge an inbox item (as `POST /api/v1/inbox/{id}/acknowledgement`)."""
    _allowed(console, "MessageHeader", "u")
    await inbox.acknowledge(console.uow, console.signed_in, item_id, outcome, None, now=console.now)
    return _back(next, "/console/worklist", "acknowledged")


@api.post("/episodes/{episode_id}/municipality-response")
async def municipality_response(
    console: PersonForm,
    episode_id: Annotated[str, Path(max_length=64)],
    can_receive_from: Annotated[date, Form()],
    version: Annotated[int | None, Form()] = None,
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """The municipality's answer: from which date it can receive the patient."""
    _allowed(console, "Encounter", "u")
    notice = RecordMunicipalityResponse(can_receive_from=can_receive_from, if_match=version)
    rules: LiabilityRules = console.request.app.state.liability
    await episodes.record_notice(
        console.uow, console.signed_in, episode_id, notice, now=console.now, liability=rules.config
    )
    return _back(next, "/console/worklist", "answered")


@api.post("/meetings/{meeting_id}/reply")
async def reply(
    console: PersonForm,
    meeting_id: Annotated[str, Path(max_length=64)],
    participant_id: Annotated[str, Form(max_length=64)],
    answer: Annotated[Reply, Form()],
    reason: Annotated[str, Form(max_length=1000)] = "",
    proposed_date: Annotated[date | None, Form()] = None,
    proposed_time: Annotated[time | None, Form()] = None,
    version: Annotated[int | None, Form()] = None,
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """A reply to a meeting summons: accept, decline with a reason, or propose another time."""
    _allowed(console, "Appointment", "u")
    proposed = None
    if proposed_date is not None:
        proposed = datetime.combine(proposed_date, proposed_time or time(9), ZONE)
    await meetings.reply(
        console.uow,
        console.signed_in,
        meeting_id,
        participant_id,
        answer,
        reason=reason.strip() or None,
        proposed_start=proposed,
        if_match=version,
        now=console.now,
    )
    return _back(next, "/console/worklist", "replied")


@api.post("/notice-boards/{board_id}/bulletins")
async def post_bulletin(
    console: PersonForm,
    board_id: Annotated[str, Path(max_length=64)],
    title: Annotated[str, Form(max_length=200)],
    text: Annotated[str, Form(max_length=20_000)],
    category: Annotated[BulletinCategory, Form()] = BulletinCategory.OTHER,
    valid_until: Annotated[date | None, Form()] = None,
) -> Response:
    """Post a bulletin on a board of the organization's region or cooperation area."""
    _allowed(console, "Communication", "c")
    if not title.strip():
        raise InvalidInput("a bulletin has a title", field="title")
    if not text.strip():
        raise InvalidInput("a bulletin has a text", field="text")
    until = datetime.combine(valid_until, time(23, 59), ZONE) if valid_until else None
    await notice_board.post(
        console.uow,
        console.signed_in,
        board_id,
        notice_board.Post(
            title=title.strip(), text=text.strip(), category=category, valid_until=until
        ),
        now=console.now,
    )
    return _back("/console/notice-boards", "/console/notice-boards", "posted")
