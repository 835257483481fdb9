"""The endpoint breaker's rules: what an endpoint is, and when the breaker opens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.breaker import Breaker, BreakerState, origin_of

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
COOLDOWN = timedelta(seconds=60)


@pytest.mark.parametrize(
    ("endpoint", "origin"),
    [
        ("https://Kommun.Example/hooks/a?x=1", "https://kommun.example:443"),
        ("https://kommun.example:443/hooks/b", "https://kommun.example:443"),
        ("http://10.0.0.7:8080/n", "http://10.0.0.7:8080"),
        ("http://[::1]:9000/n", "http://[::1]:9000"),
        ("http://host.example/n", "http://host.example:80"),
    ],
)
def test_an_endpoint_is_the_origin_of_the_url(endpoint: str, origin: str) -> None:
    assert origin_of(endpoint) == origin


def test_a_breaker_opens_at_the_threshold_and_half_opens_after_the_cooldown() -> None:
    breaker = Breaker("https://kommun.example:443")
    assert breaker.state(NOW) is BreakerState.CLOSED
    for _ in range(2):
        breaker = breaker.failed("timeout", now=NOW, threshold=3, cooldown=COOLDOWN)
        assert breaker.state(NOW) is BreakerState.CLOSED
    breaker = breaker.failed("HTTP 503", now=NOW, threshold=3, cooldown=COOLDOWN)
    assert (breaker.failures, breaker.last_error) == (3, "HTTP 503")
    assert breaker.state(NOW + COOLDOWN - timedelta(seconds=1)) is BreakerState.OPEN
    assert breaker.state(NOW + COOLDOWN) is BreakerState.HALF_OPEN


def test_a_failed_probe_opens_the_breaker_for_another_cooldown() -> None:
    probing = Breaker(
        "https://kommun.example:443",
        failures=5,
        opened_until=NOW - timedelta(seconds=1),
        probe_until=NOW + timedelta(seconds=30),
    )
    assert probing.state(NOW) is BreakerState.HALF_OPEN
    again = probing.failed("timeout", now=NOW, threshold=5, cooldown=COOLDOWN)
    assert again.state(NOW) is BreakerState.OPEN
    assert (again.opened_until, again.probe_until, again.failures) == (NOW + COOLDOWN, None, 6)
