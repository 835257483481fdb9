"""Plans in the database, mapped explicitly to and from their domain objects.

A plan's content, consents and withdrawals are kept as one JSON document per version; the columns
hold what is searched on. Saving compares and sets the version, so of two concurrent writers of
the same version exactly one succeeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.clock import utcnow
from app.domain.errors import StaleVersion
from app.domain.parties import Reach, RecordType
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
    follow_up_windows,
)
from app.domain.projections import CAREPLAN
from app.domain.representatives import Representative, RepresentativeRole
from app.store import tables as t
from app.store.json_values import date_of, date_text, instant_text
from app.store.paging import AnyOf, Page, trim_to_page, visible_page, wanted_filters
from app.store.parties import PartyRepository, visible_records

if TYPE_CHECKING:
    from app.store.projections import ProjectionRepository


def content_document(content: PlanContent) -> dict[str, Any]:
    """A plan's content as JSON."""
    coordinator = content.coordinator
    return {
        "title": content.title,
        "goals": [
            {"id": g.id, "description": g.description, "target_date": date_text(g.target_date)}
            for g in content.goals
        ],
        "resources": list(content.resources),
        "needs": list(content.needs),
        "interventions": [
            {
                "id": i.id,
                "description": i.description,
                "responsible_unit_id": i.responsible_unit_id,
                "responsible_principal_id": i.responsible_principal_id,
                "frequency": i.frequency,
            }
            for i in content.interventions
        ],
        "others": [
            {"who": o.who, "relation": o.relation, "contribution": o.contribution}
            for o in content.others
        ],
        "responsible_principal_id": content.responsible_principal_id,
        "coordinator": None
        if coordinator is None
        else {
            "name": coordinator.name,
            "unit_id": coordinator.unit_id,
            "principal_id": coordinator.principal_id,
            "title": coordinator.title,
            "chosen_with_person": coordinator.chosen_with_person,
            "practitioner_role_id": coordinator.practitioner_role_id,
        },
        "start_date": date_text(content.start_date),
        "planned_end_date": date_text(content.planned_end_date),
        "follow_up_dates": [d.isoformat() for d in content.follow_up_dates],
        "basis": [
            {"kind": b.kind.value, "reference": b.reference, "description": b.description}
            for b in content.basis
        ],
        "episode_id": content.episode_id,
    }


def content_from(doc: dict[str, Any]) -> PlanContent:
    """A plan's content from JSON."""
    coordinator = doc.get("coordinator")
    return PlanContent(
        title=doc["title"],
        goals=tuple(
            Goal(g["id"], g["description"], date_of(g.get("target_date"))) for g in doc["goals"]
        ),
        resources=tuple(doc["resources"]),
        needs=tuple(doc["needs"]),
        interventions=tuple(
            Intervention(
                i["id"],
                i["description"],
                i.get("responsible_unit_id"),
                i.get("responsible_principal_id"),
                i.get("frequency"),
            )
            for i in doc["interventions"]
        ),
        others=tuple(
            OtherContribution(o["who"], o["relation"], o["contribution"]) for o in doc["others"]
        ),
        responsible_principal_id=doc.get("responsible_principal_id"),
        coordinator=None
        if coordinator is None
        else Coordinator(
            coordinator["name"],
            coordinator["unit_id"],
            coordinator["principal_id"],
            coordinator.get("title"),
            coordinator.get("chosen_with_person", True),
            coordinator.get("practitioner_role_id"),
        ),
        start_date=date_of(doc.get("start_date")),
        planned_end_date=date_of(doc.get("planned_end_date")),
        follow_up_dates=tuple(date.fromisoformat(d) for d in doc["follow_up_dates"]),
        basis=tuple(
            Basis(BasisKind(b["kind"]), b["reference"], b.get("description")) for b in doc["basis"]
        ),
        episode_id=doc.get("episode_id"),
    )


def plan_document(plan: Plan) -> dict[str, Any]:
    """Everything of a plan that is versioned, as JSON."""
    return {
        "content": content_document(plan.content),
        "initiator": {
            "kind": plan.initiator.kind.value,
            "organization_id": plan.initiator.organization_id,
            "name": plan.initiator.name,
        },
        "consents": [
            {
                "id": c.id,
                "given_by": c.given_by.value,
                "given_at": instant_text(c.given_at),
                "method": c.method.value,
                "share_with": list(c.share_with),
                "recorded_by": c.recorded_by,
                "representative_name": c.representative_name,
                "representatives": [
                    {"name": r.name, "role": r.role.value if r.role else None}
                    for r in c.representatives
                ],
            }
            for c in plan.consents
        ],
        "withdrawals": [
            {
                "consent_id": w.consent_id,
                "at": instant_text(w.at),
                "principal_ids": list(w.principal_ids),
                "recorded_by": w.recorded_by,
            }
            for w in plan.withdrawals
        ],
        "status_reason": plan.status_reason,
    }


