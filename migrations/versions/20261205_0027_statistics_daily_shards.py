"""statistics_daily: a shard per writing connection, so that concurrent writers do not queue

Revision ID: 0027
Revises: 0025
Create Date: 2026-12-05

Issue 20 (``$process-message`` at 500 messages/s). Every notice adds 1 to its day's row of
``statistics_daily`` in the transaction that appends it, and the notices of one day, region,
municipality and unit all add to the same row: concurrent transactions queued on its row lock
from that statement until their commit (pg_stat_activity under the benchmark's load:
``Lock:transactionid`` on the episode save, 40 messages/s). The key gains ``shard``: a writer on
PostgreSQL adds to the row of its connection's shard (its backend pid modulo a fixed count), so
two transactions running at the same time touch different rows; the reads sum over the shards
as they already sum over days. ``samverkan statistics compact`` (and the dispatcher, every few
minutes) folds the shards back into shard 0, which is also the one the recompute writes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = ["fact", "region_id", "day", "municipality_id", "unit_id", "value"]


def upgrade() -> None:
    with op.batch_alter_table("statistics_daily", recreate="auto") as batch:
        batch.add_column(sa.Column("shard", sa.Integer, nullable=False, server_default="0"))
        batch.drop_constraint("pk_statistics_daily", type_="primary")
        batch.create_primary_key("pk_statistics_daily", [*KEY, "shard"])


def downgrade() -> None:
    # Fold the shards into one row per key before the key loses its shard.
    op.execute(
        sa.text(
            "UPDATE statistics_daily AS d SET n = (SELECT sum(s.n) FROM statistics_daily s "
            "WHERE " + " AND ".join(f"s.{k} = d.{k}" for k in KEY) + ") WHERE d.shard = ("
            "SELECT min(s.shard) FROM statistics_daily s WHERE "
            + " AND ".join(f"s.{k} = d.{k}" for k in KEY)
            + ")"
        )
    )
    op.execute(
        sa.text(
            "DELETE FROM statistics_daily WHERE shard <> (SELECT min(s.shard) FROM "
            "statistics_daily s WHERE "
            + " AND ".join(f"s.{k} = statistics_daily.{k}" for k in KEY)
            + ")"
        )
    )
    with op.batch_alter_table("statistics_daily", recreate="auto") as batch:
        batch.drop_constraint("pk_statistics_daily", type_="primary")
        batch.create_primary_key("pk_statistics_daily", KEY)
        batch.drop_column("shard")
