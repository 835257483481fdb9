"""Commands for clients and tokens: clients add/list, token, and the development shortcuts."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from app.cli import Refused, cli, in_unit_of_work, settings

if TYPE_CHECKING:
    import httpx

    from app.store.unit_of_work import UnitOfWork

clients_cli = typer.Typer(help="Register and list API clients.", no_args_is_help=True)
cli.add_typer(clients_cli, name="clients")


@clients_cli.command("add")
def clients_add(
    org: Annotated[str, typer.Option("--org", help="the organization the client acts for")],
    jwks_file: Annotated[
        Path, typer.Option("--jwks", help="file with the client's public JWK set", exists=True)
    ],
    scopes: Annotated[
        str, typer.Option(help="SMART v2 system scopes it may be granted")
    ] = "system/*.cruds",
    admin: Annotated[
        bool,
        typer.Option(
            "--admin",
            help="also the administration scope samverkan/admin (register organizations "
            "and clients over the API)",
        ),
    ] = False,
    name: Annotated[str | None, typer.Option(help="a name for people")] = None,
    client_id: Annotated[str | None, typer.Option(help="default: generated")] = None,
) -> None:
    """Register a client with its public JWK set; prints the client id."""
    from app.security.clients import register_client
    from app.security.scopes import ADMIN_SCOPE

    try:
        jwks = json.loads(jwks_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"{jwks_file} is not JSON: {exc}", param_hint="--jwks") from exc
    allowed = f"{scopes} {ADMIN_SCOPE}" if admin else scopes

    async def add(uow: UnitOfWork) -> str:
        client = await register_client(
            uow,
            organization_id=org,
            jwks=jwks,
            scopes=allowed,
            name=name or f"{'administrative ' if admin else ''}client of {org}",
            client_id=client_id,
        )
        return client.id

    typer.echo(in_unit_of_work(add))


@clients_cli.command("new-key")
def clients_new_key(
    key_file: Annotated[Path, typer.Argument(help="where to write the private key (PEM, 0600)")],
    alg: Annotated[str, typer.Option(help="ES384 or RS384")] = "ES384",
) -> None:
    """Make a key pair for a client: writes the private key, prints the public JWK set."""
    from app.security.assertions import generate_client_key

    if key_file.exists():
        raise Refused(f"{key_file} exists already; a key is never overwritten")
    try:
        pem, jwks = generate_client_key(alg)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--alg") from exc
    key_file.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        out.write(pem)
    typer.echo(json.dumps(jwks, indent=2))


@clients_cli.command("list")
def clients_list() -> None:
    """List the registered clients: id, organization, scopes, active."""

    from app.services.admin import list_clients

    async def every(uow: UnitOfWork) -> list[tuple[str, str, str, bool]]:
        rows: list[tuple[str, str, str, bool]] = []
        after = None
        while True:
            page = await list_clients(uow, limit=500, after=after)
            rows += [(c.id, c.organization_id, c.scopes, c.active) for c in page.items]
            if page.next_cursor is None:
                return rows
            after = page.next_cursor

    for client_id, org, scopes, active in in_unit_of_work(every, commit=False):
        typer.echo(f"{client_id}\t{org}\t{scopes}\t{'active' if active else 'disabled'}")


@cli.command("dev-token")
def dev_token(
    org: Annotated[str, typer.Option("--org", help="the organization to act for")],
    scopes: Annotated[str, typer.Option(help="SMART v2 system scopes")] = "system/*.cruds",
    minutes: Annotated[
        int,
        typer.Option(min=1, help="lifetime; at most SAMVERKAN_ACCESS_TOKEN_MAX_LIFETIME_SECONDS"),
    ] = 60,
) -> None:
    """Print an access token the local server accepts (development only, never in production)."""
    from app.security.scopes import parse_scopes
    from app.security.tokens import SigningKey, issue_access_token

    config = settings()
    if not config.dev_tokens_allowed:
        raise Refused("dev-token is refused in production: use a registered client")
    if minutes * 60 > config.access_token_max_lifetime_seconds:
        raise typer.BadParameter(
            f"the service refuses tokens living over "
            f"{config.access_token_max_lifetime_seconds} seconds",
            param_hint="--minutes",
        )
    try:
        granted = parse_scopes(scopes)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scopes") from exc

    async def exists(uow: UnitOfWork) -> bool:
        from app.services.organizations import find_organization

        return await find_organization(uow, org) is not None

    if not in_unit_of_work(exists, commit=False):
        raise Refused(f"unknown organization {org} (is the database migrated and seeded?)")
    key = SigningKey.load_or_create(config.signing_key_file, create=True)
    token = issue_access_token(
        key,
        client_id=f"dev-{org}",
        organization_id=org,
        scopes=granted,
        audience=config.issuer,
        issuer=config.issuer,
        lifetime=timedelta(minutes=minutes),
        now=datetime.now(UTC),
    )
    typer.echo(token)


@cli.command("demo-clients")
def demo_clients() -> None:
    """Register one client per demo organization, its private key under var/demo-clients."""
    from app.security.clients import ensure_demo_clients

    config = settings()
    if not config.dev_tokens_allowed:
        raise Refused("demo clients are refused in production")

    async def ensure(uow: UnitOfWork) -> int:
        return await ensure_demo_clients(uow, config.demo_clients_dir)

    created = in_unit_of_work(ensure)
    typer.echo(f"demo clients: {created} registered, keys in {config.demo_clients_dir}/")


@cli.command()
def token(
    client_id: Annotated[str, typer.Option("--client", help="registered client id")],
    key_file: Annotated[
        Path, typer.Option("--key", help="the client's private key (PEM)", exists=True)
    ],
    scopes: Annotated[str | None, typer.Option(help="default: all the client may have")] = None,
    base: Annotated[
        str | None,
        typer.Option(
            "--base", help="the server's URL; default SAMVERKAN_PUBLIC_BASE_URL, else PORT"
        ),
    ] = None,
) -> None:
    """Get an access token from a running server, as a SMART backend client does."""
    config = settings()
    typer.echo(client_token((base or config.issuer).rstrip("/"), client_id, key_file, scopes))


def client_token(server: str, client_id: str, key_file: Path, scopes: str | None) -> str:
    """An access token from ``server`` for a registered client holding ``key_file``."""
    from app.security.assertions import make_client_assertion, public_jwks_of
    from app.security.clients import ASSERTION_TYPE

    pem = key_file.read_bytes()
    try:
        public = public_jwks_of(pem)["keys"][0]
    except ValueError as exc:
        raise Refused(f"--key {key_file}: not a usable private key ({exc})") from None
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        # The assertion's audience is the token endpoint as the server names it.
        "client_assertion": make_client_assertion(
            pem,
            kid=public["kid"],
            alg=public["alg"],
            client_id=client_id,
            token_endpoint=f"{server}/auth/token",
            now=datetime.now(UTC),
        ),
    }
    if scopes:
        form["scope"] = scopes
    response = post_form(f"{server}/auth/token", form)
    if response.status_code != 200:
        raise Refused(f"token refused ({response.status_code}): {response.text}")
    return str(response.json()["access_token"])


def post_form(url: str, form: dict[str, str]) -> httpx.Response:
    """POST a form; Refused, in one line, when the server cannot be reached."""
    import httpx

    try:
        return httpx.post(url, data=form, timeout=10)
    except httpx.TransportError as exc:
        raise Refused(unreachable(url, exc)) from None


def unreachable(url: str, exc: Exception) -> str:
    """The one line said when the server at ``url`` does not answer."""
    return (
        f"cannot reach {url} ({type(exc).__name__}: {exc}); is the server running there? "
        "Set --base, PORT or SAMVERKAN_PUBLIC_BASE_URL"
    )


__all__ = ["clients_cli", "demo_clients", "unreachable"]
