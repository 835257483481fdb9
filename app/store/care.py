"""Storage of care messages (with each recipient's copy) and deviation reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.care_messages import (
    CareMessage,
    Category,
    Priority,
    Recipient,
    RecipientState,
)
from app.domain.delivery import Outcome
from app.domain.deviations import (
    Deviation,
    DeviationCategory,
    DeviationState,
    StateChange,
)
from app.domain.errors import StaleVersion
from app.domain.parties import Reach, RecordType, Role
from app.store import tables as t
from app.store.paging import AnyOf, Page, trim_to_page, visible_page_query


class CareMessageRepository:
    """Care messages; a message is visible to its parties, its sender and its recipients."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, message: CareMessage) -> None:
        """Store a new message and its recipients' copies."""
        await self._conn.execute(
            insert(t.care_messages).values(
                id=message.id,
                thread_id=message.thread_id,
                in_reply_to=message.in_reply_to,
                sender_id=message.sender_id,
                person_id=message.person_id,
                category=message.category.value,
                priority=message.priority.value,
                subject=message.subject,
                text=message.text,
                sent_at=message.sent_at,
                version=message.version,
            )
        )
        await self._conn.execute(
            insert(t.care_message_recipients),
            [_recipient_row(message.id, r) for r in message.recipients],
        )

    async def save_state(self, message: CareMessage, *, expected_version: int) -> None:
        """Store the recipients' states, if no one else changed the message meanwhile."""
        result = await self._conn.execute(
            update(t.care_messages)
            .where(
                t.care_messages.c.id == message.id,
                t.care_messages.c.version == expected_version,
            )
            .values(version=message.version)
        )
        if result.rowcount != 1:
            raise StaleVersion(f"message {message.id} changed meanwhile; try again")
        await self._conn.execute(
            delete(t.care_message_recipients).where(
                t.care_message_recipients.c.message_id == message.id
            )
        )
        await self._conn.execute(
            insert(t.care_message_recipients),
            [_recipient_row(message.id, r) for r in message.recipients],
        )

    async def get(self, message_id: str, *, for_update: bool = False) -> CareMessage | None:
        """The message, or None.

        ``for_update``: locked until the transaction ends (see ``app.store.unit_of_work``).
        """
        query = select(t.care_messages).where(t.care_messages.c.id == message_id)
        found = await self._load(query.with_for_update() if for_update else query)
        return found[0] if found else None

    async def page(
        self,
        *,
        limit: int,
        after: str | None,
        visible_to: Reach,
        box: str | None = None,
        person_id: AnyOf = None,
        thread_id: AnyOf = None,
        category: AnyOf = None,
        ids: AnyOf = None,
        replies_only: bool = False,
    ) -> Page[CareMessage]:
        """Messages the reach sent (``box`` sent), received (received) or either, by id,
        filtered (a collection: any of its values); ``replies_only`` leaves out the first
        message of each thread."""
        roles = {"sent": (Role.SENDER,), "received": (Role.RECIPIENT,)}.get(
            box or "", (Role.SENDER, Role.RECIPIENT)
        )
        query = visible_page_query(
            t.care_messages,
            RecordType.MESSAGE,
            visible_to,
            limit=limit,
            after=after,
            equal={"id": ids, "person_id": person_id, "thread_id": thread_id, "category": category},
            roles=roles,
        )
        if replies_only:
            query = query.where(t.care_messages.c.id != t.care_messages.c.thread_id)
        return trim_to_page(await self._load(query), limit, lambda m: m.id)

    async def _load(self, query: Any) -> list[CareMessage]:
        rows = (await self._conn.execute(query)).all()
        if not rows:
            return []
        copies: dict[str, list[Recipient]] = {}
        for row in (
            await self._conn.execute(
                select(t.care_message_recipients)
                .where(t.care_message_recipients.c.message_id.in_([r.id for r in rows]))
                .order_by(t.care_message_recipients.c.organization_id)
            )
        ).all():
            copies.setdefault(row.message_id, []).append(recipient_from(row))
        return [message_from(row, copies.get(row.id, [])) for row in rows]


def recipient_from(row: Any) -> Recipient:
    """A recipient's copy of a ``care_message_recipients`` row."""
    return Recipient(
        row.organization_id,
        RecipientState(row.state),
        row.read_at,
        Outcome(row.outcome) if row.outcome else None,
        row.detail,
        row.acknowledged_at,
    )


def message_from(row: Any, recipients: list[Recipient]) -> CareMessage:
    """The message of a ``care_messages`` row, with its recipients' copies."""
    return CareMessage(
        id=row.id,
        thread_id=row.thread_id,
        sender_id=row.sender_id,
        recipients=recipients,
        category=Category(row.category),
        priority=Priority(row.priority),
        subject=row.subject,
        text=row.text,
        sent_at=row.sent_at,
        person_id=row.person_id,
        in_reply_to=row.in_reply_to,
        version=row.version,
    )


