"""Reference-valued search parameters (``Patient/123`` or ``123``), read the same way by every
resource type; kept apart from ``app.fhir.resources`` so that the modules it gathers can use
them."""

from __future__ import annotations

from app.domain.errors import InvalidInput


def reference_id(value: str, resource_type: str, name: str) -> str:
    """The id in ``Patient/123`` or ``123``; another type's reference is refused."""
    kind, sep, ident = value.rpartition("/")
    if sep and kind.rsplit("/", 1)[-1] != resource_type:
        raise InvalidInput(f"{name} must reference a {resource_type}", field=name)
    return ident if sep else value


def optional_reference(params: dict[str, str], name: str, resource_type: str) -> str | None:
    """The id the parameter ``name`` references, or None when it is not given."""
    value = params.get(name)
    return None if value is None else reference_id(value, resource_type, name)
