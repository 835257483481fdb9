"""organizations persons episodes

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response_headers", sa.JSON(), nullable=False),
        sa.Column("response_body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "organizations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("jurisdiction", sa.String(length=2), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("function", sa.String(length=32), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["organizations.id"],
            name=op.f("fk_organizations_parent_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
    )
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organizations_kind_jurisdiction"), ["kind", "jurisdiction"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_organizations_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "cooperation_areas",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("region_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["organizations.id"],
            name=op.f("fk_cooperation_areas_region_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cooperation_areas")),
    )
    op.create_table(
        "organization_identifiers",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("system", sa.String(length=200), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_organization_identifiers_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint(
            "organization_id", "system", name=op.f("pk_organization_identifiers")
        ),
        sa.UniqueConstraint(
            "system", "value", name=op.f("uq_organization_identifiers_system_value")
        ),
    )
    op.create_table(
        "persons",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("identifier_system", sa.String(length=200), nullable=False),
        sa.Column("identifier_value", sa.String(length=40), nullable=False),
        sa.Column("given_name", sa.String(length=200), nullable=False),
        sa.Column("family_name", sa.String(length=200), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("residence_municipality_id", sa.String(length=64), nullable=False),
        sa.Column("stay_municipality_id", sa.String(length=64), nullable=True),
        sa.Column("protected_identity", sa.Boolean(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["residence_municipality_id"],
            ["organizations.id"],
            name=op.f("fk_persons_residence_municipality_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["stay_municipality_id"],
            ["organizations.id"],
            name=op.f("fk_persons_stay_municipality_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
        sa.UniqueConstraint(
            "identifier_system",
            "identifier_value",
            name=op.f("uq_persons_identifier_system_identifier_value"),
        ),
    )
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_persons_residence_municipality_id"),
            ["residence_municipality_id"],
            unique=False,
        )

    op.create_table(
        "cooperation_area_members",
        sa.Column("area_id", sa.String(length=64), nullable=False),
        sa.Column("municipality_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"],
            ["cooperation_areas.id"],
            name=op.f("fk_cooperation_area_members_area_id_cooperation_areas"),
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["organizations.id"],
            name=op.f("fk_cooperation_area_members_municipality_id_organizations"),
        ),
        sa.PrimaryKeyConstraint(
            "area_id", "municipality_id", name=op.f("pk_cooperation_area_members")
        ),
    )
    with op.batch_alter_table("cooperation_area_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cooperation_area_members_municipality_id"),
            ["municipality_id"],
            unique=False,
        )

    op.create_table(
        "episodes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("hospital_unit_id", sa.String(length=64), nullable=False),
        sa.Column("region_id", sa.String(length=64), nullable=False),
        sa.Column("municipality_id", sa.String(length=64), nullable=False),
        sa.Column("primary_care_unit_id", sa.String(length=64), nullable=True),
        sa.Column("jurisdiction", sa.String(length=2), nullable=False),
        sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("admission_type", sa.String(length=16), nullable=False),
        sa.Column("care_type", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("expected_discharge_date", sa.Date(), nullable=True),
        sa.Column("discharge_ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_discharge_ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("discharged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("readmission_of_id", sa.String(length=36), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_unit_id"],
            ["organizations.id"],
            name=op.f("fk_episodes_hospital_unit_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["organizations.id"],
            name=op.f("fk_episodes_municipality_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_episodes_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["primary_care_unit_id"],
            ["organizations.id"],
            name=op.f("fk_episodes_primary_care_unit_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["readmission_of_id"],
            ["episodes.id"],
            name=op.f("fk_episodes_readmission_of_id_episodes"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["organizations.id"], name=op.f("fk_episodes_region_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_episodes")),
    )
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_episodes_municipality_id_discharged_at"),
            ["municipality_id", "discharged_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_episodes_municipality_id_first_discharge_ready_at"),
            ["municipality_id", "first_discharge_ready_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_episodes_municipality_id_state"),
            ["municipality_id", "state"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_episodes_person_id_admitted_at"),
            ["person_id", "admitted_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_episodes_region_id_discharged_at"),
            ["region_id", "discharged_at"],
            unique=False,
        )

    op.create_table(
        "episode_events",
        sa.Column("episode_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["episode_id"], ["episodes.id"], name=op.f("fk_episode_events_episode_id_episodes")
        ),
        sa.PrimaryKeyConstraint("episode_id", "seq", name=op.f("pk_episode_events")),
    )


def downgrade() -> None:

    op.drop_table("episode_events")
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_episodes_region_id_discharged_at"))
        batch_op.drop_index(batch_op.f("ix_episodes_person_id_admitted_at"))
        batch_op.drop_index(batch_op.f("ix_episodes_municipality_id_state"))
        batch_op.drop_index(batch_op.f("ix_episodes_municipality_id_first_discharge_ready_at"))
        batch_op.drop_index(batch_op.f("ix_episodes_municipality_id_discharged_at"))

    op.drop_table("episodes")
    with op.batch_alter_table("cooperation_area_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cooperation_area_members_municipality_id"))

    op.drop_table("cooperation_area_members")
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_persons_residence_municipality_id"))

    op.drop_table("persons")
    op.drop_table("organization_identifiers")
    op.drop_table("cooperation_areas")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organizations_parent_id"))
        batch_op.drop_index(batch_op.f("ix_organizations_kind_jurisdiction"))

    op.drop_table("organizations")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_created_at"))

    op.drop_table("idempotency_keys")
