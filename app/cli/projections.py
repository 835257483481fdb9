"""``samverkan projections rebuild``: rewrite the read model's stored FHIR JSON after a mapper
changed (its ``MAPPER_VERSION`` was raised), or for records stored without it (a bulk load,
records from before migration 0025). Until then the reads of those records map them again."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import typer

from app.cli import cli, database

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

projections_cli = typer.Typer(
    help="The read model: each covered resource's FHIR JSON, stored with its version.",
    no_args_is_help=True,
)
cli.add_typer(projections_cli, name="projections")


async def rebuild_all(engine: AsyncEngine, *, every: bool, batch: int) -> dict[str, int]:
    """Rewrite the missing or stale projections of every covered type (``every``: all of
    them), ``batch`` records per transaction: how many of each type were written."""
    from app.services import projections
    from app.store.unit_of_work import UnitOfWork

    written: dict[str, int] = {}
    for resource_type in projections.covered_types():
        after: str | None = None
        written[resource_type] = 0
        while True:
            async with UnitOfWork(engine) as uow:
                count, after = await projections.rebuild(
                    uow, resource_type, after=after, limit=batch, every=every
                )
                await uow.commit()
            written[resource_type] += count
            if after is None:
                break
    return written


@projections_cli.command("rebuild")
def rebuild(
    every: bool = typer.Option(
        False, "--all", help="Rewrite every projection, not only the missing and stale ones."
    ),
    batch: int = typer.Option(500, min=1, help="Records per transaction."),
) -> None:
    """Rewrite the projections that are missing or were written by an older mapper version."""

    async def run() -> dict[str, int]:
        async with database() as engine:
            return await rebuild_all(engine, every=every, batch=batch)

    written = asyncio.run(run())
    for resource_type, count in written.items():
        typer.echo(f"{resource_type}: {count} projections written")
