"""The reference: the smallest app that does what a Samverkan read must do, measured beside the
ceiling so the ratio to the physical limit of the design is visible in every run.

One asyncpg pool, uvloop and httptools (as the service runs), no ORM, no mapping. Two reads of
the same stored CarePlan document:

- ``/reference/fhir/CarePlan/{id}``: one statement, the plan and the caller's party check (an
  ``EXISTS`` on the record-parties key);
- ``/reference-logged/fhir/CarePlan/{id}``: the same statement also appending the access-log row
  in a data-modifying CTE, so each read commits (and flushes the WAL), as the service must.

What the service adds on top of the second (token verification, the actor, the FHIR mapping,
the unit of work) is the gap between its read row and this one.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from starlette.responses import Response

PRINCIPAL = os.environ.get("REFERENCE_PRINCIPAL", "region-kalmar")
CLIENT = os.environ.get("REFERENCE_CLIENT", "bench-region-kalmar")

READ = """
SELECT p.document::text AS body
FROM plans p
WHERE p.id = $1 AND EXISTS (
    SELECT 1 FROM record_parties r
    WHERE r.principal_id = $2 AND r.record_type = 'plan' AND r.record_id = p.id
)
"""

READ_LOGGED = """
WITH found AS (
    SELECT p.document::text AS body, p.person_id
    FROM plans p
    WHERE p.id = $1 AND EXISTS (
        SELECT 1 FROM record_parties r
        WHERE r.principal_id = $2 AND r.record_type = 'plan' AND r.record_id = p.id
    )
), logged AS (
    INSERT INTO access_log (at, client_id, organization_id, principal_id, action,
                            resource_type, resource_id, person_id, outcome, purpose)
    SELECT now(), $3, $2, $2, 'read', 'CarePlan', $1, person_id, 'success', 'care'
    FROM found
    RETURNING 1
)
SELECT body FROM found
"""


def _dsn() -> str:
    url = make_url(
        os.environ.get(
            "BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/samverkan_bench"
        )
    )
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(_dsn(), min_size=4, max_size=16)
    yield
    await app.state.pool.close()


app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan)


def _answer(row: Any) -> Response:
    if row is None:
        return Response(b'{"resourceType":"OperationOutcome"}', status_code=404)
    return Response(row["body"].encode(), media_type="application/fhir+json")


@app.get("/reference/fhir/CarePlan/{plan_id}")
async def read(plan_id: str) -> Response:
    """The plan's stored document, if the caller's principal is a party to it."""
    async with app.state.pool.acquire() as conn:
        return _answer(await conn.fetchrow(READ, plan_id, PRINCIPAL))


@app.get("/reference-logged/fhir/CarePlan/{plan_id}")
async def read_logged(plan_id: str) -> Response:
    """The same, appending the access-log row in the same statement."""
    async with app.state.pool.acquire() as conn:
        return _answer(await conn.fetchrow(READ_LOGGED, plan_id, PRINCIPAL, CLIENT))
