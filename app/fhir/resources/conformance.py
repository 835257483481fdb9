"""CodeSystem, StructureDefinition and Measure: the service's own conformance resources."""

from __future__ import annotations

from collections.abc import Callable

from app.domain.errors import NotFound
from app.fhir import conformance
from app.fhir.mappers import measure
from app.fhir.operations import evaluate_measure
from app.fhir.resources.params import SearchQuery
from app.fhir.resources.spec import ID, Found, Reader, Resource, ResourceSpec, Searcher, SearchParam
from app.security.access import Actor
from app.store.unit_of_work import UnitOfWork


def _conformance(
    names: list[str], build: Callable[[str], Resource], kind: str
) -> tuple[Reader, Searcher]:
    async def read_one(_uow: UnitOfWork, _actor: Actor, ident: str) -> Resource:
        if ident not in names:
            raise NotFound(f"no {kind} with id {ident}")
        return build(ident)

    async def search_all(_uow: UnitOfWork, _actor: Actor, query: SearchQuery) -> Found:
        # A handful of definitions built in memory: matched before paging, so a page is full.
        url = query.one("url")
        found = [
            resource
            for resource in map(build, names)
            if resource["id"] > (query.cursor or "")
            and (not query.ids or resource["id"] in query.ids)
            and url in (None, resource["url"])
        ]
        page = found[: query.count]
        return page, page[-1]["id"] if len(found) > query.count else None

    return read_one, search_all


_CODE_SYSTEM = _conformance(sorted(conformance.CODE_SYSTEMS), conformance.code_system, "CodeSystem")
_EXTENSIONS = _conformance(
    sorted(conformance.EXTENSIONS), conformance.structure_definition, "StructureDefinition"
)
_MEASURES = _conformance(measure.MEASURE_IDS, measure.by_id, "Measure")


CODE_SYSTEM = ResourceSpec(
    _CODE_SYSTEM[0],
    _CODE_SYSTEM[1],
    (ID, SearchParam("url", "uri", "the canonical URL")),
    documentation="The service's own code systems (message events, plan categories, …).",
)

STRUCTURE_DEFINITION = ResourceSpec(
    _EXTENSIONS[0],
    _EXTENSIONS[1],
    (ID, SearchParam("url", "uri", "the canonical URL")),
    documentation="The service's extensions.",
)

MEASURE = ResourceSpec(
    _MEASURES[0],
    _MEASURES[1],
    (ID, SearchParam("url", "uri", "the canonical URL")),
    documentation="The follow-up indicators (GET /api/v1/statistics), one Measure each; "
    "$evaluate-measure gives a summary MeasureReport.",
    operations=(("evaluate-measure", evaluate_measure.DEFINITION),),
)
