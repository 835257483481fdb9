"""Per-client rate limiting: a token bucket per client, in the process's memory.

Each API process limits on its own; behind a load balancer with N processes a client gets at most
N times the configured rate, which is what a per-process limit can promise without shared state.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Allows ``per_minute`` requests per key, with bursts up to the same number."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, _Bucket] = {}

    def check(self, key: str, now: float | None = None) -> float | None:
        """Take one token for ``key``; None when allowed, else seconds until one is free."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1.0, math.ceil((1.0 - bucket.tokens) / self.rate))
