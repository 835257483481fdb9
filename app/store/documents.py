"""Storage of documents, their content, and planning-basis answers.

A document's description and its bytes are kept apart: ``DocumentRepository`` holds the
description and hands the bytes to a ``ContentStore``. The one here keeps them in the database
(bytea on PostgreSQL, blob on SQLite) in the same transaction; an object store can take its place
by implementing the same two methods (and writing before the transaction commits, keyed by the
document's id, so that a rolled-back request leaves only an unreferenced object behind).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.documents import ATTACHABLE, Document, DocumentType
from app.domain.parties import Reach, RecordType
from app.domain.planning_basis import PlanningBasis
from app.store import document_tables as dt
from app.store.paging import AnyOf, Page, page_query, trim_to_page
from app.store.parties import visible_records


class ContentStore(Protocol):
    """Where the bytes of documents live."""

    async def put(self, document_id: str, data: bytes) -> None:
        """Keep the content of a new document."""

    async def get(self, document_id: str) -> bytes | None:
        """The content of a document, or None."""


class DatabaseContentStore:
    """Content in the ``document_contents`` table, inside the unit of work's transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def put(self, document_id: str, data: bytes) -> None:
        """Keep the content of a new document."""
        await self._conn.execute(
            insert(dt.document_contents).values(document_id=document_id, data=data)
        )

    async def get(self, document_id: str) -> bytes | None:
        """The content of a document, or None."""
        found = await self._conn.scalar(
            select(dt.document_contents.c.data).where(
                dt.document_contents.c.document_id == document_id
            )
        )
        return bytes(found) if found is not None else None


class DocumentRepository:
    """Documents; one is visible to the parties of the record it is attached to."""

    def __init__(self, conn: AsyncConnection, contents: ContentStore | None = None) -> None:
        self._conn = conn
        self.contents: ContentStore = contents or DatabaseContentStore(conn)

    async def add(self, document: Document, data: bytes) -> None:
        """Store a new document and its content."""
        await self._conn.execute(
            insert(dt.documents).values(
                id=document.id,
                record_type=document.record_type.value,
                record_id=document.record_id,
                person_id=document.person_id,
                type=document.type.value,
                title=document.title,
                description=document.description,
                content_type=document.content_type,
                size=document.size,
                sha256=document.sha256,
                author_id=document.author_id,
                created_at=document.created_at,
            )
        )
        await self.contents.put(document.id, data)

    async def get(self, document_id: str) -> Document | None:
        """The document's description, or None."""
        found = await self._load(select(dt.documents).where(dt.documents.c.id == document_id))
        return found[0] if found else None

    async def of_records(
        self, record_type: RecordType, record_ids: Sequence[str]
    ) -> list[Document]:
        """The documents attached to the records, oldest first."""
        if not record_ids:
            return []
        d = dt.documents.c
        return await self._load(
            select(dt.documents)
            .where(d.record_type == record_type.value, d.record_id.in_(list(record_ids)))
            .order_by(d.created_at, d.id)
        )

    async def arrivals(
        self, record_type: RecordType, record_ids: Sequence[str], document_type: DocumentType
    ) -> dict[str, list[datetime]]:
        """When each document of ``document_type`` attached to the records arrived, by record."""
        found: dict[str, list[datetime]] = {i: [] for i in record_ids}
        if not record_ids:
            return found
        d = dt.documents.c
        rows = await self._conn.execute(
            select(d.record_id, d.created_at).where(
                d.record_type == record_type.value,
                d.record_id.in_(list(record_ids)),
                d.type == document_type.value,
            )
        )
        for row in rows:
            found[row.record_id].append(row.created_at)
        return found

    async def page(
        self,
        *,
        limit: int,
        after: str | None,
        visible_to: Reach,
        person_id: AnyOf = None,
        record: tuple[RecordType, AnyOf] | None = None,
        types: Sequence[DocumentType] = (),
        author_id: AnyOf = None,
        ids: AnyOf = None,
    ) -> Page[Document]:
        """The documents the reach sees (through the records they are attached to), by id,
        filtered (a collection: any of its values)."""
        d = dt.documents.c
        visible = or_(
            *(
                and_(
                    d.record_type == kind.value, d.record_id.in_(visible_records(kind, visible_to))
                )
                for kind in ATTACHABLE
            )
        )
        query = page_query(
            dt.documents,
            visible,
            limit=limit,
            after=after,
            equal={
                "id": ids,
                "person_id": person_id,
                "record_id": record[1] if record else None,
                "type": types,
                "author_id": author_id,
            },
        )
        if record:
            query = query.where(d.record_type == record[0].value)
        return trim_to_page(await self._load(query), limit, lambda x: x.id)

    async def _load(self, query: Any) -> list[Document]:
        return [document_from(row) for row in (await self._conn.execute(query)).all()]


class PlanningBasisRepository:
    """Planning-basis answers; visible to the parties of their episode."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, basis: PlanningBasis) -> None:
        """Store answers given with a notice."""
        await self._conn.execute(
            insert(dt.planning_bases).values(
                id=basis.id,
                episode_id=basis.episode_id,
                person_id=basis.person_id,
                notice=basis.notice,
                seq=basis.seq,
                questionnaire_version=basis.version,
                author_id=basis.author_id,
                authored_at=basis.authored_at,
                answers=basis.answers,
            )
        )

    async def get(self, basis_id: str) -> PlanningBasis | None:
        """The answers, or None."""
        found = await self._load(
            select(dt.planning_bases).where(dt.planning_bases.c.id == basis_id)
        )
        return found[0] if found else None

    async def of_episodes(self, episode_ids: Sequence[str]) -> list[PlanningBasis]:
        """The answers given on the episodes, in the order of their notices."""
        if not episode_ids:
            return []
        b = dt.planning_bases.c
        return await self._load(
            select(dt.planning_bases)
            .where(b.episode_id.in_(list(episode_ids)))
            .order_by(b.episode_id, b.seq)
        )

    async def page(
        self,
        *,
        limit: int,
        after: str | None,
        visible_to: Reach,
        person_id: AnyOf = None,
        episode_id: AnyOf = None,
        ids: AnyOf = None,
    ) -> Page[PlanningBasis]:
        """The answers on episodes the reach is a party to, by id, filtered (a collection: any
        of its values)."""
        query = page_query(
            dt.planning_bases,
            dt.planning_bases.c.episode_id.in_(visible_records(RecordType.EPISODE, visible_to)),
            limit=limit,
            after=after,
            equal={"id": ids, "person_id": person_id, "episode_id": episode_id},
        )
        return trim_to_page(await self._load(query), limit, lambda x: x.id)

    async def _load(self, query: Any) -> list[PlanningBasis]:
        return [basis_from(row) for row in (await self._conn.execute(query)).all()]


def document_from(row: Any) -> Document:
    """The description of a document of a ``documents`` row."""
    return Document(
        id=row.id,
        record_type=RecordType(row.record_type),
        record_id=row.record_id,
        person_id=row.person_id,
        type=DocumentType(row.type),
        title=row.title,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        author_id=row.author_id,
        created_at=row.created_at,
        description=row.description,
    )


def basis_from(row: Any) -> PlanningBasis:
    """The answers of a ``planning_bases`` row."""
    return PlanningBasis(
        id=row.id,
        episode_id=row.episode_id,
        person_id=row.person_id,
        notice=row.notice,
        seq=row.seq,
        author_id=row.author_id,
        authored_at=row.authored_at,
        answers=dict(row.answers),
        version=row.questionnaire_version,
    )
