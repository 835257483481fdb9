"""An access-log row names every column an entry fills, and nothing else: the read statements
bind ``ENTRY_COLUMNS`` from ``access_row`` and the batch writer unnests one array per column."""

from app.store import tables as t
from app.store.access_rows import ENTRY_COLUMNS, access_row
from tests.factories import an_access_entry


def test_an_entry_row_fills_every_column_but_the_id() -> None:
    entry = an_access_entry()
    row = access_row(entry, "principal", "unit")
    assert set(row) == {c.name for c in ENTRY_COLUMNS}
    assert {c.name for c in t.access_log.c} - set(row) == {"id"}
    assert (row["principal_id"], row["unit_id"]) == ("principal", "unit")
