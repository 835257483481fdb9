"""access by party: record parties replace care relations; staff register; token revocations

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

Care relations gave an organization the person, and with the person every record about them.
Access now follows the record: each record's parties are derived from the record itself and kept
in ``record_parties``. The existing relations move over as the parties of the records they came
from (an episode's hospital, receiver and primary care; a plan's initiator, the principals it is
shared with and their responsible and coordinating units; a meeting's organizer and
participants; a message's sender and recipients; a deviation's reporter and handler), and the
organization that first registered each person becomes the party to its registration. A
``registered`` relation of an organization that merely looked the person up opens nothing any
more and is not carried over. ``care_relations`` and ``plan_sharing`` are dropped.

The access log learns the caller's principal and acting unit (each organization reads its own
principal's entries); deviations learn the organization (and staff role) that handles them.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRINCIPAL = "CASE WHEN o.kind = 'unit' AND o.parent_id IS NOT NULL THEN o.parent_id ELSE o.id END"
PARTIES = (
    "INSERT INTO record_parties (record_type, record_id, principal_id, organization_id, role, "
    "person_id, created_at) "
)


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _add_required(table: str, column: str, length: int, fill: str) -> None:
    """Add a NOT NULL text column filled by ``fill`` (an UPDATE's SET expression)."""
    if _postgres():
        op.add_column(table, sa.Column(column, sa.String(length), nullable=True))
        op.execute(f"UPDATE {table} SET {column} = {fill}")
        op.alter_column(table, column, nullable=False)
    else:
        # SQLite adds a NOT NULL column only with a default; every row is filled at once.
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR({length}) NOT NULL DEFAULT ''"
        )
        op.execute(f"UPDATE {table} SET {column} = {fill}")


