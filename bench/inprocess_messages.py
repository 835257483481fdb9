"""``$process-message`` in process: the CPU time one discharge-ready message costs.

``python -m bench.inprocess_messages`` loads a small database (``BENCH_INPROCESS_PERSONS``,
default 2000, as ``samverkan_inprocess_messages`` on ``BENCH_DATABASE_URL``'s server, dropped
at the end), starts the application in this process as production runs it, and posts
discharge-ready message Bundles (bench/run.py's ``discharge_ready_messages``) one after another
through an ASGI transport. It prints messages per second and the CPU time of this process per
message: the Python of the message without the waiting for PostgreSQL, steadier than wrk's rate
on a shared machine. With ``BENCH_INPROCESS_PROFILE=<file>`` the messages run under cProfile.
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
).set(database="samverkan_inprocess_messages")
os.environ["BENCH_DATABASE_URL"] = URL.render_as_string(False)

from bench import run  # noqa: E402  (reads BENCH_DATABASE_URL when imported)

PERSONS = int(os.environ.get("BENCH_INPROCESS_PERSONS", "2000"))
WARMUP = 20
BASE = "http://testserver"


async def _drop() -> None:
    admin = create_engine(URL.set(database="postgres").render_as_string(False), pool_size=1)
    async with admin.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{URL.database}" WITH (FORCE)'))
    await admin.dispose()


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

    bodies = run.discharge_ready_messages(made.planning_episode_ids)
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
            http.headers["Content-Type"] = "application/fhir+json"
            for body in bodies[:WARMUP]:
                assert (await http.post("/fhir/$process-message", content=body)).is_success
            measured = bodies[WARMUP:]
            profile_to = os.environ.get("BENCH_INPROCESS_PROFILE")
            profiler = cProfile.Profile() if profile_to else None
            if profiler is not None:
                profiler.enable()
            started, cpu = time.perf_counter(), time.process_time()
            for body in measured:
                response = await http.post("/fhir/$process-message", content=body)
                assert response.is_success, response.text
            cpu_ms = (time.process_time() - cpu) * 1000 / len(measured)
            per_second = len(measured) / (time.perf_counter() - started)
            if profiler is not None and profile_to:
                profiler.disable()
                profiler.dump_stats(Path(profile_to))
            print(
                f"$process-message: {len(measured)} messages, {per_second:,.0f}/s "
                f"({cpu_ms:.2f} ms CPU a message in this process)"
            )


if __name__ == "__main__":
    try:
        asyncio.run(main())
    finally:
        if os.environ.get("BENCH_KEEP") != "1":
            asyncio.run(_drop())
