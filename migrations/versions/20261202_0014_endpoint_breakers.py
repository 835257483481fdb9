"""endpoint breakers

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02

Fair delivery (issue 14): each subscription names the endpoint (origin) it is pushed to, and a
failing endpoint has a circuit breaker that every dispatcher reads. Existing subscriptions get
their origin from their URL.
"""

from collections.abc import Sequence
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(endpoint: str) -> str:
    # As app.domain.breaker.origin_of at this revision (a migration does not follow the code).
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
    except ValueError:
        port = 0
    return f"{parts.scheme}://{host}:{port}"[:300]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.add_column("subscriptions", sa.Column("endpoint_origin", sa.String(300), nullable=True))
    else:
        # SQLite adds a NOT NULL column only with a default; every row is filled below.
        op.execute(
            "ALTER TABLE subscriptions ADD COLUMN endpoint_origin VARCHAR(300) NOT NULL DEFAULT ''"
        )
    rows = bind.execute(sa.text("SELECT id, endpoint FROM subscriptions")).all()
    for row in rows:
        bind.execute(
            sa.text("UPDATE subscriptions SET endpoint_origin = :origin WHERE id = :id"),
            {"origin": _origin(row.endpoint), "id": row.id},
        )
    if bind.dialect.name == "postgresql":
        op.alter_column("subscriptions", "endpoint_origin", nullable=False)
    op.create_table(
        "endpoint_breakers",
        sa.Column("origin", sa.String(300), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("opened_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("probe_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("origin", name="pk_endpoint_breakers"),
    )


def downgrade() -> None:
    op.drop_table("endpoint_breakers")
    # SQLite (3.35 on) drops a column in place; a batch copy would trip on deliveries' key.
    op.execute("ALTER TABLE subscriptions DROP COLUMN endpoint_origin")
