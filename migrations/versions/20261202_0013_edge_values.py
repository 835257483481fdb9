"""stored values outside the edge's bounds; the access log refuses REPLACE on SQLite

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02

Since issue 14 the edge refuses instants and dates outside the years
``SAMVERKAN_INSTANT_MIN_YEAR``..``SAMVERKAN_INSTANT_MAX_YEAR`` (1900–2200 unless set). Values
accepted before (a meeting in 9999, an admission in year 1) stay as they are: nothing clinical
is rewritten or dropped. This migration reports them (table, column, row key, value) through
the ``samverkan.migrations`` logger, with a count per column, so that an operator can correct
them through the API; the readers show them as stored (``app.fhir.common.instant``).

On SQLite, ``REPLACE INTO access_log`` and ``INSERT OR REPLACE`` would delete the old row
without firing the DELETE trigger (unless ``recursive_triggers`` is on, which the service now
turns on for every connection): a BEFORE INSERT trigger refuses an insert whose id already
exists, so an entry can never be rewritten. PostgreSQL has no REPLACE.
"""

import logging
import os
from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("samverkan.migrations")
SHOWN_PER_COLUMN = 100


def _bounds() -> tuple[int, int]:
    return (
        int(os.environ.get("SAMVERKAN_INSTANT_MIN_YEAR", "1900")),
        int(os.environ.get("SAMVERKAN_INSTANT_MAX_YEAR", "2200")),
    )


def report_out_of_range(conn: sa.Connection) -> dict[tuple[str, str], int]:
    """Log every stored instant or date outside the bounds; the count per (table, column)."""
    min_year, max_year = _bounds()
    inspector = sa.inspect(conn)
    counts: dict[tuple[str, str], int] = {}
    for table in sorted(inspector.get_table_names()):
        if table == "alembic_version":
            continue
        key = inspector.get_pk_constraint(table).get("constrained_columns") or []
        for column in inspector.get_columns(table):
            kind = column["type"]
            if isinstance(kind, sa.DateTime):
                low: object = datetime(min_year, 1, 1, tzinfo=UTC)
                high: object = datetime(max_year + 1, 1, 1, tzinfo=UTC)
                bound: sa.types.TypeEngine[object] = sa.DateTime(timezone=True)
            elif isinstance(kind, sa.Date):
                low, high, bound = date(min_year, 1, 1), date(max_year + 1, 1, 1), sa.Date()
            else:
                continue
            name = column["name"]
            keys = ", ".join(f"CAST({k} AS TEXT)" for k in key) or "NULL"
            statement = sa.text(
                f"SELECT {keys}, CAST({name} AS TEXT) FROM {table} "
                f"WHERE {name} < :low OR {name} >= :high"
            ).bindparams(sa.bindparam("low", type_=bound), sa.bindparam("high", type_=bound))
            rows = conn.execute(statement, {"low": low, "high": high}).all()
            if not rows:
                continue
            counts[(table, name)] = len(rows)
            logger.warning(
                "%d row(s) of %s hold a %s outside the years %d to %d (kept as stored; "
                "correct them through the API)",
                len(rows),
                table,
                name,
                min_year,
                max_year,
            )
            for row in rows[:SHOWN_PER_COLUMN]:
                logger.warning(
                    "  %s %s=%s: %s=%s", table, "/".join(key), "/".join(map(str, row[:-1])), name, row[-1]
                )
    return counts


def upgrade() -> None:
    conn = op.get_bind()
    report_out_of_range(conn)
    if conn.dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER access_log_no_replace BEFORE INSERT ON access_log "
            "WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM access_log WHERE id = NEW.id) "
            "BEGIN SELECT RAISE(ABORT, 'access_log is append-only: REPLACE refused'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER access_log_no_replace")
