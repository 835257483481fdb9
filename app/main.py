"""Application factory: wires routers, middleware, error handlers and the database."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline

from app.api import auth, health, metrics, openapi
from app.api.v1 import (
    access_log,
    admin,
    care_messages,
    dead_letters,
    deviations,
    documents,
    episodes,
    inbox,
    liability,
    meetings,
    notice_boards,
    organizations,
    persons,
    plans,
    staff,
    statistics,
    statistics_records,
    subscriptions,
)
from app.delivery.dispatcher import Dispatcher
from app.domain.values import InstantBounds, set_instant_bounds
from app.fhir import openapi as fhir_openapi
from app.fhir import outcome
from app.fhir import routes as fhir_routes
from app.fhir import subscriptions as fhir_subscriptions
from app.fhir.fast_read import FastRead
from app.fhir.negotiation import FhirNegotiation
from app.fhir.operations import evaluate_measure, status
from app.http import errors
from app.http.allow import allowed_methods
from app.http.deps import REQUEST_ID_HEADER, valid_request_id
from app.http.edge import NulGuard
from app.http.routing import BodySizeLimit
from app.security.rate_limit import RateLimiter
from app.security.revocation import RevocationList
from app.security.tokens import SigningKey, VerifiedTokens
from app.services import deviation_rules, statistics_compaction
from app.services.access_writer import AccessLogWriter
from app.services.liability_config import read_liability_config
from app.services.liability_rules import LiabilityRules
from app.settings import Environment, Settings, get_settings
from app.store.database import create_engine, head_revision
from app.store.unit_of_work import UnitOfWork
from app.web import install as install_console
from app.wiring import wire

logger = logging.getLogger(__name__)

DESCRIPTION = """\
Samverkan carries the messages of coordinated care between Swedish regions, Norwegian health
trusts and municipalities: admission and discharge-ready notices, the municipality's payment
liability for discharge-ready patients, and the reports built on them.

Every endpoint except the probes, discovery documents and `POST /auth/token` needs a bearer
access token: register a client with its public keys, then exchange a signed client assertion
for a token at `/auth/token` (SMART Backend Services; see `/.well-known/smart-configuration`).
Access follows the record: an organization sees a record (an episode, plan, meeting, care
message, deviation) only while it is a party to it, at the grain of its client (a unit's client
its unit's records; a principal's client those of its units, narrowed by `X-Samverkan-Unit`),
and a person's record while it is a party to any record about them; to anyone else such an id
answers 404. Every access to personal data is logged.

