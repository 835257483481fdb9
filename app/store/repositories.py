"""Repositories: SQL in, domain objects out; they run inside the unit of work, never commit."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    Select,
    String,
    Text,
    and_,
    cast,
    func,
    insert,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.episodes import (
    AdmissionType,
    CareType,
    Episode,
    EpisodeEvent,
    EpisodeState,
    EventKind,
)
from app.domain.errors import StaleVersion
from app.domain.identifiers import PersonIdentifier
from app.domain.organizations import (
    CooperationArea,
    Jurisdiction,
    Organization,
    OrgIdentifier,
    OrgKind,
    UnitFunction,
)
from app.domain.parties import Reach, RecordType
from app.domain.persons import Person
from app.domain.plo import ServiceCode
from app.domain.values import storable
from app.store import tables as t
from app.store.parties import (
    party_probe,
    party_to,
    reach_clause,
    visible_persons,
    visible_records,
)


def utcnow() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a keyset-paginated list; ``next_cursor`` is None on the last page."""

    items: list[T]
    next_cursor: str | None


def _page(items: list[T], limit: int, cursor_of: Any) -> Page[T]:
    if len(items) > limit:
        items = items[:limit]
        return Page(items, cursor_of(items[-1]))
    return Page(items, None)


class OrganizationRepository:
    """Organizations and their identifiers."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, org: Organization) -> None:
        """Insert a new organization with its identifiers."""
        now = utcnow()
        await self._conn.execute(
            insert(t.organizations).values(
                id=org.id,
                kind=org.kind.value,
                name=org.name,
                jurisdiction=org.jurisdiction.value,
                parent_id=org.parent_id,
                function=org.function.value if org.function else None,
                service_code=org.service_code.value if org.service_code else None,
                version=org.version,
                created_at=now,
                updated_at=now,
            )
        )
        if org.identifiers:
            await self._conn.execute(
                insert(t.organization_identifiers),
                [
                    {"organization_id": org.id, "system": i.system, "value": i.value}
                    for i in org.identifiers
                ],
            )

    async def save(self, org: Organization) -> None:
        """Write a changed organization (its version already raised); identifiers are added,
        never removed, since other systems may still address it by an old one."""
        await self._conn.execute(
            update(t.organizations)
            .where(t.organizations.c.id == org.id)
            .values(
                name=org.name,
                parent_id=org.parent_id,
                function=org.function.value if org.function else None,
                service_code=org.service_code.value if org.service_code else None,
                version=org.version,
                updated_at=utcnow(),
            )
        )
        held = {
            (row.system, row.value)
            for row in await self._conn.execute(
                select(t.organization_identifiers).where(
                    t.organization_identifiers.c.organization_id == org.id
                )
            )
        }
        added = [i for i in org.identifiers if (i.system, i.value) not in held]
        if added:
            await self._conn.execute(
                insert(t.organization_identifiers),
                [{"organization_id": org.id, "system": i.system, "value": i.value} for i in added],
            )

    async def get(self, org_id: str) -> Organization | None:
        """The organization with this id, or None."""
        found = await self.get_many([org_id])
        return found.get(org_id)

    async def jurisdiction(self, org_id: str) -> Jurisdiction | None:
        """The organization's jurisdiction (None when there is no such organization)."""
        found = await self._conn.scalar(
            select(t.organizations.c.jurisdiction).where(t.organizations.c.id == org_id)
        )
        return Jurisdiction(found) if found is not None else None

    async def get_many(self, ids: Sequence[str]) -> dict[str, Organization]:
        """The organizations among ``ids`` that exist, by id."""
        if not ids:
            return {}
        rows = (
            await self._conn.execute(
                select(t.organizations).where(t.organizations.c.id.in_(set(ids)))
            )
        ).all()
        return {org.id: org for org in await self._with_identifiers(rows)}

    async def find_by_identifier(self, system: str, value: str) -> Organization | None:
        """The organization holding this identifier, or None."""
        org_id = (
            await self._conn.execute(
                select(t.organization_identifiers.c.organization_id).where(
                    t.organization_identifiers.c.system == system,
                    t.organization_identifiers.c.value == value,
                )
            )
        ).scalar()
        return await self.get(org_id) if org_id else None

    async def identifier_owner(self, system: str, value: str) -> str | None:
        """The id of the organization that holds this identifier already, if any."""
        return (
            await self._conn.execute(
                select(t.organization_identifiers.c.organization_id).where(
                    t.organization_identifiers.c.system == system,
                    t.organization_identifiers.c.value == value,
                )
            )
        ).scalar()

    async def page(
        self,
        *,
        limit: int,
        after: str | None = None,
        kind: OrgKind | None = None,
        jurisdiction: Jurisdiction | None = None,
        parent_id: str | None = None,
        function: UnitFunction | None = None,
    ) -> Page[Organization]:
        """Organizations in id order, filtered."""
        query = select(t.organizations).order_by(t.organizations.c.id).limit(limit + 1)
        if after:
            query = query.where(t.organizations.c.id > after)
        if kind:
            query = query.where(t.organizations.c.kind == kind.value)
        if jurisdiction:
            query = query.where(t.organizations.c.jurisdiction == jurisdiction.value)
        if parent_id:
            query = query.where(t.organizations.c.parent_id == parent_id)
        if function:
            query = query.where(t.organizations.c.function == function.value)
        rows = (await self._conn.execute(query)).all()
        return _page(await self._with_identifiers(rows), limit, lambda o: o.id)

    async def count(self) -> int:
        """How many organizations exist."""
        return int(
            (
                await self._conn.execute(select(func.count()).select_from(t.organizations))
            ).scalar_one()
        )

    async def _with_identifiers(self, rows: Sequence[Row[Any]]) -> list[Organization]:
        if not rows:
            return []
        ident_rows = (
            await self._conn.execute(
                select(t.organization_identifiers)
                .where(t.organization_identifiers.c.organization_id.in_([r.id for r in rows]))
                .order_by(t.organization_identifiers.c.system)
            )
        ).all()
        idents: dict[str, list[OrgIdentifier]] = defaultdict(list)
        for ident in ident_rows:
            idents[ident.organization_id].append(OrgIdentifier(ident.system, ident.value))
        return [
            Organization(
                id=r.id,
                kind=OrgKind(r.kind),
                name=r.name,
                jurisdiction=Jurisdiction(r.jurisdiction),
                parent_id=r.parent_id,
                function=UnitFunction(r.function) if r.function else None,
                identifiers=tuple(idents[r.id]),
                version=r.version,
                service_code=ServiceCode(r.service_code) if r.service_code else None,
            )
            for r in rows
        ]


