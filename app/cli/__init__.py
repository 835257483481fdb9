"""The ``samverkan`` command: serve, migrate, bootstrap, clients, tokens, examples, OpenAPI,
liability recompute, statistics recompute, projections rebuild, the docs' table of message
events.

Every command reads the same settings as the server (``SAMVERKAN_*`` and ``PORT``). A wrong
setting, an unreachable database or server, or a refused command is one line on stderr and a
non-zero exit, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TypeVar

import typer
from pydantic import ValidationError

from app.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from app.store.unit_of_work import UnitOfWork

T = TypeVar("T")
cli = typer.Typer(
    help="Samverkan: care-coordination messages between regions and municipalities.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class ConfigurationError(Exception):
    """A setting is missing or wrong, or what it points at does not answer; names the setting."""


class Refused(Exception):
    """The command cannot do what was asked (a server or the data said no); one line."""


def settings() -> Settings:
    """The settings from the environment; ConfigurationError names each wrong variable."""
    try:
        return get_settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["loc"]:
                name = str(error["loc"][0]).upper()
                if not name.startswith(("SAMVERKAN_", "PORT")):
                    name = f"SAMVERKAN_{name}"
                message = f"{name}: {message}"
            problems.append(message)
        raise ConfigurationError("; ".join(problems)) from None


async def check_database(engine: AsyncEngine, url: str) -> None:
    """Connect once; ConfigurationError naming SAMVERKAN_DATABASE_URL when that fails."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        cause = getattr(exc, "orig", None) or exc
        reason = (str(cause).strip().splitlines() or [""])[0]
        shown = make_url(url).render_as_string(hide_password=True)
        raise ConfigurationError(
            f"SAMVERKAN_DATABASE_URL: cannot reach the database {shown} "
            f"({type(cause).__name__}: {reason})"
        ) from None


@asynccontextmanager
async def database(pool_size: int = 2, *, migrated: bool = True) -> AsyncIterator[AsyncEngine]:
    """An engine on the configured database, checked to answer (and, if ``migrated``, to be at
    the migration head), disposed afterwards."""
    from app.store.database import create_engine, current_revision, head_revision

    url = settings().database_url
    engine = create_engine(url, pool_size=pool_size)
    try:
        await check_database(engine, url)
        if migrated and (current := await current_revision(engine)) != head_revision():
            raise ConfigurationError(
                f"SAMVERKAN_DATABASE_URL: the database is at migration "
                f"{current or '(none)'}, the code expects {head_revision()}: "
                "run `samverkan migrate` first"
            )
        yield engine
    finally:
        await engine.dispose()


def in_unit_of_work(work: Callable[[UnitOfWork], Awaitable[T]], *, commit: bool = True) -> T:
    """Run ``work`` in one unit of work on the configured database; commit it unless told not."""
    from app.store.unit_of_work import UnitOfWork

    async def run() -> T:
        async with database() as engine, UnitOfWork(engine) as uow:
            result = await work(uow)
            if commit:
                await uow.commit()
            return result

    return asyncio.run(run())


def render_openapi(document: dict[str, object]) -> str:
    """The committed form of the OpenAPI document: sorted keys, two-space indent."""
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main() -> None:
    """Entry point of the ``samverkan`` console script."""
    from app.domain.errors import DomainError
    from app.wiring import wire

    wire()
    try:
        cli()
    except ConfigurationError as exc:
        typer.echo(f"samverkan: configuration error: {exc}", err=True)
        sys.exit(2)
    except DomainError as exc:
        where = f" [{exc.field}]" if exc.field and exc.field not in exc.message else ""
        typer.echo(f"samverkan: refused: {exc.message}{where}", err=True)
        sys.exit(2)
    except Refused as exc:
        typer.echo(f"samverkan: {exc}", err=True)
        sys.exit(2)


# The commands register themselves on ``cli``.
from app.cli import (  # noqa: E402
    clients,
    examples,
    liability,
    organizations,
    projections,
    server,
    statistics,
    vocabulary,
)

__all__ = [
    "cli",
    "clients",
    "examples",
    "liability",
    "main",
    "organizations",
    "projections",
    "server",
    "statistics",
    "vocabulary",
]
