"""Who is calling, and what they may see.

An organization sees a person, and anything about that person, only while it has a care relation:
it is the hospital of one of the person's episodes, or it receives that episode's notices. An
organization that registered (or looked up by national identifier) a person sees the person's
record but nothing else about them (DESIGN §10; patientdatalagen; Normen). A principal sees what
its units see, and a unit what its principal sees. Anyone else is told the thing does not exist
(404), exactly as for an id that does not exist, so that an id reveals nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.errors import NotFound
from app.domain.persons import Person
from app.store.repositories import AccessEntry, utcnow
from app.store.unit_of_work import UnitOfWork

# Care-relation sources whose organizations must act, and so may see a protected person's details.
ACTING_SOURCES = frozenset({"hospital", "receiver"})


@dataclass(frozen=True, slots=True)
class Actor:
    """The caller: a client acting for one organization, with the scopes its token carries."""

    client_id: str
    organization_id: str
    principal_id: str
    scopes: frozenset[str]
    user_id: str | None = None
    purpose: str = "TREAT"
    request_id: str | None = None

    @property
    def organizations(self) -> tuple[str, ...]:
        """The organization and its principal: the ids a care relation may name."""
        if self.principal_id == self.organization_id:
            return (self.organization_id,)
        return (self.organization_id, self.principal_id)


def not_found(kind: str, resource_id: str) -> NotFound:
    """The one answer for 'does not exist' and 'exists but not for you'."""
    return NotFound(f"no {kind} with id {resource_id}")


def may_see_protected_details(person: Person, actor: Actor, sources: set[str]) -> bool:
    """Whether the caller must act for the person, and so may see a protected person's details.

    That is the person's residence or stay municipality, and the hospital and receivers of the
    person's episodes; an organization that merely registered the person is not among them.
    """
    if not person.protected_identity:
        return True
    municipalities = {person.residence_municipality_id, person.stay_municipality_id}
    return bool(sources & ACTING_SOURCES) or bool(municipalities & set(actor.organizations))


def record(
    uow: UnitOfWork,
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: str | None,
    person_id: str | None,
    outcome: str = "success",
) -> None:
    """Queue an access-log entry for the caller's access to personal data."""
    uow.log_access(
        AccessEntry(
            at=utcnow(),
            client_id=actor.client_id,
            organization_id=actor.organization_id,
            user_id=actor.user_id,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            person_id=person_id,
            outcome=outcome,
            purpose=actor.purpose,
            request_id=actor.request_id,
        )
    )


async def require_relation(
    uow: UnitOfWork,
    actor: Actor,
    person_id: str | None,
    *,
    action: str,
    resource_type: str,
    resource_id: str,
    kind: str,
    care_only: bool = True,
) -> None:
    """Refuse, as 'not found', a caller without a care relation to the person; log either way.

    ``person_id`` is None when the resource does not exist: that is refused and logged exactly
    like a resource the caller may not see, so neither the answer nor the caller's own access
    log tells the two apart. ``care_only`` (the default, for anything about the person) does not
    count a ``registered`` relation; reading the person's own record does.
    """
    if person_id is None or not await uow.relations.exists(
        person_id, actor.organizations, care_only=care_only
    ):
        record(uow, actor, action, resource_type, resource_id, person_id, outcome="denied")
        raise not_found(kind, resource_id)
    record(uow, actor, action, resource_type, resource_id, person_id)
