"""Persons (the patients and clients records are about), by identifier.

Repositories run inside the unit of work: SQL in, domain objects out; they never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Select,
    bindparam,
    insert,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.clock import utcnow
from app.domain.identifiers import PersonIdentifier
from app.domain.parties import Reach
from app.domain.persons import Person
from app.store import tables as t
from app.store.paging import (
    PAGE_LIMIT,
    AnyOf,
    Page,
    any_of_param,
    page_after,
    page_params,
    trim_to_page,
    wanted_filters,
)
from app.store.parties import ReachShape, reach_clause, reach_params

# The fields of `Person` a ``persons`` column holds as it is (the identifier is two columns;
# whether details are withheld is the reader's, not the row's).
_AS_IS = tuple(
    f.name for f in fields(Person) if f.name not in {"id", "identifier", "details_withheld"}
)
# The columns of a person, in the order ``person_of`` reads them.
PERSON_FIELDS = ("id", "identifier_system", "identifier_value", *_AS_IS)
PERSON_COLUMNS = [t.persons.c[name] for name in PERSON_FIELDS]


def person_of(values: Sequence[Any]) -> Person:
    """The person of the values of ``PERSON_COLUMNS``, in that order (a report reads thousands
    by position)."""
    person_id, system, value, *rest = values
    return Person(
        person_id, PersonIdentifier(system, value), **dict(zip(_AS_IS, rest, strict=True))
    )


def person_from_row(row: Any) -> Person:
    """The person of a row with the ``persons`` columns, by name."""
    return person_of([getattr(row, name) for name in PERSON_FIELDS])


def person_row(person: Person, now: datetime) -> dict[str, Any]:
    """The ``persons`` row of a new person created at ``now``."""
    return {
        "id": person.id,
        "identifier_system": person.identifier.system,
        "identifier_value": person.identifier.value,
        "given_name": person.given_name,
        "family_name": person.family_name,
        "birth_date": person.birth_date,
        "residence_municipality_id": person.residence_municipality_id,
        "stay_municipality_id": person.stay_municipality_id,
        "protected_identity": person.protected_identity,
        "address": person.address,
        "phone": person.phone,
        "gender": person.gender,
        "version": person.version,
        "created_at": now,
        "updated_at": now,
    }


class PersonRepository:
    """Persons, looked up by id or national identifier."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, person: Person) -> None:
        """Insert a new person."""
        await self.add_many([person])

    async def add_many(self, persons: Sequence[Person]) -> None:
        """Insert new persons in one statement (bulk loading)."""
        now = utcnow()
        await self._conn.execute(insert(t.persons), [person_row(p, now) for p in persons])
        for person in persons:
            person.updated_at = now

    async def get(self, person_id: str) -> Person | None:
        """The person with this id, or None."""
        row = (
            await self._conn.execute(select(t.persons).where(t.persons.c.id == person_id))
        ).first()
        return person_from_row(row) if row else None

    async def get_many(self, ids: Sequence[str]) -> dict[str, Person]:
        """The persons among ``ids`` that exist, by id."""
        if not ids:
            return {}
        rows = (
            await self._conn.execute(select(t.persons).where(t.persons.c.id.in_(set(ids))))
        ).all()
        return {r.id: person_from_row(r) for r in rows}

    async def find_by_identifiers(
        self, identifiers: Sequence[PersonIdentifier]
    ) -> dict[str, Person]:
        """The persons registered under any of the identifiers, by ``system|value``."""
        found: dict[str, Person] = {}
        pairs = sorted({(i.system, i.value) for i in identifiers})
        for start in range(0, len(pairs), 500):
            rows = (
                await self._conn.execute(
                    select(t.persons).where(
                        tuple_(t.persons.c.identifier_system, t.persons.c.identifier_value).in_(
                            pairs[start : start + 500]
                        )
                    )
                )
            ).all()
            for row in rows:
                person = person_from_row(row)
                found[f"{person.identifier.system}|{person.identifier.value}"] = person
        return found

    async def find_by_identifier(self, identifier: PersonIdentifier) -> Person | None:
        """The person with this (normalized) identifier, or None."""
        row = (
            await self._conn.execute(
                select(t.persons).where(
                    t.persons.c.identifier_system == identifier.system,
                    t.persons.c.identifier_value == identifier.value,
                )
            )
        ).first()
        return person_from_row(row) if row else None

    async def page(
        self,
        *,
        limit: int,
        after: str | None = None,
        municipality_id: AnyOf = None,
        identifier: PersonIdentifier | None = None,
        visible_to: Reach | None = None,
        ids: AnyOf = None,
    ) -> Page[Person]:
        """Persons in id order, filtered (``ids``: any of them); ``visible_to`` keeps those the
        reach is a party to a record of."""
        wanted = wanted_filters({"id": ids, "municipality": municipality_id})
        query = _page_statement(
            ReachShape.of(visible_to) if visible_to is not None else None,
            tuple(wanted),
            identifier is not None,
            bool(after),
        )
        params = page_params(limit, after, wanted)
        if visible_to is not None:
            params.update(reach_params(visible_to))
        if identifier is not None:
            params.update(identifier_system=identifier.system, identifier_value=identifier.value)
        rows = (await self._conn.execute(query, params)).all()
        return trim_to_page([person_from_row(r) for r in rows], limit, lambda p: p.id)


@cache
def _page_statement(
    shape: ReachShape | None, filters: tuple[str, ...], identifier: bool, after: bool
) -> Select[Any]:
    """``PersonRepository.page``'s statement for one shape of reach and filters, every value a
    bound parameter (``page_params``; ``identifier_system`` and ``identifier_value``): a Patient
    search built it and its cache key anew on every request, as the episode list did (issue 20).

    A municipality is the residence's or the stay's; ``visible`` keeps the persons the reach is
    a party to some record of."""
    c = t.persons.c
    query = select(t.persons).order_by(c.id).limit(PAGE_LIMIT)
    if shape is not None:
        parties = t.record_parties.c
        visible = select(parties.person_id).where(
            parties.person_id.is_not(None),
            reach_clause(parties.organization_id, parties.principal_id, shape),
        )
        query = query.where(c.id.in_(visible))
    if after:
        query = query.where(c.id > page_after(c.id))
    if "id" in filters:
        query = query.where(any_of_param(c.id, "id"))
    if "municipality" in filters:
        values = bindparam(
            "any_municipality", type_=c.residence_municipality_id.type, expanding=True
        )
        query = query.where(
            or_(c.residence_municipality_id.in_(values), c.stay_municipality_id.in_(values))
        )
    if identifier:
        query = query.where(
            c.identifier_system == bindparam("identifier_system", type_=c.identifier_system.type),
            c.identifier_value == bindparam("identifier_value", type_=c.identifier_value.type),
        )
    return query
