"""Run the shell blocks of a Markdown document, as a reader would, one after another in one shell.

A block fails the run when a command in it fails (``set -euo pipefail``). A line
``# → TEXT`` under a command states what it prints: TEXT must be in that block's output.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
SAYS = re.compile(r"^# → (.+)$", re.M)


def shell_blocks(document: Path) -> list[str]:
    """Every ```sh block of a Markdown file, in order."""
    return BLOCK.findall(document.read_text(encoding="utf-8"))


@dataclass
class Ran:
    """The outcome of running blocks: each block's output, in order."""

    outputs: list[str]


def run_blocks(
    blocks: list[str], *, cwd: Path, env: Mapping[str, str], timeout: float = 180
) -> Ran:
    """Run ``blocks`` in one bash process; fail naming the block that failed."""
    script = ["set -euo pipefail"]
    for index, block in enumerate(blocks):
        script += [f"echo '### block {index}'", block]
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    parts = re.split(r"^### block (\d+)\n", result.stdout, flags=re.M)
    outputs = [""] * len(blocks)
    for number, output in zip(parts[1::2], parts[2::2], strict=True):
        outputs[int(number)] = output
    reached = len(parts[1::2]) - 1
    if result.returncode != 0:
        pytest.fail(
            f"block {reached} failed ({result.returncode}):\n{blocks[reached]}\n"
            f"--- output ---\n{outputs[reached][-2000:]}\n--- stderr ---\n{result.stderr[-3000:]}"
        )
    for block, output in zip(blocks, outputs, strict=True):
        for said in SAYS.findall(block):
            assert said in output, f"the document says {said!r}, the block printed:\n{output}"
    return Ran(outputs)


@contextmanager
def background(
    command: str, *, cwd: Path, env: Mapping[str, str], ready: str, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command`` with bash; wait until GET ``ready`` answers 200; stop it afterwards."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["bash", "-c", f"exec {command}"], cwd=cwd, env=dict(env), stdout=out, stderr=out
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(ready, timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{command} did not become ready:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=15)


def clean_environment(**env: str) -> dict[str, str]:
    """This process's environment without the service's settings, plus ``env``."""
    kept = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SAMVERKAN_") and k not in ("PORT", "VIRTUAL_ENV")
    }
    return {**kept, **env}
