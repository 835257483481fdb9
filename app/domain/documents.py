"""Documents that travel with the care of a person (DESIGN §6, §9): what a document is, what it
may contain, and whether the discharge information arrived in time.

A document is attached to one record (an episode, a plan, a meeting or a care message) and has
that record's parties: no party of its own (docs/access.md). Its content is PDF, plain text or a
FHIR Bundle of type ``document``; the declared type must agree with the bytes. The discharge
information is due no later than the end of the discharge day, local time (lag 2017:612 5 kap.;
forskrift om kommunal betaling 9 §, as the regional routines read them).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from app.domain.errors import InvalidInput, TooLarge, UnsupportedContent
from app.domain.parties import RecordType


class DocumentType(StrEnum):
    """What a document is (the service's CodeSystem ``document-type``)."""

    PLANNING_BASIS = "planning-basis"
    ADMISSION_HEALTH_INFORMATION = "admission-health-information"
    DISCHARGE_INFORMATION = "discharge-information"
    MEDICATION_LIST = "medication-list"
    NURSING_DISCHARGE_REPORT = "nursing-discharge-report"
    OTHER = "other"


DOCUMENT_TYPE_DISPLAY = {
    DocumentType.PLANNING_BASIS: "Planning basis (planeringsunderlag)",
    DocumentType.ADMISSION_HEALTH_INFORMATION: "Health information at admission "
    "(helseopplysninger ved innleggelse)",
    DocumentType.DISCHARGE_INFORMATION: "Discharge information (utskrivningsinformation, epikrise)",
    DocumentType.MEDICATION_LIST: "Medication list (läkemedelslista, legemiddelliste)",
    DocumentType.NURSING_DISCHARGE_REPORT: "Nursing discharge report "
    "(omvårdnadsepikris, sykepleiesammenfatning)",
    DocumentType.OTHER: "Other document",
}

DOCUMENT_TYPE_DEFINITION = {
    DocumentType.PLANNING_BASIS: "What the municipality needs to plan its services after "
    "discharge, before the planning meeting.",
    DocumentType.ADMISSION_HEALTH_INFORMATION: "The health information sent at admission (in "
    "Norway also the municipality's admission report for a patient it serves).",
    DocumentType.DISCHARGE_INFORMATION: "The discharge summary, due no later than the "
    "discharge day.",
    DocumentType.MEDICATION_LIST: "The current medication list at discharge.",
    DocumentType.NURSING_DISCHARGE_REPORT: "The nurses' report of care needs at discharge.",
    DocumentType.OTHER: "A document of another kind.",
}

PDF = "application/pdf"
TEXT = "text/plain"
FHIR_BUNDLE = "application/fhir+json"
CONTENT_TYPES = (PDF, TEXT, FHIR_BUNDLE)

# The records a document may be attached to.
ATTACHABLE = (RecordType.EPISODE, RecordType.PLAN, RecordType.MEETING, RecordType.MESSAGE)


@dataclass(frozen=True, slots=True)
class Document:
    """A document's description; the content itself is kept apart (``ContentStore``).

    ``record_type``/``record_id`` is what it is attached to, ``person_id`` whom it is about,
    ``author_id`` the unit that wrote it, ``sha256`` the hex digest of its content (its entity
    tag), ``created_at`` when the service received it.
    """

    id: str
    record_type: RecordType
    record_id: str
    person_id: str | None
    type: DocumentType
    title: str
    content_type: str
    size: int
    sha256: str
    author_id: str
    created_at: datetime
    description: str | None = None

    @property
    def filename(self) -> str:
        """A file name for the content: the title made safe, with the type's extension."""
        stem = "".join(c if c.isalnum() or c in "-_ ." else "_" for c in self.title).strip()
        extension = {PDF: ".pdf", TEXT: ".txt", FHIR_BUNDLE: ".json"}[self.content_type]
        return (stem or self.type.value)[:100] + extension


def base_type(content_type: str) -> str:
    """The media type without parameters (``text/plain; charset=utf-8`` → ``text/plain``)."""
    return content_type.split(";", 1)[0].strip().lower()


def check_content(
    content_type: str, data: bytes, *, allowed: tuple[str, ...], max_bytes: int, field: str
) -> str:
    """The media type of acceptable content; refuses what is too large (``TooLarge``), not
    allowed (``UnsupportedContent``) or contradicted by its bytes (``InvalidInput``).

    A PDF starts with ``%PDF-``; text is UTF-8; a FHIR Bundle is a JSON Bundle of type
    ``document`` whose first entry is its Composition.
    """
    kind = base_type(content_type)
    if kind not in CONTENT_TYPES or kind not in allowed:
        raise UnsupportedContent(
            f"content type {content_type!r} is not accepted; accepted: {', '.join(allowed)}",
            field=f"{field}.content_type",
        )
    if len(data) > max_bytes:
        raise TooLarge(
            f"the document is {len(data)} bytes, over the limit of {max_bytes}",
            field=f"{field}.data",
        )
    if not data:
        raise InvalidInput("the document is empty", field=f"{field}.data")
    if kind == PDF and not data.startswith(b"%PDF-"):
        raise InvalidInput(
            "declared application/pdf, but the content does not start with %PDF-",
            field=f"{field}.data",
        )
    if kind == TEXT:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"declared text/plain, but the content is not UTF-8 (byte {exc.start})",
                field=f"{field}.data",
            ) from exc
    if kind == FHIR_BUNDLE:
        _check_bundle(data, field)
    return kind


