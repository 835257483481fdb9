"""Wrong configuration is one line naming the setting and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.security.assertions import generate_client_key
from app.settings import Settings
from tests.e2e.test_http_server import _free_port as free_port

# Committing: the command runs in another process.
pytestmark = pytest.mark.committing


def run(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SAMVERKAN_")}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={
            **base,
            "SAMVERKAN_DATABASE_URL": settings.database_url,
            "SAMVERKAN_SIGNING_KEY_FILE": str(settings.signing_key_file),
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("env", "named"),
    [
        (
            {"SAMVERKAN_ENVIRONMENT": "production", "SAMVERKAN_DATABASE_URL": "sqlite:///x.db"},
            "SAMVERKAN_DATABASE_URL",
        ),
        (
            {
                "SAMVERKAN_ENVIRONMENT": "production",
                "SAMVERKAN_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/x",
            },
            "SAMVERKAN_PUBLIC_BASE_URL",
        ),
        ({"PORT": "eighty"}, "PORT"),
        ({"SAMVERKAN_DELIVERY_MAX_ATTEMPTS": "0"}, "SAMVERKAN_DELIVERY_MAX_ATTEMPTS"),
        ({"SAMVERKAN_DISPATCHER_METRICS_ADDRESS": "9464"}, "SAMVERKAN_DISPATCHER_METRICS_ADDRESS"),
    ],
)
def test_a_wrong_setting_is_named_in_one_line(
    settings: Settings, env: dict[str, str], named: str
) -> None:
    line = one_line(run(settings, "serve", **env))
    assert line.startswith(f"samverkan: configuration error: {named}"), line


def test_a_missing_signing_key_in_production_is_named(settings: Settings, tmp_path: Path) -> None:
    line = one_line(
        run(
            settings,
            "serve",
            SAMVERKAN_ENVIRONMENT="production",
            SAMVERKAN_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/x",
            SAMVERKAN_PUBLIC_BASE_URL="https://samverkan.example",
            SAMVERKAN_SIGNING_KEY_FILE=str(tmp_path / "absent.pem"),
        )
    )
    assert "SAMVERKAN_SIGNING_KEY_FILE" in line and "absent.pem" in line


@pytest.mark.parametrize("command", [["serve"], ["migrate"], ["clients", "list"]])
def test_an_unreachable_database_is_named(settings: Settings, command: list[str]) -> None:
    closed = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/samverkan"
    line = one_line(run(settings, *command, SAMVERKAN_DATABASE_URL=closed))
    assert line.startswith("samverkan: configuration error: SAMVERKAN_DATABASE_URL: cannot reach")


def test_an_unmigrated_database_says_to_migrate(settings: Settings, tmp_path: Path) -> None:
    empty = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    line = one_line(run(settings, "clients", "list", SAMVERKAN_DATABASE_URL=empty))
    assert "SAMVERKAN_DATABASE_URL" in line and "samverkan migrate" in line


def test_the_cli_answers_an_absent_server_in_one_line(settings: Settings, tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_bytes(generate_client_key()[0])
    port = free_port()
    line = one_line(run(settings, "token", "--client", "c", "--key", str(key), PORT=str(port)))
    assert f"cannot reach http://127.0.0.1:{port}/auth/token" in line