class CooperationAreaRepository:
    """Cooperation areas and their member municipalities."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, area: CooperationArea) -> None:
        """Insert a new cooperation area with its members."""
        now = utcnow()
        await self._conn.execute(
            insert(t.cooperation_areas).values(
                id=area.id,
                name=area.name,
                region_id=area.region_id,
                version=area.version,
                created_at=now,
                updated_at=now,
            )
        )
        if area.municipality_ids:
            await self._conn.execute(
                insert(t.cooperation_area_members),
                [{"area_id": area.id, "municipality_id": m} for m in area.municipality_ids],
            )

    async def add_member(self, area: CooperationArea, municipality_id: str) -> None:
        """Add a municipality to an area, raising the area's version."""
        await self._conn.execute(
            insert(t.cooperation_area_members).values(
                area_id=area.id, municipality_id=municipality_id
            )
        )
        await self._conn.execute(
            update(t.cooperation_areas)
            .where(t.cooperation_areas.c.id == area.id)
            .values(version=area.version + 1, updated_at=utcnow())
        )

    async def get(self, area_id: str) -> CooperationArea | None:
        """The cooperation area with this id, or None."""
        page = await self._load(
            select(t.cooperation_areas).where(t.cooperation_areas.c.id == area_id)
        )
        return page[0] if page else None

    async def page(
        self,
        *,
        limit: int,
        after: str | None = None,
        region_id: str | None = None,
        municipality_id: str | None = None,
    ) -> Page[CooperationArea]:
        """Cooperation areas in id order, filtered by region or member municipality."""
        query = select(t.cooperation_areas).order_by(t.cooperation_areas.c.id).limit(limit + 1)
        if after:
            query = query.where(t.cooperation_areas.c.id > after)
        if region_id:
            query = query.where(t.cooperation_areas.c.region_id == region_id)
        if municipality_id:
            query = query.where(
                t.cooperation_areas.c.id.in_(
                    select(t.cooperation_area_members.c.area_id).where(
                        t.cooperation_area_members.c.municipality_id == municipality_id
                    )
                )
            )
        return _page(await self._load(query), limit, lambda a: a.id)

    async def _load(self, query: Select[Any]) -> list[CooperationArea]:
        rows = (await self._conn.execute(query)).all()
        if not rows:
            return []
        members = (
            await self._conn.execute(
                select(t.cooperation_area_members)
                .where(t.cooperation_area_members.c.area_id.in_([r.id for r in rows]))
                .order_by(t.cooperation_area_members.c.municipality_id)
            )
        ).all()
        by_area: dict[str, list[str]] = defaultdict(list)
        for m in members:
            by_area[m.area_id].append(m.municipality_id)
        return [
            CooperationArea(
                id=r.id,
                name=r.name,
                region_id=r.region_id,
                municipality_ids=tuple(by_area[r.id]),
                version=r.version,
            )
            for r in rows
        ]


