"""The dispatcher: pushes the outbox's pending deliveries to subscribers' endpoints.

At least once: a push is marked delivered only after the endpoint answered 2xx, in a transaction
after the HTTP call, so a dispatcher killed in between pushes it again later (after its lease
ran out). Receivers recognise a repeat by the event id (the MessageHeader id, and the
``X-Samverkan-Event-Id`` header). In order: the claim only hands out the oldest pending push of
each subscription and stream. A failed push waits with exponential backoff and jitter, and after
the last attempt it is dead, for an operator to list and replay.

Fair: up to ``dispatcher_batch_size`` pushes are in flight, and a slot is refilled as soon as its
push ends, so a push that hangs until its timeout holds one slot, not the round. Which pushes
fill the slots is fair over endpoints (``app.store.fair_claims``), and each push's result moves
its endpoint's circuit breaker (``app.domain.breaker``).

It runs as a background task of the API (``dispatcher_enabled``, which ``samverkan serve`` turns
on) or as a process of its own (``samverkan dispatcher``); several run side by side on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

import httpx
import orjson
from asgi_correlation_id import correlation_id
from sqlalchemy.ext.asyncio import AsyncEngine

from app import metrics
from app.domain.access_log import AccessEntry
from app.domain.breaker import origin_of
from app.domain.clock import utcnow
from app.domain.delivery import (
    DeliveryState,
    after_failure,
    backoff,
    status_after_push,
)
from app.domain.outbox import Delivery, Subscription
from app.domain.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, sign
from app.fhir.common import FHIR_JSON
from app.fhir.notifications import NotifiedEvent, notification
from app.settings import Settings
from app.store.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)
REQUEST_ID_HEADER = "X-Request-ID"


def worker_name() -> str:
    """A name for this dispatcher that is unique among those running (host, pid, random)."""
    return f"{socket.gethostname()[:30]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def disclosure(delivery: Delivery, subscription: Subscription, at: datetime) -> AccessEntry:
    """The access-log entry of a push that named a person: the receiver was sent it.

    Nobody asked for it in a request, so the subscription stands in for the client, and the
    request that caused the event lends its id.
    """
    event = delivery.event
    return AccessEntry(
        at=at,
        client_id=f"subscription:{subscription.id}",
        organization_id=delivery.receiver_id,
        user_id=None,
        action="read",
        resource_type="MessageHeader",
        resource_id=event.id,
        person_id=event.person_id,
        outcome="success",
        purpose="TREAT",
        request_id=event.request_id,
    )


class Dispatcher:
    """Claims due pushes, sends them, and records each result."""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        *,
        worker: str | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.worker = worker or worker_name()
        self._jitter = jitter
        self._http: httpx.AsyncClient | None = None
        self._heartbeats_checked = 0.0

    async def __aenter__(self) -> Dispatcher:
        # No redirects: a subscriber's endpoint answers for itself; following one would send
        # signed personal-data references to wherever it points.
        self._http = httpx.AsyncClient(
            timeout=self.settings.delivery_timeout_seconds, follow_redirects=False
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @property
    def _base(self) -> str:
        return f"{self.settings.issuer}/fhir"

    async def run(self, stop: asyncio.Event) -> None:
        """Push until ``stop`` is set, keeping up to a batch of pushes in flight; pushes still
        in flight then end (within their timeout) and their results are recorded."""
        logger.info("dispatcher started", extra={"worker": self.worker})
        in_flight: set[asyncio.Task[None]] = set()
        heartbeats: asyncio.Task[int] | None = None
        stopping = asyncio.create_task(stop.wait())
        while not stop.is_set():
            room = self.settings.dispatcher_batch_size - len(in_flight)
            claimed: list[tuple[Delivery, Subscription]] = []
            try:
                if room > 0:
                    claimed = await self._claim(room)
            except Exception:
                # The database restarted or is unreachable, or one round met a fault: nothing
                # was lost (an uncommitted claim or result is redone once its lease ends), and
                # delivery must not stop for it; try again after a pause.
                logger.exception("dispatcher round failed", extra={"worker": self.worker})
            for delivery, subscription in claimed:
                in_flight.add(asyncio.create_task(self._push_logged(delivery, subscription)))
            # Heartbeats go beside the pushes: one to a hanging endpoint must not hold them up.
            if heartbeats is None or heartbeats.done():
                heartbeats = asyncio.create_task(self._heartbeats_logged())
            # Claim again when a push ends (a slot is free, and the next event of its stream may
            # be due), or after the poll interval.
            waiting: set[asyncio.Future[Any]] = {stopping, *in_flight}
            await asyncio.wait(
                waiting,
                timeout=self.settings.dispatcher_poll_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
            in_flight = {task for task in in_flight if not task.done()}
        stopping.cancel()
        await asyncio.gather(*in_flight, *([heartbeats] if heartbeats else []))
        logger.info("dispatcher stopped", extra={"worker": self.worker})

    async def _claim(self, limit: int) -> list[tuple[Delivery, Subscription]]:
        now = utcnow()
        lease = timedelta(seconds=self.settings.delivery_lease_seconds)
        async with UnitOfWork(self.engine) as uow:
            claimed = await uow.outbox.claim(
                self.worker,
                now=now,
                lease_until=now + lease,
                limit=limit,
                per_endpoint=self.settings.delivery_endpoint_concurrency,
            )
            await uow.commit()
        return claimed

    async def _push_logged(self, delivery: Delivery, subscription: Subscription) -> None:
        try:
            await self._push(delivery, subscription)
        except Exception:
            # Its result was not recorded: the push is tried again when its lease ends.
            logger.exception(
                "push failed unexpectedly",
                extra={"worker": self.worker, "delivery_id": delivery.id},
            )

    async def _heartbeats_logged(self) -> int:
        try:
            return await self.send_heartbeats()
        except Exception:
            logger.exception("heartbeats failed", extra={"worker": self.worker})
            return 0

    async def run_once(self) -> int:
        """Claim a batch of due pushes and send them all; how many were attempted."""
        claimed = await self._claim(self.settings.dispatcher_batch_size)
        if claimed:
            # Each claimed push is the head of its own (subscription, stream): they may go at once.
            results = await asyncio.gather(
                *(self._push(d, s) for d, s in claimed), return_exceptions=True
            )
            for (delivery, _subscription), result in zip(claimed, results, strict=True):
                if isinstance(result, BaseException):
                    # Its result was not recorded: the push is tried again when its lease ends.
                    logger.error(
                        "push failed unexpectedly",
                        exc_info=result,
                        extra={"worker": self.worker, "delivery_id": delivery.id},
                    )
        return len(claimed)

    async def _send(
        self, subscription: Subscription, body: bytes, headers: dict[str, str]
    ) -> str | None:
        """POST a notification; None when the endpoint accepted it, else why not."""
        assert self._http is not None, "use the dispatcher as an async context manager"
        headers = {
            "Content-Type": FHIR_JSON,
            SIGNATURE_HEADER: sign(subscription.secret, body),
            **headers,
        }
        try:
            # httpx's timeout bounds each read and write; the whole attempt must also end before
            # the lease does, or another dispatcher could push the same item meanwhile.
            async with asyncio.timeout(self.settings.delivery_timeout_seconds):
                status = await self._post(subscription.endpoint, body, headers)
        except (TimeoutError, httpx.TimeoutException):
            metrics.FAILURES.labels("timeout").inc()
            return "timeout"
        except httpx.HTTPError as exc:
            metrics.FAILURES.labels("connection").inc()
            return f"{type(exc).__name__}: {exc}"[:500]
        if not 200 <= status < 300:
            metrics.FAILURES.labels("http-status").inc()
            return f"HTTP {status}"
        return None

    async def _post(self, endpoint: str, body: bytes, headers: dict[str, str]) -> int:
        """POST and answer the status; the response body is not read (nothing is kept of it)."""
        assert self._http is not None
        async with self._http.stream("POST", endpoint, content=body, headers=headers) as answer:
            return answer.status_code

    async def _push(self, delivery: Delivery, subscription: Subscription) -> None:
        # Every log line of this push (the HTTP client's included) names the request that
        # caused the event; gather runs each push in a task of its own, so this stays here.
        correlation_id.set(delivery.event.request_id)
        event = delivery.event
        assert delivery.event_number is not None
        body = orjson.dumps(
            notification(
                subscription,
                kind="event-notification",
                events=[NotifiedEvent(delivery.event_number, event, delivery.receiver_id)],
                base=self._base,
                now=utcnow(),
            )
        )
        headers = {EVENT_ID_HEADER: event.id}
        if event.request_id:
            headers[REQUEST_ID_HEADER] = event.request_id
        error = await self._send(subscription, body, headers)
        now = utcnow()
        if error is None:
            state, next_at = DeliveryState.DELIVERED, None
        else:
            wait = backoff(
                delivery.attempts,
                base=self.settings.delivery_backoff_base_seconds,
                cap=self.settings.delivery_backoff_max_seconds,
                jitter=self._jitter(),
            )
            state, next_at = after_failure(
                delivery.attempts,
                max_attempts=self.settings.delivery_max_attempts,
                now=now,
                wait=wait,
            )
        async with UnitOfWork(self.engine) as uow:
            kept = await uow.outbox.finish(
                delivery.id,
                self.worker,
                state=state,
                next_attempt_at=next_at,
                error=error,
                delivered_at=now if error is None else None,
            )
            await uow.outbox.subscription_result(
                subscription.id, status_after_push(error is None), error, now
            )
            await self._endpoint_result(uow, subscription, error, now)
            if error is None and event.person_id is not None:
                await uow.access_log.append([disclosure(delivery, subscription, now)])
            await uow.commit()
        self._observe(delivery, subscription, state, error, kept)

    async def _endpoint_result(
        self, uow: UnitOfWork, subscription: Subscription, error: str | None, now: datetime
    ) -> None:
        """Move the endpoint's breaker: a success closes it, a failure counts towards opening."""
        origin = origin_of(subscription.endpoint)
        if error is None:
            await uow.breakers.succeeded(origin)
            return
        breaker = await uow.breakers.failed(
            origin,
            error,
            now=now,
            threshold=self.settings.delivery_breaker_threshold,
            cooldown=timedelta(seconds=self.settings.delivery_breaker_cooldown_seconds),
        )
        if breaker.failures == self.settings.delivery_breaker_threshold:
            metrics.BREAKERS_OPENED.inc()
            logger.warning(
                "endpoint breaker opened",
                extra={"worker": self.worker, "endpoint": origin, "error": error},
            )

    def _observe(
        self,
        delivery: Delivery,
        subscription: Subscription,
        state: DeliveryState,
        error: str | None,
        kept: bool,
    ) -> None:
        event = delivery.event
        extra = {
            "worker": self.worker,
            "delivery_id": delivery.id,
            "event_id": event.id,
            "event": event.event,
            "stream": event.stream,
            "subscription_id": subscription.id,
            "receiver_id": delivery.receiver_id,
            "attempt": delivery.attempts,
        }
        metrics.ATTEMPTS.labels("success" if error is None else "failure").inc()
        if not kept:
            logger.warning("push result not recorded: the lease was lost", extra=extra)
        if error is None:
            lag = (utcnow() - event.created_at).total_seconds()
            metrics.DELIVERY_LAG.labels(event.event).observe(max(lag, 0.0))
            logger.info("delivered", extra={**extra, "lag_seconds": round(lag, 3)})
        elif state is DeliveryState.DEAD:
            metrics.DEAD_LETTERS.inc()
            logger.error("dead letter", extra={**extra, "error": error})
        else:
            logger.warning("push failed; will retry", extra={**extra, "error": error})

    async def send_heartbeats(self, *, force: bool = False) -> int:
        """Send the heartbeats that are due (checked at most once per poll interval)."""
        loop = asyncio.get_running_loop()
        if (
            not force
            and loop.time() - self._heartbeats_checked < self.settings.dispatcher_poll_seconds
        ):
            return 0
        self._heartbeats_checked = loop.time()
        now = utcnow()
        async with UnitOfWork(self.engine) as uow:
            due = await uow.outbox.due_heartbeats(now)
            mine = [s for s in due if await uow.outbox.claim_heartbeat(s, now)]
            await uow.commit()
        for subscription in mine:
            body = orjson.dumps(
                notification(subscription, kind="heartbeat", events=[], base=self._base, now=now)
            )
            error = await self._send(subscription, body, {})
            metrics.HEARTBEATS.labels("success" if error is None else "failure").inc()
            async with UnitOfWork(self.engine) as uow:
                await uow.outbox.subscription_result(
                    subscription.id, status_after_push(error is None), error, utcnow()
                )
                await self._endpoint_result(uow, subscription, error, utcnow())
                await uow.commit()
            logger.info(
                "heartbeat",
                extra={"worker": self.worker, "subscription_id": subscription.id, "error": error},
            )
        return len(mine)
