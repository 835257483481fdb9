"""the FHIR read model

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04

Issue 20 (the hot path at the framework's speed). A read of a covered FHIR resource (a CarePlan
so far) returns the resource's JSON as the mapper wrote it when its version was stored, rather
than reading the record and mapping it on every read. ``fhir_projections`` keeps, per resource,
the bytes, the version they show and the mapper version that wrote them, with what the read's
access check and access-log row need: the record whose parties decide who reads it and the
person it is about.

The table starts empty: until ``samverkan projections rebuild`` has run, reads of records
written before this migration fall back to mapping, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fhir_projections",
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("record_type", sa.String(16), nullable=False),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("person_id", sa.String(36), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("mapper_version", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("resource_type", "resource_id", name="pk_fhir_projections"),
    )


def downgrade() -> None:
    op.drop_table("fhir_projections")
