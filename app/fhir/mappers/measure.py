"""Indicators as FHIR R4 Measures, and their figures as summary MeasureReports.

https://hl7.org/fhir/R4/measure.html, https://hl7.org/fhir/R4/measurereport.html (Clinical
Reasoning). Each Measure is generated from the indicator registry (`app.domain.statistics`):
its description is the indicator's one-sentence definition; a share is a proportion (numerator
over denominator), a distribution a continuous variable scored by its median, a count a cohort.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from app.domain.statistics import BY_CODE, INDICATORS, Figure, Indicator, Kind
from app.fhir.artifacts import artifact_meta
from app.fhir.common import canonical, day, instant, ref

SCORING = "http://terminology.hl7.org/CodeSystem/measure-scoring"
POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
MEASURE_IDS = sorted(i.code for i in INDICATORS)
_SCORING = {
    Kind.COUNT: "cohort",
    Kind.STRATA: "cohort",
    Kind.AMOUNT: "cohort",
    Kind.SHARE: "proportion",
    Kind.DISTRIBUTION: "continuous-variable",
}
_POPULATIONS = {
    Kind.COUNT: (("initial-population", "count"),),
    Kind.STRATA: (("initial-population", "count"),),
    Kind.AMOUNT: (("initial-population", "episodes"),),
    Kind.SHARE: (("denominator", "denominator"), ("numerator", "numerator")),
    Kind.DISTRIBUTION: (("measure-population", "n"),),
}
_SCORE = {
    Kind.COUNT: "count",
    Kind.STRATA: "count",
    Kind.AMOUNT: "days",
    Kind.SHARE: "share",
    Kind.DISTRIBUTION: "median",
}


def _code(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def by_id(measure_id: str) -> dict[str, Any]:
    """The Measure with this id (an indicator code)."""
    return to_fhir(BY_CODE[measure_id])


def to_fhir(item: Indicator) -> dict[str, Any]:
    """The Measure of an indicator."""
    group: dict[str, Any] = {
        "population": [
            {
                "code": _code(POPULATION, population),
                "description": item.definition,
                # R4 requires a criteria expression; the figure is computed by the service's SQL,
                # so the expression only names the population (CQL-style), the sentence says it.
                "criteria": {"language": "text/cql", "expression": population},
            }
            for population, _value in _POPULATIONS[item.kind]
        ]
    }
    if item.strata:
        group["stratifier"] = [
            {
                "code": {"text": "bucket" if item.kind is Kind.DISTRIBUTION else "stratum"},
                "description": ", ".join(item.strata),
            }
        ]
    return {
        "resourceType": "Measure",
        "id": item.code,
        "meta": artifact_meta(),
        "url": canonical("Measure", item.code),
        "version": "1",
        "name": "".join(part.capitalize() for part in item.code.split("-") if part.isalnum()),
        "title": item.title,
        "status": "active",
        "experimental": False,
        "publisher": "Samverkan",
        "description": item.definition,
        "scoring": _code(SCORING, _SCORING[item.kind]),
        "group": [group],
    }


def report(
    item: Indicator, figure: Figure, subject_id: str, zone: str, now: datetime
) -> dict[str, Any]:
    """A summary MeasureReport of one figure (a suppressed count is left out, and said)."""
    populations = []
    for population, value_name in _POPULATIONS[item.kind]:
        entry: dict[str, Any] = {"code": _code(POPULATION, population)}
        value = figure.values.get(value_name)
        if isinstance(value, int):
            entry["count"] = value
        populations.append(entry)
    group: dict[str, Any] = {"population": populations}
    score = figure.values.get(_SCORE[item.kind])
    if isinstance(score, int | float):
        group["measureScore"] = {"value": score, "unit": item.unit}
    if figure.strata:
        group["stratifier"] = [
            {
                "stratum": [
                    {"value": {"text": name}, "population": [_count(count)]}
                    for name, count in figure.strata.items()
                ]
            }
        ]
    notes = [f"suppressed as small cells: {', '.join(figure.suppressed)}"] * bool(figure.suppressed)
    notes += figure.notes
    resource: dict[str, Any] = {
        "resourceType": "MeasureReport",
        "status": "complete",
        "type": "summary",
        "measure": canonical("Measure", item.code),
        "date": instant(now),
        "reporter": ref("Organization", subject_id),
        "period": {"start": day(figure.period.first_day), "end": day(figure.period.last_day)},
        "group": [group],
        "text": {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml">'
            + escape("; ".join([f"{item.title}, periods in local time ({zone})", *notes]))
            + "</div>",
        },
    }
    return resource


def _count(count: int | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"code": _code(POPULATION, "initial-population")}
    if count is not None:
        entry["count"] = count
    return entry