def plan_from(row: Any, document: dict[str, Any], version: int, status: str) -> Plan:
    """A plan from its row and one version's document."""
    initiator = document["initiator"]
    return Plan(
        id=row.id,
        person_id=row.person_id,
        jurisdiction=row.jurisdiction,
        initiator=Initiator(
            InitiatorKind(initiator["kind"]), initiator["organization_id"], initiator.get("name")
        ),
        initiating_principal_id=row.initiating_principal_id,
        content=content_from(document["content"]),
        created_at=row.created_at,
        status=PlanStatus(status),
        consents=[
            Consent(
                c["id"],
                ConsentGiver(c["given_by"]),
                datetime.fromisoformat(c["given_at"]),
                ConsentMethod(c["method"]),
                tuple(c["share_with"]),
                c["recorded_by"],
                c.get("representative_name"),
                tuple(
                    Representative(r["name"], RepresentativeRole(r["role"]) if r["role"] else None)
                    for r in c.get("representatives") or []
                ),
            )
            for c in document["consents"]
        ],
        withdrawals=[
            Withdrawal(
                w["consent_id"],
                datetime.fromisoformat(w["at"]),
                tuple(w["principal_ids"]),
                w["recorded_by"],
            )
            for w in document["withdrawals"]
        ],
        version=version,
        updated_at=row.updated_at,
        status_reason=document.get("status_reason"),
    )


def plan_row(plan: Plan, document: dict[str, Any]) -> dict[str, Any]:
    """The ``plans`` row of a plan at its current version (``document``: ``plan_document``)."""
    return {
        "id": plan.id,
        "person_id": plan.person_id,
        "jurisdiction": plan.jurisdiction,
        "status": plan.status.value,
        "initiating_principal_id": plan.initiating_principal_id,
        "version": plan.version,
        "document": document,
        "created_at": plan.created_at,
        "updated_at": plan.updated_at or plan.created_at,
    }


def plan_version_row(
    plan: Plan, document: dict[str, Any], organization_id: str, client_id: str
) -> dict[str, Any]:
    """The ``plan_versions`` row recording the plan's current version, saved by the client."""
    return {
        "plan_id": plan.id,
        "version": plan.version,
        "status": plan.status.value,
        "document": document,
        "recorded_at": plan.updated_at or plan.created_at,
        "organization_id": organization_id,
        "client_id": client_id,
    }


def follow_up_rows(plan: Plan) -> list[dict[str, Any]]:
    """The ``plan_follow_ups`` rows of the plan's follow-up dates now."""
    return [
        {
            "plan_id": w.plan_id,
            "follow_up_date": w.follow_up_date,
            "due_at": w.due_at,
            "overdue_at": w.overdue_at,
            "answered_from": w.answered_from,
            "answered_until": w.answered_until,
        }
        for w in follow_up_windows(plan)
    ]


