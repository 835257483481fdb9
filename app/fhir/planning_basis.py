"""Questionnaire and QuestionnaireResponse: the planning basis as structured data.

The service serves its one Questionnaire, ``planning-basis``, at ``/fhir/Questionnaire``
(https://hl7.org/fhir/R4/questionnaire.html); a notice's answers are a QuestionnaireResponse
(https://hl7.org/fhir/R4/questionnaireresponse.html) whose ``questionnaire`` is the canonical
URL with its version, ``subject`` the person and ``encounter`` the episode.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.questionnaireresponse import (
    QuestionnaireResponse,
    QuestionnaireResponseItemAnswer,
)

from app.domain.errors import InvalidInput, NotFound
from app.domain.planning_basis import (
    ITEMS,
    NAME,
    VERSION,
    Answer,
    AnswerType,
    Item,
    PlanningBasis,
)
from app.fhir.artifacts import artifact_meta
from app.fhir.common import canonical, instant, ref
from app.security.access import Actor
from app.services import notice_content as service
from app.services.notice_content import PlanningAnswers
from app.store.unit_of_work import UnitOfWork

Resource = dict[str, Any]
URL = canonical("Questionnaire", NAME)
# The code systems of the choice items, served as CodeSystems of their own.
OPTION_SYSTEMS = {
    item.link_id: canonical("CodeSystem", item.link_id) for item in ITEMS if item.options
}
_VALUE = {
    AnswerType.CHOICE: "valueCoding",
    AnswerType.STRING: "valueString",
    AnswerType.TEXT: "valueString",
    AnswerType.BOOLEAN: "valueBoolean",
}


def _item(item: Item) -> Resource:
    result: Resource = {
        "linkId": item.link_id,
        "text": item.text,
        "type": item.type.value,
        "required": item.required,
        "repeats": item.repeats,
    }
    if item.options:
        system = OPTION_SYSTEMS[item.link_id]
        result["answerOption"] = [
            {"valueCoding": {"system": system, "code": code, "display": display}}
            for code, display in item.options
        ]
    return result


def questionnaire() -> Resource:
    """The planning-basis Questionnaire."""
    return {
        "resourceType": "Questionnaire",
        "id": NAME,
        "meta": artifact_meta(),
        "url": URL,
        "version": VERSION,
        "name": "PlanningBasis",
        "title": "Planning basis before discharge planning (planeringsunderlag)",
        "status": "active",
        "subjectType": ["Patient"],
        "publisher": "Samverkan",
        "description": "What the municipality needs to plan its services after discharge: "
        "functional status, current home services, aids, cognitive state, whom to contact and "
        "the expected needs. Carried by the admission and discharge-ready notices.",
        "item": [_item(item) for item in ITEMS],
    }


def _answer(item: Item, value: Answer) -> Resource:
    if item.type is AnswerType.CHOICE:
        display = dict(item.options).get(str(value))
        coding = {"system": OPTION_SYSTEMS[item.link_id], "code": value}
        if display:
            coding["display"] = display
        return {"valueCoding": coding}
    return {_VALUE[item.type]: value}


def to_fhir(basis: PlanningBasis) -> Resource:
    """The QuestionnaireResponse of a planning basis."""
    items = []
    for item in ITEMS:
        values = basis.answers.get(item.link_id)
        if values:
            items.append(
                {
                    "linkId": item.link_id,
                    "text": item.text,
                    "answer": [_answer(item, v) for v in values],
                }
            )
    return {
        "resourceType": "QuestionnaireResponse",
        "id": basis.id,
        "meta": {"versionId": "1", "lastUpdated": instant(basis.authored_at)},
        "questionnaire": f"{URL}|{basis.version}",
        "status": "completed",
        "subject": ref("Patient", basis.person_id),
        "encounter": ref("Encounter", basis.episode_id),
        "authored": instant(basis.authored_at),
        "author": ref("Organization", basis.author_id),
        "item": items,
    }


def from_fhir(
    resource: QuestionnaireResponse, where: str = "QuestionnaireResponse"
) -> PlanningAnswers:
    """The answers of a QuestionnaireResponse to the planning-basis questionnaire; an item the
    questionnaire lacks, or answered with the wrong type, is refused naming the item."""
    url, _sep, version = (resource.questionnaire or "").partition("|")
    if url != URL:
        raise InvalidInput(
            f"QuestionnaireResponse.questionnaire is {URL}|{VERSION}",
            field=f"{where}.questionnaire",
        )
    answers: dict[str, list[Answer]] = {}
    by_id = {item.link_id: item for item in ITEMS}
    for index, entry in enumerate(resource.item or []):
        link_id = entry.linkId or ""
        place = f"{where}.item[{index}]"
        item = by_id.get(link_id)
        if item is None:
            raise InvalidInput(
                f"the questionnaire has no item {link_id!r}", field=f"{place}.linkId"
            )
        values: list[Answer] = []
        for number, answer in enumerate(entry.answer or []):
            key = _VALUE[item.type]
            # What was sent of the answer (its value[x], an extension), the nested items aside.
            if answer.model_fields_set - {"item"} != {key}:
                raise InvalidInput(
                    f"item {link_id} is answered with {key}", field=f"{place}.answer[{number}]"
                )
            values.append(_value(answer, item, f"{place}.answer[{number}]"))
        answers[link_id] = answers.get(link_id, []) + values
    return PlanningAnswers(answers, version or VERSION, f"{where}.item")


def _value(answer: QuestionnaireResponseItemAnswer, item: Item, field: str) -> Answer:
    """The answer's value of the type ``item`` takes: a code of its options, text or a boolean."""
    if item.type is AnswerType.CHOICE:
        coding = answer.valueCoding
        if coding is None or coding.system != OPTION_SYSTEMS[item.link_id]:
            raise InvalidInput(
                f"item {item.link_id} is answered with a code of {OPTION_SYSTEMS[item.link_id]}",
                field=field,
            )
        return coding.code  # type: ignore[return-value]
    if item.type is AnswerType.BOOLEAN:
        return answer.valueBoolean  # type: ignore[return-value]
    return answer.valueString  # type: ignore[return-value]


# --- the interactions ------------------------------------------------------------------------


async def read_questionnaire(_uow: UnitOfWork, _actor: Actor, ident: str) -> Resource:
    """Questionnaire read: the planning basis."""
    if ident != NAME:
        raise NotFound(f"no Questionnaire with id {ident}")
    return questionnaire()


async def read_response(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    """QuestionnaireResponse read."""
    return to_fhir(await service.get_planning_basis(uow, actor, ident))
