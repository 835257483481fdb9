"""Repositories: SQL in, domain objects out; they run inside the unit of work, never commit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, func, insert, or_, select, text, update
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
from app.domain.persons import Person
from app.store import tables as t


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

    async def get(self, org_id: str) -> Organization | None:
        """The organization with this id, or None."""
        found = await self.get_many([org_id])
        return found.get(org_id)

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


def _person(row: Row[Any]) -> Person:
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


class PersonRepository:
    """Persons, looked up by id or national identifier."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, person: Person) -> None:
        """Insert a new person."""
        now = utcnow()
        await self._conn.execute(
            insert(t.persons).values(
                id=person.id,
                identifier_system=person.identifier.system,
                identifier_value=person.identifier.value,
                given_name=person.given_name,
                family_name=person.family_name,
                birth_date=person.birth_date,
                residence_municipality_id=person.residence_municipality_id,
                stay_municipality_id=person.stay_municipality_id,
                protected_identity=person.protected_identity,
                address=person.address,
                phone=person.phone,
                version=person.version,
                created_at=now,
                updated_at=now,
            )
        )

    async def get(self, person_id: str) -> Person | None:
        """The person with this id, or None."""
        row = (
            await self._conn.execute(select(t.persons).where(t.persons.c.id == person_id))
        ).first()
        return _person(row) if row else None

    async def get_many(self, ids: Sequence[str]) -> dict[str, Person]:
        """The persons among ``ids`` that exist, by id."""
        if not ids:
            return {}
        rows = (
            await self._conn.execute(select(t.persons).where(t.persons.c.id.in_(set(ids))))
        ).all()
        return {r.id: _person(r) for r in rows}

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
        return _person(row) if row else None

    async def page(
        self,
        *,
        limit: int,
        after: str | None = None,
        municipality_id: str | None = None,
        identifier: PersonIdentifier | None = None,
    ) -> Page[Person]:
        """Persons in id order, filtered by residence municipality or identifier."""
        query = select(t.persons).order_by(t.persons.c.id).limit(limit + 1)
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
        return _page([_person(r) for r in rows], limit, lambda p: p.id)


def _event_data(event: EpisodeEvent) -> dict[str, str]:
    data: dict[str, str] = {}
    if event.expected_discharge_date is not None:
        data["expected_discharge_date"] = event.expected_discharge_date.isoformat()
    if event.decided_at is not None:
        data["decided_at"] = event.decided_at.astimezone(UTC).isoformat()
    if event.can_receive_from is not None:
        data["can_receive_from"] = event.can_receive_from.isoformat()
    return data


def _event(row: Row[Any]) -> EpisodeEvent:
    data: dict[str, str] = row.data or {}
    return EpisodeEvent(
        seq=row.seq,
        kind=EventKind(row.kind),
        at=row.at,
        expected_discharge_date=date.fromisoformat(data["expected_discharge_date"])
        if "expected_discharge_date" in data
        else None,
        decided_at=datetime.fromisoformat(data["decided_at"]) if "decided_at" in data else None,
        can_receive_from=date.fromisoformat(data["can_receive_from"])
        if "can_receive_from" in data
        else None,
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


class EpisodeRepository:
    """Episodes with their event history."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, episode: Episode) -> None:
        """Insert a new episode and any events it already has."""
        now = utcnow()
        await self._conn.execute(
            insert(t.episodes).values(
                id=episode.id,
                person_id=episode.person_id,
                hospital_unit_id=episode.hospital_unit_id,
                region_id=episode.region_id,
                municipality_id=episode.municipality_id,
                primary_care_unit_id=episode.primary_care_unit_id,
                jurisdiction=episode.jurisdiction,
                admitted_at=episode.admitted_at,
                admission_type=episode.admission_type.value,
                care_type=episode.care_type.value,
                version=episode.version,
                created_at=now,
                updated_at=now,
                **_episode_row(episode),
            )
        )
        await self._insert_events(episode.id, episode.events, now)

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
                insert(t.episode_events),
                [
                    {
                        "episode_id": episode_id,
                        "seq": e.seq,
                        "kind": e.kind.value,
                        "at": e.at,
                        "data": _event_data(e),
                        "recorded_at": now,
                    }
                    for e in events
                ],
            )

    async def get(self, episode_id: str) -> Episode | None:
        """The episode with its events, or None."""
        found = await self._load(select(t.episodes).where(t.episodes.c.id == episode_id))
        return found[0] if found else None

    async def page(
        self,
        *,
        limit: int,
        after: str | None = None,
        person_id: str | None = None,
        municipality_id: str | None = None,
        hospital_unit_id: str | None = None,
        state: EpisodeState | None = None,
    ) -> Page[Episode]:
        """Episodes in id order, filtered."""
        query = select(t.episodes).order_by(t.episodes.c.id).limit(limit + 1)
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
        return _page(await self._load(query), limit, lambda e: e.id)

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

    async def liable_candidates(
        self, municipality_id: str, start: datetime, end: datetime
    ) -> list[Episode]:
        """Episodes of a municipality that may carry liable days in [start, end).

        A payment clock can only run between a discharge-ready notice and the discharge, so the
        episode must have been discharge-ready before ``end`` and not discharged before ``start``.
        """
        query = (
            select(t.episodes)
            .where(
                t.episodes.c.municipality_id == municipality_id,
                t.episodes.c.first_discharge_ready_at < end,
                or_(t.episodes.c.discharged_at.is_(None), t.episodes.c.discharged_at >= start),
            )
            .order_by(t.episodes.c.admitted_at, t.episodes.c.id)
        )
        return await self._load(query)

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

    async def _load(self, query: Select[Any]) -> list[Episode]:
        rows = (await self._conn.execute(query)).all()
        if not rows:
            return []
        events: dict[str, list[EpisodeEvent]] = defaultdict(list)
        ids = [r.id for r in rows]
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            for ev in (
                await self._conn.execute(
                    select(t.episode_events)
                    .where(t.episode_events.c.episode_id.in_(chunk))
                    .order_by(t.episode_events.c.episode_id, t.episode_events.c.seq)
                )
            ).all():
                events[ev.episode_id].append(_event(ev))
        return [
            Episode(
                id=r.id,
                person_id=r.person_id,
                hospital_unit_id=r.hospital_unit_id,
                region_id=r.region_id,
                municipality_id=r.municipality_id,
                primary_care_unit_id=r.primary_care_unit_id,
                jurisdiction=r.jurisdiction,
                admitted_at=r.admitted_at,
                admission_type=AdmissionType(r.admission_type),
                care_type=CareType(r.care_type),
                state=EpisodeState(r.state),
                expected_discharge_date=r.expected_discharge_date,
                readmission_of_id=r.readmission_of_id,
                version=r.version,
                events=events[r.id],
            )
            for r in rows
        ]


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A response recorded under an idempotency key."""

    method: str
    path: str
    request_hash: str
    status_code: int
    headers: dict[str, str]
    body: bytes


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
                created_at=utcnow(),
            )
        )
