"""The scheduled job that raises deviations by itself (DESIGN §7), each exactly once.

``raise_due`` applies every rule of ``app.domain.deviation_rules`` to the episodes it has not
decided yet. A decision that raises a deviation is written with the deviation, its parties, its
access-log entry and its delivery to the handler and the reporter in one transaction, whose
first write is the decision itself (``INSERT … ON CONFLICT DO NOTHING``): when several processes
run the job at once, one writes the decision and raises, the others find it written and raise
nothing. Decisions that raise nothing are written together, so an episode that kept the rules is
looked at once.

``run`` repeats the job until stopped; the dispatcher process (``samverkan dispatcher``) and the
API process of ``samverkan serve`` each run it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.access_log import AccessEntry
from app.domain.deviation_rules import RULES, Facts, Finding, Need, Raised, Rule
from app.domain.deviations import Deviation, DeviationState, StateChange
from app.domain.documents import DocumentType
from app.domain.episodes import Episode
from app.domain.parties import RecordType, deviation_parties
from app.services.deviations import RESOURCE, announce, route
from app.store.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)
BATCH = 200


async def raise_due(
    engine: AsyncEngine, *, now: datetime, rules: tuple[Rule, ...] | None = None
) -> list[str]:
    """Apply the rules to every episode they have still to decide; the deviations raised."""
    raised: list[str] = []
    for rule in rules if rules is not None else tuple(RULES.values()):
        after: str | None = None
        while True:
            async with UnitOfWork(engine) as uow:
                ids = await uow.deviation_rules.undecided(
                    rule, sent_before=now - rule.settles_after, after=after, limit=BATCH
                )
                episodes = await uow.episodes.get_many(ids)
                facts = await _facts(uow, rule, episodes)
            findings = [
                finding
                for episode in episodes
                for finding in rule.check(episode, facts[episode.id], now)
            ]
            raised += await _decide(engine, findings, now)
            if len(ids) < BATCH:
                break
            after = ids[-1]
    return raised


async def _facts(uow: UnitOfWork, rule: Rule, episodes: list[Episode]) -> dict[str, Facts]:
    """What the rule needs beyond each episode, by episode id (a query per fact needed)."""
    summonses: dict[str, list[datetime]] = {}
    if Need.SUMMONSES in rule.needs:
        summonses = await uow.meetings.summonses_of_persons(sorted({e.person_id for e in episodes}))
    arrivals: dict[str, list[datetime]] = {}
    if Need.DISCHARGE_INFORMATION in rule.needs:
        documents = await uow.documents.of_records(RecordType.EPISODE, [e.id for e in episodes])
        for document in documents:
            if document.type is DocumentType.DISCHARGE_INFORMATION:
                arrivals.setdefault(document.record_id, []).append(document.created_at)
    return {
        e.id: Facts(
            summons_sent=summonses.get(e.person_id, ()),
            discharge_information=arrivals.get(e.id, ()),
        )
        for e in episodes
    }


async def _decide(engine: AsyncEngine, findings: list[Finding], now: datetime) -> list[str]:
    quiet = [f for f in findings if f.raised is None]
    if quiet:
        async with UnitOfWork(engine) as uow:
            await uow.deviation_rules.decide_many(quiet, [None] * len(quiet), now)
            await uow.commit()
    raised: list[str] = []
    for finding in findings:
        if finding.raised is None:
            continue
        deviation_id = str(uuid.uuid4())
        async with UnitOfWork(engine) as uow:
            if not await uow.deviation_rules.decide(finding, deviation_id, now):
                continue  # another process decided it first, and raised it
            await _raise(uow, finding.rule, finding.raised, deviation_id, now)
            await uow.commit()
        raised.append(deviation_id)
        logger.info(
            "deviation raised",
            extra={"rule": finding.rule, "episode_id": finding.record_id, "part": finding.part},
        )
    return raised


async def _raise(
    uow: UnitOfWork, rule: str, raised: Raised, deviation_id: str, now: datetime
) -> Deviation:
    """Store the deviation a rule raised, on behalf of the party let down, routed to the
    handling principal like any other; both sides are told."""
    principals = await uow.parties.principals([raised.reporter_id])
    handler_id, role_id = await route(uow, raised.handler_principal_id)
    deviation = Deviation(
        id=deviation_id,
        person_id=raised.person_id,
        category=raised.category,
        description=raised.description,
        reporter_id=raised.reporter_id,
        reporter_principal_id=principals.get(raised.reporter_id, raised.reporter_id),
        handler_principal_id=raised.handler_principal_id,
        handler_id=handler_id,
        handler_role_id=role_id,
        reported_at=now,
        episode_id=raised.episode_id,
        rule=rule,
        history=[StateChange(DeviationState.REPORTED, now, raised.reporter_id, f"rule {rule}")],
    )
    await uow.deviations.add(deviation)
    await uow.parties.add(
        RecordType.DEVIATION, deviation.id, deviation.person_id, deviation_parties(deviation)
    )
    # No client asked for it: the rule stands in for the client in the access log.
    uow.log_access(
        AccessEntry(
            at=now,
            client_id=f"rule:{rule}",
            organization_id=deviation.reporter_id,
            user_id=None,
            action="create",
            resource_type=RESOURCE,
            resource_id=deviation.id,
            person_id=deviation.person_id,
            outcome="success",
            purpose="TREAT",
            principal_id=deviation.reporter_principal_id,
        )
    )
    await announce(uow, None, deviation, [deviation.handler_id, deviation.reporter_id], now)
    return deviation


async def run(engine: AsyncEngine, interval_seconds: float, stop: asyncio.Event) -> None:
    """Raise what is due every ``interval_seconds`` until ``stop`` is set; an interval of 0 means
    this process does not run the job (another one does, or the operator turned it off)."""
    if interval_seconds == 0:
        logger.info("deviation rules are off in this process")
        return
    while not stop.is_set():
        try:
            raised = await raise_due(engine, now=datetime.now(UTC))
            if raised:
                logger.info("deviation rules ran", extra={"raised": len(raised)})
        except Exception:
            # A database restart or a fault in one run loses nothing: what was not decided is
            # decided on the next run.
            logger.exception("deviation rules failed; trying again at the next run")
        try:
            await asyncio.wait_for(stop.wait(), interval_seconds)
        except TimeoutError:
            pass
