"""Which deliveries an outbox reader may pass on PostgreSQL: those below the cutoff.

Readers (the inbox, the dispatcher's claim) walk deliveries in ``(txid, id)`` order, where
``txid`` is the top-level transaction id of the writer (``pg_current_xact_id()``, also from
inside a savepoint). The id is taken when the row is inserted, not when it commits, so a reader
must never pass a row while a row ordered before it may still commit. It passes only rows with
``txid`` below a cutoff, computed from the statement's own snapshot ``S``:

    cutoff = least(the reader's own xid if it has one,
                   the smallest xid in xip(S) not held by a transaction of another database,
                   xmax(S))

Why a cursor never skips. Take any row that ever commits with ``txid = t < cutoff``; it must be
visible to ``S``. Since ``t < xmax(S)``, ``t`` was assigned before ``S`` was taken, so either

- ``t`` is not in xip(S) and is not the reader's own: its transaction had ended when ``S`` was
  taken, so its rows are in ``S`` (or it rolled back, and they never commit); or
- ``t`` is in xip(S) and was left out as another database's: a backend works in one database
  for its whole life (``dblink`` and foreign tables open a new backend, with an xid of its own),
  and a prepared transaction is committed only from its own database, so that transaction can
  never write this table; or
- ``t`` is the reader's own xid: then ``cutoff <= t``, a contradiction.

So every row below the cutoff that will ever commit is in ``S``, in ``(txid, id)`` order, and a
cursor handed out from it is below every row still to come. Nothing is left out for being
*unlikely* to write: any transaction of this database holding an xid is waited for, because it
may still insert deliveries carrying that xid (its first write may have been anything; rows carry
the top-level xid assigned then). A registration taken when a writer inserts its first delivery
(an advisory lock, a row) cannot replace that: its xid is in other readers' snapshots before it
registers, so a reader between the two would pass it. An open transaction that has neither
written nor locked a row (``FOR UPDATE``/``FOR SHARE`` take an xid) holds no xid and delays
nobody, whatever it reads and for however long.

Who holds an xid of another database is read from ``pg_stat_get_activity`` (``datid``,
``backend_xid``) and ``pg_prepared_xact()``; both show these columns to every role. An xid that
ended since ``S`` or is missing there is kept as a cutoff, which only delays. One subtlety:
PostgreSQL copies a backend's status (its database) and then, separately, reads the xid of the
process in the same slot; a backend that quit between the two could pair its database with the
xid of a new backend in its slot. Two things rule that out here. The activity is read afresh in
this statement (``pg_stat_clear_snapshot()`` first: a transaction otherwise keeps the copy of its
first read, which a later statement's snapshot may postdate), so it is read after ``S`` was taken;
and the xids considered are in xip(S), assigned before ``S``. A backend keeps its slot for its
life, so the one holding such an xid held the slot from before ``S`` until the xid was read,
which is also when the status was copied: the status is its own.

The statement stays one statement and cheap: with no transaction in xip, the activity and
prepared transactions are not read at all (the anti-joins have nothing to probe).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ColumnElement, literal_column

# The cutoff as a bigint (``deliveries.txid``), from the statement's snapshot; see the module.
# ``pg_stat_get_activity``'s argument clears the transaction's copy of the activity just before
# the function reads it, and is NULL (every backend): the clear's void is never NULL, and if it
# were, -1 would match no backend, which only delays. Tying the two in one expression orders
# them whatever the plan.
CUTOFF_SQL = """(SELECT CAST(CAST(least(
    pg_current_xact_id_if_assigned(),
    (SELECT min(x) FROM pg_snapshot_xip(pg_current_snapshot()) AS x
     WHERE NOT EXISTS (
        SELECT FROM pg_stat_get_activity(
            CASE WHEN pg_stat_clear_snapshot() IS NULL THEN -1 END) AS a
        WHERE a.backend_xid = CAST(x AS xid)
          AND a.datid IN (SELECT oid FROM pg_database WHERE datname <> current_database()))
       AND NOT EXISTS (
        SELECT FROM pg_prepared_xact() AS p
        WHERE p.transaction = CAST(x AS xid)
          AND p.dbid IN (SELECT oid FROM pg_database WHERE datname <> current_database()))),
    pg_snapshot_xmax(pg_current_snapshot())) AS text) AS bigint))"""


def settled(txid: ColumnElement[int]) -> ColumnElement[bool]:
    """Rows whose transaction can no longer commit before a row already visible (PostgreSQL)."""
    return txid < literal_column(CUTOFF_SQL, BigInteger)
