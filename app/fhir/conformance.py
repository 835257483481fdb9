"""The service's own conformance resources: its CodeSystems and extension StructureDefinitions.

They live under the canonical base ``https://samverkan.dev/fhir`` and are served at
``/fhir/CodeSystem/{id}`` and ``/fhir/StructureDefinition/{id}``. The mappers take their URLs from
here, so an extension or code the service writes is one it also defines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.domain.care_messages import Category, RecipientState
from app.domain.delivery import Outcome
from app.domain.deviations import DeviationCategory, DeviationState
from app.domain.documents import DOCUMENT_TYPE_DEFINITION, DOCUMENT_TYPE_DISPLAY, DocumentType
from app.domain.handover import SERVICE_DISPLAY, Answer, PlannedService
from app.domain.meetings import ParticipantKind
from app.domain.organizations import UnitFunction
from app.domain.planning_basis import ITEMS as PLANNING_ITEMS
from app.domain.representatives import RepresentativeRole
from app.domain.staff import ROLE_DISPLAY, StaffRole
from app.fhir.common import FHIR_VERSION, canonical

PUBLISHER = "Samverkan"


@dataclass(frozen=True, slots=True)
class Code:
    """One code of a CodeSystem."""

    code: str
    display: str
    definition: str


CODE_SYSTEMS: dict[str, tuple[str, list[Code]]] = {
    "message-event": (
        "The events of the coordinated-care messages",
        [
            Code(
                "admission-notice",
                "Admission notice",
                "A patient who may need municipal or "
                "primary-care services after discharge was admitted.",
            ),
            Code(
                "expected-discharge-changed",
                "Expected discharge date changed",
                "The expected discharge date was set or changed.",
            ),
            Code(
                "discharge-ready",
                "Discharge-ready notice",
                "The treating doctor judged the patient discharge-ready; the payment clock starts.",
            ),
            Code(
                "discharge-ready-withdrawn",
                "Discharge-ready withdrawn",
                "The patient is no longer discharge-ready; the clock stops.",
            ),
            Code("discharge-notice", "Discharge notice", "The patient has left the hospital."),
            Code(
                "sip-summons",
                "Planning meeting summons",
                "A summons to a coordinated individual plan meeting.",
            ),
            Code("sip-summons-reply", "Summons reply", "A participant's reply to a summons."),
            Code("careplan-revised", "Plan revised", "A coordinated individual plan was revised."),
            Code("care-communication", "Care message", "A message between care units."),
            Code("deviation-report", "Deviation report", "A report that cooperation failed."),
            Code("acknowledgement", "Acknowledgement", "The receiver acknowledges a message."),
            Code(
                "document-shared",
                "Document shared",
                "A document was attached to an episode, plan, meeting or care message on its "
                "own (not with a notice); it goes to the record's other parties.",
            ),
            Code(
                "municipality-response",
                "Municipality's answer",
                "The municipality can receive the discharge-ready patient from a date, or cannot "
                "yet (with a reason); with the services it plans.",
            ),
            Code(
                "services-started",
                "Services started",
                "The municipality confirms that the discharged patient arrived home and that its "
                "services began.",
            ),
        ],
    ),
    "planned-service": (
        "The municipal services planned for a patient after the discharge",
        [
            Code(s.value, SERVICE_DISPLAY[s], f"The municipality plans {SERVICE_DISPLAY[s]}.")
            for s in PlannedService
        ],
    ),
    "municipality-answer": (
        "The municipality's answer to a discharge-ready notice",
        [
            Code(
                Answer.CAN_RECEIVE.value,
                "Can receive",
                "The municipality can receive the patient from the date it names.",
            ),
            Code(
                Answer.CANNOT_RECEIVE_YET.value,
                "Cannot receive yet",
                "The municipality cannot receive the patient yet, for the reason it gives.",
            ),
        ],
    ),
    "document-type": (
        "Kinds of document exchanged in coordinated care",
        [
            Code(t.value, DOCUMENT_TYPE_DISPLAY[t], DOCUMENT_TYPE_DEFINITION[t])
            for t in DocumentType
        ],
    ),
    **{
        item.link_id: (
            f"Answers to the planning-basis item {item.link_id}",
            [Code(code, display, display) for code, display in item.options],
        )
        for item in PLANNING_ITEMS
        if item.options
    },
    "plan-category": (
        "Kinds of coordinated individual plan",
        [
            Code(
                "SIP",
                "Samordnad individuell plan",
                "Swedish coordinated individual plan (HSL 16:4, SoL 2:7).",
            ),
            Code(
                "IP",
                "Individuell plan",
                "Norwegian individual plan (forskrift om "
                "habilitering, rehabilitering, individuell plan og koordinator).",
            ),
        ],
    ),
    "plan-basis-kind": (
        "Kinds of existing plan a coordinated individual plan builds on",
        [
            Code("lss-plan", "LSS plan", "An individual plan under LSS 10 §."),
            Code(
                "psychiatry-case-manager-plan",
                "Case manager's plan",
                "A plan of a psychiatric case manager.",
            ),
            Code("individual-plan", "Individual plan", "An individual plan of another kind."),
            Code("other", "Other", "Any other existing plan."),
        ],
    ),
    "care-team-role": (
        "Roles in a coordinated individual plan's care team",
        [
            Code("coordinator", "Coordinator", "Keeps the plan moving; chosen with the person."),
            Code(
                "responsible-principal",
                "Overall responsibility",
                "The principal with overall responsibility for the plan.",
            ),
            Code(
                "participant",
                "Participating principal",
                "A principal the person consented to share the plan with.",
            ),
            Code(
                "relative-or-other",
                "Relative or other",
                "A relative, neighbour or voluntary organization with a part in the plan.",
            ),
        ],
    ),
    "practitioner-role": (
        "Roles practitioners hold in coordinated care (the staff register)",
        [Code(r.value, ROLE_DISPLAY[r], f"A practitioner's {r.value} role.") for r in StaffRole],
    ),
    "participant-kind": (
        "Kinds of meeting participant",
        [
            Code(
                k.value,
                k.value.replace("-", " ").capitalize(),
                f"A participant of kind {k.value}.",
            )
            for k in ParticipantKind
        ],
    ),
    "representative-role": (
        "On what ground a legal representative acts for the person",
        [
            Code(
                RepresentativeRole.GUARDIAN.value,
                "Guardian",
                "A child's guardian (vårdnadshavare; Norwegian foresatt).",
            ),
            Code(RepresentativeRole.TRUSTEE.value, "Trustee", "A god man (Sweden)."),
            Code(RepresentativeRole.ADMINISTRATOR.value, "Administrator", "A förvaltare (Sweden)."),
            Code(RepresentativeRole.ADULT_GUARDIAN.value, "Adult guardian", "A verge (Norway)."),
        ],
    ),
    "care-message-category": (
        "What a care message is about",
        [
            Code(c.value, c.value.replace("-", " ").capitalize(), f"A message about {c.value}.")
            for c in Category
        ],
    ),
    "recipient-state": (
        "Where a recipient's copy of a care message is",
        [
            Code(
                RecipientState.DELIVERED.value,
                "Delivered",
                "The message is in the recipient's inbox.",
            ),
            Code(RecipientState.READ.value, "Read", "The recipient has read the message."),
            Code(
                RecipientState.ACKNOWLEDGED.value,
                "Acknowledged",
                "The recipient has acknowledged the message with an outcome.",
            ),
        ],
    ),
    "acknowledgement-outcome": (
        "The outcome of an acknowledgement (MedCom's model)",
        [
            Code(Outcome.OK.value, "OK", "Received and processed."),
            Code(
                Outcome.TRANSIENT_ERROR.value,
                "Transient error",
                "Not processed now; the sender may try again.",
            ),
            Code(
                Outcome.FATAL_ERROR.value,
                "Fatal error",
                "Cannot be processed; sending it again will not help.",
            ),
        ],
    ),
    "deviation-category": (
        "What went wrong in the cooperation",
        [
            Code(c.value, c.value.replace("-", " ").capitalize(), f"A deviation: {c.value}.")
            for c in DeviationCategory
        ],
    ),
    "deviation-state": (
        "Where the handling of a deviation report is",
        [
            Code(s.value, s.value.capitalize(), f"The deviation is {s.value}.")
            for s in DeviationState
        ],
    ),
    "unit-function": (
        "What an organizational unit does",
        [
            Code(f.value, f.value.replace("-", " ").capitalize(), f"A unit of function {f.value}.")
            for f in UnitFunction
        ],
    ),
}


@dataclass(frozen=True, slots=True)
class ExtensionDef:
    """One of the service's extensions; a complex one has ``parts`` (url, type, short) instead
    of a value."""

    context: str
    value_type: str
    target: str | None
    short: str
    parts: tuple[tuple[str, str, str], ...] = ()
    required: frozenset[str] = frozenset()
    repeating: frozenset[str] = frozenset()
    repeats: bool = False


EXTENSIONS: dict[str, ExtensionDef] = {
    "discharge-ready-at": ExtensionDef(
        "Encounter", "dateTime", None, "When the patient was judged discharge-ready"
    ),
    "expected-discharge-date": ExtensionDef(
        "Encounter", "date", None, "The expected discharge date"
    ),
    "readmission-of": ExtensionDef(
        "Encounter", "Reference", "Encounter", "The stay a readmission within 30 days follows"
    ),
    "primary-care-unit": ExtensionDef(
        "Encounter", "Reference", "Organization", "The primary-care unit that receives notices"
    ),
    "coordinated-planning": ExtensionDef(
        "Encounter", "boolean", None, "Both region and municipality must act after discharge"
    ),
    "follow-up-date": ExtensionDef("CarePlan", "date", None, "A follow-up date of the plan"),
    "plan-need": ExtensionDef(
        "CarePlan", "string", None, "A need the person has, in words", repeats=True
    ),
    "plan-resource": ExtensionDef(
        "CarePlan",
        "string",
        None,
        "A resource of the person's own (a relative, a strength) the plan builds on",
        repeats=True,
    ),
    "plan-other-contribution": ExtensionDef(
        "CarePlan",
        "complex",
        None,
        "What someone outside the principals (a relative, a neighbour) does in the plan",
        (
            ("who", "string", "Who it is"),
            ("relation", "string", "Their relation to the person"),
            ("contribution", "string", "What they do"),
        ),
        required=frozenset({"who", "relation", "contribution"}),
    ),
    "plan-basis": ExtensionDef(
        "CarePlan",
        "complex",
        None,
        "An existing plan this coordinated plan builds on",
        (
            (
                "kind",
                "code",
                "lss-plan, psychiatry-case-manager-plan, individual-plan or other "
                "(CodeSystem plan-basis-kind)",
            ),
            ("reference", "string", "The existing plan's own reference or number"),
            ("description", "string", "What it is, in words"),
        ),
        required=frozenset({"kind", "reference"}),
    ),
    "reply-by": ExtensionDef("Appointment", "date", None, "When replies to the summons are due"),
    "video-link": ExtensionDef("Appointment", "url", None, "The video link of the meeting"),
    "held-at": ExtensionDef("Appointment", "dateTime", None, "When the meeting took place"),
    "meeting-minutes": ExtensionDef("Appointment", "string", None, "Short minutes of the meeting"),
    "attended": ExtensionDef(
        "Appointment.participant", "boolean", None, "Whether the participant attended"
    ),
    "recipient-state": ExtensionDef(
        "Communication",
        "complex",
        None,
        "One recipient's copy of a care message: its state and acknowledgement",
        (
            ("recipient", "Reference", "The recipient organization"),
            ("state", "code", "delivered, read or acknowledged (CodeSystem recipient-state)"),
            ("read", "dateTime", "When the recipient read it"),
            ("outcome", "code", "ok, transient-error or fatal-error"),
            ("acknowledged", "dateTime", "When the recipient acknowledged it"),
        ),
        required=frozenset({"recipient", "state"}),
    ),
    "municipality-response": ExtensionDef(
        "Encounter",
        "complex",
        None,
        "The municipality's latest answer to the discharge-ready notice",
        (
            ("answer", "code", "can-receive or cannot-receive-yet (municipality-answer)"),
            ("canReceiveFrom", "date", "The date from which it can receive the patient"),
            ("reason", "string", "Why it cannot receive the patient yet"),
            ("plannedService", "Coding", "A service it plans (CodeSystem planned-service)"),
            ("unit", "Reference", "A unit of the municipality that will provide its services"),
            ("answered", "dateTime", "When it answered"),
        ),
        required=frozenset({"answer"}),
        repeating=frozenset({"plannedService", "unit"}),
    ),
    "services-started": ExtensionDef(
        "Encounter",
        "complex",
        None,
        "The municipality confirms that the patient arrived home and its services began",
        (
            ("arrived", "dateTime", "When the patient arrived home"),
            ("service", "Coding", "A service that began (CodeSystem planned-service)"),
            ("confirmed", "dateTime", "When the municipality confirmed it"),
        ),
        repeating=frozenset({"service"}),
    ),
    "involved-organization": ExtensionDef(
        "Task",
        "Reference",
        "Organization",
        "An organization involved in a general deviation (about no episode, plan or person)",
        repeats=True,
    ),
    "raised-by-rule": ExtensionDef(
        "Task", "code", None, "The rule that raised the deviation (the service raised it itself)"
    ),
    "discharge-information": ExtensionDef(
        "Encounter",
        "code",
        None,
        "Whether discharge information arrived no later than the end of the discharge day, "
        "local time: on-time, late or pending",
    ),
    # Delivery (issue 6): returned once, when a Subscription is created.
    "signing-secret": ExtensionDef(
        "Subscription", "string", None, "The HMAC-SHA256 key that signs the notifications"
    ),
}


def code_system(name: str) -> dict[str, Any]:
    """The CodeSystem resource ``name``."""
    title, codes = CODE_SYSTEMS[name]
    return {
        "resourceType": "CodeSystem",
        "id": name,
        "meta": {"versionId": "1"},
        "url": canonical("CodeSystem", name),
        "version": "0.1.0",
        "name": "".join(part.capitalize() for part in name.split("-")),
        "title": title,
        "status": "active",
        "publisher": PUBLISHER,
        "caseSensitive": True,
        "content": "complete",
        "count": len(codes),
        "concept": [
            {"code": c.code, "display": c.display, "definition": c.definition} for c in codes
        ],
    }


def structure_definition(name: str) -> dict[str, Any]:
    """The StructureDefinition of the extension ``name``."""
    ext = EXTENSIONS[name]
    url = canonical("StructureDefinition", name)
    value_type: dict[str, Any] = {"code": ext.value_type}
    if ext.target:
        value_type["targetProfile"] = [f"http://hl7.org/fhir/StructureDefinition/{ext.target}"]
    if ext.parts:
        elements = _complex_elements(ext, url)
    else:
        elements = [
            {
                "id": "Extension",
                "path": "Extension",
                "short": ext.short,
                "max": "*" if ext.repeats else "1",
            },
            {"id": "Extension.extension", "path": "Extension.extension", "max": "0"},
            {"id": "Extension.url", "path": "Extension.url", "fixedUri": url},
            {
                "id": "Extension.value[x]",
                "path": "Extension.value[x]",
                "min": 1,
                "type": [value_type],
            },
        ]
    return {
        "resourceType": "StructureDefinition",
        "id": name,
        "meta": {"versionId": "1"},
        "url": url,
        "version": "0.1.0",
        "name": "".join(part.capitalize() for part in name.split("-")),
        "title": ext.short,
        "status": "active",
        "publisher": PUBLISHER,
        "fhirVersion": FHIR_VERSION,
        "kind": "complex-type",
        "abstract": False,
        "context": [{"type": "element", "expression": ext.context}],
        "type": "Extension",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
        "derivation": "constraint",
        "differential": {"element": elements},
    }


def _complex_elements(ext: ExtensionDef, url: str) -> list[dict[str, Any]]:
    """The differential of a complex extension: one slice of Extension.extension per part."""
    elements: list[dict[str, Any]] = [
        {"id": "Extension", "path": "Extension", "short": ext.short},
        {
            "id": "Extension.extension",
            "path": "Extension.extension",
            "slicing": {"discriminator": [{"type": "value", "path": "url"}], "rules": "closed"},
        },
    ]
    for part, kind, short in ext.parts:
        slice_id = f"Extension.extension:{part}"
        elements += [
            {
                "id": slice_id,
                "path": "Extension.extension",
                "sliceName": part,
                "short": short,
                "min": 1 if part in ext.required else 0,
                "max": "*" if part in ext.repeating else "1",
            },
            {"id": f"{slice_id}.url", "path": "Extension.extension.url", "fixedUri": part},
            {
                "id": f"{slice_id}.value[x]",
                "path": "Extension.extension.value[x]",
                "type": [{"code": kind}],
            },
        ]
    elements += [
        {"id": "Extension.url", "path": "Extension.url", "fixedUri": url},
        {"id": "Extension.value[x]", "path": "Extension.value[x]", "max": "0"},
    ]
    return elements
