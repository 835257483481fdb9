"""Encounter: inpatient episodes."""

from __future__ import annotations

from app.domain.episodes import EpisodeState
from app.fhir import documents
from app.fhir.mappers import encounter
from app.fhir.resources.params import by_id, choice, now, subject_of
from app.fhir.resources.spec import (
    ID,
    PATIENT,
    SUBJECT,
    Found,
    Include,
    Resource,
    ResourceSpec,
    SearchParam,
    date_param,
    period_of,
)
from app.security.access import Actor
from app.services import episodes as episode_service
from app.settings import Settings
from app.store.unit_of_work import UnitOfWork

_ENCOUNTER_STATES = {
    "in-progress": (EpisodeState.ADMITTED, EpisodeState.PLANNING, EpisodeState.DISCHARGE_READY),
    "finished": (EpisodeState.DISCHARGED,),
}


async def read_encounter(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    episode = await episode_service.get_episode(uow, actor, ident)
    shown = [encounter.to_fhir(episode)]
    return (await documents.with_discharge_information(uow, [episode], shown, now()))[0]


async def search_encounter(
    uow: UnitOfWork,
    actor: Actor,
    params: dict[str, str],
    count: int,
    cursor: str | None,
    settings: Settings,
) -> Found:
    if "_id" in params:
        return await by_id(read_encounter, uow, actor, params["_id"])
    status = choice(params, "status", tuple(_ENCOUNTER_STATES))
    states = _ENCOUNTER_STATES[status] if status else None
    page = await episode_service.list_episodes(
        uow,
        actor,
        limit=count,
        after=cursor,
        person_id=subject_of(params),
        municipality_id=None,
        hospital_unit_id=None,
        state=states[0] if states and len(states) == 1 else None,
    )
    items = [e for e in page.items if states is None or e.state in states]
    shown = [encounter.to_fhir(e) for e in items]
    return await documents.with_discharge_information(uow, items, shown, now()), page.next_cursor


SPEC = ResourceSpec(
    read_encounter,
    search_encounter,
    (
        ID,
        PATIENT,
        SUBJECT,
        SearchParam("status", "token", "in-progress or finished"),
        date_param("the stay, admission to discharge"),
    ),
    documentation="Inpatient episodes; discharge-ready time and expected discharge date are "
    "extensions.",
    includes=(Include("Encounter:patient", "subject", "Patient"),),
    period=period_of,
)
