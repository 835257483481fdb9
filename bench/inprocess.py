"""The hot requests in process: how much CPU one costs without HTTP, wrk or a second worker.

``python -m bench.inprocess`` loads a small database (``BENCH_INPROCESS_PERSONS``, default 300,
into ``BENCH_DATABASE_URL``'s server as ``BENCH_INPROCESS_DATABASE``, default
``samverkan_inprocess``, dropped at the end unless ``BENCH_KEEP=1``), starts the application
in this process as production runs it, and reads CarePlans, Encounters and Patients through an
ASGI transport, one after another: reads per second for each type, and the CPU time this
process spent per read.

``python -m bench.inprocess lists`` pages the two lists the benchmark searches (default 2 000
persons): the discharge-ready list of each of Region Kalmar's municipalities
(``/api/v1/episodes?municipality_id=…&state=discharge-ready&limit=50``) and
``/fhir/CarePlan?patient=…&status=active``, as bench/run.py does: pages per second and the CPU
time per page (``BENCH_INPROCESS_ONLY=<part of a name>`` pages only the lists it names, e.g.
``careplan``).

``python -m bench.inprocess messages`` does the same for ``$process-message`` (default 2 000
persons): it posts discharge-ready message Bundles (bench/run.py's
``discharge_ready_messages``) one after another and prints messages per second and the CPU time
per message.

``python -m bench.inprocess transactions`` posts transaction Bundles (bench/run.py's
``transaction_bundles``): of one Patient, as the mixed workload writes, then of 100 Patients, as
the transaction workload does, and prints Bundles per second and the CPU time per resource.

With ``BENCH_INPROCESS_PROFILE=<file>`` the measured requests run under cProfile and the
statistics are written to that file (``python -m pstats <file>``). It measures the Python of a
request (dependencies, statements through SQLAlchemy, mapping, serializing; and the in-process
client's) on a loaded machine better than wrk does: the CPU time leaves out the waiting for
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.security.assertions import make_client_assertion
from app.security.clients import ASSERTION_TYPE
from app.security.tokens import SigningKey
from app.store.database import create_engine

URL = make_url(
    os.environ.get(
        "BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/samverkan_bench"
    )
).set(database=os.environ.get("BENCH_INPROCESS_DATABASE", "samverkan_inprocess"))
os.environ["BENCH_DATABASE_URL"] = URL.render_as_string(False)

from bench import run  # noqa: E402  (reads BENCH_DATABASE_URL when imported)
from bench.generator import KALMAR_MUNICIPALITIES, Generated  # noqa: E402

READS = int(os.environ.get("BENCH_INPROCESS_READS", "400"))
WARMUP = 20
BASE = "http://testserver"
PROFILER = cProfile.Profile() if os.environ.get("BENCH_INPROCESS_PROFILE") else None


async def _drop() -> None:
    admin = create_engine(URL.set(database="postgres").render_as_string(False), pool_size=1)
    async with admin.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{URL.database}" WITH (FORCE)'))
    await admin.dispose()


@asynccontextmanager
async def started(persons: int) -> AsyncIterator[tuple[Generated, httpx.AsyncClient]]:
    """A loaded database (``BENCH_INPROCESS_PERSONS``, else ``persons``), the application on it
    as production runs it, and a client holding a token of the benchmark's Region Kalmar
    client."""
    persons = int(os.environ.get("BENCH_INPROCESS_PERSONS", persons))
    made, client_id, pem, kid = await run.prepare_database(persons)
    key_file = run.VAR / "inprocess-signing-key.pem"
    run.VAR.mkdir(parents=True, exist_ok=True)
    key_file.write_bytes(SigningKey.generate().to_pem())
    os.environ.update(
        {
            "SAMVERKAN_ENVIRONMENT": "production",
            "SAMVERKAN_DATABASE_URL": URL.render_as_string(False),
            "SAMVERKAN_PUBLIC_BASE_URL": BASE,
            "SAMVERKAN_SIGNING_KEY_FILE": str(key_file),
            "SAMVERKAN_ACCESS_TOKEN_LIFETIME_SECONDS": "3600",
            "SAMVERKAN_RATE_LIMIT_PER_MINUTE": "100000000",
            "SAMVERKAN_REQUIRE_ACTING_UNIT": "false",
        }
    )
    from app.main import create_app  # after the environment is set

    app = create_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            assertion = make_client_assertion(
                pem,
                kid=kid,
                alg="ES384",
                client_id=client_id,
                token_endpoint=f"{BASE}/auth/token",
                now=datetime.now(UTC),
            )
            token = (
                await http.post(
                    "/auth/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_assertion_type": ASSERTION_TYPE,
                        "client_assertion": assertion,
                    },
                )
            ).json()["access_token"]
            http.headers["Authorization"] = f"Bearer {token}"
            yield made, http


async def measured(
    count: int,
    send: Callable[[int], Awaitable[httpx.Response]],
    line: str,
    *,
    per: int = 1,
    **values: object,
) -> None:
    """Send ``count`` requests (``send(i)``, after ``WARMUP`` not counted; each must succeed)
    and print ``line`` with the figures: ``count``, ``per_second``, ``ms`` (the time of a
    request), ``cpu_ms`` (the CPU time of this process a request, or a ``per``-th of it) and
    ``values``. One loop for every mode, so that each measures alike. Under cProfile with
    ``BENCH_INPROCESS_PROFILE`` (the statistics of every call so far are written there)."""

    async def request(i: int) -> None:
        response = await send(i)
        assert response.is_success, response.text

    for i in range(WARMUP):
        await request(i)
    profiler = PROFILER
    if profiler is not None:
        profiler.enable()
    started_at, cpu = time.perf_counter(), time.process_time()
    for i in range(WARMUP, WARMUP + count):
        await request(i)
    cpu_ms = (time.process_time() - cpu) * 1000 / count / per
    per_second = count / (time.perf_counter() - started_at)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(Path(os.environ["BENCH_INPROCESS_PROFILE"]))
    figures = {"count": count, "per_second": per_second, "ms": 1000 / per_second, "cpu_ms": cpu_ms}
    print(line.format(**figures, **values))


async def gets(http: httpx.AsyncClient, workloads: dict[str, list[str]], line: str) -> None:
    """``READS`` GETs of each workload's paths in turn, measured and printed as ``line`` names
    them (``name`` the workload's)."""
    for name, paths in workloads.items():

        async def get(i: int, paths: list[str] = paths) -> httpx.Response:
            return await http.get(paths[i % len(paths)])

        await measured(READS, get, line, name=name)


async def reads() -> None:
    async with started(300) as (made, http):
        workloads = {
            "CarePlan": [f"/fhir/CarePlan/{i}" for i in made.plan_ids],
            "Encounter": [f"/fhir/Encounter/{i}" for i in made.episode_ids],
            "Patient": [f"/fhir/Patient/{i}" for i in made.person_ids],
        }
        await gets(
            http,
            workloads,
            "read {name}: {per_second:,.0f}/s ({ms:.2f} ms a read, "
            "{cpu_ms:.2f} ms CPU in this process)",
        )


async def messages() -> None:
    async with started(2000) as (made, http):
        bodies = run.discharge_ready_messages(made.planning_episode_ids)
        http.headers["Content-Type"] = "application/fhir+json"

        async def post(i: int) -> httpx.Response:
            return await http.post("/fhir/$process-message", content=bodies[i])

        await measured(
            len(bodies) - WARMUP,
            post,
            "$process-message: {count} messages, {per_second:,.0f}/s "
            "({cpu_ms:.2f} ms CPU a message in this process)",
        )


async def transactions() -> None:
    async with started(300) as (_made, http):
        http.headers["Content-Type"] = "application/fhir+json"
        for size, count in ((1, READS), (100, max(READS // 40, 5))):
            bodies = run.transaction_bundles(WARMUP + count, size=size, seed=size)

            async def post(i: int, bodies: list[str] = bodies) -> httpx.Response:
                return await http.post("/fhir", content=bodies[i])

            await measured(
                count,
                post,
                "transaction of {size}: {count} Bundles, {per_second:,.1f}/s "
                "({cpu_ms:.2f} ms CPU a resource in this process)",
                per=size,
                size=size,
            )


async def lists() -> None:
    async with started(2000) as (made, http):
        workloads = {
            "discharge-ready list": [
                f"/api/v1/episodes?municipality_id={m}&state=discharge-ready&limit=50"
                for m in KALMAR_MUNICIPALITIES
            ],
            "CarePlan?patient&status": [
                f"/fhir/CarePlan?patient={p}&status=active" for p in made.person_ids
            ],
        }
        only = os.environ.get("BENCH_INPROCESS_ONLY", "").lower()
        await gets(
            http,
            {name: paths for name, paths in workloads.items() if only in name.lower()},
            "{name}: {per_second:,.0f} pages/s ({ms:.2f} ms a page, "
            "{cpu_ms:.2f} ms CPU in this process)",
        )


MODES = {"reads": reads, "messages": messages, "transactions": transactions, "lists": lists}

if __name__ == "__main__":
    try:
        asyncio.run(MODES[sys.argv[1] if sys.argv[1:] else "reads"]())
    finally:
        if os.environ.get("BENCH_KEEP") != "1":
            asyncio.run(_drop())
