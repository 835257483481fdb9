"""The job that keeps the per-day statistics small: writers add to a shard each
(`app.store.statistics_daily`, so that concurrent notices do not queue on one row), and this
folds the shards into one row per key, wherever a dispatcher runs."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)


async def compact_daily(uow: UnitOfWork) -> bool:
    """Fold the shards once (`samverkan statistics compact`, and each run of the job); False when
    another process was compacting (PostgreSQL), which left this round to it."""
    return await uow.statistics.compact_daily()


async def run(engine: AsyncEngine, interval_seconds: float, stop: asyncio.Event) -> None:
    """Fold the shards every ``interval_seconds`` until ``stop`` is set; 0 means this process does
    not run the job. Any number of processes may run it: on PostgreSQL one compacts at a time
    (an advisory lock; the others skip that round), and a row a writer holds is left for the
    next run."""
    if interval_seconds == 0:
        logger.info("statistics compaction is off in this process")
        return
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), interval_seconds)
        except TimeoutError:
            pass
        if stop.is_set():
            return
        try:
            async with UnitOfWork(engine) as uow:
                if not await compact_daily(uow):
                    logger.debug("statistics compaction skipped: another process is compacting")
                await uow.commit()
        except Exception:
            # Nothing is lost: the shards still sum to the count, and the next run folds them.
            logger.exception("statistics compaction failed; trying again at the next run")