class PlanRepository:
    """Plans and their versions, each stored with its CarePlan projection (the read model)."""

    def __init__(
        self, conn: AsyncConnection, projections: ProjectionRepository, parties: PartyRepository
    ) -> None:
        self._conn = conn
        self._projections = projections
        self._parties = parties

    async def add(self, plan: Plan, *, organization_id: str, client_id: str) -> None:
        """Store a new plan as its first version."""
        document = plan_document(plan)
        await self._conn.execute(insert(t.plans).values(**plan_row(plan, document)))
        await self._record(plan, document, organization_id, client_id)

    async def add_many(
        self, plans: Sequence[Plan], *, organization_id: str, client_id: str
    ) -> None:
        """Store new plans, each as its current version only (bulk loading)."""
        documents = [(plan, plan_document(plan)) for plan in plans]
        await self._conn.execute(insert(t.plans), [plan_row(p, d) for p, d in documents])
        await self._conn.execute(
            insert(t.plan_versions),
            [plan_version_row(p, d, organization_id, client_id) for p, d in documents],
        )
        follow_ups = [row for p, _d in documents for row in follow_up_rows(p)]
        if follow_ups:
            await self._conn.execute(insert(t.plan_follow_ups), follow_ups)
        await self._projections.keep(CAREPLAN, plans)

    async def save(
        self, plan: Plan, *, expected_version: int, organization_id: str, client_id: str
    ) -> None:
        """Store the plan's new version, if no one else saved over ``expected_version``."""
        document = plan_document(plan)
        result = await self._conn.execute(
            update(t.plans)
            .where(t.plans.c.id == plan.id, t.plans.c.version == expected_version)
            .values(
                status=plan.status.value,
                version=plan.version,
                document=document,
                updated_at=plan.updated_at or utcnow(),
            )
        )
        if result.rowcount != 1:
            raise StaleVersion(
                f"plan {plan.id} was changed by someone else since version {expected_version}; "
                "read it again"
            )
        await self._record(plan, document, organization_id, client_id)

    async def _record(
        self, plan: Plan, document: dict[str, Any], organization_id: str, client_id: str
    ) -> None:
        await self._conn.execute(
            insert(t.plan_versions).values(
                **plan_version_row(plan, document, organization_id, client_id)
            )
        )
        await self._conn.execute(
            delete(t.plan_follow_ups).where(t.plan_follow_ups.c.plan_id == plan.id)
        )
        follow_ups = follow_up_rows(plan)
        if follow_ups:
            await self._conn.execute(insert(t.plan_follow_ups), follow_ups)
        await self._projections.keep(CAREPLAN, [plan])

    async def get(self, plan_id: str, *, for_update: bool = False) -> Plan | None:
        """The plan at its current version, or None.

        ``for_update``: locked until the transaction ends (see ``app.store.unit_of_work``).
        """
        query = select(t.plans).where(t.plans.c.id == plan_id)
        row = (await self._conn.execute(query.with_for_update() if for_update else query)).first()
        if row is None:
            return None
        return plan_from(row, row.document, row.version, row.status)

    async def get_version(self, plan_id: str, version: int) -> Plan | None:
        """The plan as it was at ``version``, or None."""
        row = (await self._conn.execute(select(t.plans).where(t.plans.c.id == plan_id))).first()
        old = (
            await self._conn.execute(
                select(t.plan_versions).where(
                    t.plan_versions.c.plan_id == plan_id, t.plan_versions.c.version == version
                )
            )
        ).first()
        if row is None or old is None:
            return None
        plan = plan_from(row, old.document, old.version, old.status)
        plan.updated_at = old.recorded_at
        return plan

    async def versions(self, plan_id: str) -> list[tuple[int, str, datetime, str]]:
        """(version, status, recorded at, by organization) of every version, oldest first."""
        rows = await self._conn.execute(
            select(
                t.plan_versions.c.version,
                t.plan_versions.c.status,
                t.plan_versions.c.recorded_at,
                t.plan_versions.c.organization_id,
            )
            .where(t.plan_versions.c.plan_id == plan_id)
            .order_by(t.plan_versions.c.version)
        )
        return [(r.version, r.status, r.recorded_at, r.organization_id) for r in rows]

    async def page(
        self,
        *,
        limit: int,
        after: str | None,
        visible_to: Reach,
        person_id: AnyOf = None,
        status: AnyOf = None,
        ids: AnyOf = None,
        jurisdiction: AnyOf = None,
    ) -> Page[Plan]:
        """Plans the reach is a party to, in id order, filtered (a collection: any of its
        values). Filtered by one person, the same statement tells whether the reach is a party
        to any record about them, which a search by that person asks next (kept in
        ``PartyRepository.answered``): an empty page is then one statement."""
        persons = wanted_filters({"person_id": person_id}).get("person_id", [])
        within_person = str(persons[0]) if len(persons) == 1 else None
        query, params = visible_page(
            t.plans,
            RecordType.PLAN,
            visible_to,
            limit=limit,
            after=after,
            equal={
                "id": ids,
                "person_id": person_id,
                "status": status,
                "jurisdiction": jurisdiction,
            },
            within_person=within_person,
        )
        rows = (await self._conn.execute(query, params)).all()
        if within_person is not None:
            self._parties.answered(within_person, visible_to, bool(rows[0].person_within))
            rows = [r for r in rows if r.id is not None]
        return trim_to_page(
            [plan_from(r, r.document, r.version, r.status) for r in rows], limit, _plan_id
        )

    async def active_visible_to(self, reach: Reach) -> list[Plan]:
        """The active plans the reach is a party to."""
        rows = await self._conn.execute(
            select(t.plans)
            .where(
                t.plans.c.status == PlanStatus.ACTIVE.value,
                t.plans.c.id.in_(visible_records(RecordType.PLAN, reach)),
            )
            .order_by(t.plans.c.id)
        )
        return [plan_from(r, r.document, r.version, r.status) for r in rows]


def _plan_id(plan: Plan) -> str:
    return plan.id


__all__ = [
    "PlanRepository",
    "content_document",
    "content_from",
    "follow_up_rows",
    "plan_document",
    "plan_from",
    "plan_row",
    "plan_version_row",
]
