"""The keyset page every repository builds with ``app.store.paging.page_query``, on both engines:
id order, one page after the cursor, and the optional equality filters (a None or empty value
filters nothing, ``False`` and an enum filter by their value)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.organizations import HSA_ID, Jurisdiction
from app.domain.staff import Practitioner, PractitionerRole, StaffRole
from app.store.unit_of_work import UnitOfWork

UNIT = "kommun-0880"


async def test_a_page_of_roles_follows_the_cursor_and_filters_only_what_is_given(
    engine: AsyncEngine,
) -> None:
    practitioner = Practitioner(
        str(uuid.uuid4()),
        HSA_ID,
        f"SE{uuid.uuid4().int % 10**10:010d}-x",
        "A",
        "B",
        Jurisdiction.SE,
    )
    stem = f"paging-{uuid.uuid4().hex[:20]}"
    roles = [
        PractitionerRole(f"{stem}-1", practitioner.id, UNIT, UNIT, StaffRole.MAS),
        PractitionerRole(f"{stem}-2", practitioner.id, UNIT, UNIT, StaffRole.PLANNER),
        PractitionerRole(f"{stem}-3", practitioner.id, UNIT, UNIT, StaffRole.MAS, active=False),
    ]
    async with UnitOfWork(engine) as uow:
        await uow.staff.add_practitioner(practitioner)
        for role in roles:
            await uow.staff.add_role(role)
        await uow.commit()

    async with UnitOfWork(engine) as uow:
        staff = uow.staff
        first = await staff.roles(limit=2, practitioner_id=practitioner.id, principal_id="")
        assert [r.id for r in first.items] == [f"{stem}-1", f"{stem}-2"]
        assert first.next_cursor == f"{stem}-2"
        rest = await staff.roles(limit=2, after=first.next_cursor, practitioner_id=practitioner.id)
        assert ([r.id for r in rest.items], rest.next_cursor) == ([f"{stem}-3"], None)
        mas = await staff.roles(limit=10, practitioner_id=practitioner.id, role=StaffRole.MAS)
        assert [r.id for r in mas.items] == [f"{stem}-1", f"{stem}-3"]
        inactive = await staff.roles(limit=10, practitioner_id=practitioner.id, active=False)
        assert [r.id for r in inactive.items] == [f"{stem}-3"]
