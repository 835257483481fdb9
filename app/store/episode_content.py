"""What notices carried onto episodes, read in one statement (issue 20).

An episode's API shape carries its documents and its planning-basis answers. Both are read here
by one ``UNION ALL`` (each part's columns under names of their own, the other part's empty), and
on PostgreSQL the statement also writes the access-log entries the request queued so far (a
data-modifying CTE), so that a list page is its page, this statement and the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import any_, bindparam, cast, literal, null, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.access_log import AccessEntry
from app.domain.documents import Document
from app.domain.parties import RecordType
from app.domain.planning_basis import PlanningBasis
from app.store import document_tables as dt
from app.store.access_rows import alike_params, written_alike_once, written_once, written_params
from app.store.documents import basis_from, document_from
from app.store.joined import Prefixed, labelled

_DOCUMENT = labelled(dt.documents, "document")
_BASIS = labelled(dt.planning_bases, "basis")


def _empty(columns: Sequence[Any]) -> list[Any]:
    """The columns of the other part, empty but typed, so that the parts line up."""
    return [cast(null(), column.type).label(column.name) for column in columns]


def _any_of(column: Any, name: str, array: bool) -> Any:
    """``column`` equal to any of the ids bound as ``name``: ``= ANY`` of one array parameter on
    PostgreSQL, so the statement's text is the same for any number of ids (an expanding ``IN``
    renders a parameter per id on every execution, most of the statement's Python on a list
    page: issue 20, profiled), the one array ``episode_ids`` that both parts read (asyncpg
    checks each element of an array it sends); an expanding ``IN`` of ``name`` elsewhere
    (SQLite has no arrays)."""
    if array:
        return column == any_(bindparam("episode_ids", type_=ARRAY(column.type)))
    return column.in_(bindparam(name, type_=column.type, expanding=True))


@cache
def _content_statement(logged: str, array: bool) -> Any:
    """The documents and planning bases of the episodes bound as ``documents_of`` and
    ``bases_of`` (the same ids; on PostgreSQL the one array ``episode_ids``), writing the
    access-log entries bound by ``written_params`` when ``logged`` is "each" (by
    ``alike_params`` when "alike"): built once, as building it on every list page cost more
    than running it (issue 20, profiled). ``array``: the ids bound as an array (PostgreSQL,
    ``_any_of``)."""
    d, b = dt.documents.c, dt.planning_bases.c
    documents = select(literal(0).label("part"), *_DOCUMENT, *_empty(_BASIS)).where(
        d.record_type == RecordType.EPISODE.value, _any_of(d.record_id, "documents_of", array)
    )
    bases = select(literal(1).label("part"), *_empty(_DOCUMENT), *_BASIS).where(
        _any_of(b.episode_id, "bases_of", array)
    )
    query = documents.union_all(bases).order_by(
        "part", "document_created_at", "document_id", "basis_episode_id", "basis_seq"
    )
    if logged:
        return query.add_cte(written_alike_once() if logged == "alike" else written_once())
    return query


class EpisodeContentReads:
    """The documents and planning bases of episodes."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def of_episodes(
        self, episode_ids: Sequence[str], log: Sequence[AccessEntry] = ()
    ) -> tuple[list[Document], list[PlanningBasis]]:
        """The documents attached to the episodes (oldest first) and the answers given on them
        (in the order of their notices), in one statement that also writes ``log`` (entries
        that name their principal; PostgreSQL only)."""
        if not episode_ids:
            return [], []
        ids = list(episode_ids)
        array = self._conn.dialect.name == "postgresql"
        params: dict[str, Any] = (
            {"episode_ids": ids} if array else {"documents_of": ids, "bases_of": ids}
        )
        logged = ""
        if log:
            alike = alike_params(log)
            logged = "each" if alike is None else "alike"
            params.update(written_params(log) if alike is None else alike)
        statement = _content_statement(logged, array)
        found = (await self._conn.execute(statement, params)).all()
        return (
            [document_from(Prefixed(row, "document")) for row in found if row.part == 0],
            [basis_from(Prefixed(row, "basis")) for row in found if row.part == 1],
        )
