"""Deviations that raise themselves (DESIGN §7): the rules, each one small function.

A rule looks at one episode (and the facts it needs) and decides, for each part of it that can
be decided now, whether a deviation is due: a ``Finding`` with a ``Raised`` deviation, or with
none (the episode kept the rule, or the duty lapsed). A part not yet decidable (a deadline still
ahead) gives no finding and is looked at again on a later run. Each (rule, record, part) is
decided once; the store keeps that so that several processes raise each deviation once.

A raised deviation is reported on behalf of the party that was let down (the receiving
municipality) and handled by the party that should have acted (the region), like any other.

The third of DESIGN §7's automatic deviations, "discharge information missing on the discharge
day", needs the discharge documents of issue 17, part D, which this branch does not have yet.
TODO(issue 17, part D): add the rule ``missing-discharge-information`` here once episodes carry
their documents: a discharged episode with no discharge information from the hospital by the end
of the discharge day (local time) raises it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.domain.deviations import DeviationCategory
from app.domain.episodes import ZONES, Episode, EpisodeEvent, EventKind
from app.domain.meetings import SUMMONS_DAYS, DeadlineStatus, summons_deadline

ADMISSION_NOTICE_WITHIN = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Raised:
    """A deviation a rule raises: about an episode, reported on behalf of ``reporter_id``, to be
    handled by ``handler_principal_id``."""

    category: DeviationCategory
    episode_id: str
    person_id: str
    reporter_id: str
    handler_principal_id: str
    description: str


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule's decision on one part of a record: ``raised`` is the deviation due, or None."""

    rule: str
    record_id: str
    part: int
    raised: Raised | None


@dataclass(frozen=True, slots=True)
class Facts:
    """What a rule may need beyond the episode: when summonses about the person were sent."""

    summons_sent: Sequence[datetime] = ()


Check = Callable[[Episode, Facts, datetime], list[Finding]]


@dataclass(frozen=True, slots=True)
class Rule:
    """One automatic deviation: its ``check``, and which episodes it looks at.

    It looks at episodes with an event of ``event_kind`` sent at least ``settles_after`` ago (in
    ``jurisdictions``; with coordinated planning when ``coordinated_only``); it decides per
    event when ``per_event`` (the part is the event's sequence number), else once per episode.
    """

    id: str
    category: DeviationCategory
    check: Check
    event_kind: EventKind
    jurisdictions: frozenset[str]
    settles_after: timedelta = timedelta()
    per_event: bool = False
    coordinated_only: bool = False


def _local(value: datetime, jurisdiction: str) -> str:
    return value.astimezone(ZONES[jurisdiction]).strftime("%Y-%m-%d %H:%M")


def late_admission_notice(episode: Episode, _facts: Facts, _now: datetime) -> list[Finding]:
    """An admission notice sent more than 24 hours after the admission (both countries).

    It is flagged only: whether it affects the payment is the rule set's to say.
    """
    sent = episode.admission_notice_at
    if sent is None:
        return []
    rule = DeviationCategory.LATE_ADMISSION_NOTICE.value
    delay = sent - episode.admitted_at
    if delay <= ADMISSION_NOTICE_WITHIN:
        return [Finding(rule, episode.id, 0, None)]
    hours = int(delay.total_seconds() // 3600)
    raised = Raised(
        category=DeviationCategory.LATE_ADMISSION_NOTICE,
        episode_id=episode.id,
        person_id=episode.person_id,
        reporter_id=episode.municipality_id,
        handler_principal_id=episode.region_id,
        description=(
            f"Raised by the service: the admission notice for the admission of "
            f"{_local(episode.admitted_at, episode.jurisdiction)} was sent "
            f"{_local(sent, episode.jurisdiction)}, {hours} hours after the admission; it is "
            "due within 24 hours."
        ),
    )
    return [Finding(rule, episode.id, 0, raised)]


def _withdrawn_after(events: Sequence[EpisodeEvent], index: int) -> datetime | None:
    return next(
        (e.at for e in events[index + 1 :] if e.kind is EventKind.DISCHARGE_READY_WITHDRAWN),
        None,
    )


def summons_deadline_missed(episode: Episode, facts: Facts, now: datetime) -> list[Finding]:
    """No summons to a coordinated-plan meeting within three days of a discharge-ready notice
    that asked for coordinated planning (Sweden, DESIGN §4): one decision per notice.

    A summons sent late breaches the deadline too; a withdrawal before the deadline and before
    any summons lifts the duty.
    """
    rule = DeviationCategory.SUMMONS_DEADLINE_MISSED.value
    findings: list[Finding] = []
    for index, event in enumerate(episode.events):
        if event.kind is not EventKind.DISCHARGE_READY or not event.coordinated_planning:
            continue
        deadline = summons_deadline(
            episode_id=episode.id,
            person_id=episode.person_id,
            jurisdiction=episode.jurisdiction,
            discharge_ready_at=event.at,
            withdrawn_at=_withdrawn_after(episode.events, index),
            summons_times=list(facts.summons_sent),
            now=now,
        )
        if deadline.status is DeadlineStatus.OPEN:
            continue
        if deadline.status in (DeadlineStatus.MET, DeadlineStatus.LAPSED):
            findings.append(Finding(rule, episode.id, event.seq, None))
            continue
        sent = (
            f"the first summons was sent {_local(deadline.summons_sent_at, episode.jurisdiction)}"
            if deadline.summons_sent_at is not None
            else "no summons had been sent"
        )
        raised = Raised(
            category=DeviationCategory.SUMMONS_DEADLINE_MISSED,
            episode_id=episode.id,
            person_id=episode.person_id,
            reporter_id=episode.municipality_id,
            handler_principal_id=episode.region_id,
            description=(
                "Raised by the service: the discharge-ready notice of "
                f"{_local(event.at, episode.jurisdiction)} asked for coordinated planning, and "
                f"the summons was due by {_local(deadline.due_by, episode.jurisdiction)}; {sent}."
            ),
        )
        findings.append(Finding(rule, episode.id, event.seq, raised))
    return findings


RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule(
            id=DeviationCategory.LATE_ADMISSION_NOTICE.value,
            category=DeviationCategory.LATE_ADMISSION_NOTICE,
            check=late_admission_notice,
            event_kind=EventKind.ADMISSION_NOTICE,
            jurisdictions=frozenset({"SE", "NO"}),
        ),
        Rule(
            id=DeviationCategory.SUMMONS_DEADLINE_MISSED.value,
            category=DeviationCategory.SUMMONS_DEADLINE_MISSED,
            check=summons_deadline_missed,
            event_kind=EventKind.DISCHARGE_READY,
            jurisdictions=frozenset({"SE"}),
            # The deadline ends three calendar days after the notice's day: not before.
            settles_after=timedelta(days=SUMMONS_DAYS),
            per_event=True,
            coordinated_only=True,
        ),
    )
}
"""Every automatic deviation, by rule id (the deviation category it raises)."""
