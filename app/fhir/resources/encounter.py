"""Encounter: inpatient episodes."""

from __future__ import annotations

from app.domain.episodes import EpisodeState
from app.fhir import documents
from app.fhir.mappers import encounter
from app.fhir.resources import spec
from app.fhir.resources.params import SearchQuery, coded_as, now
from app.fhir.resources.spec import Found, Include, Resource, ResourceSpec, SearchParam
from app.security.access import Actor
from app.services import episodes as episode_service
from app.store.unit_of_work import UnitOfWork

_ENCOUNTER_STATES = {
    "in-progress": (EpisodeState.ADMITTED, EpisodeState.PLANNING, EpisodeState.DISCHARGE_READY),
    "finished": (EpisodeState.DISCHARGED,),
}


async def read_encounter(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    episode = await episode_service.get_episode(uow, actor, ident)
    shown = [encounter.to_fhir(episode)]
    return (await documents.with_discharge_information(uow, [episode], shown, now()))[0]


async def search_encounter(uow: UnitOfWork, actor: Actor, query: SearchQuery) -> Found:
    page = await episode_service.list_episodes(
        uow,
        actor,
        limit=query.count,
        after=query.cursor,
        person_id=query.subjects(),
        municipality_id=None,
        hospital_unit_id=None,
        state=None,
        ids=query.ids,
        states=coded_as(query.choice("status", tuple(_ENCOUNTER_STATES)), _ENCOUNTER_STATES),
    )
    shown = [encounter.to_fhir(e) for e in page.items]
    found = await documents.with_discharge_information(uow, page.items, shown, now())
    return found, page.next_cursor


SPEC = ResourceSpec(
    read_encounter,
    search_encounter,
    (
        spec.ID,
        spec.PATIENT,
        spec.SUBJECT,
        SearchParam("status", "token", "in-progress or finished"),
        spec.date_param("the stay, admission to discharge"),
    ),
    documentation="Inpatient episodes; discharge-ready time and expected discharge date are "
    "extensions.",
    includes=(Include("Encounter:patient", "subject", "Patient"),),
    period=spec.period_of,
)
