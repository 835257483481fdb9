"""The stored liable intervals: derived when a notice is appended, redone when the rules change.

Each episode's intervals come from the pure `liable_intervals` over its notices, in the
transaction that appends a notice. They carry the version of the configuration they were
computed under; ``liability_state`` names the version the store is in step with. `recompute`
(``samverkan liability recompute``) redoes every episode's intervals under a configuration and
records it; a running process that finds the store in step with another version than its own
adopts the stored configuration (`LiabilityRules.in_step`), and intervals a process wrote under
an older version are redone before anything is summed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from app.domain.episodes import Episode
from app.domain.liability import LiabilityConfig, liable_intervals
from app.services.liability_config import parse_liability_config
from app.store.liability import interval_rows
from app.store.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)
BATCH = 2_000


async def store_intervals(uow: UnitOfWork, episode: Episode, config: LiabilityConfig) -> None:
    """Derive and store an episode's liable intervals from its notices (same transaction)."""
    await uow.liability.replace(episode, liable_intervals(episode, config), config.version)


@dataclass(frozen=True, slots=True)
class Recomputed:
    """What a recomputation did."""

    version: str
    previous: str | None
    episodes: int
    intervals: int


async def recompute(uow: UnitOfWork, config: LiabilityConfig, *, now: datetime) -> Recomputed:
    """Redo every episode's liable intervals under ``config`` and record it as the one the store
    follows. Concurrent recomputations queue; the episodes are read a batch at a time."""
    await uow.liability.lock_state()
    state = await uow.liability.state()
    episodes = intervals = 0
    after: str | None = None
    while True:
        page = await uow.episodes.page(limit=BATCH, after=after)
        rows = [
            row
            for episode in page.items
            for row in interval_rows(episode, liable_intervals(episode, config), config.version)
        ]
        await uow.liability.replace_many(rows, [episode.id for episode in page.items])
        episodes += len(page.items)
        intervals += len(rows)
        if page.next_cursor is None or not page.items:
            break
        after = page.items[-1].id
    await uow.liability.set_state(config.version, config.to_dict(), now)
    return Recomputed(config.version, state[0] if state else None, episodes, intervals)


class LiabilityRules:
    """The liability configuration this process computes with, kept in step with the store."""

    def __init__(self, config: LiabilityConfig) -> None:
        self.config = config

    async def start(self, uow: UnitOfWork, *, now: datetime) -> None:
        """On start: a store that follows no configuration yet (a new database, or one migrated
        from before intervals were stored) is recomputed under this process's; a store that
        follows another one is followed, with a warning that the configured file differs."""
        state = await uow.liability.state()
        if state is None:
            await uow.liability.lock_state()
            state = await uow.liability.state()
            if state is None:
                done = await recompute(uow, self.config, now=now)
                logger.info(
                    "liability intervals computed for %d episodes under configuration %s",
                    done.episodes,
                    done.version,
                )
                return
        version, stored = state
        if version != self.config.version:
            logger.warning(
                "the liability configuration file (version %s) differs from the one the stored "
                "intervals follow (%s); following the stored one until `samverkan liability "
                "recompute` is run with the file",
                self.config.version,
                version,
            )
            self.config = parse_liability_config(stored)

    async def in_step(self, uow: UnitOfWork) -> LiabilityConfig:
        """The configuration the store follows, adopted if another process recomputed under a
        new one; intervals still of an older version are redone first, so a sum never mixes
        two configurations."""
        state = await uow.liability.state()
        if state is not None and state[0] != self.config.version:
            self.config = parse_liability_config(state[1])
        stale = await uow.liability.stale_episode_ids(self.config.version)
        for start in range(0, len(stale), BATCH):
            episodes = await uow.episodes.get_many(stale[start : start + BATCH])
            rows = [
                row
                for episode in episodes
                for row in interval_rows(
                    episode, liable_intervals(episode, self.config), self.config.version
                )
            ]
            await uow.liability.replace_many(rows, stale[start : start + BATCH])
        return self.config
