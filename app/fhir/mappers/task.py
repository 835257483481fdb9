"""Deviation report → Task (https://hl7.org/fhir/R4/task.html).

DESIGN §9 leaves the choice open; a Task fits, because a deviation is work the handling
principal must do: ``code`` is the category, ``focus`` the episode or plan, ``for`` the person
(a general report has neither, and names the organizations involved in the extension
``involved-organization``; one the service raised itself names its rule in ``raised-by-rule``),
``requester`` the reporting unit, ``owner`` the handler (its PractitionerRole in the staff
register, a municipality's MAS for instance, else the handling organization), ``description``
what happened and ``output`` the answer. Task.status follows the handling
(reported → requested, investigating → in-progress, answered and closed → completed), and the
exact step is ``businessStatus`` from the service's ``deviation-state`` CodeSystem.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.task import Task

from app.domain.deviations import Deviation, DeviationCategory, DeviationState
from app.domain.errors import InvalidInput
from app.fhir import parse
from app.fhir.common import canonical, concept, extension_url, instant, meta, ref
from app.services.deviations import Report

CATEGORY = canonical("CodeSystem", "deviation-category")
STATE = canonical("CodeSystem", "deviation-state")
INVOLVED = extension_url("involved-organization")
RAISED_BY_RULE = extension_url("raised-by-rule")
_STATUS = {
    DeviationState.REPORTED: "requested",
    DeviationState.INVESTIGATING: "in-progress",
    DeviationState.ANSWERED: "completed",
    DeviationState.CLOSED: "completed",
}


def to_fhir(deviation: Deviation) -> dict[str, Any]:
    """The Task resource of a deviation report."""
    changed = deviation.history[-1].at if deviation.history else deviation.reported_at
    resource: dict[str, Any] = {
        "resourceType": "Task",
        "id": deviation.id,
        "meta": meta(deviation.version, changed),
        "status": _STATUS[deviation.state],
        "businessStatus": concept(STATE, deviation.state.value),
        "intent": "order",
        "code": concept(CATEGORY, deviation.category.value),
        "description": deviation.description,
        "authoredOn": instant(deviation.reported_at),
        "lastModified": instant(changed),
        "requester": ref("Organization", deviation.reporter_id),
        "owner": ref("PractitionerRole", deviation.handler_role_id)
        if deviation.handler_role_id
        else ref("Organization", deviation.handler_id),
    }
    if deviation.person_id is not None:
        resource["for"] = ref("Patient", deviation.person_id)
    extensions = [
        {"url": INVOLVED, "valueReference": ref("Organization", org)}
        for org in deviation.organizations
    ]
    if deviation.rule is not None:
        extensions.append({"url": RAISED_BY_RULE, "valueCode": deviation.rule})
    if extensions:
        resource["extension"] = extensions
    if deviation.episode_id is not None:
        resource["focus"] = ref("Encounter", deviation.episode_id)
    elif deviation.plan_id is not None:
        resource["focus"] = ref("CarePlan", deviation.plan_id)
    if deviation.answer is not None:
        resource["output"] = [{"type": {"text": "answer"}, "valueString": deviation.answer}]
    return resource


def from_fhir(resource: Task) -> Report:
    """A deviation to report, from a Task."""
    if resource.status not in (None, "requested"):
        raise InvalidInput("a deviation is reported as a requested Task", field="Task.status")
    codes = [
        c.code
        for c in (resource.code.coding if resource.code else None) or []
        if c.system == CATEGORY
    ]
    allowed = ", ".join(c.value for c in DeviationCategory)
    if not codes or codes[0] not in {c.value for c in DeviationCategory}:
        raise InvalidInput(f"Task.code is a {CATEGORY} code: {allowed}", field="Task.code")
    involved = tuple(
        parse.reference_id(
            e.valueReference, "Organization", "Task.extension(involved-organization)"
        )
        for e in resource.extension or []
        if e.url == INVOLVED
    )
    focus = parse.reference_text(resource.focus)
    target = parse.literal(focus)
    kind, ident = (target.kind, target.id) if target is not None else ("", "")
    if kind not in ("Encounter", "CarePlan") and not (not focus and involved):
        raise InvalidInput(
            "Task.focus references the Encounter or CarePlan the deviation concerns (a general "
            "report has no focus, and names the organizations involved in the extension "
            "involved-organization)",
            field="Task.focus",
        )
    owner_reference = parse.reference_text(resource.owner)
    owner = parse.literal(owner_reference)
    if owner_reference and (owner is None or owner.kind != "Organization"):
        raise InvalidInput("Task.owner is the handling Organization", field="Task.owner")
    if not resource.description:
        raise InvalidInput("Task.description says what happened", field="Task.description")
    return Report(
        category=DeviationCategory(codes[0]),
        description=resource.description,
        episode_id=ident if kind == "Encounter" else None,
        plan_id=ident if kind == "CarePlan" else None,
        handler_principal_id=owner.id if owner is not None else None,
        organization_ids=involved,
    )
