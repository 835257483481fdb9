"""Checks FHIR JSON with the npm ``fhir`` package (FHIR.js), a second implementation of R4.

``make test`` installs the pinned package under ``.cache/node`` (``SAMVERKAN_NODE_FHIR``). Unlike
the JSON schema it also checks required value-set bindings. Where Node is missing the check is
skipped, except in CI, where that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODULES = Path(os.environ.get("SAMVERKAN_NODE_FHIR") or ROOT / ".cache/node/node_modules")
SCRIPT = ROOT / "tests" / "node" / "validate.js"


def available() -> bool:
    """Whether Node and the pinned package are installed."""
    return shutil.which("node") is not None and (MODULES / "fhir").is_dir()


def problems(resources: list[dict[str, Any]]) -> list[str]:
    """Every error FHIR.js reports for the resources (and every unexpected property)."""
    if not resources:
        return []
    result = subprocess.run(
        ["node", str(SCRIPT)],
        input=json.dumps(resources),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "NODE_PATH": str(MODULES)},
    )
    if result.returncode != 0:
        return [f"the FHIR.js validator failed: {result.stderr.strip()[:500]}"]
    found: list[str] = json.loads(result.stdout)
    return found