def person_from_row(row: Any) -> Person:
    """The person of a ``persons`` row."""
    return Person(
        id=row.id,
        identifier=PersonIdentifier(row.identifier_system, row.identifier_value),
        given_name=row.given_name,
        family_name=row.family_name,
        residence_municipality_id=row.residence_municipality_id,
        birth_date=row.birth_date,
        stay_municipality_id=row.stay_municipality_id,
        protected_identity=row.protected_identity,
        address=row.address,
        phone=row.phone,
        version=row.version,
    )


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
        municipality_id: str | None = None,
        identifier: PersonIdentifier | None = None,
        visible_to: Reach | None = None,
    ) -> Page[Person]:
        """Persons in id order, filtered; ``visible_to`` keeps those the reach is a party to a
        record of."""
        query = select(t.persons).order_by(t.persons.c.id).limit(limit + 1)
        if visible_to is not None:
            query = query.where(t.persons.c.id.in_(visible_persons(visible_to)))
        if after:
            query = query.where(t.persons.c.id > after)
        if municipality_id:
            query = query.where(
                or_(
                    t.persons.c.residence_municipality_id == municipality_id,
                    t.persons.c.stay_municipality_id == municipality_id,
                )
            )
        if identifier:
            query = query.where(
                t.persons.c.identifier_system == identifier.system,
                t.persons.c.identifier_value == identifier.value,
            )
        rows = (await self._conn.execute(query)).all()
        return _page([person_from_row(r) for r in rows], limit, lambda p: p.id)


def _event_data(event: EpisodeEvent) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if event.expected_discharge_date is not None:
        data["expected_discharge_date"] = event.expected_discharge_date.isoformat()
    if event.decided_at is not None:
        data["decided_at"] = event.decided_at.astimezone(UTC).isoformat()
    if event.can_receive_from is not None:
        data["can_receive_from"] = event.can_receive_from.isoformat()
    if event.coordinated_planning:
        data["coordinated_planning"] = "true"
    if event.units:
        data["units"] = list(event.units)
    if event.reason is not None:
        data["reason"] = event.reason
    if event.services:
        data["services"] = list(event.services)
    if event.arrived_at is not None:
        data["arrived_at"] = event.arrived_at.astimezone(UTC).isoformat()
    return data


# Stored codes to their enum members: a dict lookup costs a fraction of calling the enum, which
# counts when a report loads tens of thousands of episodes.
_EVENT_KINDS = {kind.value: kind for kind in EventKind}
_ADMISSION_TYPES = {kind.value: kind for kind in AdmissionType}
_CARE_TYPES = {kind.value: kind for kind in CareType}
_EPISODE_STATES = {state.value: state for state in EpisodeState}


# The event's data as JSON text: most events have none ("{}"), and decoding only the rest saves
# a JSON parse per event when tens of thousands are read.
EVENT_COLUMNS = (
    t.episode_events.c.episode_id,
    t.episode_events.c.seq,
    t.episode_events.c.kind,
    t.episode_events.c.at,
    cast(t.episode_events.c.data, Text).label("data"),
)


# The events' columns under names of their own, for statements that join them to episodes.
JOINED_EVENT_COLUMNS = tuple(column.label(f"event_{column.name}") for column in EVENT_COLUMNS)


class JoinedEvent:
    """An event's columns of a row joined to its episode, as ``event_from_row`` reads them."""

    __slots__ = ("row",)

    def __init__(self, row: Any) -> None:
        self.row = row

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, f"event_{name}")


