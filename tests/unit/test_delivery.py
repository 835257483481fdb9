"""The rules of delivery: topics, backoff with jitter, dead letters, acknowledgements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.delivery import (
    DeliveryState,
    Outcome,
    SubscriptionStatus,
    Topic,
    after_failure,
    backoff,
    check_acknowledgement,
    covers,
    status_after_push,
)
from app.domain.errors import IllegalTransition, InvalidInput

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_topics_cover_their_events() -> None:
    assert covers(Topic.DISCHARGE_READY, "discharge-ready")
    assert covers(Topic.DISCHARGE_READY, "discharge-ready-withdrawn")
    assert not covers(Topic.DISCHARGE_READY, "careplan-revised")
    assert covers(Topic.PLAN_CHANGES, "careplan-revised")
    assert covers(Topic.PLAN_CHANGES, "sip-summons")
    assert not covers(Topic.PLAN_CHANGES, "admission-notice")
    for event in ("admission-notice", "careplan-revised", "acknowledgement", "care-communication"):
        assert covers(Topic.MESSAGES, event)


def test_backoff_doubles_up_to_the_cap_with_half_of_it_jittered() -> None:
    assert backoff(1, base=2, cap=600, jitter=0.0) == timedelta(seconds=1)
    assert backoff(1, base=2, cap=600, jitter=1.0) == timedelta(seconds=2)
    assert backoff(4, base=2, cap=600, jitter=1.0) == timedelta(seconds=16)
    assert backoff(4, base=2, cap=600, jitter=0.5) == timedelta(seconds=12)
    assert backoff(30, base=2, cap=600, jitter=1.0) == timedelta(seconds=600)
    assert backoff(30, base=2, cap=600, jitter=0.0) == timedelta(seconds=300)
    with pytest.raises(ValueError):
        backoff(0, base=2, cap=600, jitter=0.5)
    with pytest.raises(ValueError):
        backoff(1, base=2, cap=600, jitter=1.5)


def test_the_last_failed_attempt_makes_a_dead_letter() -> None:
    wait = timedelta(seconds=5)
    assert after_failure(1, max_attempts=3, now=NOW, wait=wait) == (
        DeliveryState.PENDING,
        NOW + wait,
    )
    assert after_failure(3, max_attempts=3, now=NOW, wait=wait) == (DeliveryState.DEAD, None)


def test_acknowledgements_move_from_transient_to_final() -> None:
    assert check_acknowledgement("admission-notice", None, Outcome.TRANSIENT_ERROR)
    assert not check_acknowledgement(
        "admission-notice", Outcome.TRANSIENT_ERROR, Outcome.TRANSIENT_ERROR
    )
    assert check_acknowledgement("admission-notice", Outcome.TRANSIENT_ERROR, Outcome.OK)
    assert not check_acknowledgement("admission-notice", Outcome.OK, Outcome.OK)
    with pytest.raises(IllegalTransition):
        check_acknowledgement("admission-notice", Outcome.OK, Outcome.FATAL_ERROR)
    with pytest.raises(IllegalTransition):
        check_acknowledgement("admission-notice", Outcome.FATAL_ERROR, Outcome.TRANSIENT_ERROR)
    with pytest.raises(InvalidInput):
        check_acknowledgement("acknowledgement", None, Outcome.OK)


def test_a_subscription_is_in_error_while_its_endpoint_fails() -> None:
    assert status_after_push(False) is SubscriptionStatus.ERROR
    assert status_after_push(True) is SubscriptionStatus.ACTIVE
