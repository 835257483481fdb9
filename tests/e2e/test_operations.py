"""docs/operations.md, walked as an operator would: from an empty PostgreSQL database to a served,
bootstrapped production instance, running every shell block of the document with real
processes (the API server and a dispatcher started as the document starts them)."""

from __future__ import annotations

import re
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.conftest import scratch_postgres
from tests.documents import ROOT, background, clean_environment, run_blocks, shell_blocks
from tests.e2e.test_http_server import _free_port as free_port

OPERATIONS = ROOT / "docs" / "operations.md"
EXPORT = re.compile(r"^export (\w+)=", re.M)
LONG_RUNNING = ("samverkan serve", "samverkan dispatcher")


@pytest.mark.postgres_only
async def test_the_operations_guide_bootstraps_an_empty_database(tmp_path: Path) -> None:
    blocks = shell_blocks(OPERATIONS)
    configuration, steps = blocks[0], blocks[1:]
    port, metrics_port = free_port(), free_port()
    async with scratch_postgres("operations") as database_url:
        settings = {
            "SAMVERKAN_ENVIRONMENT": "production",
            "SAMVERKAN_DATABASE_URL": database_url,
            "SAMVERKAN_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "SAMVERKAN_SIGNING_KEY_FILE": str(tmp_path / "etc" / "signing-key.pem"),
            "PORT": str(port),
        }
        # The document's configuration is exactly what the test sets, with its own values.
        assert set(EXPORT.findall(configuration)) == set(settings)
        env = clean_environment(
            **settings, PATH=f"{ROOT / '.venv' / 'bin'}:{clean_environment()['PATH']}"
        )
        pending: list[str] = []
        with ExitStack() as running:
            for step in steps:
                if not step.strip().startswith(LONG_RUNNING):
                    pending.append(step)
                    continue
                if pending:
                    run_blocks(pending, cwd=tmp_path, env=env)
                    pending = []
                command = step.strip().replace("127.0.0.1:9464", f"127.0.0.1:{metrics_port}")
                ready = (
                    f"http://127.0.0.1:{port}/readyz"
                    if command.startswith("samverkan serve")
                    else f"http://127.0.0.1:{metrics_port}/"
                )
                log = tmp_path / f"{command.split()[1]}.log"
                running.enter_context(
                    background(command, cwd=tmp_path, env=env, ready=ready, log=log)
                )
            ran = run_blocks(pending, cwd=tmp_path, env=env)
        assert [s.strip().split()[1] for s in steps if s.strip().startswith(LONG_RUNNING)] == [
            "serve",
            "dispatcher",
        ]
        # The metrics block counted the service's metrics with the scraper's token.
        assert int(ran.outputs[-1].strip().splitlines()[-1]) > 5
        logs = (tmp_path / "serve.log").read_text(encoding="utf-8").splitlines()
        assert logs and all(line.startswith("{") for line in logs)
