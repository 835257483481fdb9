"""The resource types served, one module each: its readers, its searcher and its parameters.

``RESOURCES`` is the table the FHIR routes dispatch through and the CapabilityStatement and
the OpenAPI document are generated from, so what is declared is what is served.
"""

from __future__ import annotations

from app.fhir.resources import (
    appointment,
    auditevent,
    careplan,
    careteam,
    communication,
    conformance,
    consent,
    documents,
    encounter,
    goal,
    organization,
    patient,
    staff,
    task,
)
from app.fhir.resources.spec import ResourceSpec

RESOURCES: dict[str, ResourceSpec] = {
    "Patient": patient.SPEC,
    "Organization": organization.SPEC,
    "Encounter": encounter.SPEC,
    "CarePlan": careplan.SPEC,
    "Goal": goal.SPEC,
    "CareTeam": careteam.SPEC,
    "Practitioner": staff.PRACTITIONER,
    "PractitionerRole": staff.PRACTITIONER_ROLE,
    "Consent": consent.SPEC,
    "Appointment": appointment.APPOINTMENT,
    "AppointmentResponse": appointment.APPOINTMENT_RESPONSE,
    "Communication": communication.SPEC,
    "Task": task.SPEC,
    "CodeSystem": conformance.CODE_SYSTEM,
    "StructureDefinition": conformance.STRUCTURE_DEFINITION,
    "Measure": conformance.MEASURE,
    "AuditEvent": auditevent.SPEC,
    "DocumentReference": documents.DOCUMENT_REFERENCE,
    "Binary": documents.BINARY,
    "Questionnaire": documents.QUESTIONNAIRE,
    "QuestionnaireResponse": documents.QUESTIONNAIRE_RESPONSE,
}
