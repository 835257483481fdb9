"""Care episodes, their events, and the liability the episodes give rise to (liable intervals and
the configuration they are in step with).

Declared on the shared ``metadata``; ``app.store.tables`` re-exports every table here."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    Index,
    Integer,
    String,
    Table,
    text,
)

from app.store.columns import instant, organization, own_id, refers_to, versioned
from app.store.table_types import metadata

episodes = Table(
    "episodes",
    metadata,
    own_id(),
    refers_to("person_id", "persons"),
    organization("hospital_unit_id"),
    organization("region_id"),
    organization("municipality_id"),
    organization("primary_care_unit_id", nullable=True),
    Column("jurisdiction", String(2), nullable=False),
    instant("admitted_at"),
    Column("admission_type", String(16), nullable=False),
    Column("care_type", String(16), nullable=False),
    Column("state", String(32), nullable=False),
    Column("expected_discharge_date", Date, nullable=True),
    instant("discharge_ready_at", nullable=True),
    instant("first_discharge_ready_at", nullable=True),
    instant("discharged_at", nullable=True),
    refers_to("readmission_of_id", "episodes", nullable=True),
    *versioned(),
    Index(None, "person_id", "admitted_at"),
    Index(None, "municipality_id", "state", "id"),
    Index(None, "municipality_id", "discharged_at"),
    Index(None, "municipality_id", "first_discharge_ready_at"),
    # The statistics read a region's discharges and notices from these alone (migration 0020).
    Index(
        None,
        "region_id",
        "discharged_at",
        postgresql_include=["id", "discharge_ready_at", "municipality_id", "hospital_unit_id"],
    ),
    Index(
        None,
        "region_id",
        "admitted_at",
        postgresql_include=[
            "id",
            "municipality_id",
            "hospital_unit_id",
            "person_id",
            "jurisdiction",
        ],
    ),
    Index(None, "readmission_of_id"),
)

# The conditions of the partial indexes of episode events, as SQL: a query's condition must be
# written the same way, with the values in the statement rather than bound, for PostgreSQL to
# prove that its rows are in the index (`app.store.statistics_episodes`).
PLANNING_PATTERN = '%"coordinated_planning"%'
WITHDRAWN = "discharge-ready-withdrawn"
COORDINATED_PLANNING = f"CAST(data AS VARCHAR) LIKE '{PLANNING_PATTERN}'"
WITHDRAWAL = f"kind = '{WITHDRAWN}'"

episode_events = Table(
    "episode_events",
    metadata,
    refers_to("episode_id", "episodes", primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("kind", String(40), nullable=False),
    instant("at"),
    Column("data", JSON, nullable=False),
    instant("recorded_at"),
    Index(None, "kind", "at", postgresql_include=["episode_id", "seq"]),
    # The summons deadline (statistics, its drill-down) reads the notices asking for coordinated
    # planning and each episode's withdrawals from these partial indexes alone (migration 0023).
    Index(
        "ix_episode_events_coordinated_planning",
        "kind",
        "at",
        postgresql_include=["episode_id", "seq"],
        postgresql_where=text(COORDINATED_PLANNING),
        sqlite_where=text(COORDINATED_PLANNING),
    ),
    Index(
        "ix_episode_events_withdrawn",
        "episode_id",
        "seq",
        postgresql_include=["at"],
        postgresql_where=text(WITHDRAWAL),
        sqlite_where=text(WITHDRAWAL),
    ),
)

# Each episode's liable intervals (individual model), derived from its notices by the domain's
# `liable_intervals` in the transaction that appends a notice, and redone by `samverkan liability
# recompute` when the configuration changes; with the rule set and rate table (and the versions of
# both) they came from. Days are local day numbers (days since 1970-01-01), døgn periods epoch
# microseconds, so that both engines sum them with integer arithmetic. Region, municipality and
# unit are the episode's, copied so that a report or a statistic filters without a join.
liable_intervals = Table(
    "liable_intervals",
    metadata,
    refers_to("episode_id", "episodes", primary_key=True),
    Column("clock", Integer, primary_key=True),
    Column("region_id", String(64), nullable=False),
    Column("municipality_id", String(64), nullable=False),
    Column("unit_id", String(64), nullable=False),
    Column("rule_set_id", String(64), nullable=False),
    Column("rule_set_version", String(16), nullable=False),
    Column("rate_table_id", String(64), nullable=False),
    Column("rate_table_version", String(16), nullable=False),
    Column("counting", String(16), nullable=False),
    Column("first_day", Integer, nullable=False),
    Column("stop_day", Integer, nullable=True),
    Column("first_at_us", BigInteger, nullable=True),
    Column("periods", Integer, nullable=True),
    Column("ends_at_us", BigInteger, nullable=True),
    Column("config_version", String(16), nullable=False),
    Index(None, "municipality_id", "first_day"),
    Index(None, "region_id", "first_day"),
    Index(None, "config_version"),
)

# The liability configuration the stored intervals are in step with (one row, id 1): its version
# and the configuration itself, so that every process computes with the same one.
liability_state = Table(
    "liability_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", String(16), nullable=False),
    Column("config", JSON, nullable=False),
    instant("recomputed_at"),
)

# The episodes' statistics per local day (issue 18's speed): derived from the events, never typed
# in. One row per fact, local day (days since 1970-01-01 in the episode's jurisdiction's zone),
# the episode's region, municipality and hospital unit, and an integer value (a histogram's
# bucket: whole days, the summons deadline's outcome, 0 where the fact has none), with how many
# records (``n``) it stands for. Kept in the transaction that writes the events, meetings and
# episodes it is derived from (`app.store.statistics_daily`), and rebuilt from them by `samverkan
# statistics recompute`. A row whose records all moved to another value keeps ``n`` = 0; a key's
# count is the sum of its rows over ``shard``.
statistics_daily = Table(
    "statistics_daily",
    metadata,
    Column("fact", String(32), primary_key=True),
    Column("region_id", String(64), primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("municipality_id", String(64), primary_key=True),
    Column("unit_id", String(64), primary_key=True),
    Column("value", Integer, primary_key=True),
    # The writing connection's share of the key (`app.store.statistics_daily.SHARDS`): two
    # transactions at the same time add to different rows instead of queuing on one; 0 is where
    # the recompute and the compaction put the whole count.
    Column("shard", Integer, primary_key=True, server_default="0"),
    Column("n", Integer, nullable=False),
    Index(None, "municipality_id", "fact", "day"),
    Index(None, "unit_id", "fact", "day"),
)
