"""documents and planning-basis answers

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02

Documents (DocumentReference + Binary) attached to episodes, plans, meetings and care messages,
their content kept in a table of its own, and the planning-basis answers
(QuestionnaireResponse) that notices carry.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("record_type", sa.String(16), nullable=False),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("person_id", sa.String(36), nullable=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.String(1000), nullable=True),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("author_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_documents_person_id_persons"
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["organizations.id"], name="fk_documents_author_id_organizations"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_documents"),
    )
    op.create_index(
        "ix_documents_record_type_record_id_id", "documents", ["record_type", "record_id", "id"]
    )
    op.create_index("ix_documents_person_id_id", "documents", ["person_id", "id"])
    op.create_table(
        "document_contents",
        sa.Column("document_id", sa.String(36), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name="fk_document_contents_document_id_documents"
        ),
        sa.PrimaryKeyConstraint("document_id", name="pk_document_contents"),
    )
    op.create_table(
        "planning_bases",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("episode_id", sa.String(36), nullable=False),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("notice", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("questionnaire_version", sa.String(16), nullable=False),
        sa.Column("author_id", sa.String(64), nullable=False),
        sa.Column("authored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["episode_id"], ["episodes.id"], name="fk_planning_bases_episode_id_episodes"
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_planning_bases_person_id_persons"
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["organizations.id"], name="fk_planning_bases_author_id_organizations"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_planning_bases"),
    )
    op.create_index(
        "ix_planning_bases_episode_id_seq", "planning_bases", ["episode_id", "seq"]
    )
    op.create_index("ix_planning_bases_person_id_id", "planning_bases", ["person_id", "id"])


def downgrade() -> None:
    op.drop_table("planning_bases")
    op.drop_table("document_contents")
    op.drop_table("documents")