def event_from_row(row: Any) -> EpisodeEvent:
    """The event of an ``episode_events`` row read with ``EVENT_COLUMNS``."""
    data: dict[str, Any] = json.loads(row.data) if row.data not in (None, "{}", "null") else {}
    return EpisodeEvent(
        seq=row.seq,
        kind=_EVENT_KINDS[row.kind],
        at=row.at,
        expected_discharge_date=date.fromisoformat(data["expected_discharge_date"])
        if "expected_discharge_date" in data
        else None,
        decided_at=datetime.fromisoformat(data["decided_at"]) if "decided_at" in data else None,
        can_receive_from=date.fromisoformat(data["can_receive_from"])
        if "can_receive_from" in data
        else None,
        coordinated_planning=data.get("coordinated_planning") == "true",
        units=tuple(data.get("units", ())),
        reason=data.get("reason"),
        services=tuple(data.get("services", ())),
        arrived_at=datetime.fromisoformat(data["arrived_at"]) if "arrived_at" in data else None,
    )


def episode_from_row(r: Any, events: list[EpisodeEvent]) -> Episode:
    """The episode of an ``episodes`` row, with its events."""
    return Episode(
        id=r.id,
        person_id=r.person_id,
        hospital_unit_id=r.hospital_unit_id,
        region_id=r.region_id,
        municipality_id=r.municipality_id,
        primary_care_unit_id=r.primary_care_unit_id,
        jurisdiction=r.jurisdiction,
        admitted_at=r.admitted_at,
        admission_type=_ADMISSION_TYPES[r.admission_type],
        care_type=_CARE_TYPES[r.care_type],
        state=_EPISODE_STATES[r.state],
        expected_discharge_date=r.expected_discharge_date,
        readmission_of_id=r.readmission_of_id,
        version=r.version,
        events=events,
    )


def _episode_row(episode: Episode) -> dict[str, Any]:
    return {
        "state": episode.state.value,
        "expected_discharge_date": episode.expected_discharge_date,
        "discharge_ready_at": episode.discharge_ready_since,
        "first_discharge_ready_at": next(
            (e.at for e in episode.events if e.kind is EventKind.DISCHARGE_READY), None
        ),
        "discharged_at": episode.discharged_at,
        "readmission_of_id": episode.readmission_of_id,
    }


def episode_row(episode: Episode, now: datetime) -> dict[str, Any]:
    """The ``episodes`` row of a new episode created at ``now``."""
    return {
        "id": episode.id,
        "person_id": episode.person_id,
        "hospital_unit_id": episode.hospital_unit_id,
        "region_id": episode.region_id,
        "municipality_id": episode.municipality_id,
        "primary_care_unit_id": episode.primary_care_unit_id,
        "jurisdiction": episode.jurisdiction,
        "admitted_at": episode.admitted_at,
        "admission_type": episode.admission_type.value,
        "care_type": episode.care_type.value,
        "version": episode.version,
        "created_at": now,
        "updated_at": now,
        **_episode_row(episode),
    }


def event_row(episode_id: str, event: EpisodeEvent, now: datetime) -> dict[str, Any]:
    """The ``episode_events`` row of an episode's event recorded at ``now``."""
    return {
        "episode_id": episode_id,
        "seq": event.seq,
        "kind": event.kind.value,
        "at": event.at,
        "data": _event_data(event),
        "recorded_at": now,
    }


@dataclass(frozen=True, slots=True)
class EpisodeSummary:
    """What a list or a report shows of an episode, without its notices."""

    id: str
    person_id: str
    hospital_unit_id: str
    region_id: str
    admitted_at: datetime
    discharge_ready_at: datetime | None
    discharged_at: datetime | None


