"""What a notice may carry besides its dates: documents and the planning basis (DESIGN §4, §6).

The admission notice and the discharge-ready notice may carry the planning basis as answers to
the service's questionnaire; those two and the discharge notice may carry documents (the
discharge notice its discharge information, epikrise and medication list). They are stored on
the episode in the notice's transaction and go to the notice's receivers with it. The episode
then shows whether discharge information arrived no later than the end of the discharge day.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from app.domain.documents import Document, DocumentType, Timeliness
from app.domain.documents import discharge_information_timeliness as timeliness
from app.domain.episodes import Episode, EpisodeEvent, EventKind
from app.domain.errors import InvalidInput
from app.domain.parties import RecordType
from app.domain.planning_basis import VERSION, Answer, PlanningBasis, check_answers
from app.security.access import Actor, read_attached, record, searched
from app.services.documents import Attached, DocumentRules, NewDocument, attach
from app.store.paging import AnyOf, Page
from app.store.unit_of_work import UnitOfWork

RESPONSE = "QuestionnaireResponse"
CARRY_DOCUMENTS = frozenset(
    {EventKind.ADMISSION_NOTICE, EventKind.DISCHARGE_READY, EventKind.DISCHARGE_NOTICE}
)
CARRY_PLANNING_BASIS = frozenset({EventKind.ADMISSION_NOTICE, EventKind.DISCHARGE_READY})


@dataclass(frozen=True, slots=True)
class PlanningAnswers:
    """Answers as sent: by link id; ``field`` is where in the request they are (for errors)."""

    answers: Mapping[str, Sequence[Answer]]
    version: str = VERSION
    field: str = "planning_basis"


@dataclass(frozen=True, slots=True)
class Carried:
    """What a notice carries."""

    documents: tuple[NewDocument, ...] = ()
    planning_basis: PlanningAnswers | None = None
    rules: DocumentRules = field(default_factory=DocumentRules)

    def __bool__(self) -> bool:
        return bool(self.documents) or self.planning_basis is not None


def check_planning_basis(basis: PlanningAnswers) -> dict[str, list[Answer]]:
    """The checked answers; the error names the item under the request's ``field``."""
    try:
        return check_answers(basis.answers, basis.version)
    except InvalidInput as error:
        error.field = f"{basis.field}.{error.field}" if error.field else basis.field
        raise


async def carry(
    uow: UnitOfWork,
    actor: Actor,
    episode: Episode,
    event: EpisodeEvent,
    carried: Carried,
    *,
    now: datetime,
) -> dict[str, object]:
    """Store what the notice carries on its episode; what the notice's payload adds (the
    references of the documents and of the answers)."""
    if not carried:
        return {}
    if carried.documents and event.kind not in CARRY_DOCUMENTS:
        raise InvalidInput(
            f"a {event.kind.value} notice carries no documents; share them on the episode "
            "(POST /api/v1/documents)",
            field=carried.documents[0].field,
        )
    payload: dict[str, object] = {}
    answers: dict[str, list[Answer]] | None = None
    if carried.planning_basis is not None:
        if event.kind not in CARRY_PLANNING_BASIS:
            raise InvalidInput(
                "the planning basis comes with the admission notice or the discharge-ready notice",
                field=carried.planning_basis.field,
            )
        answers = check_planning_basis(carried.planning_basis)
    target = Attached(RecordType.EPISODE, episode.id, episode.person_id)
    stored = await attach(uow, actor, target, carried.documents, carried.rules, now=now)
    if stored:
        payload["documents"] = [f"DocumentReference/{d.id}" for d in stored]
    if answers is not None:
        basis = PlanningBasis(
            id=str(uuid.uuid4()),
            episode_id=episode.id,
            person_id=episode.person_id,
            notice=event.kind.value,
            seq=event.seq,
            author_id=actor.acting_id,
            authored_at=event.at,
            answers=answers,
        )
        await uow.planning_bases.add(basis)
        record(uow, actor, "create", RESPONSE, basis.id, episode.person_id)
        payload["planning_basis"] = f"{RESPONSE}/{basis.id}"
    return payload


@dataclass(frozen=True, slots=True)
class EpisodeContent:
    """The documents and planning bases of an episode, and the discharge information's
    timeliness."""

    documents: list[Document]
    planning_bases: list[PlanningBasis]
    discharge_information: Timeliness | None


async def content_of(
    uow: UnitOfWork, episodes: Sequence[Episode], *, now: datetime
) -> dict[str, EpisodeContent]:
    """The content of episodes the caller was already allowed to read: one statement, which on
    PostgreSQL also writes the access-log entries queued so far (the reads of the episodes)."""
    ids = [e.id for e in episodes]
    if not ids:
        return {}
    documents, bases = await uow.episode_content.of_episodes(ids, uow.access_for_statement())
    result = {}
    for episode in episodes:
        own = [d for d in documents if d.record_id == episode.id]
        arrivals = [d.created_at for d in own if d.type is DocumentType.DISCHARGE_INFORMATION]
        result[episode.id] = EpisodeContent(
            own,
            [b for b in bases if b.episode_id == episode.id],
            timeliness(episode.discharged_at, episode.jurisdiction, arrivals, now),
        )
    return result


async def get_planning_basis(uow: UnitOfWork, actor: Actor, basis_id: str) -> PlanningBasis:
    """The answers, if the caller is a party to their episode; 404 (logged) otherwise."""
    basis = await uow.planning_bases.get(basis_id)
    attached = (RecordType.EPISODE, basis.episode_id) if basis else None
    kind = "questionnaire response"
    return await read_attached(uow, actor, basis, attached, (RESPONSE, basis_id), kind)


async def list_planning_bases(
    uow: UnitOfWork,
    actor: Actor,
    *,
    limit: int,
    after: str | None,
    person_id: AnyOf,
    episode_id: AnyOf,
    ids: AnyOf = None,
) -> Page[PlanningBasis]:
    """The answers on episodes the caller is a party to, filtered (a collection: any of its
    values); each listed is logged."""
    found = await uow.planning_bases.page(
        limit=limit,
        after=after,
        visible_to=actor.reach,
        person_id=person_id,
        episode_id=episode_id,
        ids=ids,
    )
    return searched(uow, actor, RESPONSE, found)


async def discharge_information_of(
    uow: UnitOfWork, episodes: Sequence[Episode], *, now: datetime
) -> dict[str, Timeliness | None]:
    """Whether each episode's discharge information came in time (None before its discharge):
    one query over the discharged episodes' discharge information, none when none is
    discharged."""
    discharged = [e.id for e in episodes if e.discharged_at is not None]
    arrivals = await uow.documents.arrivals(
        RecordType.EPISODE, discharged, DocumentType.DISCHARGE_INFORMATION
    )
    return {
        e.id: timeliness(e.discharged_at, e.jurisdiction, arrivals.get(e.id, []), now)
        for e in episodes
    }
