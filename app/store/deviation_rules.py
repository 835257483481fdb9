"""What the deviation rules decided, and which episodes they have still to decide.

``deviation_rule_outcomes`` holds one row per (rule, record, part) a rule decided, with the
deviation it raised or none. Its primary key makes each decision once: a decision is written
with ``INSERT … ON CONFLICT DO NOTHING`` in the transaction that raises the deviation, so of two
processes deciding the same part at once, one writes it and raises, and the other (on
PostgreSQL, after waiting for the first to commit; on SQLite, whose writers queue) writes nothing
and raises nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Integer, String, Table, and_, cast, exists, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.deviation_rules import Finding, Rule
from app.store import tables as t
from app.store.columns import instant

deviation_rule_outcomes = Table(
    "deviation_rule_outcomes",
    t.metadata,
    Column("rule", String(40), primary_key=True),
    Column("record_id", String(36), primary_key=True),
    Column("part", Integer, primary_key=True),
    Column("deviation_id", String(36), nullable=True),
    instant("decided_at"),
)


class DeviationRuleRepository:
    """The rules' decisions, and the episodes still to decide."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def undecided(
        self, rule: Rule, *, sent_before: datetime, after: str | None, limit: int
    ) -> list[str]:
        """Ids of episodes (in id order, after ``after``) with an event the rule looks at, sent
        before ``sent_before``, that the rule has not decided."""
        ev = t.episode_events.c
        o = deviation_rule_outcomes.c
        part: Any = ev.seq if rule.per_event else literal(0)
        decided = exists().where(
            and_(o.rule == rule.id, o.record_id == ev.episode_id, o.part == part)
        )
        query = (
            select(ev.episode_id)
            .select_from(t.episode_events.join(t.episodes, t.episodes.c.id == ev.episode_id))
            .where(
                ev.kind == rule.event_kind.value,
                ev.at < sent_before,
                t.episodes.c.jurisdiction.in_(sorted(rule.jurisdictions)),
                ~decided,
            )
            .group_by(ev.episode_id)
            .order_by(ev.episode_id)
            .limit(limit)
        )
        if rule.coordinated_only:
            query = query.where(cast(ev.data, String).like('%"coordinated_planning"%'))
        if after is not None:
            query = query.where(ev.episode_id > after)
        return [row.episode_id for row in await self._conn.execute(query)]

    async def decide(self, finding: Finding, deviation_id: str | None, now: datetime) -> bool:
        """Record the decision; False when it was already recorded (by this or another
        process), in which case the caller raises nothing."""
        rows = await self.decide_many([finding], [deviation_id], now)
        return rows == 1

    async def decide_many(
        self, findings: Sequence[Finding], deviation_ids: Sequence[str | None], now: datetime
    ) -> int:
        """Record several decisions, skipping those already recorded; how many were new."""
        if not findings:
            return 0
        values = [
            {
                "rule": f.rule,
                "record_id": f.record_id,
                "part": f.part,
                "deviation_id": deviation_id,
                "decided_at": now,
            }
            for f, deviation_id in zip(findings, deviation_ids, strict=True)
        ]
        insert = pg_insert if self._conn.dialect.name == "postgresql" else sqlite_insert
        statement = insert(deviation_rule_outcomes).values(values).on_conflict_do_nothing()
        result = await self._conn.execute(statement)
        return int(result.rowcount)

    async def raised(self, rule: str, record_id: str) -> list[str]:
        """The deviations a rule raised about a record."""
        o = deviation_rule_outcomes.c
        rows = await self._conn.execute(
            select(o.deviation_id).where(
                o.rule == rule, o.record_id == record_id, o.deviation_id.is_not(None)
            )
        )
        return [row.deviation_id for row in rows]