class EpisodeRepository:
    """Episodes with their event history."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, episode: Episode) -> None:
        """Insert a new episode and any events it already has."""
        await self.add_many([episode])

    async def add_many(self, episodes: Sequence[Episode]) -> None:
        """Insert new episodes with their events (bulk loading)."""
        now = utcnow()
        await self._conn.execute(insert(t.episodes), [episode_row(e, now) for e in episodes])
        events = [event_row(episode.id, e, now) for episode in episodes for e in episode.events]
        if events:
            await self._conn.execute(insert(t.episode_events), events)

    async def save(self, episode: Episode, new_events: Sequence[EpisodeEvent]) -> None:
        """Store a changed episode if nobody changed it since it was read; bumps its version.

        The compare-and-set on ``version`` is what turns two concurrent commands into one winner
        and one ``StaleVersion``.
        """
        now = utcnow()
        result = await self._conn.execute(
            update(t.episodes)
            .where(t.episodes.c.id == episode.id, t.episodes.c.version == episode.version)
            .values(version=episode.version + 1, updated_at=now, **_episode_row(episode))
        )
        if result.rowcount != 1:
            raise StaleVersion(f"episode {episode.id} was changed by someone else; read it again")
        episode.version += 1
        await self._insert_events(episode.id, new_events, now)

    async def _insert_events(
        self, episode_id: str, events: Sequence[EpisodeEvent], now: datetime
    ) -> None:
        if events:
            await self._conn.execute(
                insert(t.episode_events), [event_row(episode_id, e, now) for e in events]
            )

    async def get(self, episode_id: str, *, for_update: bool = False) -> Episode | None:
        """The episode with its events, or None.

        ``for_update``: locked until the transaction ends (see ``app.store.unit_of_work``).
        """
        query = select(t.episodes).where(t.episodes.c.id == episode_id)
        found = await self._load(query.with_for_update() if for_update else query)
        return found[0] if found else None

    async def get_many(self, episode_ids: Sequence[str]) -> list[Episode]:
        """The episodes with these ids (those that exist), with their events."""
        if not episode_ids:
            return []
        return await self._load(
            select(t.episodes).where(t.episodes.c.id.in_(episode_ids)).order_by(t.episodes.c.id)
        )

    async def summaries(self, episode_ids: Sequence[str]) -> dict[str, EpisodeSummary]:
        """The summaries of the episodes with these ids, by id (no notices are read)."""
        found: dict[str, EpisodeSummary] = {}
        e = t.episodes.c
        for start in range(0, len(episode_ids), 1_000):
            rows = await self._conn.execute(
                select(
                    e.id,
                    e.person_id,
                    e.hospital_unit_id,
                    e.region_id,
                    e.admitted_at,
                    e.first_discharge_ready_at,
                    e.discharged_at,
                ).where(e.id.in_(episode_ids[start : start + 1_000]))
            )
            for r in rows:
                found[r.id] = EpisodeSummary(
                    r.id,
                    r.person_id,
                    r.hospital_unit_id,
                    r.region_id,
                    r.admitted_at,
                    r.first_discharge_ready_at,
                    r.discharged_at,
                )
        return found

    async def page(
        self,
        *,
        limit: int,
        after: str | None = None,
        person_id: str | None = None,
        municipality_id: str | None = None,
        hospital_unit_id: str | None = None,
        state: EpisodeState | None = None,
        visible_to: Reach | None = None,
    ) -> Page[Episode]:
        """Episodes in id order, filtered; ``visible_to`` keeps those the reach is a party to."""
        # Keyset paging by id. A municipality's list in one state is a range of the index on
        # (municipality, state, id), walked in order with each episode's party row probed on the
        # record-parties key (migration 0019); other lists start from the reach's own index.
        query = select(t.episodes).order_by(t.episodes.c.id).limit(limit + 1)
        if visible_to is not None:
            visible = party_probe if municipality_id and state else party_to
            query = query.where(visible(RecordType.EPISODE, t.episodes.c.id, visible_to))
        if after:
            query = query.where(t.episodes.c.id > after)
        if person_id:
            query = query.where(t.episodes.c.person_id == person_id)
        if municipality_id:
            query = query.where(t.episodes.c.municipality_id == municipality_id)
        if hospital_unit_id:
            query = query.where(t.episodes.c.hospital_unit_id == hospital_unit_id)
        if state:
            query = query.where(t.episodes.c.state == state.value)
        return _page(await self._load_joined(query), limit, lambda e: e.id)

    async def _load_joined(self, query: Select[Any]) -> list[Episode]:
        """The episodes of ``query`` (ordered by id) with their events, in one statement."""
        found = query.subquery("found")
        ev = t.episode_events
        rows = (
            await self._conn.execute(
                select(found, *JOINED_EVENT_COLUMNS)
                .select_from(found.outerjoin(ev, ev.c.episode_id == found.c.id))
                .order_by(found.c.id, ev.c.seq)
            )
        ).all()
        events: dict[str, list[EpisodeEvent]] = {}
        heads: dict[str, Any] = {}
        for row in rows:
            heads.setdefault(row.id, row)
            happened = events.setdefault(row.id, [])
            if row.event_seq is not None:
                happened.append(event_from_row(JoinedEvent(row)))
        return [episode_from_row(heads[i], events[i]) for i in heads]

    async def discharges_of_person(self, person_id: str) -> list[tuple[str, datetime]]:
        """(episode id, discharged_at) of every discharged episode of the person."""
        rows = (
            await self._conn.execute(
                select(t.episodes.c.id, t.episodes.c.discharged_at).where(
                    t.episodes.c.person_id == person_id, t.episodes.c.discharged_at.is_not(None)
                )
            )
        ).all()
        return [(r.id, r.discharged_at) for r in rows]

    async def discharged_between(
        self, municipality_id: str, start: datetime, end: datetime
    ) -> list[Episode]:
        """Episodes of a municipality discharged in [start, end), with their events."""
        query = (
            select(t.episodes)
            .where(
                t.episodes.c.municipality_id == municipality_id,
                and_(t.episodes.c.discharged_at >= start, t.episodes.c.discharged_at < end),
            )
            .order_by(t.episodes.c.discharged_at, t.episodes.c.id)
        )
        return await self._load(query)

    async def with_coordinated_planning(self, visible_to: Reach) -> list[Episode]:
        """Episodes the reach is a party to with a discharge-ready notice that asked for
        coordinated planning (both region and municipality must act after the discharge)."""
        flagged = select(t.episode_events.c.episode_id).where(
            t.episode_events.c.kind == EventKind.DISCHARGE_READY.value,
            cast(t.episode_events.c.data, String).like('%"coordinated_planning"%'),
        )
        query = (
            select(t.episodes)
            .where(
                t.episodes.c.id.in_(flagged),
                t.episodes.c.id.in_(visible_records(RecordType.EPISODE, visible_to)),
            )
            .order_by(t.episodes.c.id)
        )
        return await self._load(query)

    async def _load(self, query: Select[Any]) -> list[Episode]:
        rows = (await self._conn.execute(query)).all()
        if not rows:
            return []
        events: dict[str, list[EpisodeEvent]] = defaultdict(list)
        ids = [r.id for r in rows]
        # A long list (a report's candidates) takes its events in one statement that repeats
        # the episodes' own filter, rather than hundreds of ids per statement.
        chunks: list[Any] = (
            [ids[start : start + 500] for start in range(0, len(ids), 500)]
            if len(ids) <= 2_000
            else [select(query.subquery().c.id)]
        )
        for chunk in chunks:
            for ev in (
                await self._conn.execute(
                    select(*EVENT_COLUMNS)
                    .where(t.episode_events.c.episode_id.in_(chunk))
                    .order_by(t.episode_events.c.episode_id, t.episode_events.c.seq)
                )
            ).all():
                events[ev.episode_id].append(event_from_row(ev))
        return [episode_from_row(r, events[r.id]) for r in rows]


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A response recorded under an idempotency key."""

    method: str
    path: str
    request_hash: str
    status_code: int
    headers: dict[str, str]
    body: bytes
    # (resource type, resource id, person id) of the personal data the response discloses, so
    # that a replay is logged as the disclosure it is.
    disclosed: list[tuple[str, str | None, str]] = field(default_factory=list)


