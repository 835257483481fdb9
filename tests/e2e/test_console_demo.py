"""The demo patients `make run` loads: made through the services, shown on the console's pages."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from app.services.demo_flow import MUNICIPALITY, WARD, seed_demo_flow
from app.store.unit_of_work import UnitOfWork
from tests.conftest import ClientFor
from tests.console.scenario import sign_in

# Committing on PostgreSQL: it reads the outbox, whose readers pass only rows of transactions
# older than every running one, which a rolled-back test's own transaction never is.
pytestmark = pytest.mark.committing("postgresql")


async def test_the_demo_patients_fill_the_console(
    app_engine: tuple[FastAPI, AsyncEngine], engine: AsyncEngine, client_for: ClientFor
) -> None:
    app, _ = app_engine
    async with UnitOfWork(engine) as uow:
        now, liability = datetime.now(UTC), app.state.liability.config
        assert await seed_demo_flow(uow, now=now, liability=liability) == 4
        await uow.commit()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        assert (await sign_in(http, MUNICIPALITY, "planner")).status_code == 303
        worklist = (await http.get("/console/worklist")).text
        for name in ("Greta Lindqvist", "Sven Berg", "Ingrid Nilsson", "PROTECTED", "Protected"):
            assert name in worklist or name.lower() in worklist.lower(), name
        assert "Sandberg" not in worklist
        assert "Hemgång på fredag" not in worklist  # the inbox lists events, not message texts
        assert worklist.count('action="/console/inbox/') >= 5
        plans = (await http.get("/console/plans")).text
        assert "SIP Greta Lindqvist" in plans and "10 days" in plans
        assert "Medication list missing" in (await http.get("/console/deviations")).text
        # The invoice basis downloads as the API serves it, to the byte.
        month = f"{datetime.now(UTC):%Y-%m}"
        csv = await http.get(f"/console/liability.csv?month={month}")
        assert csv.headers["content-type"] == "text/csv; charset=utf-8"
        assert "Greta Lindqvist" in csv.text
        api = await (await client_for(MUNICIPALITY)).get(
            f"/api/v1/liability/reports/{MUNICIPALITY}/{month}?format=csv"
        )
        assert csv.content == api.content
        hospital = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")
        async with hospital:
            assert (await sign_in(hospital, WARD, "planner")).status_code == 303
            ward = (await hospital.get("/console/worklist")).text
            assert "Greta Lindqvist" in ward and "running" in ward