def _recipient_row(message_id: str, recipient: Recipient) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "organization_id": recipient.organization_id,
        "state": recipient.state.value,
        "read_at": recipient.read_at,
        "outcome": recipient.outcome.value if recipient.outcome else None,
        "detail": recipient.detail,
        "acknowledged_at": recipient.acknowledged_at,
    }


def _deviation_document(deviation: Deviation) -> dict[str, Any]:
    return {
        "description": deviation.description,
        "answer": deviation.answer,
        "organizations": list(deviation.organizations),
        "rule": deviation.rule,
        "history": [
            {
                "state": s.state.value,
                "at": s.at.isoformat(),
                "organization_id": s.organization_id,
                "note": s.note,
            }
            for s in deviation.history
        ],
    }


def first_answer(deviation: Deviation) -> datetime | None:
    """When the handler first answered the report, if it has."""
    return next((s.at for s in deviation.history if s.state is DeviationState.ANSWERED), None)


class DeviationRepository:
    """Deviation reports; visible to their parties, the reporter and the handler."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, deviation: Deviation) -> None:
        """Store a new report."""
        await self._conn.execute(
            insert(t.deviations).values(
                id=deviation.id,
                person_id=deviation.person_id,
                episode_id=deviation.episode_id,
                plan_id=deviation.plan_id,
                category=deviation.category.value,
                state=deviation.state.value,
                reporter_id=deviation.reporter_id,
                reporter_principal_id=deviation.reporter_principal_id,
                handler_principal_id=deviation.handler_principal_id,
                handler_id=deviation.handler_id,
                handler_role_id=deviation.handler_role_id,
                reported_at=deviation.reported_at,
                answered_at=first_answer(deviation),
                version=deviation.version,
                document=_deviation_document(deviation),
            )
        )

    async def save(self, deviation: Deviation, *, expected_version: int) -> None:
        """Store the new state, if no one else saved over ``expected_version``."""
        result = await self._conn.execute(
            update(t.deviations)
            .where(t.deviations.c.id == deviation.id, t.deviations.c.version == expected_version)
            .values(
                state=deviation.state.value,
                answered_at=first_answer(deviation),
                version=deviation.version,
                document=_deviation_document(deviation),
            )
        )
        if result.rowcount != 1:
            raise StaleVersion(
                f"deviation {deviation.id} was changed by someone else since version "
                f"{expected_version}; read it again"
            )

    async def get(self, deviation_id: str, *, for_update: bool = False) -> Deviation | None:
        """The report, or None.

        ``for_update``: locked until the transaction ends (see ``app.store.unit_of_work``).
        """
        query = select(t.deviations).where(t.deviations.c.id == deviation_id)
        rows = (await self._conn.execute(query.with_for_update() if for_update else query)).all()
        return deviation_from(rows[0]) if rows else None

    async def page(
        self,
        *,
        limit: int,
        after: str | None,
        visible_to: Reach,
        role: str | None = None,
        person_id: AnyOf = None,
        state: AnyOf = None,
        category: AnyOf = None,
        ids: AnyOf = None,
    ) -> Page[Deviation]:
        """Reports the reach made (``role`` reporter), handles (handler), is named in as
        involved (involved), or any of these, by id, filtered (a collection: any of its
        values)."""
        roles = {
            "reporter": (Role.REPORTER,),
            "handler": (Role.HANDLER,),
            "involved": (Role.INVOLVED,),
        }.get(role or "", (Role.REPORTER, Role.HANDLER, Role.INVOLVED))
        query = visible_page_query(
            t.deviations,
            RecordType.DEVIATION,
            visible_to,
            limit=limit,
            after=after,
            equal={"id": ids, "person_id": person_id, "state": state, "category": category},
            roles=roles,
        )
        rows = (await self._conn.execute(query)).all()
        return trim_to_page([deviation_from(r) for r in rows], limit, lambda d: d.id)


def deviation_from(row: Any) -> Deviation:
    """The report of a ``deviations`` row."""
    document = dict(row.document)
    return Deviation(
        id=row.id,
        person_id=row.person_id,
        category=DeviationCategory(row.category),
        description=document["description"],
        reporter_id=row.reporter_id,
        reporter_principal_id=row.reporter_principal_id,
        handler_principal_id=row.handler_principal_id,
        handler_id=row.handler_id,
        handler_role_id=row.handler_role_id,
        reported_at=row.reported_at,
        episode_id=row.episode_id,
        plan_id=row.plan_id,
        state=DeviationState(row.state),
        answer=document.get("answer"),
        organizations=tuple(document.get("organizations", ())),
        rule=document.get("rule"),
        version=row.version,
        history=[
            StateChange(
                DeviationState(s["state"]),
                datetime.fromisoformat(s["at"]),
                s["organization_id"],
                s.get("note"),
            )
            for s in document.get("history", [])
        ],
    )
