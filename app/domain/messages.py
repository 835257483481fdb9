"""Reliable messaging: a processed message Bundle and the response it got, for dedupe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ProcessedMessage:
    """A message that was processed, and the response it got."""

    bundle_id: str
    header_id: str
    event: str
    response: dict[str, Any]
