"""The relational schema as SQLAlchemy Core tables, created only by Alembic migrations.

The tables are declared per concept family in ``directory_tables``, ``episode_tables``,
``access_tables``, ``plan_tables``, ``message_tables`` and ``delivery_tables`` (and
``document_tables``), all on the one ``metadata`` of ``table_types`` (the columns many of them
declare alike come from ``columns``); this module gathers them so
that ``from app.store import tables as t`` reaches every one. A store module of its own may declare
its tables on this ``metadata`` (``deviation_rules`` does; ``migrations/env.py`` imports it). Rows
are mapped to domain objects explicitly, in ``app.store``'s repository modules, one per concept.
"""

from __future__ import annotations

from app.store.access_tables import (
    access_log,
    client_revocations,
    clients,
    console_sessions,
    idempotency_keys,
    record_parties,
    used_assertions,
)
from app.store.delivery_tables import (
    deliveries,
    outbox_events,
    subscriptions,
)
from app.store.directory_tables import (
    cooperation_area_members,
    cooperation_areas,
    organization_identifiers,
    organizations,
    persons,
    practitioner_roles,
    practitioners,
)
from app.store.episode_tables import (
    episode_events,
    episodes,
    liability_state,
    liable_intervals,
    statistics_daily,
)
from app.store.message_tables import (
    bulletins,
    care_message_recipients,
    care_messages,
    deviations,
    processed_messages,
)
from app.store.plan_tables import (
    meetings,
    plan_follow_ups,
    plan_versions,
    plans,
)
from app.store.projection_tables import fhir_projections
from app.store.table_types import UTCDateTime, metadata

__all__ = [
    "UTCDateTime",
    "access_log",
    "bulletins",
    "care_message_recipients",
    "care_messages",
    "client_revocations",
    "clients",
    "console_sessions",
    "cooperation_area_members",
    "cooperation_areas",
    "deliveries",
    "deviations",
    "episode_events",
    "episodes",
    "fhir_projections",
    "idempotency_keys",
    "liability_state",
    "liable_intervals",
    "meetings",
    "metadata",
    "organization_identifiers",
    "organizations",
    "outbox_events",
    "persons",
    "plan_follow_ups",
    "plan_versions",
    "plans",
    "practitioner_roles",
    "practitioners",
    "processed_messages",
    "record_parties",
    "statistics_daily",
    "subscriptions",
    "used_assertions",
]