def _check_bundle(data: bytes, field: str) -> None:
    try:
        bundle = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(
            f"declared {FHIR_BUNDLE}, but the content is not JSON: {exc}", field=f"{field}.data"
        ) from exc
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InvalidInput(
            f"declared {FHIR_BUNDLE}, but the content is not a FHIR Bundle", field=f"{field}.data"
        )
    if bundle.get("type") != "document":
        raise InvalidInput(
            f"the Bundle is of type {bundle.get('type')!r}; a document is a Bundle of type "
            "document",
            field=f"{field}.data",
        )
    entries = bundle.get("entry") or []
    first = entries[0].get("resource", {}) if entries and isinstance(entries[0], dict) else {}
    if not isinstance(first, dict) or first.get("resourceType") != "Composition":
        raise InvalidInput(
            "the first entry of a document Bundle is its Composition", field=f"{field}.data"
        )


def digest(data: bytes) -> str:
    """The content's SHA-256, hex: its strong entity tag."""
    return hashlib.sha256(data).hexdigest()


class Timeliness(StrEnum):
    """Whether the discharge information reached the receivers by the end of the discharge day."""

    ON_TIME = "on-time"
    LATE = "late"
    PENDING = "pending"


TIME_ZONES = {"SE": ZoneInfo("Europe/Stockholm"), "NO": ZoneInfo("Europe/Oslo")}


def end_of_discharge_day(discharged_at: datetime, jurisdiction: str) -> datetime:
    """The first instant after the discharge day, in the country's local time."""
    zone = TIME_ZONES[jurisdiction]
    day: date = discharged_at.astimezone(zone).date()
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


def discharge_information_timeliness(
    discharged_at: datetime | None,
    jurisdiction: str,
    arrivals: list[datetime],
    now: datetime,
) -> Timeliness | None:
    """Whether discharge information arrived no later than the discharge day (None before the
    discharge): on time, late (it came after, or the day ended without it), or pending (the
    day has not ended and none has come yet)."""
    if discharged_at is None:
        return None
    deadline = end_of_discharge_day(discharged_at, jurisdiction)
    if any(at < deadline for at in arrivals):
        return Timeliness.ON_TIME
    if arrivals or now >= deadline:
        return Timeliness.LATE
    return Timeliness.PENDING
