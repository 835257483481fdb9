"""Reference-valued search parameters (``Patient/123`` or ``123``), read the same way by every
resource type; kept apart from ``app.fhir.resources`` so that the modules it gathers can use
them."""

from __future__ import annotations

from app.fhir import parse


def reference_id(value: str, resource_type: str, name: str) -> str:
    """The id in ``Patient/123``, ``123`` or a URL ending in ``Patient/123``; another type's
    reference is refused, naming the parameter (``app.fhir.parse`` reads it)."""
    return parse.search_reference_id(value, resource_type, name)
