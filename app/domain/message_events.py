"""The events the service exchanges: the codes of its ``message-event`` CodeSystem (DESIGN §9).

``MessageEvent`` is the one list of them. Each member carries what the rest of the service says
about the event: its display and definition (the CodeSystem served at
``/fhir/CodeSystem/message-event``), the SubscriptionTopic that covers it besides ``messages``
(which covers every event), who receives it (``Routing``) and, for a notice on an episode, the
name of its command in the REST API (``/api/v1/episodes/{id}/<notice>``). The CodeSystem, the
CapabilityStatement's messaging, the ``$process-message`` handlers, the topics of the outbox
and the table in docs/domain.md are all derived from it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self


class Topic(StrEnum):
    """The SubscriptionTopics an organization can subscribe to (R4 Subscriptions Backport IG)."""

    DISCHARGE_READY = "discharge-ready"
    PLAN_CHANGES = "plan-changes"
    MESSAGES = "messages"


class Routing(StrEnum):
    """Who receives an event (besides the sender, who never does)."""

    MUNICIPALITY_AND_PRIMARY_CARE = "municipality-and-primary-care"
    HOSPITAL_AND_REGION = "hospital-and-region"
    HOSPITAL_UNIT = "hospital-unit"
    PARTICIPANTS = "participants"
    ORGANIZER = "organizer"
    PLAN_PRINCIPALS = "plan-principals"
    RECIPIENTS = "recipients"
    OTHER_SIDE = "other-side"
    SENDER = "sender"
    OTHER_PARTIES = "other-parties"

    @property
    def description(self) -> str:
        """Who they are, in words (the docs' table)."""
        return _AUDIENCE[self]


_AUDIENCE = {
    Routing.MUNICIPALITY_AND_PRIMARY_CARE: "the receiving municipality (in Norway its unit for "
    "the addressed service) and the primary-care unit",
    Routing.HOSPITAL_AND_REGION: "the hospital unit and its region",
    Routing.HOSPITAL_UNIT: "the hospital unit",
    Routing.PARTICIPANTS: "the organizations taking part in the meeting",
    Routing.ORGANIZER: "the organizer of the meeting",
    Routing.PLAN_PRINCIPALS: "the principals the plan is shared with",
    Routing.RECIPIENTS: "the units the message is addressed to",
    Routing.OTHER_SIDE: "the other side: the receiving principal's handler, or the reporter",
    Routing.SENDER: "the sender of the event or message it acknowledges",
    Routing.OTHER_PARTIES: "the record's other parties (on a Norwegian episode, of the "
    "municipality's side only its unit that documents are addressed to)",
}


class MessageEvent(StrEnum):
    """An event of the ``message-event`` CodeSystem, with what is said about it.

    ``topic`` is the SubscriptionTopic that covers the event (``messages`` when no narrower
    one does); ``notice`` is the name of the episode's notice in the REST API, for the events
    that are notices on an episode.
    """

    _value_: str
    display: str
    definition: str
    topic: Topic
    routing: Routing
    notice: str | None

    def __new__(
        cls,
        code: str,
        display: str,
        definition: str,
        topic: Topic,
        routing: Routing,
        notice: str | None = None,
    ) -> Self:
        member = str.__new__(cls, code)
        member._value_ = code
        member.display = display
        member.definition = definition
        member.topic = topic
        member.routing = routing
        member.notice = notice
        return member

    ADMISSION_NOTICE = (
        "admission-notice",
        "Admission notice",
        "A patient who may need municipal or primary-care services after discharge was admitted.",
        Topic.DISCHARGE_READY,
        Routing.MUNICIPALITY_AND_PRIMARY_CARE,
        "admission-notice",
    )
    EXPECTED_DISCHARGE_CHANGED = (
        "expected-discharge-changed",
        "Expected discharge date changed",
        "The expected discharge date was set or changed.",
        Topic.DISCHARGE_READY,
        Routing.MUNICIPALITY_AND_PRIMARY_CARE,
        "expected-discharge",
    )
    DISCHARGE_READY = (
        "discharge-ready",
        "Discharge-ready notice",
        "The treating doctor judged the patient discharge-ready; the payment clock starts.",
        Topic.DISCHARGE_READY,
        Routing.MUNICIPALITY_AND_PRIMARY_CARE,
        "discharge-ready",
    )
    DISCHARGE_READY_WITHDRAWN = (
        "discharge-ready-withdrawn",
        "Discharge-ready withdrawn",
        "The patient is no longer discharge-ready; the clock stops.",
        Topic.DISCHARGE_READY,
        Routing.MUNICIPALITY_AND_PRIMARY_CARE,
        "withdrawal",
    )
    DISCHARGE_NOTICE = (
        "discharge-notice",
        "Discharge notice",
        "The patient has left the hospital.",
        Topic.DISCHARGE_READY,
        Routing.MUNICIPALITY_AND_PRIMARY_CARE,
        "discharge",
    )
    SIP_SUMMONS = (
        "sip-summons",
        "Planning meeting summons",
        "A summons to a coordinated individual plan meeting.",
        Topic.PLAN_CHANGES,
        Routing.PARTICIPANTS,
    )
    SIP_SUMMONS_REPLY = (
        "sip-summons-reply",
        "Summons reply",
        "A participant's reply to a summons.",
        Topic.PLAN_CHANGES,
        Routing.ORGANIZER,
    )
    CAREPLAN_REVISED = (
        "careplan-revised",
        "Plan revised",
        "A coordinated individual plan was revised.",
        Topic.PLAN_CHANGES,
        Routing.PLAN_PRINCIPALS,
    )
    CARE_COMMUNICATION = (
        "care-communication",
        "Care message",
        "A message between care units.",
        Topic.MESSAGES,
        Routing.RECIPIENTS,
    )
    DEVIATION_REPORT = (
        "deviation-report",
        "Deviation report",
        "A report that cooperation failed.",
        Topic.MESSAGES,
        Routing.OTHER_SIDE,
    )
    ACKNOWLEDGEMENT = (
        "acknowledgement",
        "Acknowledgement",
        "The receiver acknowledges a message.",
        Topic.MESSAGES,
        Routing.SENDER,
    )
    DOCUMENT_SHARED = (
        "document-shared",
        "Document shared",
        "A document was attached to an episode, plan, meeting or care message on its own (not "
        "with a notice); it goes to the record's other parties.",
        Topic.MESSAGES,
        Routing.OTHER_PARTIES,
    )
    MUNICIPALITY_RESPONSE = (
        "municipality-response",
        "Municipality's answer",
        "The municipality can receive the discharge-ready patient from a date, or cannot yet "
        "(with a reason); with the services it plans.",
        Topic.DISCHARGE_READY,
        Routing.HOSPITAL_AND_REGION,
        "municipality-response",
    )
    SERVICES_STARTED = (
        "services-started",
        "Services started",
        "The municipality confirms that the discharged patient arrived home and that its "
        "services began.",
        Topic.DISCHARGE_READY,
        Routing.HOSPITAL_UNIT,
        "services-started",
    )


_BY_CODE: dict[str, MessageEvent] = {e.value: e for e in MessageEvent}


def event_of(code: str) -> MessageEvent:
    """The event of a code of the CodeSystem; ValueError for any other string."""
    if code not in _BY_CODE:
        raise ValueError(f"{code!r} is not a message event")
    return _BY_CODE[code]


def events_of(topic: Topic) -> frozenset[MessageEvent]:
    """The events a subscription to ``topic`` is notified of."""
    return frozenset(e for e in MessageEvent if topic is Topic.MESSAGES or e.topic is topic)