class IdempotencyRepository:
    """Responses of POSTs made with an ``Idempotency-Key``, kept for replay."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def lock(self, scope: str, key: str) -> None:
        """Serialize requests that share (scope, key) until this transaction ends.

        On PostgreSQL a transaction-scoped advisory lock makes a concurrent duplicate wait for
        the first one and then see its stored response. SQLite already serializes writers.
        """
        if self._conn.dialect.name == "postgresql":
            await self._conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                {"k": f"idempotency:{scope}:{key}"},
            )

    async def lock_many(self, scope: str, keys: Sequence[str]) -> None:
        """``lock`` for several keys in one statement, taken in a fixed order so that two
        transactions locking overlapping sets cannot deadlock."""
        if self._conn.dialect.name == "postgresql" and keys:
            await self._conn.execute(
                text(
                    "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT "
                    "hashtextextended('idempotency:' || :scope || ':' || k, 0) AS h "
                    "FROM unnest(CAST(:keys AS text[])) AS k ORDER BY h) AS ordered"
                ),
                {"scope": scope, "keys": list(keys)},
            )

    async def get(self, scope: str, key: str, not_before: datetime) -> StoredResponse | None:
        """The response stored under (scope, key) after ``not_before``, if any."""
        row = (
            await self._conn.execute(
                select(t.idempotency_keys).where(
                    t.idempotency_keys.c.scope == scope,
                    t.idempotency_keys.c.key == key,
                    t.idempotency_keys.c.created_at >= not_before,
                )
            )
        ).first()
        if row is None:
            return None
        return StoredResponse(
            row.method,
            row.path,
            row.request_hash,
            row.status_code,
            dict(row.response_headers),
            bytes(row.response_body),
            [(d[0], d[1], d[2]) for d in (row.disclosed or [])],
        )

    async def put(
        self, scope: str, key: str, response: StoredResponse, expired_before: datetime
    ) -> None:
        """Record a response under (scope, key), replacing only an expired one.

        A live row is never replaced: a concurrent request with the same key then fails on the
        primary key, and the caller replays the winner's response.
        """
        await self._conn.execute(
            t.idempotency_keys.delete().where(
                t.idempotency_keys.c.scope == scope,
                t.idempotency_keys.c.key == key,
                t.idempotency_keys.c.created_at < expired_before,
            )
        )
        await self._conn.execute(
            insert(t.idempotency_keys).values(
                scope=scope,
                key=key,
                method=response.method,
                path=response.path,
                request_hash=response.request_hash,
                status_code=response.status_code,
                response_headers=response.headers,
                response_body=response.body,
                disclosed=[list(d) for d in response.disclosed],
                created_at=utcnow(),
            )
        )


@dataclass(frozen=True, slots=True)
class Client:
    """A registered API client: it acts for one organization and holds a public JWK set."""

    id: str
    name: str
    organization_id: str
    jwks: dict[str, Any]
    scopes: str
    active: bool


class ClientRepository:
    """Registered clients and the client assertions they have already used."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, client: Client) -> None:
        """Register a client."""
        await self._conn.execute(
            insert(t.clients).values(
                id=client.id,
                name=client.name,
                organization_id=client.organization_id,
                jwks=client.jwks,
                scopes=client.scopes,
                active=client.active,
                created_at=utcnow(),
            )
        )

    async def get(self, client_id: str) -> Client | None:
        """The client with this id, or None."""
        row = (
            await self._conn.execute(select(t.clients).where(t.clients.c.id == client_id))
        ).first()
        if row is None:
            return None
        return Client(row.id, row.name, row.organization_id, dict(row.jwks), row.scopes, row.active)

    async def page(self, *, limit: int, after: str | None = None) -> Page[Client]:
        """Clients in id order."""
        query = select(t.clients).order_by(t.clients.c.id).limit(limit + 1)
        if after:
            query = query.where(t.clients.c.id > after)
        rows = (await self._conn.execute(query)).all()
        items = [
            Client(r.id, r.name, r.organization_id, dict(r.jwks), r.scopes, r.active) for r in rows
        ]
        return _page(items, limit, lambda c: c.id)

    async def set_jwks(self, client_id: str, jwks: dict[str, Any]) -> None:
        """Replace a client's public keys (key rotation)."""
        await self._conn.execute(
            t.clients.update().where(t.clients.c.id == client_id).values(jwks=jwks)
        )

    async def set_active(self, client_id: str, active: bool) -> None:
        """Enable or disable a client; a disabled client gets no new tokens."""
        await self._conn.execute(
            t.clients.update().where(t.clients.c.id == client_id).values(active=active)
        )

    async def revoke(self, client_id: str, before: datetime) -> None:
        """Refuse every token of the client issued before ``before`` (kept if already later)."""
        c = t.client_revocations.c
        updated = await self._conn.execute(
            t.client_revocations.update()
            .where(c.client_id == client_id, c.revoked_before < before)
            .values(revoked_before=before)
        )
        if updated.rowcount == 0:
            known = await self._conn.execute(select(c.client_id).where(c.client_id == client_id))
            if known.first() is None:
                await self._conn.execute(
                    insert(t.client_revocations).values(client_id=client_id, revoked_before=before)
                )

    async def revocations(self, since: datetime) -> dict[str, datetime]:
        """Revocations that can still matter: those later than ``since`` (the oldest issue time
        of a token still alive), by client."""
        c = t.client_revocations.c
        rows = await self._conn.execute(
            select(c.client_id, c.revoked_before).where(c.revoked_before > since)
        )
        return {r.client_id: r.revoked_before for r in rows.all()}

    async def use_assertion(self, client_id: str, jti: str, expires_at: datetime) -> None:
        """Record a client assertion's jti; a second use fails on the primary key.

        Records expired for over a minute are dropped first: an assertion cannot be replayed
        after its exp (plus the clock leeway) anyway.
        """
        await self._conn.execute(
            t.used_assertions.delete().where(
                t.used_assertions.c.expires_at < utcnow() - timedelta(minutes=1)
            )
        )
        await self._conn.execute(
            insert(t.used_assertions).values(client_id=client_id, jti=jti, expires_at=expires_at)
        )

    async def assertion_used(self, client_id: str, jti: str) -> bool:
        """Whether this jti was already presented by the client."""
        row = (
            await self._conn.execute(
                select(t.used_assertions.c.jti).where(
                    t.used_assertions.c.client_id == client_id, t.used_assertions.c.jti == jti
                )
            )
        ).first()
        return row is not None


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One access-log entry: who read or wrote what about whom, when, why, with what outcome."""

    at: datetime
    client_id: str
    organization_id: str
    user_id: str | None
    action: str
    resource_type: str
    resource_id: str | None
    person_id: str | None
    outcome: str
    purpose: str
    request_id: str | None = None
    id: int | None = None
    principal_id: str | None = None
    unit_id: str | None = None


def access_row(e: AccessEntry, principal: str, unit: str | None) -> dict[str, Any]:
    """The ``access_log`` row of an entry of a caller of ``principal`` acting for ``unit``."""
    return {
        "at": e.at,
        "client_id": e.client_id,
        "organization_id": e.organization_id,
        "principal_id": principal,
        "unit_id": unit,
        "user_id": e.user_id,
        "action": e.action,
        "resource_type": e.resource_type,
        # What the caller named may be junk that no column can hold (an overlong id, a NUL):
        # the entry is kept, with its digest.
        "resource_id": storable(e.resource_id),
        "person_id": storable(e.person_id, 36),
        "outcome": e.outcome,
        "purpose": e.purpose,
        "request_id": e.request_id,
    }


class AccessLogRepository:
    """The append-only access log. There is no update or delete here, by design."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def append(self, entries: Sequence[AccessEntry]) -> None:
        """Append entries; an entry that does not name its principal (a push, written by the
        dispatcher) gets its organization's, and a unit's entry the unit."""
        if not entries:
            return
        unnamed = sorted({e.organization_id for e in entries if e.principal_id is None})
        orgs: dict[str, tuple[str, str | None]] = {}
        if unnamed:
            o = t.organizations.c
            for row in await self._conn.execute(
                select(o.id, o.kind, o.parent_id).where(o.id.in_(unnamed))
            ):
                unit = row.kind == "unit" and row.parent_id is not None
                orgs[row.id] = (row.parent_id, row.id) if unit else (row.id, None)
        rows = []
        for e in entries:
            principal, unit = (
                (e.principal_id, e.unit_id)
                if e.principal_id is not None
                else orgs.get(e.organization_id, (e.organization_id, None))
            )
            rows.append(access_row(e, principal, unit))
        await self._conn.execute(insert(t.access_log), rows)

    async def get(self, entry_id: int) -> AccessEntry | None:
        """One entry, or None."""
        found = await self.page(limit=1, after=entry_id - 1, until=entry_id)
        return found.items[0] if found.items else None

    async def page(
        self,
        *,
        limit: int,
        after: int | None = None,
        person_id: str | None = None,
        organization_id: str | None = None,
        made_by: Reach | None = None,
        since: datetime | None = None,
        until: int | None = None,
    ) -> Page[AccessEntry]:
        """Entries in the order they were written, filtered by person, by organization, and by
        whose accesses they record (``made_by``: entries of a unit's reach are those made for the
        unit; an entry made for no unit counts as its principal's own)."""
        query = select(t.access_log).order_by(t.access_log.c.id).limit(limit + 1)
        if made_by is not None:
            log = t.access_log.c
            query = query.where(
                reach_clause(log.unit_id, log.principal_id, made_by)
                if made_by.principal_id is not None
                else or_(
                    log.unit_id.in_(sorted(made_by.organizations)),
                    and_(
                        log.unit_id.is_(None),
                        log.principal_id.in_(sorted(made_by.organizations)),
                    ),
                )
            )
        if after is not None:
            query = query.where(t.access_log.c.id > after)
        if until is not None:
            query = query.where(t.access_log.c.id <= until)
        if person_id:
            query = query.where(t.access_log.c.person_id == person_id)
        if organization_id:
            query = query.where(t.access_log.c.organization_id == organization_id)
        if since:
            query = query.where(t.access_log.c.at >= since)
        rows = (await self._conn.execute(query)).all()
        items = [
            AccessEntry(
                r.at,
                r.client_id,
                r.organization_id,
                r.user_id,
                r.action,
                r.resource_type,
                r.resource_id,
                r.person_id,
                r.outcome,
                r.purpose,
                r.request_id,
                r.id,
                r.principal_id,
                r.unit_id,
            )
            for r in rows
        ]
        return _page(items, limit, lambda e: str(e.id))
