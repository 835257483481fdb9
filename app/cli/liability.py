"""``samverkan liability recompute``: redo the stored liable intervals after a rule set, binding
or rate changed (the running services notice the new configuration version on their own)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

from app.cli import cli, in_unit_of_work, settings

if TYPE_CHECKING:
    from app.services.liability_rules import Recomputed
    from app.store.unit_of_work import UnitOfWork

liability_cli = typer.Typer(
    help="Payment liability: the liable intervals stored beside the notices.",
    no_args_is_help=True,
)
cli.add_typer(liability_cli, name="liability")


@liability_cli.command("recompute")
def recompute() -> None:
    """Redo every episode's liable intervals after a rule set, binding or rate changed.

    Reads SAMVERKAN_LIABILITY_CONFIG_FILE and records it as the configuration the store follows.
    """
    from app.services.liability_config import read_liability_config
    from app.services.liability_rules import recompute as recompute_intervals

    config = read_liability_config(settings().liability_config_file)

    async def run(uow: UnitOfWork) -> Recomputed:
        return await recompute_intervals(uow, config, now=datetime.now(UTC))

    done = in_unit_of_work(run)
    typer.echo(
        f"{done.intervals} liable intervals of {done.episodes} episodes recomputed under "
        f"configuration {done.version} (before: {done.previous or 'none'}); running services "
        "follow it from their next report"
    )
