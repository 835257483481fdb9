"""Use cases of the notice boards: which boards a caller reads, post, list, withdraw.

A board that the caller's principal is not a member of does not exist for it (404).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from app.domain.episodes import check_aware
from app.domain.errors import InvalidInput
from app.domain.notice_board import Board, Bulletin, BulletinCategory
from app.domain.organizations import OrgKind
from app.security.access import Actor, not_found
from app.store.paging import Page
from app.store.unit_of_work import UnitOfWork

_AREAS = 1000  # more cooperation areas than any region has


@dataclass(frozen=True, slots=True)
class Post:
    """A bulletin as posted."""

    title: str
    text: str
    category: BulletinCategory
    valid_from: datetime | None = None
    valid_until: datetime | None = None


async def _region_board(uow: UnitOfWork, region_id: str, name: str) -> Board:
    areas = await uow.areas.page(limit=_AREAS, region_id=region_id)
    members = {region_id} | {m for a in areas.items for m in a.municipality_ids}
    return Board(region_id, "region", name, frozenset(members))


async def find_board(uow: UnitOfWork, board_id: str) -> Board | None:
    """The board of a region or a cooperation area, or None."""
    org = await uow.organizations.get(board_id)
    if org is not None:
        return await _region_board(uow, org.id, org.name) if org.kind is OrgKind.REGION else None
    area = await uow.areas.get(board_id)
    if area is None:
        return None
    members = frozenset({area.region_id, *area.municipality_ids})
    return Board(area.id, "cooperation-area", area.name, members)


async def get_board(uow: UnitOfWork, actor: Actor, board_id: str) -> Board:
    """The board, if the caller's principal is a member; 404 otherwise."""
    board = await find_board(uow, board_id)
    if board is None or actor.principal_id not in board.members:
        raise not_found("notice board", board_id)
    return board


async def boards_of(uow: UnitOfWork, actor: Actor) -> list[Board]:
    """The boards the caller reads: its region's and its cooperation areas'."""
    principal = await uow.organizations.get(actor.principal_id)
    if principal is None:
        return []
    if principal.kind is OrgKind.REGION:
        areas = (await uow.areas.page(limit=_AREAS, region_id=principal.id)).items
    elif principal.kind is OrgKind.MUNICIPALITY:
        areas = (await uow.areas.page(limit=_AREAS, municipality_id=principal.id)).items
    else:
        return []
    region_ids = sorted(
        {a.region_id for a in areas}
        | ({principal.id} if principal.kind is OrgKind.REGION else set())
    )
    regions = await uow.organizations.get_many(region_ids)
    boards = [await _region_board(uow, r, regions[r].name) for r in region_ids if r in regions]
    boards += [
        Board(a.id, "cooperation-area", a.name, frozenset({a.region_id, *a.municipality_ids}))
        for a in areas
    ]
    return boards


async def post(
    uow: UnitOfWork, actor: Actor, board_id: str, sent: Post, *, now: datetime
) -> Bulletin:
    """Post a bulletin on a board the caller's principal is a member of."""
    board = await get_board(uow, actor, board_id)
    for name, value in (("valid_from", sent.valid_from), ("valid_until", sent.valid_until)):
        if value is not None:
            check_aware(value, name)
    valid_from = sent.valid_from or now
    if sent.valid_until is not None and sent.valid_until <= now:
        raise InvalidInput("valid_until has already passed", field="valid_until")
    bulletin = Bulletin(
        id=str(uuid.uuid4()),
        board_id=board.id,
        author_id=actor.organization_id,
        author_principal_id=actor.principal_id,
        category=sent.category,
        title=sent.title,
        text=sent.text,
        valid_from=valid_from,
        valid_until=sent.valid_until,
        created_at=now,
    )
    await uow.bulletins.add(bulletin)
    return bulletin


async def list_bulletins(
    uow: UnitOfWork,
    actor: Actor,
    board_id: str,
    *,
    limit: int,
    after: str | None,
    shown_at: datetime | None,
) -> Page[Bulletin]:
    """The board's bulletins; with ``shown_at``, only those on the board at that moment."""
    board = await get_board(uow, actor, board_id)
    return await uow.bulletins.page(board.id, limit=limit, after=after, shown_at=shown_at)


async def withdraw(
    uow: UnitOfWork, actor: Actor, board_id: str, bulletin_id: str, *, now: datetime
) -> Bulletin:
    """Take a bulletin down (the principal that posted it)."""
    board = await get_board(uow, actor, board_id)
    bulletin = await uow.bulletins.get(bulletin_id)
    if bulletin is None or bulletin.board_id != board.id:
        raise not_found("bulletin", bulletin_id)
    bulletin.withdraw(actor.principal_id, now)
    await uow.bulletins.save(bulletin)
    return bulletin
