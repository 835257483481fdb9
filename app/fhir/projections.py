"""The projectors of the read model: each covered type's stored FHIR JSON is its mapper's
``to_fhir`` serialized once, when the version is stored (``app.store.projections``).

``app.wiring`` hands them to the store at start-up. A mapper's ``MAPPER_VERSION``
is stored with each projection: raising it makes the projections it wrote stale, so reads map
again until ``samverkan projections rebuild`` has rewritten them.
"""

from __future__ import annotations

import orjson

from app.domain.parties import RecordType
from app.domain.plans import Plan
from app.domain.projections import CAREPLAN, Projection, Projector
from app.fhir.mappers import careplan


def careplan_projection(plan: Plan) -> Projection:
    """A plan's CarePlan as the read serves it: the mapper's JSON as orjson bytes."""
    return Projection(
        resource_type=CAREPLAN,
        resource_id=plan.id,
        record_type=RecordType.PLAN,
        record_id=plan.id,
        person_id=plan.person_id,
        version=plan.version,
        last_updated=plan.last_changed_at,
        body=orjson.dumps(careplan.to_fhir(plan)),
    )


PROJECTORS = {CAREPLAN: Projector(careplan.MAPPER_VERSION, careplan_projection)}
