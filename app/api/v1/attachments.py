"""Shapes of what travels with records over REST: documents (uploaded as base64) and the
planning basis (answers to the service's questionnaire, by item)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.domain.documents import Document, DocumentType, Timeliness
from app.domain.errors import InvalidInput
from app.domain.planning_basis import ITEMS, VERSION, PlanningBasis
from app.http.shapes import shaped
from app.services.documents import DocumentRules, NewDocument
from app.services.notice_content import Carried, EpisodeContent, PlanningAnswers

PDF_EXAMPLE = base64.b64encode(b"%PDF-1.7\n% Utskrivningsinformation\n").decode()


class DocumentUpload(BaseModel):
    """A document: its type, title, media type and content (base64)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "type": "discharge-information",
                    "title": "Utskrivningsinformation",
                    "content_type": "application/pdf",
                    "data": PDF_EXAMPLE,
                }
            ]
        },
    )

    type: DocumentType = Field(description="what the document is (CodeSystem document-type)")
    title: str = Field(min_length=1, max_length=200, description="the document's title")
    content_type: str = Field(
        description="application/pdf, text/plain or application/fhir+json (a Bundle of type "
        "document); the accepted ones are a setting (415 otherwise)",
        max_length=100,
    )
    data: str = Field(description="the content, base64; its size limit is a setting (413)")
    description: str | None = Field(
        default=None, max_length=1000, description="what the document holds, in a sentence"
    )
    author_id: str | None = Field(
        default=None, description="the unit that wrote it; defaults to the caller's acting unit"
    )

    def to_new(self, field: str) -> NewDocument:
        """The service's command; the field names where the document is in the request."""
        try:
            data = base64.b64decode(self.data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidInput(f"data is not base64: {exc}", field=f"{field}.data") from exc
        return NewDocument(
            type=self.type,
            title=self.title,
            content_type=self.content_type,
            data=data,
            description=self.description,
            author_id=self.author_id,
            field=field,
        )


class DocumentSummary(BaseModel):
    """A document's description; its content is at ``content_url``."""

    id: str = Field(description="the document's id (FHIR DocumentReference and Binary)")
    type: DocumentType = Field(description="what the document is (CodeSystem document-type)")
    title: str = Field(description="the document's title")
    description: str | None = Field(description="what the document holds, in a sentence")
    content_type: str = Field(description="the content's media type")
    size: int = Field(description="the content's size in bytes")
    sha256: str = Field(description="hex digest of the content; the content's ETag")
    author_id: str = Field(description="the unit that wrote it")
    created_at: datetime = Field(description="when the service received it")
    content_url: str = Field(description="where the content is read, with its own media type")


def summary(document: Document) -> DocumentSummary:
    """The API shape of a document's description."""
    content_url = f"/api/v1/documents/{document.id}/content"
    return shaped(DocumentSummary, document, content_url=content_url)


Value = str | bool | list[str]
REPEATING = frozenset(item.link_id for item in ITEMS if item.repeats)


class PlanningBasisIn(BaseModel):
    """Answers to the planning-basis questionnaire (`/fhir/Questionnaire/planning-basis`), by
    item: a code for a choice, text, yes/no, or a list of texts where the item repeats."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "questionnaire_version": VERSION,
                    "answers": {
                        "functional-status": "some-help",
                        "current-home-services": True,
                        "current-home-services-description": "Hemtjänst morgon och kväll",
                        "aids": ["rollator"],
                        "cognitive-state": "mild",
                        "contact-name": "Anna Nilsson (dotter)",
                        "contact-phone": "070-1234567",
                        "expected-needs": "Hjälp med dusch och läkemedel",
                    },
                }
            ]
        },
    )

    questionnaire_version: str = Field(
        default=VERSION, description="the version of the questionnaire the answers fit"
    )
    answers: dict[str, Value] = Field(
        max_length=50,
        description="by the item's linkId: a code for a choice item, text, true/false, or a "
        "list of texts where the item repeats",
    )

    def to_answers(self, field: str) -> PlanningAnswers:
        """The service's form: every answer a list."""
        answers = {
            link_id: value if isinstance(value, list) else [value]
            for link_id, value in self.answers.items()
        }
        return PlanningAnswers(answers, self.questionnaire_version, f"{field}.answers")


class PlanningBasisRead(BaseModel):
    """The planning basis a notice carried (FHIR: QuestionnaireResponse/{id})."""

    id: str = Field(description="the planning basis's id (FHIR QuestionnaireResponse)")
    notice: str = Field(description="admission-notice or discharge-ready")
    questionnaire_version: str = Field(description="the version of the questionnaire answered")
    author_id: str = Field(description="the unit that answered")
    authored_at: datetime = Field(description="when the notice carrying it was sent")
    answers: dict[str, Value] = Field(description="by the item's linkId")


def basis_read(basis: PlanningBasis) -> PlanningBasisRead:
    """The API shape of a planning basis (one answer unlisted where the item does not repeat)."""
    answers = {k: v if k in REPEATING else v[0] for k, v in basis.answers.items() if v}
    return shaped(PlanningBasisRead, basis, questionnaire_version=basis.version, answers=answers)


def carried(
    documents: list[DocumentUpload], basis: PlanningBasisIn | None, rules: DocumentRules
) -> Carried:
    """What the notice carries, as the service takes it."""
    return Carried(
        tuple(d.to_new(f"documents[{i}]") for i, d in enumerate(documents)),
        basis.to_answers("planning_basis") if basis is not None else None,
        rules,
    )


class EpisodeContentRead(BaseModel):
    """What the episode's notices carried, and whether discharge information came in time."""

    documents: list[DocumentSummary] = Field(default=[])
    planning_basis: list[PlanningBasisRead] = Field(
        default=[], description="the planning bases the notices carried, oldest first"
    )
    discharge_information: Timeliness | None = Field(
        default=None,
        description="once discharged: on-time when discharge information (a document of type "
        "discharge-information) arrived no later than the end of the discharge day, local time; "
        "late otherwise; pending while the day lasts",
    )


def content_read(content: EpisodeContent | None) -> dict[str, object]:
    """The episode's content fields."""
    if content is None:
        return {}
    return {
        "documents": [summary(d) for d in content.documents],
        "planning_basis": [basis_read(b) for b in content.planning_bases],
        "discharge_information": content.discharge_information,
    }
