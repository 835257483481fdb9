"""The unit of work: one database transaction per request, committed once at the edge.

Repositories and services only execute and flush; nothing commits except ``UnitOfWork.commit``,
which the request wrapper calls after the route succeeded. Leaving the block without commit
rolls back, so a failed request writes nothing.

Concurrent writers of one record queue, they do not fail. A command that changes a versioned
record (an episode, plan, meeting, care message or deviation) reads it ``for_update``: on
PostgreSQL that is ``SELECT … FOR UPDATE``, so a second writer waits for the first to commit
and then reads what it stored; SQLite takes its write lock at ``BEGIN IMMEDIATE`` (see
``app.store.database``), so its writers are serial from the start. The save's compare-and-set
on ``version`` then never meets a change made meanwhile, and ``StaleVersion`` (412) is left to
a client whose precondition (``If-Match``, ``meta.versionId``) names a version that is no
longer current.

On an engine the test suite pinned (``app.store.pinning``) the unit of work is a SAVEPOINT of the
pinned connection instead: commit releases it, a rollback rolls back to it.

A read (``reads_only``: FHIR read, vread, search, history, a REST list) on PostgreSQL runs
without BEGIN and COMMIT: each of its statements is a transaction of its own, which is what READ
COMMITTED gives a transaction's statements anyway, and the statements are pure SELECTs that
commit nothing, so they flush no write-ahead log. What a read writes is only its access-log
entries; handed the process's grouped writer (``writer``, ``app.services.access_writer``), its
``commit`` gives them to it and returns once the batch that holds them committed, together with
the entries of the reads running beside it: one insert and one WAL flush for all of them. A batch
that fails raises from ``commit``, and the entries stay queued for the edge to write as failed,
so no record is sent without its entry written. Without a writer (SQLite; a unit of work the
edge did not hand one) a read's entries are written by its own statements: with the read
(``access_for_statement``) or at ``commit``. Under the test pin a read is a savepoint like any
unit of work and writes its entries there itself (the writer's batch would need a second unit of
work on the pinned connection).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from functools import cached_property
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy import CTE, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from app.domain.access_log import AccessEntry
from app.store.access_log import AccessLogRepository
from app.store.breakers import BreakerRepository
from app.store.care import CareMessageRepository, DeviationRepository
from app.store.checked_reads import CheckedReads
from app.store.clients import ClientRepository
from app.store.deviation_rules import DeviationRuleRepository
from app.store.documents import DocumentRepository, PlanningBasisRepository
from app.store.episode_content import EpisodeContentReads
from app.store.episodes import EpisodeRepository
from app.store.idempotency import IdempotencyRepository
from app.store.liability import LiabilityRepository
from app.store.liability_report import LiabilityReportReads
from app.store.meetings import MeetingRepository
from app.store.messages import MessageRepository
from app.store.notice_board import BulletinRepository
from app.store.organizations import CooperationAreaRepository, OrganizationRepository
from app.store.outbox import OutboxRepository
from app.store.parties import PartyRepository
from app.store.persons import PersonRepository
from app.store.pinning import Pin, pin_of
from app.store.plans import PlanRepository
from app.store.projections import ProjectionRepository
from app.store.sessions import ConsoleSessionRepository
from app.store.staff import StaffRepository
from app.store.statistics import StatisticsRepository
from app.store.statistics_records import StatisticsRecordsRepository
from app.store.subscriptions import SubscriptionRepository

logger = logging.getLogger(__name__)


class AccessWriter(Protocol):
    """Writes access-log entries outside the unit of work (``app.services.access_writer``)."""

    async def write(self, entries: Sequence[AccessEntry]) -> None:
        """Return once ``entries`` are committed; raise if they could not be."""
        ...


class UnitOfWork:
    """A transaction and the repositories that work inside it."""

    def __init__(
        self, engine: AsyncEngine, *, reads_only: bool = False, writer: AccessWriter | None = None
    ) -> None:
        self._engine = engine
        self._reads_only = reads_only
        # Statements commit one by one (no BEGIN/COMMIT round trips): PostgreSQL, unpinned.
        self._autocommit = reads_only and engine.dialect.name == "postgresql"
        # A read's entries go to the grouped writer (only in autocommit: see ``__aenter__``).
        self._writer = writer if self._autocommit else None
        self._conn: AsyncConnection | None = None
        self._pin: Pin | None = None
        self._pinned_savepoint: AsyncTransaction | None = None
        self._committed = False
        self.pending_access: list[AccessEntry] = []
        # Entries a statement already wrote in this transaction (a read's access-log row written
        # with the read, ``app.store.checked_reads``); if it is rolled back they are lost, so
        # they go back to ``pending_access`` to be written as failed.
        self.logged_access: list[AccessEntry] = []
        # The same, for entries a statement wrote for each row it read (``logged_by_statement``):
        # the entry they share and each row's (record, person), made into entries only if they
        # must be written again.
        self._logged_rows: list[tuple[AccessEntry, Sequence[tuple[str, str]]]] = []
        self._savepoints = 0
        # Writes left for the request's last statement to carry (``defer``).
        self._last_statement_announced = False
        self._riders: list[CTE] = []
        self._rider_arrays: dict[str, list[Any]] = {}

    # The repositories, each made on first use: a request touches a few of them, and the
    # read of a stored projection only one.

    @cached_property
    def organizations(self) -> OrganizationRepository:
        return OrganizationRepository(self._connection)

    @cached_property
    def areas(self) -> CooperationAreaRepository:
        return CooperationAreaRepository(self._connection)

    @cached_property
    def persons(self) -> PersonRepository:
        return PersonRepository(self._connection)

    @cached_property
    def episodes(self) -> EpisodeRepository:
        return EpisodeRepository(self._connection)

    @cached_property
    def idempotency(self) -> IdempotencyRepository:
        return IdempotencyRepository(self._connection)

    @cached_property
    def clients(self) -> ClientRepository:
        return ClientRepository(self._connection)

    @cached_property
    def parties(self) -> PartyRepository:
        return PartyRepository(self._connection)

    @cached_property
    def staff(self) -> StaffRepository:
        return StaffRepository(self._connection)

    @cached_property
    def access_log(self) -> AccessLogRepository:
        return AccessLogRepository(self._connection)

    @cached_property
    def projections(self) -> ProjectionRepository:
        return ProjectionRepository(self._connection)

    @cached_property
    def plans(self) -> PlanRepository:
        return PlanRepository(self._connection, self.projections, self.parties)

    @cached_property
    def meetings(self) -> MeetingRepository:
        return MeetingRepository(self._connection)

    @cached_property
    def messages(self) -> MessageRepository:
        return MessageRepository(self._connection)

    @cached_property
    def care_messages(self) -> CareMessageRepository:
        return CareMessageRepository(self._connection)

    @cached_property
    def deviations(self) -> DeviationRepository:
        return DeviationRepository(self._connection)

    @cached_property
    def bulletins(self) -> BulletinRepository:
        return BulletinRepository(self._connection)

    @cached_property
    def outbox(self) -> OutboxRepository:
        return OutboxRepository(self._connection)

    @cached_property
    def subscriptions(self) -> SubscriptionRepository:
        return SubscriptionRepository(self._connection)

    @cached_property
    def breakers(self) -> BreakerRepository:
        return BreakerRepository(self._connection)

    @cached_property
    def liability(self) -> LiabilityRepository:
        return LiabilityRepository(self._connection)

    @cached_property
    def liability_report(self) -> LiabilityReportReads:
        return LiabilityReportReads(self._connection)

    @cached_property
    def statistics(self) -> StatisticsRepository:
        return StatisticsRepository(self._connection)

    @cached_property
    def statistics_records(self) -> StatisticsRecordsRepository:
        return StatisticsRecordsRepository(self._connection)

    @cached_property
    def console_sessions(self) -> ConsoleSessionRepository:
        return ConsoleSessionRepository(self._connection)

    @cached_property
    def documents(self) -> DocumentRepository:
        return DocumentRepository(self._connection)

    @cached_property
    def planning_bases(self) -> PlanningBasisRepository:
        return PlanningBasisRepository(self._connection)

    @cached_property
    def deviation_rules(self) -> DeviationRuleRepository:
        return DeviationRuleRepository(self._connection)

    @cached_property
    def checked(self) -> CheckedReads:
        return CheckedReads(self._connection, self.organizations)

    @cached_property
    def episode_content(self) -> EpisodeContentReads:
        return EpisodeContentReads(self._connection)

    @property
    def _connection(self) -> AsyncConnection:
        assert self._conn is not None, "a repository is used outside its unit of work"
        return self._conn

    def log_access(self, entry: AccessEntry) -> None:
        """Queue an access-log entry; it is written in the same transaction as the request.

        If the request fails, the edge writes the queued entries in a transaction of their own,
        marked with the failure, so that refused and failed accesses are logged too.
        """
        self.pending_access.append(entry)

    @property
    def logs_with_statement(self) -> bool:
        """Whether a read's statement may write the read's access-log entry itself (a
        data-modifying CTE, PostgreSQL): not on SQLite, nor in a read with the grouped writer,
        whose statements stay pure SELECTs (its entries are written at ``commit``)."""
        return self.dialect == "postgresql" and self._writer is None

    def access_for_statement(self) -> list[AccessEntry]:
        """The queued entries that the caller's next statement writes itself (a data-modifying
        CTE, on PostgreSQL): those naming their principal, outside a savepoint. They count as
        written from now (``logged_access``), and as failed if the transaction rolls back."""
        if not self.logs_with_statement or self._savepoints:
            return []
        taken = [e for e in self.pending_access if e.principal_id is not None]
        self.pending_access = [e for e in self.pending_access if e.principal_id is None]
        self.logged_access += taken
        return taken

    def logged_by_statement(self, shared: AccessEntry, records: Sequence[tuple[str, str]]) -> None:
        """Say that a statement of this transaction wrote ``shared`` for each (record id,
        person id) of ``records`` (a report's part, ``app.store.liability_report``): written, and
        written again as failed if the transaction rolls back, as ``logged_access``."""
        self._logged_rows.append((shared, records))

    def _unlog_rows(self, start: int = 0) -> list[AccessEntry]:
        """The entries of ``logged_by_statement`` from its ``start``-th call on, which are no
        longer written (their transaction or savepoint rolled back)."""
        batches, self._logged_rows[start:] = self._logged_rows[start:], []
        return [
            replace(shared, resource_id=resource_id, person_id=person_id)
            for shared, records in batches
            for resource_id, person_id in records
        ]

    def announce_last_statement(self) -> None:
        """Say that the request ends with a statement of its own that carries the writes left
        for it (``take_riders``): ``$process-message``'s stored response."""
        self._last_statement_announced = True

    @property
    def defers_writes(self) -> bool:
        """Whether writes that need nothing read back can be left for the request's announced
        last statement to carry (``defer``): not on SQLite (no data-modifying CTEs), nor inside
        a savepoint (whose rollback would not undo them)."""
        return (
            self.dialect == "postgresql"
            and self._last_statement_announced
            and not (self._savepoints)
        )

    def defer(self, writes: Sequence[CTE], arrays: Mapping[str, Sequence[Any]]) -> None:
        """Leave ``writes`` (data-modifying CTEs built once, their rows bound as ``arrays``)
        for the announced last statement to carry; writes already left get ``arrays`` appended
        to theirs, so one statement writes them all, in the order they were left. A commit
        without the last statement writes them by a statement of their own."""
        assert self.defers_writes
        self._riders += [w for w in writes if all(w is not r for r in self._riders)]
        for name, values in arrays.items():
            self._rider_arrays.setdefault(name, []).extend(values)

    def take_riders(self) -> tuple[tuple[CTE, ...], dict[str, list[Any]]]:
        """The writes left for the last statement, which the caller's statement carries, and
        the arrays it binds for them."""
        taken = (tuple(self._riders), self._rider_arrays)
        self._riders, self._rider_arrays = [], {}
        return taken

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A part of the transaction that is undone alone when the block raises.

        Access-log entries queued inside a failed part are kept, marked ``failed``.
        """
        assert self._conn is not None
        # A read runs outside a transaction on PostgreSQL (autocommit), where a savepoint would
        # be a transaction of its own that commits at once: whatever needs one is not a read.
        assert not self._reads_only, "a read-only unit of work has no savepoints"
        queued = len(self.pending_access)
        written = len(self.logged_access)
        rows_written = len(self._logged_rows)
        nested = await self._conn.begin_nested()
        self._savepoints += 1
        try:
            yield
        except BaseException:
            await nested.rollback()
            self.pending_access += self.logged_access[written:] + self._unlog_rows(rows_written)
            del self.logged_access[written:]
            self.pending_access[queued:] = [
                replace(e, outcome="failed") if e.outcome == "success" else e
                for e in self.pending_access[queued:]
            ]
            raise
        else:
            await nested.commit()
        finally:
            self._savepoints -= 1

    @property
    def dialect(self) -> str:
        """The database's dialect name (``sqlite`` or ``postgresql``)."""
        return self._engine.dialect.name

    async def __aenter__(self) -> UnitOfWork:
        self._pin = pin_of(self._engine)
        if self._pin is None:
            self._conn = await self._engine.connect()
            if self._autocommit:
                await self._conn.execution_options(isolation_level="AUTOCOMMIT")
            else:
                await self._conn.begin()
        else:
            self._autocommit = False
            self._writer = None
            self._pinned_savepoint = await self._pin.enter()
            self._conn = self._pin.connection
        return self

    async def commit(self) -> None:
        """Make everything done in this unit of work durable: a read's with the grouped writer
        returns once the batch holding its access-log entries committed, and raises if it
        failed."""
        assert self._conn is not None
        if self._riders:
            # The last statement announced did not come (a path that ended otherwise).
            writes, arrays = self.take_riders()
            await self._conn.execute(select(literal(1)).add_cte(*writes), arrays)
        if self._writer is not None:
            # A read: nothing of its own to commit. Its connection goes back to the pool first
            # (a read waiting for its batch has no more statements; other requests can use it
            # meanwhile), then it waits for the batch that holds its entries; if that fails,
            # they stay queued and the edge writes them as failed.
            await self._conn.close()
            if self.pending_access:
                await self._writer.write(self.pending_access)
        else:
            await self.access_log.append(self.pending_access)
        if self._pinned_savepoint is not None:
            await self._pinned_savepoint.commit()
        elif not self._autocommit:
            await self._conn.commit()
        self.pending_access = []
        self.logged_access = []
        self._logged_rows = []
        self._committed = True

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None
        try:
            if self._autocommit:
                # Nothing to undo: each statement committed; the logged reads happened.
                self.logged_access = []
                self._logged_rows = []
            elif not self._committed:
                self.pending_access = self.logged_access + self._unlog_rows() + self.pending_access
                self.logged_access = []
                if self._pinned_savepoint is not None:
                    if self._pinned_savepoint.is_active:
                        await self._pinned_savepoint.rollback()
                else:
                    await self._conn.rollback()
        finally:
            if self._pin is not None:
                self._pin.leave()
            else:
                await self._conn.close()


async def write_failed_access(engine: AsyncEngine, entries: Sequence[AccessEntry]) -> None:
    """Write the access-log entries of a request that failed, in a transaction of their own.

    The request's own transaction was rolled back, so its entries would be lost; an access that
    was refused or failed is as much part of the log as one that succeeded.
    """
    failed = [e if e.outcome != "success" else replace(e, outcome="failed") for e in entries]
    try:
        async with UnitOfWork(engine) as uow:
            await uow.access_log.append(failed)
            await uow.commit()
    except Exception:
        logger.exception("could not write %d access-log entries of a failed request", len(failed))
        raise
