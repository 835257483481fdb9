"""The inbox: every event sent to the caller's organization, polled with a cursor, acknowledged."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from app.api.v1.common import router
from app.domain.delivery import Outcome
from app.domain.errors import InvalidInput
from app.domain.message_events import MessageEvent
from app.domain.outbox import Delivery
from app.domain.values import INT4_MAX
from app.http.deps import NowDep, SettingsDep, UowDep, require
from app.http.errors import errors_for
from app.http.values import Instant
from app.security.access import Actor
from app.services import inbox as service

api = router("/api/v1", "inbox")

# An inbox item is a message to the organization: reading them is searching MessageHeaders, an
# acknowledgement updates one.
InboxReader = Annotated[Actor, Depends(require("MessageHeader", "s"))]
InboxAcknowledger = Annotated[Actor, Depends(require("MessageHeader", "u"))]


class Acknowledgement(BaseModel):
    """The receiver's acknowledgement of an item."""

    outcome: Outcome
    detail: str | None
    at: Instant


class InboxItem(BaseModel):
    """One event sent to the caller's organization."""

    id: int = Field(description="the item's id, to acknowledge it")
    event_id: str = Field(description="the event's id; the same in every push of it")
    event: str = Field(description="code of https://samverkan.dev/fhir/CodeSystem/message-event")
    stream: str = Field(description="what the event is about; items of a stream are in order")
    focus: str | None = Field(description="the resource the event is about, e.g. Encounter/<id>")
    person_id: str | None
    sender_id: str | None = Field(description="the organization whose change caused the event")
    receiver_id: str = Field(
        description="the organization it was sent to: the caller's own, or, for a principal's "
        "system, the principal or one of its units"
    )
    sent_at: datetime
    payload: dict[str, Any]
    cursor: str = Field(description="pass as `since` to poll for what came after this item")
    acknowledgement: Acknowledgement | None


class InboxPage(BaseModel):
    """Items after the cursor, oldest first."""

    items: list[InboxItem]
    next_cursor: str | None = Field(
        description="pass as `since` in the next poll (the same cursor when nothing was new)"
    )
    more: bool = Field(description="more items are waiting: poll again at once")


class AcknowledgementCreate(BaseModel):
    """An acknowledgement as sent by the receiver (MedCom's outcomes)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"outcome": "ok"}, {"outcome": "fatal-error", "detail": "unknown patient"}]
        },
    )

    outcome: Outcome
    detail: str | None = Field(default=None, max_length=1000)


def item_read(item: Delivery) -> InboxItem:
    """The API shape of an inbox item."""
    focus = item.event.payload.get("focus")
    return InboxItem(
        id=item.id,
        event_id=item.event.id,
        event=item.event.event,
        stream=item.event.stream,
        focus=focus if isinstance(focus, str) else None,
        person_id=item.event.person_id,
        sender_id=item.event.sender_id,
        receiver_id=item.receiver_id,
        sent_at=item.event.created_at,
        payload=item.event.payload,
        cursor=item.cursor,
        acknowledgement=Acknowledgement(
            outcome=item.outcome, detail=item.outcome_detail, at=item.acknowledged_at
        )
        if item.outcome is not None and item.acknowledged_at is not None
        else None,
    )


@api.get("/inbox", response_model=InboxPage, responses=errors_for(422))
async def list_inbox(
    actor: InboxReader,
    uow: UowDep,
    settings: SettingsDep,
    since: Annotated[
        str | None, Query(max_length=60, description="`next_cursor` of the previous poll")
    ] = None,
    event: Annotated[str | None, Query(max_length=40, description="only this event code")] = None,
    person_id: Annotated[
        str | None, Query(max_length=36, description="only about this person")
    ] = None,
    limit: Annotated[int | None, Query(ge=1, description="items per poll (bounded)")] = None,
) -> InboxPage:
    """Poll the events sent to the caller's organization, after a cursor."""
    codes = [e.value for e in MessageEvent]
    if event is not None and event not in codes:
        raise InvalidInput(f"event is one of {', '.join(codes)}", field="event")
    page = await service.list_inbox(
        uow,
        actor,
        since=since,
        limit=min(limit or settings.default_page_size, settings.max_page_size),
        event=event,
        person_id=person_id,
    )
    return InboxPage(
        items=[item_read(i) for i in page.items], next_cursor=page.cursor, more=page.more
    )


@api.post(
    "/inbox/{delivery_id}/acknowledgement",
    response_model=InboxItem,
    responses=errors_for(404, 409, 415, 422),
)
async def acknowledge_inbox_item(
    actor: InboxAcknowledger,
    delivery_id: Annotated[int, Path(ge=1, le=INT4_MAX)],
    body: AcknowledgementCreate,
    uow: UowDep,
    now: NowDep,
) -> InboxItem:
    """Acknowledge an item: ok, transient-error or fatal-error; the sender is told."""
    item = await service.acknowledge(uow, actor, delivery_id, body.outcome, body.detail, now=now)
    return item_read(item)
