"""The ``samverkan`` command: serve, migrate, load demo data, write the OpenAPI document."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from app.settings import get_settings

cli = typer.Typer(
    help="Samverkan: care-coordination messages between regions and municipalities.",
    no_args_is_help=True,
    add_completion=False,
)


@cli.command()
def migrate() -> None:
    """Apply the database migrations up to the head revision."""
    from app.store.database import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    typer.echo("database is at the migration head")


async def _seed() -> tuple[int, int]:
    from app.services.demo import seed_demo
    from app.store.database import create_engine
    from app.store.unit_of_work import UnitOfWork

    engine = create_engine(get_settings().database_url)
    try:
        async with UnitOfWork(engine) as uow:
            result = await seed_demo(uow)
            await uow.commit()
        return result.organizations, result.areas
    finally:
        await engine.dispose()


async def _is_empty() -> bool:
    from app.store.database import create_engine
    from app.store.unit_of_work import UnitOfWork

    engine = create_engine(get_settings().database_url)
    try:
        async with UnitOfWork(engine) as uow:
            return await uow.organizations.count() == 0
    finally:
        await engine.dispose()


@cli.command("seed-demo")
def seed_demo() -> None:
    """Load the demo regions, municipalities, units and cooperation areas (idempotent)."""
    orgs, areas = asyncio.run(_seed())
    typer.echo(f"demo data loaded: {orgs} organizations and {areas} cooperation areas created")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
    migrate_first: Annotated[
        bool, typer.Option("--migrate", help="apply migrations first")
    ] = False,
    seed_if_empty: Annotated[
        bool,
        typer.Option("--seed-demo-if-empty", help="load the demo data when the database has none"),
    ] = False,
) -> None:
    """Serve the API with uvicorn."""
    import uvicorn

    if migrate_first:
        migrate()
    if seed_if_empty and asyncio.run(_is_empty()):
        seed_demo()
    base = f"http://{host}:{port}"
    typer.echo(f"Samverkan on {base}  —  API docs: {base}/docs  ·  OpenAPI: {base}/openapi.json")
    uvicorn.run(
        "app.main:app", host=host, port=port, workers=workers, log_level="info", proxy_headers=False
    )


@cli.command()
def openapi(
    output: Annotated[Path | None, typer.Option(help="file to write; default: stdout")] = None,
) -> None:
    """Write the OpenAPI document the application serves."""
    from app.main import create_app

    text = render_openapi(create_app().openapi())
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")


def render_openapi(document: dict[str, object]) -> str:
    """The committed form of the OpenAPI document: sorted keys, two-space indent."""
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main() -> None:
    """Entry point of the ``samverkan`` console script."""
    cli()


if __name__ == "__main__":
    main()
