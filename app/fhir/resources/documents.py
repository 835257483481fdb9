"""DocumentReference, Binary, Questionnaire and QuestionnaireResponse: documents and planning
bases."""

from __future__ import annotations

from app.domain.documents import DocumentType
from app.domain.parties import RecordType
from app.domain.planning_basis import NAME, VERSION
from app.fhir import documents, planning_basis
from app.fhir.resources import spec
from app.fhir.resources.params import SearchQuery, enum_codes
from app.fhir.resources.spec import Found, Include, ResourceSpec, SearchParam
from app.security.access import Actor
from app.services import documents as document_service
from app.services import notice_content
from app.store.unit_of_work import UnitOfWork


async def search_documents(uow: UnitOfWork, actor: Actor, query: SearchQuery) -> Found:
    """DocumentReference search (``date`` is applied by the router)."""
    episodes = query.references("encounter", "Encounter")
    page = await document_service.list_documents(
        uow,
        actor,
        limit=query.count,
        after=query.cursor,
        person_id=query.subjects(),
        record=(RecordType.EPISODE, episodes) if episodes else None,
        types=enum_codes(query, "type", documents.TYPE_SYSTEM, DocumentType),
        author_id=query.references("author", "Organization"),
        ids=query.ids,
    )
    return [documents.to_fhir(d) for d in page.items], page.next_cursor


async def search_binaries(uow: UnitOfWork, actor: Actor, query: SearchQuery) -> Found:
    """The contents of the documents the caller sees (``_id``: of those it names)."""
    page = await document_service.list_documents(
        uow, actor, limit=query.count, after=query.cursor, ids=query.ids
    )
    found = [await documents.read_binary(uow, actor, d.id) for d in page.items]
    return found, page.next_cursor


async def search_questionnaires(_uow: UnitOfWork, _actor: Actor, query: SearchQuery) -> Found:
    """The one questionnaire, by ``url`` (``url|version`` too) and ``version``."""
    url, _sep, version = (query.one("url") or planning_basis.URL).partition("|")
    matches = (
        (not query.ids or NAME in query.ids)
        and url == planning_basis.URL
        and version in ("", VERSION)
        and (not query.values("version") or VERSION in query.values("version"))
        and (query.cursor or "") < NAME
    )
    return ([planning_basis.questionnaire()] if matches else []), None


async def search_responses(uow: UnitOfWork, actor: Actor, query: SearchQuery) -> Found:
    """QuestionnaireResponse search by ``subject``/``patient`` and ``encounter``."""
    page = await notice_content.list_planning_bases(
        uow,
        actor,
        limit=query.count,
        after=query.cursor,
        person_id=query.subjects(),
        episode_id=query.references("encounter", "Encounter"),
        ids=query.ids,
    )
    return [planning_basis.to_fhir(b) for b in page.items], page.next_cursor


DOCUMENT_REFERENCE = ResourceSpec(
    documents.read,
    search_documents,
    (
        spec.ID,
        spec.PATIENT,
        spec.SUBJECT,
        SearchParam("encounter", "reference", "the episode it is attached to"),
        SearchParam("type", "token", "a code of the CodeSystem document-type"),
        SearchParam("author", "reference", "the unit that wrote it"),
        spec.date_param("when the service received it"),
    ),
    documentation="Documents attached to episodes, plans, meetings and care messages, "
    "visible to the parties of what they are attached to; the content is the Binary of "
    "content.attachment.url (raw, with its own Content-Type, at "
    "/api/v1/documents/{id}/content).",
    includes=(Include("DocumentReference:patient", "subject", "Patient"),),
    period=documents.period,
)

BINARY = ResourceSpec(
    documents.read_binary,
    search_binaries,
    (spec.ID,),
    documentation="The content of a document (base64 data); read it through its "
    "DocumentReference, whose parties may.",
)

QUESTIONNAIRE = ResourceSpec(
    planning_basis.read_questionnaire,
    search_questionnaires,
    (
        spec.ID,
        SearchParam("url", "uri", "the canonical URL (url|version too)"),
        SearchParam("version", "token", "the questionnaire's version"),
    ),
    documentation="The service's planning-basis questionnaire, versioned.",
)

QUESTIONNAIRE_RESPONSE = ResourceSpec(
    planning_basis.read_response,
    search_responses,
    (
        spec.ID,
        spec.PATIENT,
        spec.SUBJECT,
        SearchParam("encounter", "reference", "the episode whose notice carried it"),
    ),
    documentation="Planning bases that admission and discharge-ready notices carried, "
    "visible to the parties of the episode.",
    includes=(Include("QuestionnaireResponse:subject", "subject", "Patient"),),
)
