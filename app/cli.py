"""The ``samverkan`` command: serve, migrate, load demo data, write the OpenAPI document."""

from __future__ import annotations

import asyncio
import json
import os
import signal
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
    dispatch: Annotated[
        bool, typer.Option(help="deliver the outbox from the API process too")
    ] = True,
) -> None:
    """Serve the API with uvicorn, with a dispatcher delivering the outbox in each worker."""
    import uvicorn

    from app.logs import configure

    if dispatch:
        # Read by each worker's settings; an explicit SAMVERKAN_DISPATCHER_ENABLED=false wins.
        os.environ.setdefault("SAMVERKAN_DISPATCHER_ENABLED", "true")
    configure()
    if migrate_first:
        migrate()
    if seed_if_empty and asyncio.run(_is_empty()):
        seed_demo()
    if seed_if_empty and get_settings().dev_tokens_allowed:
        demo_clients()
    base = f"http://{host}:{port}"
    typer.echo(f"Samverkan on {base}  —  API docs: {base}/docs  ·  OpenAPI: {base}/openapi.json")
    uvicorn.run(
        "app.main:app", host=host, port=port, workers=workers, log_level="info", proxy_headers=False
    )


@cli.command()
def dispatcher(
    metrics_port: Annotated[
        int | None, typer.Option(help="serve /metrics (Prometheus) on this port")
    ] = None,
) -> None:
    """Deliver the outbox to subscribers' endpoints until SIGTERM or SIGINT."""
    from app.logs import configure

    configure()
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr="127.0.0.1")
    asyncio.run(_dispatch())


async def _dispatch() -> None:
    from app.delivery.dispatcher import Dispatcher
    from app.store.database import create_engine

    settings = get_settings()
    engine = create_engine(settings.database_url, pool_size=settings.dispatcher_batch_size + 2)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with Dispatcher(engine, settings) as running:
            await running.run(stop)
    finally:
        await engine.dispose()


clients_cli = typer.Typer(help="Register and list API clients.", no_args_is_help=True)
cli.add_typer(clients_cli, name="clients")


async def _add_client(org: str, jwks: object, scopes: str, name: str, client_id: str | None) -> str:
    from app.security.clients import register_client
    from app.store.database import create_engine
    from app.store.unit_of_work import UnitOfWork

    engine = create_engine(get_settings().database_url)
    try:
        async with UnitOfWork(engine) as uow:
            client = await register_client(
                uow, organization_id=org, jwks=jwks, scopes=scopes, name=name, client_id=client_id
            )
            await uow.commit()
        return client.id
    finally:
        await engine.dispose()