Errors are `application/problem+json` (RFC 9457); `errors[].field` names the element at fault.
Lists are paginated with `limit` and `cursor` (follow `next`). POSTs accept an `Idempotency-Key`
header: the same key with the same body returns the first response again (marked
`Idempotent-Replayed: true`); the same key with another body is refused with 422.
"""


def _operation_id(route: APIRoute) -> str:
    return route.name


_frozen = False


def _freeze_start_up() -> None:
    """Put what start-up built (modules, models, schemas, the OpenAPI document: it lives as
    long as the process) out of the garbage collector's reach, once per process.

    A collection of the oldest generation walks every object that survived the younger ones.
    A request that makes tens of thousands of objects (a monthly report's rows) sets off a few,
    and each walked the whole start-up heap: a profile of Region Kalmar's twelve reports at
    100 000 persons spent 0.35-0.6 s of 1.4-2.7 s in the collector, 0.05 s once frozen
    (issue 20). Once per process: a test run that builds many applications would otherwise
    freeze, and so never collect, the garbage of the earlier ones.
    """
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the ASGI application for ``settings`` (default: from the environment)."""
    settings = settings or get_settings()
    wire()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = create_engine(
            settings.database_url, pool_size=settings.database_pool_size
        )
        app.state.access_writer = (
            AccessLogWriter(app.state.engine)
            if app.state.engine.dialect.name == "postgresql"
            else None
        )
        async with UnitOfWork(app.state.engine) as uow:
            await app.state.liability.start(uow, now=datetime.now(UTC))
            await uow.commit()
        # The OpenAPI document, and the Allow table every FHIR request's 405 check reads from
        # it, are built now rather than by the first requests (a profile under load showed
        # each worker's first seconds spent building them).
        allowed_methods(app, "/")
        _freeze_start_up()
        # `samverkan serve` runs on uvloop and httptools (issue 20); the log says which loop.
        logger.info(
            "application started",
            extra={"event_loop": type(asyncio.get_running_loop()).__module__},
        )
        stop = asyncio.Event()
        running: list[asyncio.Task[None]] = []
        if settings.dispatcher_enabled:
            running.append(asyncio.create_task(_dispatch(app, stop), name="dispatcher"))
            running.append(
                asyncio.create_task(
                    deviation_rules.run(
                        app.state.engine, settings.deviation_rules_interval_seconds, stop
                    ),
                    name="deviation-rules",
                )
            )
            running.append(
                asyncio.create_task(
                    statistics_compaction.run(
                        app.state.engine, settings.statistics_compact_interval_seconds, stop
                    ),
                    name="statistics-compaction",
                )
            )
        try:
            yield
        finally:
            stop.set()
            for task in running:
                await task
            if app.state.access_writer is not None:
                await app.state.access_writer.close()
            await app.state.engine.dispose()

    # The API reference pages load Swagger UI and ReDoc from the installed package, not a CDN.
    app = FastAPIOffline(
        title="Samverkan",
        version="0.1.0",
        summary="Open, FHIR-native integration service for coordinated care",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        license_info={"name": "Apache-2.0", "identifier": "Apache-2.0"},
        # The service exports no OpenTelemetry; with it on, FastAPI looks up the global tracer,
        # meter and logger providers (os.environ) on every request: 4 % of a read's CPU.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    set_instant_bounds(InstantBounds(settings.instant_min_year, settings.instant_max_year))
    app.state.liability = LiabilityRules(read_liability_config(settings.liability_config_file))
    app.state.head_revision = head_revision()
    # Production must be given its key; elsewhere one is made under var/ on first start.
    app.state.signing_key = SigningKey.load_or_create(
        settings.signing_key_file, create=settings.environment is not Environment.PRODUCTION
    )
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
    app.state.principal_cache = {}
    app.state.verified_tokens = VerifiedTokens()
    app.state.revocations = RevocationList(
        timedelta(seconds=settings.token_revocation_cache_seconds),
        timedelta(seconds=settings.access_token_max_lifetime_seconds),
    )
    errors.install(app, outcome.reshape)
    openapi.install(app, [fhir_openapi.declare])
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        document_bytes=settings.document_body_bytes,
        carries_documents=documents.carries_documents,
    )
    # 406 under /fhir for a format or FHIR version not served, before any route answers in JSON.
    app.add_middleware(FhirNegotiation)
    app.add_middleware(NulGuard, reshape=outcome.reshape)
    # The hot read of a stored projection, answered here when it can be served as it is (it
    # checks what the two middlewares above would refuse, and passes such a request on to them);
    # everything else goes on unchanged.
    app.add_middleware(FastRead)
    # Outermost, so that every log line of the request (uvicorn's access line included) and the
    # response itself carry the id; a client's own id is kept when it is well-formed.
    app.add_middleware(
        CorrelationIdMiddleware,
        header_name=REQUEST_ID_HEADER,
        update_request_header=False,
        validator=valid_request_id,
    )
    app.include_router(health.api)
    app.include_router(auth.api)
    app.include_router(metrics.api)
    # Before the generic FHIR routes, whose /fhir/{resource_type} would otherwise take these.
    app.include_router(fhir_subscriptions.api)
    app.include_router(status.api)
    app.include_router(evaluate_measure.api)
    app.include_router(fhir_routes.api)
    for module in (
        organizations,
        persons,
        episodes,
        liability,
        plans,
        meetings,
        care_messages,
        deviations,
        documents,
        notice_boards,
        statistics,
        statistics_records,
        staff,
        access_log,
        admin,
    ):
        app.include_router(module.api)
    for module in (inbox, subscriptions, dead_letters):
        app.include_router(module.api)
    install_console(app, settings)
    return app


async def _dispatch(app: FastAPI, stop: asyncio.Event) -> None:
    """The in-process dispatcher of `samverkan serve`, on the application's engine."""
    async with Dispatcher(app.state.engine, app.state.settings) as dispatcher:
        await dispatcher.run(stop)


def __getattr__(name: str) -> FastAPI:
    # `uvicorn app.main:app` builds the app on first access, so importing this module (for the
    # factory, in tests) reads no environment.
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)
