"""Commands that run the service: migrate, seed-demo, serve, dispatcher, openapi."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from app.cli import ConfigurationError, cli, database, in_unit_of_work, render_openapi, settings
from app.settings import Environment, Settings, get_settings, split_address

if TYPE_CHECKING:
    from app.store.unit_of_work import UnitOfWork

logger = logging.getLogger("app.cli")


@cli.command()
def migrate() -> None:
    """Apply the database migrations up to the head revision."""
    from app.store.database import upgrade

    asyncio.run(_reachable(migrated=False))
    upgrade(settings().database_url)
    typer.echo("database is at the migration head")


async def _reachable(*, migrated: bool) -> None:
    async with database(migrated=migrated):
        pass


@cli.command("seed-demo")
def seed_demo() -> None:
    """Load the demo regions, municipalities, units and cooperation areas (idempotent)."""
    from app.services.demo import seed_demo as seed

    result = in_unit_of_work(seed)
    typer.echo(
        f"demo data loaded: {result.organizations} organizations and {result.areas} "
        "cooperation areas created"
    )


def check_configuration(config: Settings) -> None:
    """What the server needs before it starts: its signing key and liability rules load."""
    from app.domain.errors import DomainError
    from app.security.tokens import SigningKey
    from app.services.liability_config import read_liability_config

    try:
        SigningKey.load_or_create(
            config.signing_key_file, create=config.environment is not Environment.PRODUCTION
        )
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"SAMVERKAN_SIGNING_KEY_FILE: {exc}") from None
    try:
        read_liability_config(config.liability_config_file)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"SAMVERKAN_LIABILITY_CONFIG_FILE: {exc}") from None
    except DomainError as exc:
        raise ConfigurationError(f"SAMVERKAN_LIABILITY_CONFIG_FILE: {exc.message}") from None


@cli.command("signing-key")
def signing_key(
    key_file: Annotated[
        Path, typer.Argument(help="where the key goes, then SAMVERKAN_SIGNING_KEY_FILE")
    ],
) -> None:
    """Make the service's access-token signing key (EC P-256, 0600) unless it exists; prints
    its key id."""
    from app.security.tokens import SigningKey

    existed = key_file.exists()
    try:
        key = SigningKey.load_or_create(key_file, create=True)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"{key_file}: {exc}") from None
    typer.echo(f"{'kept' if existed else 'made'} {key_file} (kid {key.kid})")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[
        int | None, typer.Option(help="TCP port; default PORT, else 8000", min=1, max=65535)
    ] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
    migrate_first: Annotated[
        bool, typer.Option("--migrate", help="apply migrations first")
    ] = False,
    seed_if_empty: Annotated[
        bool,
        typer.Option("--seed-demo-if-empty", help="load the demo data when the database has none"),
    ] = False,
    dispatch: Annotated[
        bool, typer.Option(help="deliver the outbox from the API process too")
    ] = True,
) -> None:
    """Serve the API with uvicorn, with a dispatcher delivering the outbox in each worker."""
    import uvicorn

    from app.logs import configure
    from app.security.clients import ensure_demo_clients
    from app.services.demo import seed_demo as seed
    from app.services.demo_flow import seed_demo_flow
    from app.services.liability_config import read_liability_config
    from app.store.database import upgrade

    if port is not None:
        # The workers read their settings from the environment: the port they name in tokens,
        # links and references is the one served, unless SAMVERKAN_PUBLIC_BASE_URL says else.
        os.environ["PORT"] = str(port)
        get_settings.cache_clear()
    if dispatch:
        # Read by each worker's settings; an explicit SAMVERKAN_DISPATCHER_ENABLED=false wins.
        os.environ.setdefault("SAMVERKAN_DISPATCHER_ENABLED", "true")
        get_settings.cache_clear()
    config = settings()
    log_config = configure()
    check_configuration(config)
    asyncio.run(_reachable(migrated=not migrate_first))
    # From here on every line is a JSON log line, like uvicorn's own.
    if migrate_first:
        upgrade(config.database_url)
        logger.info("database is at the migration head")
    if seed_if_empty and in_unit_of_work(_is_empty, commit=False):
        seeded = in_unit_of_work(seed)
        logger.info(
            "demo data loaded",
            extra={"organizations": seeded.organizations, "areas": seeded.areas},
        )
        if config.dev_sign_in_allowed:
            # Fictitious patients, so that the console's pages show the flow at once.
            patients = in_unit_of_work(
                partial(
                    seed_demo_flow,
                    now=datetime.now(UTC),
                    liability=read_liability_config(config.liability_config_file),
                )
            )
            logger.info("demo patients loaded", extra={"persons": patients})
    if seed_if_empty and config.dev_tokens_allowed:
        created = in_unit_of_work(partial(ensure_demo_clients, directory=config.demo_clients_dir))
        logger.info(
            "demo clients registered",
            extra={"registered": created, "keys": str(config.demo_clients_dir)},
        )
    logger.info(
        "serving",
        extra={
            "address": f"http://{host}:{config.port}",
            "public_base_url": config.public_base_url,
            "docs": f"{config.public_base_url}/docs",
        },
    )
    uvicorn.run(
        "app.main:app",
        host=host,
        port=config.port,
        workers=workers,
        log_config=log_config,
        proxy_headers=False,
        # The fast event loop and HTTP parser (both installed with uvicorn[standard]), named so
        # that a missing one fails at start instead of falling back to asyncio and h11.
        loop="uvloop",
        http="httptools",
    )


async def _is_empty(uow: UnitOfWork) -> bool:
    from app.services.organizations import any_organizations

    return not await any_organizations(uow)


@cli.command()
def dispatcher(
    metrics_address: Annotated[
        str | None,
        typer.Option(
            help="serve /metrics (Prometheus) at HOST:PORT, e.g. 0.0.0.0:9464; "
            "default SAMVERKAN_DISPATCHER_METRICS_ADDRESS, else none"
        ),
    ] = None,
) -> None:
    """Deliver the outbox to subscribers' endpoints, and raise the deviations that raise
    themselves, until SIGTERM or SIGINT."""
    from app.logs import configure

    configure()
    config = settings()
    address = metrics_address or config.dispatcher_metrics_address
    if address is not None:
        from prometheus_client import start_http_server

        try:
            host, port = split_address(address)
            start_http_server(port, addr=host)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"SAMVERKAN_DISPATCHER_METRICS_ADDRESS: cannot serve metrics at {address}: {exc}"
            ) from None
    asyncio.run(_dispatch(config))


async def _dispatch(config: Settings) -> None:
    from app.delivery.dispatcher import Dispatcher
    from app.services import deviation_rules, statistics_compaction

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with (
        database(pool_size=config.dispatcher_batch_size + 2) as engine,
        Dispatcher(engine, config) as running,
    ):
        await asyncio.gather(
            running.run(stop),
            deviation_rules.run(engine, config.deviation_rules_interval_seconds, stop),
            statistics_compaction.run(engine, config.statistics_compact_interval_seconds, stop),
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
