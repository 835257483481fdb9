"""The README runs as written: every shell block, in order, against a server started the way
`make run` starts it, on a free port, in a directory laid out like a fresh clone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.settings import Settings
from tests.documents import ROOT, background, clean_environment, run_blocks, shell_blocks
from tests.e2e.test_http_server import _free_port as free_port

# Committing: `make run` serves the database from another process.
pytestmark = pytest.mark.committing

README = ROOT / "README.md"


def run_recipe(port: int) -> str:
    """The command of the Makefile's `run` target, as make would run it."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^run:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe is not None, "the Makefile has no run target"
    command = recipe[1].strip().splitlines()[-1].strip()
    return command.replace("$(BIN)", ".venv/bin").replace("$(PORT)", str(port))


async def test_every_shell_block_of_the_readme_runs(
    settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> None:
    blocks = shell_blocks(README)
    two_commands, examples = blocks[0], blocks[1:]
    # The suite is what `make test` runs; `make run` is done below by its own recipe.
    assert "make run" in two_commands and "make test" in two_commands
    assert len(examples) >= 5
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    port = free_port()
    env = clean_environment(
        PORT=str(port),
        SAMVERKAN_DATABASE_URL=settings.database_url,
        # Nothing is pushed anywhere from the test (the README subscribes a made-up endpoint).
        SAMVERKAN_DISPATCHER_ENABLED="false",
    )
    with background(
        run_recipe(port),
        cwd=tmp_path,
        env=env,
        ready=f"http://127.0.0.1:{port}/readyz",
        log=tmp_path / "server.log",
    ):
        ran = run_blocks(examples, cwd=tmp_path, env=env)
    assert "18600.00" in "".join(ran.outputs)


def test_the_readme_and_docs_point_nowhere_outside_the_repository() -> None:
    documents = [README, *sorted((ROOT / "docs").glob("*.md"))]
    assert {d.name for d in documents} >= {
        "README.md",
        "domain.md",
        "integrating.md",
        "operations.md",
    }
    for document in documents:
        text = document.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)]+)\)", text):
            assert not target.startswith(("/", "..", "file:")), (document.name, target)
        assert "../" not in text and "shared/" not in text, document.name
