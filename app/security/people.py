"""People signed in to the web console act through the same ``Actor`` as a record system.

The console is a client of the service like any other: its client id is ``console``, the person's
organization (unit) and its principal are the caller's, the person's role grants a fixed set of
SMART scopes, and the person is the end user in every access-log entry.
"""

from __future__ import annotations

from app.domain.sessions import Identity, Role
from app.security.access import Actor

CONSOLE_CLIENT_ID = "console"

# Everyone reads what their organization takes part in; each role writes what its work needs.
_READ = "system/*.rs"
ROLE_SCOPES: dict[Role, frozenset[str]] = {
    Role.PLANNER: frozenset(
        {
            _READ,
            "system/Encounter.u",
            "system/MessageHeader.u",
            "system/Appointment.u",
            "system/Communication.c",
        }
    ),
    Role.COORDINATOR: frozenset(
        {_READ, "system/MessageHeader.u", "system/Appointment.u", "system/Communication.c"}
    ),
    Role.FIXED_CARE_CONTACT: frozenset({_READ, "system/MessageHeader.u", "system/Appointment.u"}),
    Role.MAS: frozenset({_READ, "system/MessageHeader.u", "system/Appointment.u", "system/Task.u"}),
    Role.DEVIATION_HANDLER: frozenset({_READ, "system/MessageHeader.u", "system/Task.u"}),
    Role.ADMINISTRATOR: frozenset({_READ, "system/MessageHeader.u", "system/Communication.c"}),
}


def person_actor(identity: Identity, principal_id: str, request_id: str | None) -> Actor:
    """The caller a signed-in person is: their organization, role's scopes and user id."""
    return Actor(
        client_id=CONSOLE_CLIENT_ID,
        organization_id=identity.organization_id,
        principal_id=principal_id,
        scopes=ROLE_SCOPES[identity.role],
        user_id=identity.user_id,
        purpose="TREAT",
        request_id=request_id,
    )
