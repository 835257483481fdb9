"""DocumentReference, Binary, Questionnaire and QuestionnaireResponse: documents and planning
bases."""

from __future__ import annotations

from app.fhir import documents, planning_basis
from app.fhir.resources.spec import (
    ID,
    PATIENT,
    SUBJECT,
    Include,
    ResourceSpec,
    SearchParam,
    date_param,
)

DOCUMENT_REFERENCE = ResourceSpec(
    documents.read,
    documents.search,
    (
        ID,
        PATIENT,
        SUBJECT,
        SearchParam("encounter", "reference", "the episode it is attached to"),
        SearchParam("type", "token", "a code of the CodeSystem document-type"),
        SearchParam("author", "reference", "the unit that wrote it"),
        date_param("when the service received it"),
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
    documents.search_binary,
    (ID,),
    documentation="The content of a document (base64 data); read it through its "
    "DocumentReference, whose parties may.",
)

QUESTIONNAIRE = ResourceSpec(
    planning_basis.read_questionnaire,
    planning_basis.search_questionnaire,
    (
        ID,
        SearchParam("url", "uri", "the canonical URL (url|version too)"),
        SearchParam("version", "token", "the questionnaire's version"),
    ),
    documentation="The service's planning-basis questionnaire, versioned.",
)

QUESTIONNAIRE_RESPONSE = ResourceSpec(
    planning_basis.read_response,
    planning_basis.search_responses,
    (
        ID,
        PATIENT,
        SUBJECT,
        SearchParam("encounter", "reference", "the episode whose notice carried it"),
    ),
    documentation="Planning bases that admission and discharge-ready notices carried, "
    "visible to the parties of the episode.",
    includes=(Include("QuestionnaireResponse:subject", "subject", "Patient"),),
)