@clients_cli.command("add")
def clients_add(
    org: Annotated[str, typer.Option("--org", help="the organization the client acts for")],
    jwks_file: Annotated[
        Path, typer.Option("--jwks", help="file with the client's public JWK set", exists=True)
    ],
    scopes: Annotated[
        str, typer.Option(help="SMART v2 system scopes it may be granted")
    ] = "system/*.cruds",
    name: Annotated[str | None, typer.Option(help="a name for people")] = None,
    client_id: Annotated[str | None, typer.Option(help="default: generated")] = None,
) -> None:
    """Register a client with its public JWK set; prints the client id."""
    from app.domain.errors import DomainError

    try:
        jwks = json.loads(jwks_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"{jwks_file} is not JSON: {exc}", param_hint="--jwks") from exc
    try:
        new_id = asyncio.run(_add_client(org, jwks, scopes, name or f"client of {org}", client_id))
    except DomainError as exc:
        typer.echo(f"refused: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(new_id)


async def _list_clients() -> list[tuple[str, str, str, bool]]:
    from app.store.database import create_engine
    from app.store.unit_of_work import UnitOfWork

    engine = create_engine(get_settings().database_url)
    rows: list[tuple[str, str, str, bool]] = []
    try:
        async with UnitOfWork(engine) as uow:
            after = None
            while True:
                page = await uow.clients.page(limit=500, after=after)
                rows += [(c.id, c.organization_id, c.scopes, c.active) for c in page.items]
                if page.next_cursor is None:
                    return rows
                after = page.next_cursor
    finally:
        await engine.dispose()


@clients_cli.command("list")
def clients_list() -> None:
    """List the registered clients: id, organization, scopes, active."""
    for client_id, org, scopes, active in asyncio.run(_list_clients()):
        typer.echo(f"{client_id}\t{org}\t{scopes}\t{'active' if active else 'disabled'}")


async def _organization_exists(org: str) -> bool:
    from app.store.database import create_engine
    from app.store.unit_of_work import UnitOfWork

    engine = create_engine(get_settings().database_url)
    try:
        async with UnitOfWork(engine) as uow:
            return await uow.organizations.get(org) is not None
    finally:
        await engine.dispose()


@cli.command("dev-token")
def dev_token(
    org: Annotated[str, typer.Option("--org", help="the organization to act for")],
    scopes: Annotated[str, typer.Option(help="SMART v2 system scopes")] = "system/*.cruds",
    minutes: Annotated[int, typer.Option(min=1, max=1440, help="lifetime")] = 60,
) -> None:
    """Print an access token the local server accepts (development only, never in production)."""
    from datetime import UTC, datetime, timedelta

    from app.security.tokens import SigningKey, issue_access_token, parse_scopes

    settings = get_settings()
    if not settings.dev_tokens_allowed:
        typer.echo("dev-token is refused in production: use a registered client", err=True)
        raise typer.Exit(2)
    try:
        granted = parse_scopes(scopes)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scopes") from exc
    if not asyncio.run(_organization_exists(org)):
        typer.echo(f"unknown organization {org} (is the database migrated and seeded?)", err=True)
        raise typer.Exit(2)
    key = SigningKey.load_or_create(settings.signing_key_file, create=True)
    token = issue_access_token(
        key,
        client_id=f"dev-{org}",
        organization_id=org,
        scopes=granted,
        audience=settings.issuer,
        issuer=settings.issuer,
        lifetime=timedelta(minutes=minutes),
        now=datetime.now(UTC),
    )
    typer.echo(token)


@cli.command("demo-clients")
def demo_clients() -> None:
    """Register one client per demo organization, its private key under var/demo-clients."""
    settings = get_settings()
    if not settings.dev_tokens_allowed:
        typer.echo("demo clients are refused in production", err=True)
        raise typer.Exit(2)
    created = asyncio.run(_demo_clients(settings.demo_clients_dir))
    typer.echo(f"demo clients: {created} registered, keys in {settings.demo_clients_dir}/")


async def _demo_clients(directory: Path) -> int:
    from app.security.clients import ensure_demo_clients
    from app.store.database import create_engine
    from app.store.unit_of_work import UnitOfWork

    engine = create_engine(get_settings().database_url)
    try:
        async with UnitOfWork(engine) as uow:
            created = await ensure_demo_clients(uow, directory)
            await uow.commit()
        return created
    finally:
        await engine.dispose()


@cli.command()
def token(
    client_id: Annotated[str, typer.Option("--client", help="registered client id")],
    key_file: Annotated[
        Path, typer.Option("--key", help="the client's private key (PEM)", exists=True)
    ],
    scopes: Annotated[str | None, typer.Option(help="default: all the client may have")] = None,
    url: Annotated[str | None, typer.Option(help="default: the configured public URL")] = None,
) -> None:
    """Get an access token from a running server, as a SMART backend client does."""
    from datetime import UTC, datetime

    import httpx

    from app.security.clients import ASSERTION_TYPE
    from app.security.tokens import make_client_assertion, public_jwks_of

    settings = get_settings()
    endpoint = f"{(url or settings.issuer).rstrip('/')}/auth/token"
    pem = key_file.read_bytes()
    public = public_jwks_of(pem)["keys"][0]
    assertion = make_client_assertion(
        pem,
        kid=public["kid"],
        alg=public["alg"],
        client_id=client_id,
        token_endpoint=settings.token_endpoint,
        now=datetime.now(UTC),
    )
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    if scopes:
        form["scope"] = scopes
    response = httpx.post(endpoint, data=form, timeout=10)
    if response.status_code != 200:
        typer.echo(f"refused ({response.status_code}): {response.text}", err=True)
        raise typer.Exit(1)
    typer.echo(response.json()["access_token"])


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
