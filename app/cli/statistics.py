"""``samverkan statistics recompute``: rebuild the statistics per local day from the events (after
a bulk load that bypassed the service, or to check that the table kept by each write is true)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from app.cli import cli, in_unit_of_work

if TYPE_CHECKING:
    from app.store.unit_of_work import UnitOfWork

statistics_cli = typer.Typer(
    help="Follow-up statistics: the per-day aggregate kept beside the events.",
    no_args_is_help=True,
)
cli.add_typer(statistics_cli, name="statistics")


@statistics_cli.command("recompute")
def recompute() -> None:
    """Rebuild ``statistics_daily`` from the episodes' events, the episodes and the summonses."""
    from app.services.statistics import recompute_daily

    async def run(uow: UnitOfWork) -> int:
        return await recompute_daily(uow)

    rows = in_unit_of_work(run)
    typer.echo(f"statistics per day recomputed from the events: {rows} rows")


@statistics_cli.command("compact")
def compact() -> None:
    """Fold the writers' shards of ``statistics_daily`` into one row per key (the dispatcher does
    it every ``SAMVERKAN_STATISTICS_COMPACT_INTERVAL_SECONDS``); on PostgreSQL, while another
    compaction runs, this one skips (exit status 0: that one does the work)."""
    from app.services.statistics_compaction import compact_daily

    if in_unit_of_work(compact_daily):
        typer.echo("statistics per day compacted")
    else:
        typer.echo("statistics per day: another compaction is running; this one skipped")
