"""Administration of delivery: pushes that failed every attempt, and replaying them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.api.v1.common import ListPage, page_of, router
from app.domain.outbox import Delivery
from app.http.deps import Administrator, NowDep, PageDep, UowDep
from app.http.errors import errors_for
from app.http.shapes import shaped
from app.services import dead_letters as service

api = router("/api/v1/admin/dead-letters", "admin")


class DeadLetterRead(BaseModel):
    """A push that failed its last attempt (no personal data: references only)."""

    id: int
    event_id: str
    event: str
    stream: str
    receiver_id: str
    subscription_id: str | None
    event_number: int | None
    attempts: int
    last_error: str | None
    created_at: datetime


class Replayed(BaseModel):
    """How many dead letters are pending again."""

    replayed: int


class ReplayRequest(BaseModel):
    """Which dead letters to replay: by id, or every one of a subscription."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"delivery_ids": [17, 18]}, {"subscription_id": "…"}]},
    )

    delivery_ids: list[int] | None = Field(default=None, min_length=1, max_length=500)
    subscription_id: str | None = Field(default=None, min_length=1, max_length=36)

    @model_validator(mode="after")
    def _one(self) -> ReplayRequest:
        if (self.delivery_ids is None) == (self.subscription_id is None):
            raise ValueError("name either delivery_ids or subscription_id")
        return self


def dead_letter_read(item: Delivery) -> DeadLetterRead:
    """The API shape of a dead letter: the delivery, then the event it pushes."""
    event = item.event
    return shaped(DeadLetterRead, item, event, event_id=event.id, event=event.event)


@api.get("", response_model=ListPage[DeadLetterRead], responses=errors_for(401, 403, 422))
async def list_dead_letters(
    _admin: Administrator,
    uow: UowDep,
    page: PageDep,
    request: Request,
    subscription_id: Annotated[str | None, Query(max_length=36)] = None,
) -> dict[str, object]:
    """List the pushes that failed every attempt."""
    result = await service.list_dead_letters(
        uow, limit=page.limit, cursor=page.cursor, subscription_id=subscription_id
    )
    return page_of(request, result.items, result.next_cursor, dead_letter_read)


@api.post("/replay", response_model=Replayed, responses=errors_for(401, 403, 415, 422))
async def replay_dead_letters(
    _admin: Administrator, body: ReplayRequest, uow: UowDep, now: NowDep
) -> Replayed:
    """Push dead letters again, with a fresh budget of attempts (after an endpoint was repaired)."""
    replayed = await service.replay(
        uow,
        delivery_ids=body.delivery_ids or [],
        subscription_id=body.subscription_id,
        now=now,
    )
    return Replayed(replayed=replayed)
