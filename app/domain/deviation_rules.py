"""Deviations that raise themselves (DESIGN §7): the rules, each one small function.

A rule looks at one episode (and the facts it needs) and decides, for each part of it that can
be decided now, whether a deviation is due: a ``Finding`` with a ``Raised`` deviation, or with
none (the episode kept the rule, or the duty lapsed). A part not yet decidable (a deadline still
ahead) gives no finding and is looked at again on a later run. Each (rule, record, part) is
decided once; the store keeps that so that several processes raise each deviation once.

A raised deviation is reported on behalf of the party that was let down (the receiving
municipality) and handled by the party that should have acted (the region), like any other.

Each rule names the facts it needs beyond the episode (``Need``); the job loads only those.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from app.domain.deviations import DeviationCategory
from app.domain.documents import Timeliness, discharge_information_timeliness, end_of_discharge_day
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


class Need(Enum):
    """A fact beyond the episode that a rule needs."""

    SUMMONSES = "summonses"
    DISCHARGE_INFORMATION = "discharge-information"


@dataclass(frozen=True, slots=True)
class Facts:
    """What a rule may need beyond the episode: when summonses about the person were sent
    (``Need.SUMMONSES``), and when the episode's documents of type discharge information reached
    the service (``Need.DISCHARGE_INFORMATION``)."""

    summons_sent: Sequence[datetime] = ()
    discharge_information: Sequence[datetime] = ()


Check = Callable[[Episode, Facts, datetime], list[Finding]]


@dataclass(frozen=True, slots=True)
class Rule:
    """One automatic deviation: its ``check``, and which episodes it looks at.

    It looks at episodes with an event of ``event_kind`` sent at least ``settles_after`` ago (in
    ``jurisdictions``; with coordinated planning when ``coordinated_only``); it decides per
    event when ``per_event`` (the part is the event's sequence number), else once per episode.
    ``needs`` are the facts its check reads.
    """

    id: str
    category: DeviationCategory
    check: Check
    event_kind: EventKind
    jurisdictions: frozenset[str]
    settles_after: timedelta = timedelta()
    per_event: bool = False
    coordinated_only: bool = False
    needs: frozenset[Need] = frozenset()


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
    raised = _raised(
        episode,
        DeviationCategory.LATE_ADMISSION_NOTICE,
        (
            f"the admission notice for the admission of "
            f"{_local(episode.admitted_at, episode.jurisdiction)} was sent "
            f"{_local(sent, episode.jurisdiction)}, {hours} hours after the admission; it is "
            "due within 24 hours."
        ),
    )
    return [Finding(rule, episode.id, 0, raised)]


def _raised(episode: Episode, category: DeviationCategory, description: str) -> Raised:
    """A deviation the service raises about an episode: the municipality reports it (the
    breach is one it suffers) and the region's principal handles it."""
    return Raised(
        category=category,
        episode_id=episode.id,
        person_id=episode.person_id,
        reporter_id=episode.municipality_id,
        handler_principal_id=episode.region_id,
        description=f"Raised by the service: {description}",
    )


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
        raised = _raised(
            episode,
            DeviationCategory.SUMMONS_DEADLINE_MISSED,
            (
                "the discharge-ready notice of "
                f"{_local(event.at, episode.jurisdiction)} asked for coordinated planning, and "
                f"the summons was due by {_local(deadline.due_by, episode.jurisdiction)}; {sent}."
            ),
        )
        findings.append(Finding(rule, episode.id, event.seq, raised))
    return findings


def missing_discharge_information(episode: Episode, facts: Facts, now: datetime) -> list[Finding]:
    """No discharge information reached the service by the end of the discharge day, local time
    (both countries): one decision per episode, once that day has ended or the information came.

    It is decided as the episode's own ``discharge_information`` flag reads: information that
    came later still leaves the discharge day without it, and raises.
    """
    discharged = episode.discharged_at
    arrivals = sorted(facts.discharge_information)
    status = discharge_information_timeliness(discharged, episode.jurisdiction, arrivals, now)
    if discharged is None or status is None or status is Timeliness.PENDING:
        return []
    rule = DeviationCategory.MISSING_DISCHARGE_INFORMATION.value
    if status is Timeliness.ON_TIME:
        return [Finding(rule, episode.id, 0, None)]
    day_ended = end_of_discharge_day(discharged, episode.jurisdiction)
    came = (
        f"it came {_local(arrivals[0], episode.jurisdiction)}"
        if arrivals
        else f"none had come by {_local(now, episode.jurisdiction)}"
    )
    raised = _raised(
        episode,
        DeviationCategory.MISSING_DISCHARGE_INFORMATION,
        (
            "the patient was discharged "
            f"{_local(discharged, episode.jurisdiction)}, and no discharge information had "
            f"reached the service when the discharge day ended "
            f"({_local(day_ended, episode.jurisdiction)}); {came}."
        ),
    )
    return [Finding(rule, episode.id, 0, raised)]


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
            needs=frozenset({Need.SUMMONSES}),
        ),
        Rule(
            id=DeviationCategory.MISSING_DISCHARGE_INFORMATION.value,
            category=DeviationCategory.MISSING_DISCHARGE_INFORMATION,
            check=missing_discharge_information,
            event_kind=EventKind.DISCHARGE_NOTICE,
            jurisdictions=frozenset({"SE", "NO"}),
            needs=frozenset({Need.DISCHARGE_INFORMATION}),
        ),
    )
}
"""Every automatic deviation, by rule id (the deviation category it raises)."""
