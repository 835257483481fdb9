"""SQL functions the statistics need that the engines spell differently.

``local_day(timestamp, zone)``: the local date of an instant in an IANA zone, as days since
1970-01-01 (PostgreSQL ``AT TIME ZONE``; SQLite has no time zones, so a Python function
registered on each connection, `app.store.database.sqlite_local_day`). ``epoch_seconds``: an
instant as seconds since 1970-01-01 UTC, so that durations are differences of numbers.
``whole_units(later, earlier, seconds)``: the whole units of ``seconds`` from one instant to a
later one, floored the same way on both engines.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class local_day(FunctionElement[int]):
    """The local date of a timestamp column in a zone, as days since 1970-01-01."""

    type = Integer()
    inherit_cache = True


class epoch_seconds(FunctionElement[float]):
    """A timestamp column as seconds since 1970-01-01 UTC."""

    type = Float()
    inherit_cache = True


@compiles(local_day, "postgresql")
def _local_day_pg(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    moment, zone = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"(CAST(({moment} AT TIME ZONE {zone}) AS DATE) - DATE '1970-01-01')"


@compiles(local_day, "sqlite")
def _local_day_sqlite(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"sv_local_day({compiler.process(element.clauses, **kw)})"


@compiles(epoch_seconds, "postgresql")
def _epoch_pg(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})"


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


class whole_units(FunctionElement[int]):
    """The whole units of a number of seconds between two timestamp columns: (later, earlier,
    unit in seconds as a `literal_column`, so that GROUP BY repeats it verbatim), for durations
    that are never negative.

    Not ``CAST(seconds / unit AS INTEGER)``: that rounds on PostgreSQL and truncates on SQLite.
    """

    type = Integer()
    inherit_cache = True


@compiles(whole_units, "postgresql")
def _whole_pg(element: whole_units, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier, unit = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM ({later} - {earlier})) / {unit}) AS INTEGER)"


@compiles(whole_units, "sqlite")
def _whole_sqlite(element: whole_units, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps instants as whole milliseconds inside julianday(); rounding the difference to
    # them removes the float error, and integer division of a non-negative number floors.
    later, earlier, unit = (compiler.process(arg, **kw) for arg in element.clauses)
    difference = f"(julianday({later}) - julianday({earlier}))"
    milliseconds = f"CAST(ROUND({difference} * 86400000.0) AS INTEGER)"
    return f"({milliseconds} / (1000 * {unit}))"
