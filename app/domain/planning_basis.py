"""The planning basis as structured content: the service's own small questionnaire (DESIGN §6).

Norrbotten's checklist asks the hospital for a planning basis before the planning meeting, and
the Norwegian "helseopplysninger ved innleggelse" carries the same facts. The admission notice and
the discharge-ready notice may carry the answers, so that the municipality reads them as data,
without opening a PDF. The questionnaire is versioned: answers name the version they fit, and a
new version gets a new number while the old one stays servable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.domain.errors import InvalidInput


class AnswerType(StrEnum):
    """How an item is answered (the FHIR Questionnaire item types used here)."""

    CHOICE = "choice"
    STRING = "string"
    TEXT = "text"
    BOOLEAN = "boolean"


@dataclass(frozen=True, slots=True)
class Item:
    """One question: ``options`` are (code, display) of a choice."""

    link_id: str
    text: str
    type: AnswerType
    required: bool = False
    repeats: bool = False
    options: tuple[tuple[str, str], ...] = ()


VERSION = "1.0.0"
NAME = "planning-basis"

FUNCTIONAL_STATUS = (
    ("independent", "Independent in daily activities"),
    ("some-help", "Needs some help with daily activities"),
    ("much-help", "Needs much help with daily activities"),
    ("dependent", "Dependent on help with all daily activities"),
)
COGNITIVE_STATE = (
    ("unimpaired", "No known cognitive impairment"),
    ("mild", "Mild cognitive impairment"),
    ("severe", "Severe cognitive impairment"),
    ("unknown", "Not assessed"),
)

ITEMS: tuple[Item, ...] = (
    Item(
        "functional-status",
        "Functional status (ADL)",
        AnswerType.CHOICE,
        required=True,
        options=FUNCTIONAL_STATUS,
    ),
    Item("functional-status-note", "Functional status, in words", AnswerType.TEXT),
    Item(
        "current-home-services",
        "Does the person have municipal home services now?",
        AnswerType.BOOLEAN,
        required=True,
    ),
    Item(
        "current-home-services-description",
        "Which home services, and how often",
        AnswerType.TEXT,
    ),
    Item("aids", "Aids in use (walker, wheelchair, hoist, …)", AnswerType.STRING, repeats=True),
    Item(
        "cognitive-state",
        "Cognitive state",
        AnswerType.CHOICE,
        required=True,
        options=COGNITIVE_STATE,
    ),
    Item("contact-name", "Who to contact (relative or legal representative)", AnswerType.STRING),
    Item("contact-phone", "The contact's phone", AnswerType.STRING),
    Item(
        "expected-needs",
        "Expected needs after discharge",
        AnswerType.TEXT,
        required=True,
    ),
)
BY_LINK_ID = {item.link_id: item for item in ITEMS}

Answer = str | bool
Answers = dict[str, list[Answer]]


@dataclass(frozen=True, slots=True)
class PlanningBasis:
    """Answers to the questionnaire, given with a notice on an episode.

    ``notice`` is the notice it came with (admission-notice or discharge-ready), ``seq`` that
    notice's number in the episode, ``author_id`` the unit that answered.
    """

    id: str
    episode_id: str
    person_id: str
    notice: str
    seq: int
    author_id: str
    authored_at: datetime
    answers: Answers
    version: str = VERSION


def check_answers(answers: Mapping[str, Sequence[Answer]], version: str) -> Answers:
    """The answers, checked against the questionnaire; ``InvalidInput`` names the item (its
    link id as ``field``) that is unknown, answered with the wrong type or option, answered
    more than once without repeating, or required and missing."""
    if version != VERSION:
        raise InvalidInput(
            f"questionnaire version {version} is not served; answer version {VERSION}",
            field="questionnaire",
        )
    checked: Answers = {}
    for link_id, values in answers.items():
        item = BY_LINK_ID.get(link_id)
        if item is None:
            raise InvalidInput(
                f"the questionnaire has no item {link_id!r}; its items: {', '.join(BY_LINK_ID)}",
                field=link_id,
            )
        if not values:
            continue
        if len(values) > 1 and not item.repeats:
            raise InvalidInput(f"item {link_id} takes one answer", field=link_id)
        for value in values:
            _check_value(item, value)
        checked[link_id] = list(values)
    for item in ITEMS:
        if item.required and item.link_id not in checked:
            raise InvalidInput(f"item {item.link_id} ({item.text}) is required", field=item.link_id)
    return checked


def _check_value(item: Item, value: Answer) -> None:
    if item.type is AnswerType.BOOLEAN:
        if not isinstance(value, bool):
            raise InvalidInput(f"item {item.link_id} is answered yes or no", field=item.link_id)
        return
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"item {item.link_id} is answered with text", field=item.link_id)
    if item.type is AnswerType.CHOICE and value not in dict(item.options):
        raise InvalidInput(
            f"item {item.link_id} is answered with one of "
            f"{', '.join(code for code, _ in item.options)}",
            field=item.link_id,
        )
    if len(value) > 4000:
        raise InvalidInput(f"item {item.link_id}: at most 4000 characters", field=item.link_id)
