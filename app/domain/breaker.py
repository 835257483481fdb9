"""The circuit breaker of a subscriber's endpoint: a dead endpoint stops being tried.

An endpoint is the origin of a subscription's URL (scheme, host and port): a server that is down
or hangs is so for every path on it, and every subscription pointing at it shares its breaker.

- **closed**: pushes go out. Each failed push (timeout, refused connection, non-2xx answer) counts;
  any success resets the count.
- **open**: after ``threshold`` failures in a row nothing is pushed to the endpoint for
  ``cooldown``. Its pushes wait, and spend no attempts while they wait.
- **half-open**: once the cool-down has passed, one push goes out as a probe. Its success closes
  the breaker; its failure opens it for another cool-down.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


class BreakerState(StrEnum):
    """Whether pushes go to an endpoint."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


def origin_of(endpoint: str) -> str:
    """The endpoint a subscription URL belongs to: ``scheme://host:port`` (host lower case)."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
    return f"{parts.scheme}://{host}:{port}"


@dataclass(frozen=True, slots=True)
class Breaker:
    """An endpoint's breaker. One that has never failed (or succeeded since) is closed, at 0.

    ``opened_until`` is set while the breaker is open or half-open; ``probe_until`` while a
    half-open breaker's probe is out (the probing dispatcher's lease).
    """

    origin: str
    failures: int = 0
    opened_until: datetime | None = None
    probe_until: datetime | None = None
    last_error: str | None = None

    def state(self, now: datetime) -> BreakerState:
        """Closed, open, or half-open (the cool-down has passed: a probe may go)."""
        if self.opened_until is None:
            return BreakerState.CLOSED
        return BreakerState.OPEN if now < self.opened_until else BreakerState.HALF_OPEN

    def failed(self, error: str, *, now: datetime, threshold: int, cooldown: timedelta) -> Breaker:
        """The breaker after a failed push: it opens (again) at ``threshold`` failures in a row."""
        failures = self.failures + 1
        opened_until = now + cooldown if failures >= threshold else None
        return replace(
            self, failures=failures, opened_until=opened_until, probe_until=None, last_error=error
        )
