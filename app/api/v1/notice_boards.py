"""Notice boards of regions and cooperation areas: bulletins for all their units (DESIGN §6).

Bulletins are communications to many: reading takes ``system/Communication.s`` and posting or
withdrawing ``system/Communication.c``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.v1.common import ListPage, page_of, router
from app.domain.notice_board import Board, Bulletin, BulletinCategory
from app.http.deps import (
    CommunicationCreator,
    CommunicationSearcher,
    NowDep,
    PageDep,
    UowDep,
)
from app.http.errors import errors_for
from app.http.shapes import command, shaped
from app.http.values import Instant
from app.services import notice_board as service

api = router("/api/v1", "notice boards")


class BoardRead(BaseModel):
    """A notice board and the principals whose units read it."""

    id: str
    kind: Literal["region", "cooperation-area"]
    name: str
    members: list[str]


class BulletinCreate(BaseModel):
    """A bulletin: a new routine, an outage, …, shown from ``valid_from`` (default now) until
    ``valid_until`` (open-ended without one)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Driftstörning i journalsystemet",
                    "text": "Inskrivningsmeddelanden fördröjs mellan 18 och 20 i kväll.",
                    "category": "outage",
                    "valid_until": "2026-03-05T20:00:00+01:00",
                }
            ]
        },
    )

    title: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=20_000)
    category: BulletinCategory = BulletinCategory.OTHER
    valid_from: Instant | None = None
    valid_until: datetime | None = None


class Withdrawal(BaseModel):
    """Take a bulletin down now."""

    model_config = ConfigDict(extra="forbid")


class BulletinRead(BaseModel):
    """A bulletin on a board."""

    id: str
    board_id: str
    author_id: str
    category: BulletinCategory
    title: str
    text: str
    valid_from: datetime
    valid_until: datetime | None
    created_at: datetime
    withdrawn_at: datetime | None


def board_read(board: Board) -> BoardRead:
    """The API shape of a board."""
    return shaped(BoardRead, board, members=sorted(board.members))


def bulletin_read(bulletin: Bulletin) -> BulletinRead:
    """The API shape of a bulletin."""
    return shaped(BulletinRead, bulletin)


@api.get("/notice-boards", response_model=list[BoardRead])
async def list_notice_boards(actor: CommunicationSearcher, uow: UowDep) -> list[BoardRead]:
    """The boards the caller's organization reads: its region's and its cooperation areas'."""
    return [board_read(b) for b in await service.boards_of(uow, actor)]


@api.get(
    "/notice-boards/{board_id}/bulletins",
    response_model=ListPage[BulletinRead],
    responses=errors_for(404, 422),
)
async def list_bulletins(
    actor: CommunicationSearcher,
    board_id: str,
    uow: UowDep,
    page: PageDep,
    request: Request,
    now: NowDep,
    shown: Annotated[
        Literal["now", "all"], Query(description="`now`: only what is on the board now")
    ] = "now",
) -> dict[str, object]:
    """The board's bulletins: those shown now, or all of them."""
    result = await service.list_bulletins(
        uow,
        actor,
        board_id,
        limit=page.limit,
        after=page.cursor,
        shown_at=now if shown == "now" else None,
    )
    return page_of(request, result.items, result.next_cursor, bulletin_read)


@api.post(
    "/notice-boards/{board_id}/bulletins",
    status_code=201,
    response_model=BulletinRead,
    responses=errors_for(404, 415, 422),
)
async def post_bulletin(
    actor: CommunicationCreator,
    board_id: str,
    body: BulletinCreate,
    uow: UowDep,
    now: NowDep,
    response: Response,
) -> BulletinRead:
    """Post a bulletin on a board the caller's organization reads."""
    bulletin = await service.post(
        uow,
        actor,
        board_id,
        command(service.Post, body),
        now=now,
    )
    response.headers["Location"] = f"/api/v1/notice-boards/{board_id}/bulletins/{bulletin.id}"
    return bulletin_read(bulletin)


@api.post(
    "/notice-boards/{board_id}/bulletins/{bulletin_id}/withdrawal",
    response_model=BulletinRead,
    responses=errors_for(403, 404, 409, 415, 422),
)
async def withdraw_bulletin(
    actor: CommunicationCreator,
    board_id: str,
    bulletin_id: str,
    body: Withdrawal,
    uow: UowDep,
    now: NowDep,
) -> BulletinRead:
    """Take a bulletin down now (the organization that posted it, or its principal)."""
    return bulletin_read(await service.withdraw(uow, actor, board_id, bulletin_id, now=now))
