"""The meta of the service's own definitions: CodeSystems, extensions, Measures, Questionnaire.

These resources are not stored: the code defines them, so each has one version, written when
the definitions were last changed. ``PUBLISHED`` is that instant (the commit that last changed
``app/fhir/conformance.py``, ``app/fhir/planning_basis.py`` or ``app/fhir/mappers/measure.py``);
whoever changes a definition moves it forward, so that ``meta.lastUpdated``, ``Last-Modified``
and a ``_lastUpdated`` search tell a client when to fetch them again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.fhir.common import meta

PUBLISHED = datetime(2026, 11, 30, 9, 58, 44, tzinfo=UTC)


def artifact_meta() -> dict[str, Any]:
    """``meta`` of a definition: its only version, as published."""
    return meta(1, PUBLISHED)
