"""FHIR reads in process: how long one read takes without HTTP, wrk or a second worker.

``python -m bench.inprocess`` loads a small database (``BENCH_INPROCESS_PERSONS``, default 300,
into ``BENCH_DATABASE_URL``'s server as ``samverkan_inprocess``, dropped at the end), starts the
application in this process as production runs it, and reads CarePlans, Encounters and Patients
through an ASGI transport, one after another: reads per second for each type, and the CPU
time this process spent per read. With
``BENCH_INPROCESS_PROFILE=<file>`` the reads run under cProfile and the statistics are written
to that file (``python -m pstats <file>``). It measures the Python of a read (dependencies, the
statement through SQLAlchemy, mapping, serializing) on a loaded machine better than wrk does.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import time
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
).set(database="samverkan_inprocess")
os.environ["BENCH_DATABASE_URL"] = URL.render_as_string(False)

from bench import run  # noqa: E402  (reads BENCH_DATABASE_URL when imported)

READS = int(os.environ.get("BENCH_INPROCESS_READS", "400"))
PERSONS = int(os.environ.get("BENCH_INPROCESS_PERSONS", "300"))
BASE = "http://testserver"


async def _drop() -> None:
    admin = create_engine(URL.set(database="postgres").render_as_string(False), pool_size=1)
    async with admin.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{URL.database}" WITH (FORCE)'))
    await admin.dispose()


async def _reads(http: httpx.AsyncClient, paths: list[str]) -> tuple[float, float]:
    """Reads per second over ``READS`` reads cycling through ``paths``, and the CPU time of
    this process per read in ms (the Python of the read and of the client, without the time
    spent waiting for PostgreSQL: steadier than the rate on a shared machine)."""
    for path in paths[:20]:
        assert (await http.get(path)).status_code == 200
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(READS):
        response = await http.get(paths[i % len(paths)])
        assert response.status_code == 200, response.text
    cpu_ms = (time.process_time() - cpu) * 1000 / READS
    return READS / (time.perf_counter() - started), cpu_ms


async def main() -> None:
    made, client_id, pem, kid = await run.prepare_database(PERSONS)
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
            workloads = {
                "CarePlan": [f"/fhir/CarePlan/{i}" for i in made.plan_ids],
                "Encounter": [f"/fhir/Encounter/{i}" for i in made.episode_ids],
                "Patient": [f"/fhir/Patient/{i}" for i in made.person_ids],
            }
            profile_to = os.environ.get("BENCH_INPROCESS_PROFILE")
            profiler = cProfile.Profile() if profile_to else None
            for name, paths in workloads.items():
                if profiler is not None:
                    profiler.enable()
                per_second, cpu_ms = await _reads(http, paths)
                if profiler is not None:
                    profiler.disable()
                print(
                    f"read {name}: {per_second:,.0f}/s ({1000 / per_second:.2f} ms a read, "
                    f"{cpu_ms:.2f} ms CPU in this process)"
                )
            if profiler is not None and profile_to:
                profiler.dump_stats(Path(profile_to))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    finally:
        asyncio.run(_drop())
