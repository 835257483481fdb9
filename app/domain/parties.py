"""Who may see what: the parties of each record, and which callers they let in (DESIGN §10).

Access follows the record, not the person. Each record names its parties, derived from the record
itself: an episode its hospital unit, receiving municipality (or, once it has answered, the units
it named) and primary-care unit; a plan the organization that initiated it, the principals it is
shared with by consent and, among theirs, the units responsible for its interventions and the
coordinator's unit; a meeting its organizer and participants; a care message its sender and
recipients; a deviation its reporter and handler (and, for a general report about no person, the
principals of the organizations it names); a person's registration the organization that
registered the person. An organization sees a record while it is a party to it, and the person's
demographic record while it is a party to any record about the person.

A caller reaches parties at the grain of its client (``Reach``): a unit's client the parties
naming that unit; a principal's client every party of the principal and its units, or, when it
names the acting unit, that unit's parties and those naming the principal itself.

The person's details (name, address, phone) follow the record they came with
(``sees_details``): whoever registered the person knows them, and so does every party of a record
whose source (the hospital of an episode, the initiator of a plan, the organizer of a meeting, the
sender of a message, the reporter of a deviation) knew them. Creating a record of your own
therefore opens nothing: its source is you. A protected identity's details reach only knowing
parties that must act on a record.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from app.domain.care_messages import CareMessage
from app.domain.deviations import Deviation
from app.domain.episodes import Episode
from app.domain.meetings import Meeting
from app.domain.plans import Plan


class RecordType(StrEnum):
    """The kinds of record that have parties."""

    REGISTRATION = "registration"
    EPISODE = "episode"
    PLAN = "plan"
    MEETING = "meeting"
    MESSAGE = "message"
    DEVIATION = "deviation"


class Role(StrEnum):
    """Why an organization is a party to a record."""

    REGISTRANT = "registrant"
    HOSPITAL = "hospital"
    RECEIVER = "receiver"
    PRIMARY_CARE = "primary-care"
    INITIATOR = "initiator"
    PARTICIPANT = "participant"
    RESPONSIBLE = "responsible"
    COORDINATOR = "coordinator"
    ORGANIZER = "organizer"
    SENDER = "sender"
    RECIPIENT = "recipient"
    REPORTER = "reporter"
    HANDLER = "handler"
    INVOLVED = "involved"


# The party whose knowledge a record passes on to its other parties.
SOURCE_ROLES = frozenset(
    {Role.REGISTRANT, Role.HOSPITAL, Role.INITIATOR, Role.ORGANIZER, Role.SENDER, Role.REPORTER}
)
# Parties that must act on a record, and so may see a protected identity's details.
ACTING_ROLES = frozenset(
    {
        Role.REGISTRANT,
        Role.HOSPITAL,
        Role.RECEIVER,
        Role.PRIMARY_CARE,
        Role.RESPONSIBLE,
        Role.COORDINATOR,
        Role.HANDLER,
    }
)


@dataclass(frozen=True, slots=True)
class Party:
    """One organization's part in one record; ``principal_id`` is its principal (itself for a
    principal)."""

    record_type: RecordType
    record_id: str
    organization_id: str
    principal_id: str
    role: Role


@dataclass(frozen=True, slots=True)
class Reach:
    """The parties a caller matches: those naming one of ``organizations``, and every party whose
    principal is ``principal_id`` (when set)."""

    organizations: frozenset[str] = frozenset()
    principal_id: str | None = None

    @classmethod
    def of(cls, organization_id: str, principal_id: str, unit_id: str | None) -> Reach:
        """The reach of a client of ``organization_id`` (a unit, or the principal itself) acting
        for ``unit_id`` (a principal-level client's acting unit, if it named one)."""
        if organization_id != principal_id:
            return cls(frozenset({organization_id}))
        if unit_id is not None:
            return cls(frozenset({unit_id, principal_id}))
        return cls(principal_id=principal_id)

    def matches(self, organization_id: str, principal_id: str) -> bool:
        """Whether a party naming ``organization_id`` (of ``principal_id``) is within reach."""
        return organization_id in self.organizations or principal_id == self.principal_id


Pairs = list[tuple[str, Role]]


def episode_parties(episode: Episode) -> Pairs:
    """The hospital unit, the receiving municipality or the units it named, the primary care."""
    pairs: Pairs = [(episode.hospital_unit_id, Role.HOSPITAL)]
    receivers = episode.receiving_units or (episode.municipality_id,)
    pairs += [(org, Role.RECEIVER) for org in receivers]
    if episode.primary_care_unit_id is not None:
        pairs.append((episode.primary_care_unit_id, Role.PRIMARY_CARE))
    return pairs


def plan_parties(plan: Plan) -> Pairs:
    """The initiator, the principals the plan is shared with, and their responsible units and
    coordinator's unit (a unit of a principal the person has not consented to is not a party)."""
    shared = plan.sharing_principals()
    pairs: Pairs = [(plan.initiator.organization_id, Role.INITIATOR)]
    pairs += [(principal, Role.PARTICIPANT) for principal in sorted(shared)]
    pairs += [
        (i.responsible_unit_id, Role.RESPONSIBLE)
        for i in plan.content.interventions
        if i.responsible_unit_id is not None and i.responsible_principal_id in shared
    ]
    coordinator = plan.content.coordinator
    if coordinator is not None and coordinator.principal_id in shared:
        pairs.append((coordinator.unit_id, Role.COORDINATOR))
    return pairs


def meeting_parties(meeting: Meeting) -> Pairs:
    """The organizer and every participating organization."""
    pairs: Pairs = [(meeting.organizer_id, Role.ORGANIZER)]
    pairs += [
        (p.organization_id, Role.PARTICIPANT)
        for p in meeting.participants
        if p.organization_id is not None
    ]
    return pairs


def message_parties(message: CareMessage) -> Pairs:
    """The sender and the recipients."""
    return [(message.sender_id, Role.SENDER)] + [
        (r.organization_id, Role.RECIPIENT) for r in message.recipients
    ]


def deviation_parties(deviation: Deviation, involved_principals: Iterable[str] = ()) -> Pairs:
    """The reporting organization and the handling one; for a general report, also the
    principals of the organizations it names as involved."""
    pairs: Pairs = [(deviation.reporter_id, Role.REPORTER), (deviation.handler_id, Role.HANDLER)]
    pairs += [(principal, Role.INVOLVED) for principal in sorted(set(involved_principals))]
    return pairs


def _knows(party: Party, known: set[str]) -> bool:
    # What a principal knows, each of its units knows; what a unit knows stays with the unit.
    return party.organization_id in known or party.principal_id in known


def detail_holders(parties: Iterable[Party]) -> frozenset[str]:
    """The organizations that know the details of the person the ``parties`` are about.

    The registrant knows them; every party of a record whose source party knows them learns
    them, and what it learns it passes on through the records it is the source of.
    """
    records: dict[tuple[RecordType, str], list[Party]] = defaultdict(list)
    for party in parties:
        records[(party.record_type, party.record_id)].append(party)
    known = {p.organization_id for m in records.values() for p in m if p.role is Role.REGISTRANT}
    grown = True
    while grown:
        grown = False
        for members in records.values():
            if any(m.role in SOURCE_ROLES and _knows(m, known) for m in members):
                new = {m.organization_id for m in members} - known
                if new:
                    known |= new
                    grown = True
    return frozenset(known)


def is_party(parties: Iterable[Party], reach: Reach) -> bool:
    """Whether any of the parties is within the caller's reach."""
    return any(reach.matches(p.organization_id, p.principal_id) for p in parties)


def sees_details(parties: Iterable[Party], reach: Reach, *, protected: bool) -> bool:
    """Whether a caller may see the details of the person the ``parties`` are about.

    The caller must be a party that knows them; for a protected identity, one that must act.
    """
    found = list(parties)
    known = set(detail_holders(found))
    return any(
        reach.matches(p.organization_id, p.principal_id)
        and _knows(p, known)
        and (not protected or p.role in ACTING_ROLES)
        for p in found
    )
