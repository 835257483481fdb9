"""The read model (issue 20): a CarePlan's FHIR JSON stored with each version of its plan.

What a read returns from a projection must be exactly what the mapper gives for the plan as
stored, on generated plans and through the plan scenarios' creates, revisions, consents,
withdrawals and transitions; a projection of another version or mapper version is never served;
``samverkan projections rebuild`` rewrites the stale ones.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.cli.projections import rebuild_all
from app.domain.identifiers import PERSONNUMMER, make_personnummer
from app.domain.persons import Person, PersonIdentifier
from app.domain.plans import (
    Basis,
    BasisKind,
    Consent,
    ConsentGiver,
    ConsentMethod,
    Coordinator,
    Goal,
    Initiator,
    InitiatorKind,
    Intervention,
    OtherContribution,
    Plan,
    PlanContent,
    PlanStatus,
    Withdrawal,
)
from app.domain.projections import CAREPLAN, Projector
from app.fhir.mappers import careplan
from app.fhir.projections import careplan_projection
from app.store import projections as store_projections
from app.store import tables as t
from app.store.unit_of_work import UnitOfWork
from tests.conftest import ClientFor
from tests.database import connected
from tests.e2e import test_plan_scenarios as scenarios
from tests.e2e.test_plan_rules import shared_plan
from tests.e2e.test_plan_scenarios import register, revise

FHIR_JSON = "application/fhir+json"


async def stored_and_mapped(engine: AsyncEngine) -> list[tuple[str, bytes | None, bytes]]:
    """Every plan's stored CarePlan (None: none stored) beside the mapper's JSON of the plan
    read back from its tables now."""
    async with connected(engine) as conn:
        ids = list((await conn.execute(select(t.plans.c.id).order_by(t.plans.c.id))).scalars())
    async with UnitOfWork(engine) as uow:
        found = []
        for plan_id in ids:
            plan = await uow.plans.get(plan_id)
            assert plan is not None
            stored = await uow.projections.stored(CAREPLAN, plan_id)
            assert stored is None or stored[0] == plan.version
            mapped = orjson.dumps(careplan.to_fhir(plan))
            found.append((plan_id, None if stored is None else stored[2], mapped))
    return found


async def test_the_scenarios_plans_are_stored_as_the_mapper_writes_them(
    client_for: ClientFor, engine: AsyncEngine, now: datetime
) -> None:
    # Three whole plans over HTTP: initiation, consent, summons, activation, revisions,
    # completion (and the plan rules' consent withdrawal), each version stored through the API.
    await scenarios.test_peter_55_after_a_stroke(client_for, now)
    await scenarios.test_viola_78_with_heart_disease_diabetes_and_new_dementia(client_for, now)
    await scenarios.test_ylva_4_with_autism(client_for, now)
    found = await stored_and_mapped(engine)
    assert len(found) >= 3
    for plan_id, stored, mapped in found:
        assert stored == mapped, plan_id


async def read(http: Any, path: str) -> tuple[Any, str]:
    request_id = uuid.uuid4().hex
    response = await http.get(path, headers={"X-Request-ID": request_id})
    return response, request_id


async def logged(engine: AsyncEngine, request_id: str) -> list[tuple[Any, ...]]:
    async with connected(engine) as conn:
        rows = await conn.execute(
            text(
                "SELECT action, resource_type, resource_id, person_id, outcome "
                "FROM access_log WHERE request_id = :r"
            ),
            {"r": request_id},
        )
        return [tuple(row) for row in rows]


async def set_projection(engine: AsyncEngine, plan_id: str, **values: Any) -> None:
    async with connected(engine) as conn:
        await conn.execute(
            update(t.fhir_projections)
            .where(
                t.fhir_projections.c.resource_type == CAREPLAN,
                t.fhir_projections.c.resource_id == plan_id,
            )
            .values(**values)
        )


async def test_a_read_returns_the_stored_bytes_checked_and_logged(
    client_for: ClientFor, engine: AsyncEngine
) -> None:
    centre = await client_for("region-kalmar-hc-kalmar")
    person = await register(centre, "Projicerad", date(1950, 1, 1))
    plan = await shared_plan(centre, person["id"], goals=[{"id": "g1", "description": "Hem"}])
    path = f"/fhir/CarePlan/{plan['id']}"
    response, request_id = await read(centre, path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    # The bytes and headers are the mapper's: those of the vread, which maps the version.
    version = response.json()["meta"]["versionId"]
    mapped = await centre.get(f"{path}/_history/{version}")
    assert response.content == mapped.content
    for header in ("ETag", "Last-Modified"):
        assert response.headers[header] == mapped.headers[header]
    assert await logged(engine, request_id) == [
        ("read", "CarePlan", plan["id"], person["id"], "success")
    ]
    # They come from the projection: a marker put there is what the read returns.
    marker = response.content.replace(b'"title":"SIP"', b'"title":"stored"')
    await set_projection(engine, plan["id"], body=marker)
    assert (await centre.get(path)).content == marker
    # A caller that is no party to the plan is refused as if it did not exist, and logged.
    stranger = await client_for("region-norrbotten")
    refused, request_id = await read(stranger, path)
    assert refused.status_code == 404, refused.text
    assert await logged(engine, request_id) == [
        ("read", "CarePlan", plan["id"], person["id"], "denied")
    ]


async def test_a_stale_projection_is_not_served_and_rebuild_renews_it(
    client_for: ClientFor, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    centre = await client_for("region-kalmar-hc-kalmar")
    person = await register(centre, "Inaktuell", date(1951, 2, 2))
    plan = await shared_plan(centre, person["id"])
    path = f"/fhir/CarePlan/{plan['id']}"
    fresh = (await centre.get(path)).content
    await set_projection(engine, plan["id"], body=b'{"resourceType":"CarePlan","stale":true}')

    # Written by another mapper version: the read maps the plan again, logged once.
    await set_projection(engine, plan["id"], mapper_version=careplan.MAPPER_VERSION - 1)
    response, request_id = await read(centre, path)
    assert response.content == fresh
    assert len(await logged(engine, request_id)) == 1

    # Of an older version (a revision stored while the type was not covered): mapped again.
    await set_projection(engine, plan["id"], mapper_version=careplan.MAPPER_VERSION)
    with monkeypatch.context() as uncovered:
        uncovered.delitem(store_projections._projectors, CAREPLAN)
        revised = await revise(centre, plan, title="Reviderad")
    response = await centre.get(path)
    assert response.json()["title"] == "Reviderad"
    assert response.json()["meta"]["versionId"] == str(revised["version"])

    # The rebuild rewrites what is stale, and then only what is stale.
    written = await rebuild_all(engine, every=False, batch=2)
    assert written[CAREPLAN] >= 1
    assert (await rebuild_all(engine, every=False, batch=2))[CAREPLAN] == 0
    for plan_id, stored, mapped in await stored_and_mapped(engine):
        assert stored == mapped, plan_id
    assert (await centre.get(path)).content == mapped_of(await stored_and_mapped(engine), plan)


def mapped_of(found: list[tuple[str, bytes | None, bytes]], plan: dict[str, Any]) -> bytes:
    return next(mapped for plan_id, _stored, mapped in found if plan_id == plan["id"])


async def test_rebuild_after_the_mapper_version_changes(
    client_for: ClientFor, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    centre = await client_for("region-kalmar-hc-kalmar")
    person = await register(centre, "Omskriven", date(1952, 3, 3))
    plan = await shared_plan(centre, person["id"])
    path = f"/fhir/CarePlan/{plan['id']}"
    before = (await centre.get(path)).json()
    assert "language" not in before

    # A new mapper: its output changed, and so did its version.
    to_fhir = careplan.to_fhir
    monkeypatch.setattr(careplan, "to_fhir", lambda p: {**to_fhir(p), "language": "sv"})
    monkeypatch.setitem(
        store_projections._projectors,
        CAREPLAN,
        Projector(careplan.MAPPER_VERSION + 1, careplan_projection),
    )
    # Until the rebuild, reads map with the new mapper (the projections are stale) ...
    assert (await centre.get(path)).json()["language"] == "sv"
    found = await stored_and_mapped(engine)
    assert any(stored != mapped for _id, stored, mapped in found)
    # ... and after it, the projections are the new mapper's, and served.
    assert (await rebuild_all(engine, every=False, batch=50))[CAREPLAN] >= 1
    for plan_id, stored, mapped in await stored_and_mapped(engine):
        assert stored == mapped, plan_id
    async with UnitOfWork(engine) as uow:
        stored = await uow.projections.stored(CAREPLAN, plan["id"])
    assert stored is not None and stored[1] == careplan.MAPPER_VERSION + 1
    assert (await centre.get(path)).content == stored[2]


# Generated plans: text with any characters JSON escapes, dates, instants with microseconds and
# offsets, every status, consents and withdrawals, revisions.
TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=12)
NAMES = st.text("abcåäö ÆØ-", min_size=1, max_size=8)
DAYS = st.dates(date(1990, 1, 1), date(2090, 12, 31))
INSTANTS = st.builds(
    lambda days, micro, hours: (
        datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=days, microseconds=micro, hours=hours)
    ),
    st.integers(0, 4000),
    st.integers(0, 999_999),
    st.integers(-12, 12),
)
CONTENT = st.builds(
    PlanContent,
    title=NAMES,
    goals=st.lists(
        st.builds(Goal, st.uuids().map(str), TEXT, st.none() | DAYS),
        max_size=3,
        unique_by=lambda g: g.id,
    ).map(tuple),
    resources=st.lists(TEXT, max_size=2).map(tuple),
    needs=st.lists(TEXT, max_size=2).map(tuple),
    interventions=st.lists(
        st.builds(
            Intervention,
            st.uuids().map(str),
            NAMES,
            st.none() | st.just("region-kalmar"),
            st.none(),
            st.none() | TEXT,
        ),
        max_size=2,
    ).map(tuple),
    others=st.lists(st.builds(OtherContribution, NAMES, NAMES, TEXT), max_size=2).map(tuple),
    coordinator=st.none()
    | st.builds(Coordinator, NAMES, st.just("region-kalmar"), st.just("region-kalmar")),
    start_date=st.none() | DAYS,
    planned_end_date=st.none() | DAYS,
    follow_up_dates=st.lists(DAYS, max_size=2, unique=True).map(tuple),
    basis=st.lists(
        st.builds(Basis, st.sampled_from(BasisKind), NAMES, st.none() | TEXT), max_size=2
    ).map(tuple),
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    first=CONTENT,
    revisions=st.lists(
        st.tuples(CONTENT, st.sampled_from(PlanStatus), st.none() | TEXT, st.booleans()),
        max_size=3,
    ),
    created=INSTANTS,
    jurisdiction=st.sampled_from(["SE", "NO"]),
)
async def test_generated_plans_are_stored_as_the_mapper_writes_them(
    engine: AsyncEngine,
    first: PlanContent,
    revisions: list[tuple[PlanContent, PlanStatus, str | None, bool]],
    created: datetime,
    jurisdiction: str,
) -> None:
    person = Person(
        id=str(uuid.uuid4()),
        identifier=PersonIdentifier(
            PERSONNUMMER,
            make_personnummer(
                date(1930, 1, 1) + timedelta(days=uuid.uuid4().int % 25_000),
                uuid.uuid4().int % 1000,
            ),
        ),
        given_name="Test",
        family_name="Testsson",
        residence_municipality_id="kommun-0880",
    )
    plan = Plan(
        id=str(uuid.uuid4()),
        person_id=person.id,
        jurisdiction=jurisdiction,
        initiator=Initiator(InitiatorKind.UNIT, "region-kalmar-hc-kalmar"),
        initiating_principal_id="region-kalmar",
        content=first,
        created_at=created,
        updated_at=created,
    )
    who = {"organization_id": "region-kalmar-hc-kalmar", "client_id": "test"}
    async with UnitOfWork(engine) as uow:
        await uow.persons.add_many([person])
        await uow.plans.add(plan, **who)
        at = created
        for content, status, reason, consent in revisions:
            expected = plan.version
            at += timedelta(hours=1, microseconds=7)
            plan.content, plan.status, plan.status_reason = content, status, reason
            if consent:
                plan.consents.append(
                    Consent(
                        str(uuid.uuid4()),
                        ConsentGiver.PERSON,
                        at,
                        ConsentMethod.ORAL,
                        ("kommun-0880",),
                        "region-kalmar",
                    )
                )
            else:
                plan.withdrawals.append(Withdrawal("c", at, (), "region-kalmar"))
            plan.version, plan.updated_at = plan.version + 1, at
            await uow.plans.save(plan, expected_version=expected, **who)
        read_back = await uow.plans.get(plan.id)
        assert read_back is not None
        stored = await uow.projections.stored(CAREPLAN, plan.id)
    assert stored is not None
    assert stored[0] == read_back.version
    assert stored[2] == orjson.dumps(careplan.to_fhir(read_back))
