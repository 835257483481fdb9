"""Every read on PostgreSQL logs through the grouped writer (app/services/access_writer.py).

Concurrent reads of different kinds (a FHIR search, a REST list, FHIR reads, the fast CarePlan
read) share the writer's inserts, every one of their entries is in the log, a refused read is
logged as refused, and a read whose batch fails sends nothing of its record: a 500 problem (an
OperationOutcome under /fhir), its entries logged as failed. An application with an engine of
its own (``counted``), unpinned, as production runs it; SQLite has no writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.access_log import AccessEntry
from app.services.access_writer import AccessLogWriter
from app.store import tables as t
from tests.conftest import ClientFor, Tokens
from tests.e2e.test_fhir_messaging import admit_by_message
from tests.e2e.test_plan_rules import shared_plan
from tests.e2e.test_plan_scenarios import register
from tests.factories import an_access_entry
from tests.integration.test_statement_counts import (
    FHIR,
    Counter,
    counted,
    discharge_ready,
    logged_reads,
)

# Committing: the application's own engine, unpinned, so that its writer runs as in production.
pytestmark = pytest.mark.committing

__all__ = ["counted"]  # the fixture, shared with the statement counts


@dataclass
class Scene:
    """A person of Kalmar's health centre with a plan shared with the hospital, an episode at
    the hospital (by message), the counted application's writer, and clients of the centre
    and the hospital on that application; ``open`` gives one of any other organization."""

    writer: AccessLogWriter
    person: dict[str, Any]
    plan: dict[str, Any]
    episode_id: str
    at_centre: httpx.AsyncClient
    at_hospital: httpx.AsyncClient
    open: Callable[[str], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def scene(
    counted: tuple[FastAPI, Counter], tokens: Tokens, client_for: ClientFor
) -> AsyncIterator[Scene]:
    """The records both tests read, made through the test client; the reads go to the counted
    application, whose grouped writer logs them as in production (PostgreSQL only)."""
    app, _counter = counted
    writer = app.state.access_writer
    if writer is None:
        pytest.skip("the grouped writer serves PostgreSQL (SQLite logs by the request's commit)")
    assert isinstance(writer, AccessLogWriter)
    centre = await client_for("region-kalmar-hc-kalmar")
    person = await register(centre, "Samläst", date(1950, 1, 1))
    plan = await shared_plan(centre, person["id"])
    episode_id, _admitted = await admit_by_message(await client_for("region-kalmar"))
    async with contextlib.AsyncExitStack() as opened:

        async def open_client(organization_id: str) -> httpx.AsyncClient:
            return await opened.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url="http://testserver",
                    headers={"Authorization": f"Bearer {await tokens.get(organization_id)}"},
                )
            )

        yield Scene(
            writer,
            person,
            plan,
            episode_id,
            await open_client("region-kalmar-hc-kalmar"),
            await open_client("region-kalmar"),
            open_client,
        )


async def test_concurrent_reads_of_every_kind_share_the_writers_inserts(
    scene: Scene, client_for: ClientFor, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, person, plan, episode_id = scene.writer, scene.person, scene.plan, scene.episode_id
    at_centre, at_hospital = scene.at_centre, scene.at_hospital
    ready = await (await client_for("region-kalmar")).post(
        "/fhir/$process-message", json=discharge_ready(episode_id), headers=FHIR
    )
    assert ready.status_code == 200, ready.text
    municipality = await scene.open("kommun-0880")
    stranger = await scene.open("region-norrbotten")
    reads: list[tuple[httpx.AsyncClient, str, int]] = [
        (at_centre, f"/fhir/CarePlan/{plan['id']}", 200),  # the fast read
        (at_centre, f"/fhir/Patient/{person['id']}", 200),
        (at_centre, f"/fhir/CarePlan?patient={person['id']}", 200),
        (at_centre, "/fhir/Patient?_count=5", 200),
        (at_hospital, f"/fhir/Encounter/{episode_id}", 200),
        (at_hospital, f"/api/v1/episodes/{episode_id}", 200),
        (
            municipality,
            "/api/v1/episodes?municipality_id=kommun-0880&state=discharge-ready&limit=5",
            200,
        ),
        (stranger, f"/fhir/CarePlan/{plan['id']}", 404),  # refused: logged as refused
    ]
    reads = reads * 2
    served = sum(1 for _c, _p, status in reads if status == 200)
    # The first batch waits until every served read has handed its entries to the writer
    # (or 10 s), so that the reads meet in the writer whatever the machine's speed.
    handed = 0
    all_handed = asyncio.Event()
    write, insert = writer.write, writer._insert

    async def counted_write(entries: Sequence[AccessEntry]) -> None:
        nonlocal handed
        handed += 1
        if handed == served:
            all_handed.set()
        await write(entries)

    async def held_insert(entries: Sequence[AccessEntry]) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_handed.wait(), 10)
        await insert(entries)

    monkeypatch.setattr(writer, "write", counted_write)
    monkeypatch.setattr(writer, "_insert", held_insert)
    inserts, entries = writer.inserts, writer.entries
    ids = [uuid.uuid4().hex for _ in reads]
    responses = await asyncio.gather(
        *(
            who.get(path, headers={"X-Request-ID": request_id})
            for (who, path, _status), request_id in zip(reads, ids, strict=True)
        )
    )
    assert [r.status_code for r in responses] == [s for _c, _p, s in reads], [
        r.text for r in responses
    ]
    assert handed == served
    # Fewer inserts than reads: the first read's batch, then all the others together.
    assert 1 <= writer.inserts - inserts < served, writer.inserts - inserts
    logged = {request_id: await logged_reads(engine, request_id) for request_id in ids}
    # Every served read's entries are in the log, written by the writer, as successes.
    for (_who, path, status), request_id in zip(reads, ids, strict=True):
        rows = logged[request_id]
        assert rows, f"GET {path} was not logged"
        outcomes = {outcome for *_rest, outcome in rows}
        assert outcomes == ({"success"} if status == 200 else {"denied"}), (path, rows)
    assert writer.entries - entries == sum(
        len(logged[request_id])
        for (_w, _p, status), request_id in zip(reads, ids, strict=True)
        if status == 200
    )
    # The search of a page logs each resource on it.
    search = ids[reads.index((at_centre, "/fhir/Patient?_count=5", 200))]
    page = responses[ids.index(search)].json()
    assert sorted(row[2] for row in logged[search]) == sorted(
        e["resource"]["id"] for e in page["entry"]
    )


async def test_a_read_whose_batch_fails_sends_nothing_and_is_logged_as_failed(
    scene: Scene, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, person, plan, episode_id = scene.writer, scene.person, scene.plan, scene.episode_id
    at_centre, at_hospital = scene.at_centre, scene.at_hospital

    async def failing(_entries: Sequence[AccessEntry]) -> None:
        raise DBAPIError("INSERT INTO access_log …", None, Exception("the log cannot be written"))

    monkeypatch.setattr(writer, "_insert", failing)
    reads = [
        (at_centre, f"/fhir/CarePlan/{plan['id']}", plan["id"]),  # the fast read
        (at_centre, f"/fhir/Patient/{person['id']}", person["id"]),
        (at_hospital, f"/api/v1/episodes/{episode_id}", episode_id),
        (at_centre, f"/fhir/CarePlan?patient={person['id']}", plan["id"]),
    ]
    for who, path, record_id in reads:
        request_id = uuid.uuid4().hex
        response = await who.get(path, headers={"X-Request-ID": request_id})
        assert response.status_code == 500, (path, response.text)
        assert record_id not in response.text, (path, response.text)
        if path.startswith("/fhir/"):
            assert response.json()["resourceType"] == "OperationOutcome", response.text
        else:
            assert response.headers["content-type"].startswith("application/problem+json")
        # Logged all the same, as failed, by the edge's transaction of its own.
        rows = await logged_reads(engine, request_id)
        assert rows and {outcome for *_rest, outcome in rows} == {"failed"}, (path, rows)
    monkeypatch.undo()
    # The writer goes on: the same read is served and logged.
    request_id = uuid.uuid4().hex
    response = await at_centre.get(
        f"/fhir/Patient/{person['id']}", headers={"X-Request-ID": request_id}
    )
    assert response.status_code == 200, response.text
    assert await logged_reads(engine, request_id) == [
        ("read", "Patient", person["id"], person["id"], "success")
    ]


async def test_the_writer_on_its_own_connection_groups_fails_and_goes_on(
    engine: AsyncEngine,
) -> None:
    """The writer's insert on the driver's connection (unpinned): entries of concurrent writes
    go together, an entry no column can hold fails its batch with DBAPIError, a push's entry
    that names no principal gets its organization's, the writer goes on after a failed batch,
    and a connection the database dropped is replaced."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the grouped writer serves PostgreSQL")
    writer = AccessLogWriter(engine)
    marker = uuid.uuid4().hex[:20]
    try:
        await asyncio.gather(
            *(writer.write([an_access_entry(request_id=f"{marker}-{i}")]) for i in range(20))
        )
        assert 1 <= writer.inserts < 20
        assert writer.entries == 20
        outcomes = await asyncio.gather(
            writer.write([an_access_entry(request_id=f"{marker}-good")]),
            writer.write([an_access_entry(request_id=f"{marker}-bad", action="x" * 40)]),
            return_exceptions=True,
        )
        assert all(isinstance(outcome, DBAPIError) for outcome in outcomes), outcomes
        await writer.write(
            [
                an_access_entry(
                    request_id=f"{marker}-push",
                    principal_id=None,
                    organization_id="kommun-0880-hemtjanst",
                )
            ]
        )
        await writer.write([an_access_entry(request_id=f"{marker}-after")])
        # The database drops the writer's connection (a restart): the batch that meets it fails
        # as a lost connection (503) or takes a new one, and the next batch is written.
        pid = writer._driver.get_server_pid()
        async with engine.connect() as admin:
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            await admin.commit()
        try:
            await writer.write([an_access_entry(request_id=f"{marker}-lost")])
        except DBAPIError as exc:
            assert exc.connection_invalidated, exc
        await writer.write([an_access_entry(request_id=f"{marker}-again")])
        assert writer._driver.get_server_pid() != pid
    finally:
        await writer.close()
    async with engine.connect() as conn:
        written = {
            row.request_id: (row.principal_id, row.unit_id)
            for row in await conn.execute(
                select(
                    t.access_log.c.request_id, t.access_log.c.principal_id, t.access_log.c.unit_id
                ).where(t.access_log.c.request_id.like(f"{marker}%"))
            )
        }
        unit = (
            await conn.execute(
                text("SELECT kind, parent_id FROM organizations WHERE id = 'kommun-0880-hemtjanst'")
            )
        ).one()
    assert (
        {f"{marker}-{i}" for i in range(20)}
        | {
            f"{marker}-push",
            f"{marker}-after",
            f"{marker}-again",
        }
        <= set(written)
        <= {f"{marker}-{i}" for i in range(20)}
        | {
            f"{marker}-push",
            f"{marker}-after",
            f"{marker}-again",
            f"{marker}-lost",
        }
    )
    assert written[f"{marker}-push"] == (
        (unit.parent_id, "kommun-0880-hemtjanst")
        if unit.kind == "unit"
        else ("kommun-0880-hemtjanst", None)
    )
