"""Delivery metrics in the Prometheus text format (``GET /metrics``; the dispatcher's own port).

Counters and the lag histogram are kept per process (each dispatcher counts its own pushes);
the number of pushes per state is read from the database at each scrape, so every process
reports the same backlog and dead letters.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DELIVERY_LAG = Histogram(
    "samverkan_delivery_lag_seconds",
    "Time from an event's commit in the outbox to its accepted push",
    ["event"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600),
)
ATTEMPTS = Counter("samverkan_delivery_attempts", "Push attempts, by result", ["result"])
FAILURES = Counter("samverkan_delivery_failures", "Failed push attempts, by reason", ["reason"])
DEAD_LETTERS = Counter(
    "samverkan_dead_letters", "Pushes that failed their last attempt and became dead letters"
)
HEARTBEATS = Counter("samverkan_heartbeats", "Heartbeat notifications sent, by result", ["result"])
DELIVERIES = Gauge(
    "samverkan_deliveries", "Deliveries in the database, by state (inbox items as inbox)", ["state"]
)
BREAKERS_OPENED = Counter(
    "samverkan_endpoint_breakers_opened",
    "Times a closed endpoint breaker opened (this process recorded the failure that opened it)",
)
BREAKERS = Gauge(
    "samverkan_endpoint_breakers",
    "Failing endpoints in the database, by breaker state (closed: failing, not yet open)",
    ["state"],
)
