"""The schema exists only through migrations: they go up to head and back down, on both engines,
and the head matches the tables the code queries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from app.store.database import (
    alembic_config,
    create_engine,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from app.store.tables import metadata
from tests.conftest import scratch_postgres


async def _table_names(url: str) -> set[str]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    async with scratch_postgres("migration") as url:
        yield url


async def test_upgrade_to_head_and_down_to_base(empty_database: str) -> None:
    await asyncio.to_thread(upgrade, empty_database)
    tables = await _table_names(empty_database)
    assert set(metadata.tables) <= tables
    engine = create_engine(empty_database, pool_size=1)
    try:
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()

    # the migrations create exactly what the code's tables describe
    await asyncio.to_thread(command.check, alembic_config(empty_database))

    await asyncio.to_thread(downgrade, empty_database)
    assert await _table_names(empty_database) <= {"alembic_version"}


T1 = datetime(2026, 1, 1, 10, tzinfo=UTC)
T2 = datetime(2026, 1, 2, 10, tzinfo=UTC)
OLD_ROWS = [
    (
        "INSERT INTO organizations (id, kind, name, jurisdiction, parent_id, function, version, "
        "created_at, updated_at) VALUES (:id, :kind, :id, 'SE', :parent, :function, 1, :t, :t)",
        [
            {"id": "reg", "kind": "region", "parent": None, "function": None},
            {"id": "reg-med", "kind": "unit", "parent": "reg", "function": "hospital-ward"},
            {"id": "reg-hc", "kind": "unit", "parent": "reg", "function": "primary-care"},
            {"id": "kom", "kind": "municipality", "parent": None, "function": None},
            {"id": "kom-ht", "kind": "unit", "parent": "kom", "function": "home-care"},
            {"id": "other", "kind": "municipality", "parent": None, "function": None},
        ],
    ),
    (
        "INSERT INTO persons (id, identifier_system, identifier_value, given_name, family_name, "
        "residence_municipality_id, protected_identity, version, created_at, updated_at) "
        "VALUES ('p', 's', 'v', 'A', 'B', 'kom', false, 1, :t, :t)",
        [{}],
    ),
    (
        "INSERT INTO care_relations (person_id, organization_id, source, created_at) "
        "VALUES ('p', :org, :source, :at)",
        [
            # The ward registered the person (its principal was related with it); a stranger
            # looked the person up later; the stay gave its relations.
            {"org": "reg-med", "source": "registered", "at": T1},
            {"org": "reg", "source": "registered", "at": T1},
            {"org": "other", "source": "registered", "at": T2},
            {"org": "reg-med", "source": "hospital", "at": T1},
            {"org": "kom", "source": "receiver", "at": T1},
        ],
    ),
    (
        "INSERT INTO episodes (id, person_id, hospital_unit_id, region_id, municipality_id, "
        "primary_care_unit_id, jurisdiction, admitted_at, admission_type, care_type, state, "
        "version, created_at, updated_at) VALUES ('e', 'p', 'reg-med', 'reg', 'kom', 'reg-hc', "
        "'SE', :t, 'acute', 'somatic', 'admitted', 1, :t, :t)",
        [{}],
    ),
    (
        "INSERT INTO plans (id, person_id, jurisdiction, status, initiating_principal_id, "
        "version, document, created_at, updated_at) VALUES ('plan', 'p', 'SE', 'draft', 'reg', "
        "1, :doc, :t, :t)",
        [
            {
                "doc": '{"initiator": {"kind": "unit", "organization_id": "reg-hc"}, "content": '
                '{"interventions": [{"responsible_unit_id": "kom-ht", '
                '"responsible_principal_id": "kom"}], "coordinator": {"unit_id": "kom-ht", '
                '"principal_id": "kom"}}}'
            }
        ],
    ),
    ("INSERT INTO plan_sharing VALUES ('plan', 'reg'), ('plan', 'kom')", [{}]),
    (
        "INSERT INTO meetings (id, person_id, plan_id, organizer_id, status, starts_at, "
        "reply_by, sent_at, version, document) VALUES ('m', 'p', 'plan', 'reg-hc', 'scheduled', "
        ":t, :day, :t, 1, :doc)",
        [
            {
                "day": date(2026, 2, 1),
                "doc": '{"participants": [{"id": "x", "organization_id": "kom-ht"}, {"id": "y"}]}',
            }
        ],
    ),
    (
        "INSERT INTO care_messages (id, thread_id, sender_id, person_id, category, priority, "
        "subject, text, sent_at, version) VALUES ('msg', 'msg', 'reg-med', 'p', 'other', "
        "'routine', '', 'x', :t, 1)",
        [{}],
    ),
    (
        "INSERT INTO care_message_recipients (message_id, organization_id, state) "
        "VALUES ('msg', 'kom-ht', 'delivered')",
        [{}],
    ),
    (
        "INSERT INTO deviations (id, person_id, episode_id, category, state, reporter_id, "
        "reporter_principal_id, handler_principal_id, reported_at, version, document) VALUES "
        "('d', 'p', 'e', 'other', 'reported', 'kom-ht', 'kom', 'reg', :t, 1, '{}')",
        [{}],
    ),
    (
        "INSERT INTO access_log (at, client_id, organization_id, action, resource_type, "
        "outcome, purpose) VALUES (:t, 'c', :org, 'read', 'Patient', 'success', 'TREAT')",
        [{"org": "kom-ht"}, {"org": "reg"}],
    ),
]


async def test_the_migration_moves_care_relations_to_the_parties_of_their_records(
    empty_database: str,
) -> None:
    await asyncio.to_thread(upgrade, empty_database, "0009")
    engine = create_engine(empty_database, pool_size=1)
    try:
        async with engine.begin() as conn:
            for statement, rows in OLD_ROWS:
                for row in rows:
                    await conn.execute(text(statement), {"t": T1, **row})
        await asyncio.to_thread(upgrade, empty_database)
        async with engine.connect() as conn:
            parties = {
                tuple(r)
                for r in await conn.execute(
                    text(
                        "SELECT record_type, record_id, organization_id, principal_id, role "
                        "FROM record_parties"
                    )
                )
            }
            log = set(
                await conn.execute(
                    text("SELECT organization_id, principal_id, unit_id FROM access_log")
                )
            )
            handler = (await conn.execute(text("SELECT handler_id FROM deviations"))).scalar()
        assert parties == {
            ("registration", "p", "reg-med", "reg", "registrant"),
            ("episode", "e", "reg-med", "reg", "hospital"),
            ("episode", "e", "kom", "kom", "receiver"),
            ("episode", "e", "reg-hc", "reg", "primary-care"),
            ("plan", "plan", "reg-hc", "reg", "initiator"),
            ("plan", "plan", "reg", "reg", "participant"),
            ("plan", "plan", "kom", "kom", "participant"),
            ("plan", "plan", "kom-ht", "kom", "responsible"),
            ("plan", "plan", "kom-ht", "kom", "coordinator"),
            ("meeting", "m", "reg-hc", "reg", "organizer"),
            ("meeting", "m", "kom-ht", "kom", "participant"),
            ("message", "msg", "reg-med", "reg", "sender"),
            ("message", "msg", "kom-ht", "kom", "recipient"),
            ("deviation", "d", "kom-ht", "kom", "reporter"),
            ("deviation", "d", "reg", "reg", "handler"),
        }
        assert {tuple(r) for r in log} == {("kom-ht", "kom", "kom-ht"), ("reg", "reg", None)}
        assert handler == "reg"

        # And back: the relations the parties stand for, the registrant's among them.
        await asyncio.to_thread(downgrade, empty_database, "0009")
        async with engine.connect() as conn:
            relations = set(
                await conn.execute(text("SELECT organization_id, source FROM care_relations"))
            )
            sharing = set(await conn.execute(text("SELECT principal_id FROM plan_sharing")))
        assert {("reg-med", "registered"), ("reg", "hospital"), ("kom", "receiver")} <= {
            tuple(r) for r in relations
        }
        assert ("other", "registered") not in {tuple(r) for r in relations}
        assert {r[0] for r in sharing} == {"reg", "kom"}
    finally:
        await engine.dispose()


async def test_migration_0013_reports_stored_instants_outside_the_bounds_and_keeps_them(
    empty_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    await asyncio.to_thread(upgrade, empty_database, "0012")
    year_one = datetime(1, 1, 1, tzinfo=UTC)
    engine = create_engine(empty_database, pool_size=1)
    try:
        async with engine.begin() as conn:
            organizations, persons = OLD_ROWS[0], OLD_ROWS[1]
            episode = next(s for s in OLD_ROWS if s[0].startswith("INSERT INTO episodes"))
            for statement, rows in (organizations, persons):
                for row in rows:
                    await conn.execute(text(statement), {"t": T1, **row})
            await conn.execute(text(episode[0]), {"t": year_one})
        caplog.set_level("WARNING", logger="samverkan.migrations")
        await asyncio.to_thread(upgrade, empty_database)
        async with engine.connect() as conn:
            stored = await conn.execute(text("SELECT CAST(admitted_at AS TEXT) FROM episodes"))
            [admitted] = stored.scalars()
    finally:
        await engine.dispose()
    report = caplog.text
    for column in ("admitted_at", "created_at", "updated_at"):
        assert f"1 row(s) of episodes hold a {column} outside the years 1900 to 2200" in report
    # asyncpg writes datetime.min (0001-01-01T00:00Z) as -infinity.
    shown = "-infinity" if empty_database.startswith("postgresql") else "0001-01-01"
    assert f"episodes id=e: admitted_at={shown}" in report
    assert "persons" not in report
    # Kept as it was: nothing clinical is rewritten by a migration.
    assert admitted.startswith(shown)


async def test_the_migration_sets_when_deviations_stored_before_it_were_first_answered(
    empty_database: str,
) -> None:
    """A report answered at 23:30 Swedish time (22:30 UTC), answered again later, and one not
    answered yet: the first gets its first answer's instant, the second stays empty."""
    await asyncio.to_thread(upgrade, empty_database, "0012")
    answered = '{"history": [{"state": "reported", "at": "2026-01-01T10:00:00+00:00"}, ' + (
        '{"state": "answered", "at": "2026-03-28T23:30:00+01:00"}, '
        '{"state": "answered", "at": "2026-04-02T08:00:00+02:00"}]}'
    )
    reported = '{"history": [{"state": "reported", "at": "2026-01-01T10:00:00+00:00"}]}'
    engine = create_engine(empty_database, pool_size=1)
    try:
        async with engine.begin() as conn:
            for statement, rows in OLD_ROWS[:2]:
                for row in rows:
                    await conn.execute(text(statement), {"t": T1, **row})
            for deviation_id, state, document in (
                ("d1", "closed", answered),
                ("d2", "reported", reported),
            ):
                await conn.execute(
                    text(
                        "INSERT INTO deviations (id, person_id, category, state, reporter_id, "
                        "reporter_principal_id, handler_principal_id, handler_id, reported_at, "
                        "version, document) VALUES (:id, 'p', 'other', :state, 'kom-ht', 'kom', "
                        "'reg', 'reg', :t, 1, :doc)"
                    ),
                    {"id": deviation_id, "state": state, "t": T1, "doc": document},
                )
        await asyncio.to_thread(upgrade, empty_database)
        async with engine.connect() as conn:
            found = dict(
                tuple(row)
                for row in await conn.execute(text("SELECT id, answered_at FROM deviations"))
            )
        first = found["d1"]
        first = first if isinstance(first, datetime) else datetime.fromisoformat(first)
        expected = datetime(2026, 3, 28, 22, 30, tzinfo=UTC)
        assert first.replace(tzinfo=first.tzinfo or UTC) == expected
        assert found["d2"] is None
    finally:
        await engine.dispose()