def _create_tables() -> None:
    op.create_table(
        "record_parties",
        sa.Column("record_type", sa.String(16), nullable=False),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("principal_id", sa.String(64), nullable=False),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("person_id", sa.String(36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name="fk_record_parties_organization_id_organizations",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_record_parties_person_id_persons"
        ),
        sa.PrimaryKeyConstraint(
            "record_type",
            "record_id",
            "principal_id",
            "organization_id",
            "role",
            name="pk_record_parties",
        ),
    )
    op.create_index(
        "ix_record_parties_organization",
        "record_parties",
        ["organization_id", "record_type", "record_id", "person_id"],
    )
    op.create_index(
        "ix_record_parties_principal",
        "record_parties",
        ["principal_id", "record_type", "record_id", "person_id"],
    )
    op.create_index(
        "ix_record_parties_person",
        "record_parties",
        ["person_id", "principal_id", "organization_id", "record_type", "record_id", "role"],
    )
    op.create_table(
        "client_revocations",
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("revoked_before", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name="fk_client_revocations_client_id_clients"
        ),
        sa.PrimaryKeyConstraint("client_id", name="pk_client_revocations"),
    )
    op.create_table(
        "practitioners",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("identifier_system", sa.String(200), nullable=False),
        sa.Column("identifier_value", sa.String(40), nullable=False),
        sa.Column("given_name", sa.String(200), nullable=False),
        sa.Column("family_name", sa.String(200), nullable=False),
        sa.Column("jurisdiction", sa.String(2), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_practitioners"),
        sa.UniqueConstraint(
            "identifier_system",
            "identifier_value",
            name="uq_practitioners_identifier_system_identifier_value",
        ),
    )
    op.create_table(
        "practitioner_roles",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("practitioner_id", sa.String(36), nullable=False),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("principal_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name="fk_practitioner_roles_practitioner_id_practitioners",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name="fk_practitioner_roles_organization_id_organizations",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_practitioner_roles"),
    )
    op.create_index(
        "ix_practitioner_roles_practitioner_id", "practitioner_roles", ["practitioner_id"]
    )
    op.create_index(
        "ix_practitioner_roles_organization_id_role",
        "practitioner_roles",
        ["organization_id", "role"],
    )
    op.create_index(
        "ix_practitioner_roles_principal_id_role", "practitioner_roles", ["principal_id", "role"]
    )


def _access_log_columns() -> None:
    principal = (
        f"COALESCE((SELECT {PRINCIPAL} FROM organizations o "
        "WHERE o.id = access_log.organization_id), access_log.organization_id)"
    )
    unit = (
        "(SELECT o.id FROM organizations o "
        "WHERE o.id = access_log.organization_id AND o.kind = 'unit')"
    )
    # The log is append-only; its triggers step aside for this one backfill of derived columns.
    if _postgres():
        op.add_column("access_log", sa.Column("unit_id", sa.String(64), nullable=True))
        op.execute("ALTER TABLE access_log DISABLE TRIGGER access_log_append_only")
        _add_required("access_log", "principal_id", 64, principal)
        op.execute(f"UPDATE access_log SET unit_id = {unit}")
        op.execute("ALTER TABLE access_log ENABLE TRIGGER access_log_append_only")
    else:
        op.execute("ALTER TABLE access_log ADD COLUMN unit_id VARCHAR(64)")
        op.execute("DROP TRIGGER access_log_no_update")
        _add_required("access_log", "principal_id", 64, principal)
        op.execute(f"UPDATE access_log SET unit_id = {unit}")
        op.execute(
            "CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log "
            "BEGIN SELECT RAISE(ABORT, 'access_log is append-only: UPDATE refused'); END"
        )
    op.create_index("ix_access_log_principal_id_id", "access_log", ["principal_id", "id"])


def _parties_by_sql() -> None:
    op.execute(
        PARTIES + f"SELECT DISTINCT 'episode', e.id, {PRINCIPAL}, o.id, r.role, e.person_id, "
        "e.created_at FROM episodes e JOIN ("
        "SELECT id AS episode_id, hospital_unit_id AS org, 'hospital' AS role FROM episodes "
        "UNION ALL SELECT id, municipality_id, 'receiver' FROM episodes "
        "UNION ALL SELECT id, primary_care_unit_id, 'primary-care' FROM episodes "
        "WHERE primary_care_unit_id IS NOT NULL"
        ") r ON r.episode_id = e.id JOIN organizations o ON o.id = r.org"
    )
    op.execute(
        PARTIES + f"SELECT DISTINCT 'message', m.id, {PRINCIPAL}, o.id, r.role, m.person_id, "
        "m.sent_at FROM care_messages m JOIN ("
        "SELECT id AS message_id, sender_id AS org, 'sender' AS role FROM care_messages "
        "UNION ALL SELECT message_id, organization_id, 'recipient' FROM care_message_recipients"
        ") r ON r.message_id = m.id JOIN organizations o ON o.id = r.org"
    )
    op.execute(
        PARTIES + f"SELECT DISTINCT 'deviation', d.id, {PRINCIPAL}, o.id, r.role, d.person_id, "
        "d.reported_at FROM deviations d JOIN ("
        "SELECT id AS deviation_id, reporter_id AS org, 'reporter' AS role FROM deviations "
        "UNION ALL SELECT id, handler_principal_id, 'handler' FROM deviations"
        ") r ON r.deviation_id = d.id JOIN organizations o ON o.id = r.org"
    )
    # The first registration of each person is its registrant's (a unit and its principal were
    # both related then: the unit registered); later ones were lookups and open nothing.
    op.execute(
        PARTIES + f"SELECT 'registration', c.person_id, {PRINCIPAL}, o.id, 'registrant', "
        "c.person_id, c.created_at FROM care_relations c "
        "JOIN organizations o ON o.id = c.organization_id "
        "WHERE c.source = 'registered' AND c.created_at = (SELECT MIN(f.created_at) "
        "FROM care_relations f WHERE f.person_id = c.person_id AND f.source = 'registered') "
        "AND NOT EXISTS (SELECT 1 FROM care_relations u JOIN organizations uo "
        "ON uo.id = u.organization_id WHERE u.person_id = c.person_id "
        "AND u.source = 'registered' AND u.created_at = c.created_at "
        "AND uo.kind = 'unit' AND uo.parent_id = c.organization_id)"
    )


def _parties_of_documents() -> None:
    """Plans' and meetings' parties are in their JSON documents."""
    bind = op.get_bind()
    principal_of = {
        row.id: row.parent_id if row.kind == "unit" and row.parent_id else row.id
        for row in bind.execute(sa.text("SELECT id, kind, parent_id FROM organizations"))
    }
    sharing: dict[str, list[str]] = defaultdict(list)
    for row in bind.execute(sa.text("SELECT plan_id, principal_id FROM plan_sharing")):
        sharing[row.plan_id].append(row.principal_id)
    plans = sa.table(
        "plans",
        sa.column("id", sa.String),
        sa.column("person_id", sa.String),
        sa.column("document", sa.JSON),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    meetings = sa.table(
        "meetings",
        sa.column("id", sa.String),
        sa.column("person_id", sa.String),
        sa.column("organizer_id", sa.String),
        sa.column("document", sa.JSON),
        sa.column("sent_at", sa.DateTime(timezone=True)),
    )
    rows: list[dict[str, Any]] = []

    def add(kind: str, record: str, person: str, pairs: list[tuple[str, str]], at: Any) -> None:
        for org, role in dict.fromkeys(pairs):
            if org in principal_of:
                rows.append(
                    {
                        "record_type": kind,
                        "record_id": record,
                        "principal_id": principal_of[org],
                        "organization_id": org,
                        "role": role,
                        "person_id": person,
                        "created_at": at or datetime.now(UTC),
                    }
                )

    for plan in bind.execute(sa.select(plans)):
        content = plan.document["content"]
        shared = set(sharing[plan.id])
        pairs = [(plan.document["initiator"]["organization_id"], "initiator")]
        pairs += [(p, "participant") for p in sorted(shared)]
        pairs += [
            (i["responsible_unit_id"], "responsible")
            for i in content["interventions"]
            if i.get("responsible_unit_id") and i.get("responsible_principal_id") in shared
        ]
        coordinator = content.get("coordinator")
        if coordinator and coordinator.get("principal_id") in shared:
            pairs.append((coordinator["unit_id"], "coordinator"))
        add("plan", plan.id, plan.person_id, pairs, plan.created_at)
    for meeting in bind.execute(sa.select(meetings)):
        pairs = [(meeting.organizer_id, "organizer")] + [
            (p["organization_id"], "participant")
            for p in meeting.document["participants"]
            if p.get("organization_id")
        ]
        add("meeting", meeting.id, meeting.person_id, pairs, meeting.sent_at)
    if rows:
        op.bulk_insert(
            sa.table(
                "record_parties",
                *(sa.column(c) for c in rows[0] if c != "created_at"),
                sa.column("created_at", sa.DateTime(timezone=True)),
            ),
            rows,
        )


def upgrade() -> None:
    _create_tables()
    _access_log_columns()
    _add_required("deviations", "handler_id", 64, "handler_principal_id")
    op.add_column("deviations", sa.Column("handler_role_id", sa.String(36), nullable=True))
    _parties_by_sql()
    _parties_of_documents()
    op.drop_table("plan_sharing")
    op.drop_table("care_relations")


def downgrade() -> None:
    op.create_table(
        "care_relations",
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name="fk_care_relations_organization_id_organizations",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_care_relations_person_id_persons"
        ),
        sa.PrimaryKeyConstraint(
            "person_id", "organization_id", "source", name="pk_care_relations"
        ),
    )
    op.create_index(
        "ix_care_relations_organization_id_person_id_source",
        "care_relations",
        ["organization_id", "person_id", "source"],
    )
    op.create_table(
        "plan_sharing",
        sa.Column("plan_id", sa.String(36), nullable=False),
        sa.Column("principal_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_plan_sharing_plan_id_plans"),
        sa.PrimaryKeyConstraint("plan_id", "principal_id", name="pk_plan_sharing"),
    )
    op.create_index(
        "ix_plan_sharing_principal_id_plan_id", "plan_sharing", ["principal_id", "plan_id"]
    )
    op.execute(
        "INSERT INTO plan_sharing (plan_id, principal_id) SELECT DISTINCT record_id, "
        "organization_id FROM record_parties WHERE record_type = 'plan' AND role = 'participant'"
    )
    # Each party and its principal get the relation its role stood for.
    source = (
        "CASE role WHEN 'registrant' THEN 'registered' WHEN 'hospital' THEN 'hospital' "
        "WHEN 'receiver' THEN 'receiver' WHEN 'primary-care' THEN 'receiver' "
        "WHEN 'recipient' THEN 'party' ELSE 'participant' END"
    )
    op.execute(
        "INSERT INTO care_relations (person_id, organization_id, source, created_at) "
        f"SELECT person_id, org, src, MIN(created_at) FROM ("
        f"SELECT person_id, organization_id AS org, {source} AS src, created_at "
        "FROM record_parties WHERE person_id IS NOT NULL AND role <> 'sender' "
        f"UNION ALL SELECT person_id, principal_id, {source}, created_at "
        "FROM record_parties WHERE person_id IS NOT NULL AND role <> 'sender'"
        ") r GROUP BY person_id, org, src"
    )
    op.drop_index("ix_access_log_principal_id_id", table_name="access_log")
    op.execute("ALTER TABLE access_log DROP COLUMN principal_id")
    op.execute("ALTER TABLE access_log DROP COLUMN unit_id")
    op.execute("ALTER TABLE deviations DROP COLUMN handler_role_id")
    op.execute("ALTER TABLE deviations DROP COLUMN handler_id")
    op.drop_table("practitioner_roles")
    op.drop_table("practitioners")
    op.drop_table("client_revocations")
    op.drop_table("record_parties")
