"""Rows of a statement that joins several tables, read one table at a time."""

from __future__ import annotations

from typing import Any


class Prefixed:
    """A row's columns of one table, labelled ``<prefix>_<name>`` in the statement, under their
    own names: so that a table's row-to-entity function reads a joined row."""

    __slots__ = ("prefix", "row")

    def __init__(self, row: Any, prefix: str) -> None:
        self.row = row
        self.prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, f"{self.prefix}_{name}")


def labelled(table: Any, prefix: str) -> tuple[Any, ...]:
    """The table's columns, labelled for ``Prefixed``."""
    return tuple(column.label(f"{prefix}_{column.name}") for column in table.c)
