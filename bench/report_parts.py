"""Region Kalmar's monthly liability reports in process, by the API's own parts and renderers.

``python -m bench.report_parts`` reads the 12 reports of ``BENCH_REPORT_MONTH`` (YYYY-MM,
default the current month) as of ``BENCH_REPORT_AS_OF`` (ISO instant, default now), JSON and
CSV, from ``BENCH_DATABASE_URL`` in parts of ``BENCH_REPORT_PART`` rows (default the API's
2 000), as a Region Kalmar principal-level client, and prints the wall and CPU seconds, a
digest of every body and a digest of the access-log rows the reads wrote (by request id).

The digests make a before/after comparison: two runs of the same month, ``as_of`` and data give
the same digests whatever the part size and whatever the code, if the report is unchanged. It
writes access-log rows (one per reported row): run it on a copy of a benchmark database, not on
one other people use.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import text

from app.api.v1 import liability as api
from app.security.access import Actor
from app.services import liability as service
from app.services.liability_config import read_liability_config
from app.services.liability_rules import LiabilityRules
from app.settings import Settings
from app.store.database import create_engine
from app.store.unit_of_work import UnitOfWork
from bench.generator import KALMAR_MUNICIPALITIES


async def main() -> None:
    url = os.environ["BENCH_DATABASE_URL"]
    part = int(os.environ.get("BENCH_REPORT_PART", str(api.REPORT_PART)))
    as_of = datetime.fromisoformat(
        os.environ.get("BENCH_REPORT_AS_OF", datetime.now(UTC).isoformat())
    )
    year, month = map(int, os.environ.get("BENCH_REPORT_MONTH", as_of.strftime("%Y-%m")).split("-"))
    run = uuid.uuid4().hex[:12]
    engine = create_engine(url)
    rules = LiabilityRules(read_liability_config(Settings().liability_config_file))
    bodies = hashlib.sha256()
    cpu, wall = time.process_time(), time.perf_counter()
    for municipality in KALMAR_MUNICIPALITIES:
        for form in ("json", "csv"):
            actor = Actor(
                "bench-report",
                "region-kalmar",
                "region-kalmar",
                frozenset({"system/*.*"}),
                request_id=f"report-parts-{run}-{municipality}-{form}",
            )
            async with UnitOfWork(engine, reads_only=True) as uow:
                scope = await service.report_scope(
                    uow, actor, municipality, year, month, rules, as_of=as_of
                )
            parts = api._parts(engine, actor, scope, part)
            sent = (
                api._report_json(parts, scope) if form == "json" else api._report_csv(parts, scope)
            )
            async for chunk in sent:
                bodies.update(chunk)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    async with engine.connect() as conn:
        logged = (
            await conn.execute(
                text(
                    "SELECT request_id, resource_id, person_id, action, outcome FROM access_log "
                    "WHERE request_id LIKE :run ORDER BY id"
                ),
                {"run": f"report-parts-{run}-%"},
            )
        ).all()
    log = hashlib.sha256(
        repr([(r[0].removeprefix(f"report-parts-{run}-"), *r[1:]) for r in logged]).encode()
    )
    print(
        f"{year:04d}-{month:02d} as of {as_of.isoformat()}, parts of {part}: {wall:.2f} s wall, "
        f"{cpu:.2f} s CPU; bodies {bodies.hexdigest()[:16]}, "
        f"{len(logged)} access-log rows {log.hexdigest()[:16]}"
    )
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
