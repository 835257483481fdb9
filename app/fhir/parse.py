"""The one place FHIR wire values become domain values.

An inbound resource has been validated against its R4 model (``app.fhir.writes.validate``) before
it reaches a mapper, which reads that model; what is left is turning its values into what the
services take. Each function takes the model's value (a ``Reference``, an ``Identifier``, the
``date``, ``datetime`` or partial-date text the model holds) or, for what the service wrote itself
and search parameters, the JSON text:

- references: ``Type/id`` (optionally ``/_history/n``), the same under a base URL of ours, a bare
  id where a search parameter allows it, and the ``urn:uuid`` of a Bundle entry not yet created;
- instants and dates: delegated to ``app.domain.values`` (``parse_instant``,
  ``parse_partial_date``, ``parse_day``), which check offsets and the years the service keeps;
- the version a write was made against (``If-Match``, or the body's ``meta.versionId``);
- identifiers written as ``system|value`` tokens.

Every refusal is a 4xx naming the element at fault (its FHIRPath, or the parameter's name), so
an OperationOutcome can point at it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timezone
from typing import Any

from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource

from app.domain.errors import InvalidInput
from app.domain.values import (
    PartialDate,
    check_day,
    check_instant,
    parse_day,
    parse_instant,
    parse_instant_or_day,
    parse_partial_date,
)
from app.fhir.common import ORGANIZATION_IDS
from app.http.values import parse_if_match, system_and_value

_HISTORY = "/_history/"
_URN_UUID = "urn:uuid:"
# A Reference as a validated model holds it, or as JSON (what the service wrote itself).
ReferenceValue = Reference | Mapping[str, Any] | None


def reference_text(value: ReferenceValue) -> str | None:
    """The ``reference`` of a Reference element; None when it has none."""
    if isinstance(value, Reference):
        return value.reference
    found = (value or {}).get("reference")
    return found if isinstance(found, str) else None


@dataclass(frozen=True, slots=True)
class Literal:
    """A literal reference of this server: the type and id it names."""

    kind: str
    id: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.id}"


def literal(text: object, *, base: str | None = None) -> Literal | None:
    """The ``Type/id`` a literal reference names, or None when it names none of this server.

    Relative (``Patient/1``), versioned (``Patient/1/_history/2``: the resource, not the version)
    or absolute under ``base`` (``<base>/Patient/1``). A ``urn:uuid``, another server's URL, a
    bare id or anything with more path segments is None.
    """
    if not isinstance(text, str):
        return None
    value = text.strip()
    if base is not None and "://" in value:
        root = base.rstrip("/") + "/"
        if not value.startswith(root):
            return None
        value = value[len(root) :]
    value = value.split(_HISTORY, 1)[0]
    kind, sep, ident = value.partition("/")
    if not sep or not kind or not ident or "/" in ident or ":" in kind:
        return None
    if not kind[0].isupper():
        return None
    return Literal(kind, ident)


def is_bundle_local(text: object) -> bool:
    """Whether ``text`` is the ``urn:uuid`` fullUrl of an entry in the same Bundle."""
    return isinstance(text, str) and text.startswith(_URN_UUID) and len(text) > len(_URN_UUID)


def reference_id(value: ReferenceValue, kind: str, field: str) -> str:
    """The id of the ``kind`` a Reference element names literally; InvalidInput naming
    ``field`` (its FHIRPath) otherwise."""
    text = reference_text(value)
    if is_bundle_local(text):
        # A transaction replaces the urn:uuid of an entry it creates before mapping; one left
        # names no entry of the Bundle (or a message's, which creates nothing).
        raise InvalidInput(
            f"{field} names {text}, which no entry of this Bundle creates", field=field
        )
    found = literal(text)
    if found is None or found.kind != kind:
        raise InvalidInput(f"{field} must reference {_a(kind)} (as {kind}/<id>)", field=field)
    return found.id


def _a(kind: str) -> str:
    return f"{'an' if kind[0] in 'AEIOU' else 'a'} {kind}"


def optional_reference_id(value: ReferenceValue, kind: str, field: str) -> str | None:
    """As ``reference_id``, None when the element is absent or names nothing."""
    if not reference_text(value):
        return None
    return reference_id(value, kind, field)


def contained_id(value: ReferenceValue) -> str | None:
    """The id of the contained resource a local reference (``#id``) names; None for another."""
    text = reference_text(value)
    return text[1:] if text is not None and text.startswith("#") and len(text) > 1 else None


def reference_to(value: ReferenceValue, kinds: Collection[str]) -> tuple[str, str] | None:
    """The type and id a literal reference names when its type is one of ``kinds``; None
    otherwise (another type, no reference, a ``urn:uuid``)."""
    found = literal(reference_text(value))
    if found is None or found.kind not in kinds:
        return None
    return found.kind, found.id


def search_reference_id(value: str, kind: str, name: str) -> str:
    """The id a reference search parameter names: ``123``, ``Patient/123`` or a URL ending in
    ``Patient/123``; a reference to another type is refused, naming the parameter."""
    prefix, sep, ident = value.rpartition("/")
    if sep and prefix.rsplit("/", 1)[-1] != kind:
        raise InvalidInput(f"{name} must reference {_a(kind)}", field=name)
    return ident if sep else value


def organization_of(reference: ReferenceValue) -> str | None:
    """The organization id a Reference names, literally (``Organization/x``) or logically (an
    identifier in the service's organization-id system); None when it names none."""
    found = literal(reference_text(reference))
    if found is not None and found.kind == "Organization":
        return found.id
    if isinstance(reference, Reference):
        logical = reference.identifier
        system, value = (logical.system, logical.value) if logical else (None, None)
    else:
        given = (reference or {}).get("identifier") or {}
        system, value = given.get("system"), given.get("value")
    if system == ORGANIZATION_IDS and value:
        return str(value)
    return None


def identifier_in(identifiers: list[Identifier] | None, system: str) -> str | None:
    """The value of the first identifier in ``system``; None when there is none."""
    return next((i.value for i in identifiers or [] if i.system == system and i.value), None)


def system_value(identifier_: Identifier | None, field: str) -> tuple[str, str]:
    """The system and value of an Identifier element, both required (InvalidInput naming
    ``field.system`` or ``field.value`` otherwise)."""
    system = identifier_.system if identifier_ is not None else None
    value = identifier_.value if identifier_ is not None else None
    for element, given in (("system", system), ("value", value)):
        if not given:
            raise InvalidInput(f"{field}.{element} is required", field=f"{field}.{element}")
    assert system is not None and value is not None
    return system, value


def _aware(value: datetime) -> datetime:
    """A model's datetime with a plain ``timezone`` (pydantic gives its own tzinfo class)."""
    offset = value.utcoffset()
    return value if offset is None else value.replace(tzinfo=timezone(offset))


# The model holds a full dateTime or instant as a datetime, a full date as a date and a
# partial one (a year, a month) as its text; JSON holds text. Each function takes either.


def instant(value: object, field: str) -> datetime:
    """A FHIR instant (date, time and offset) within the years the service keeps."""
    if isinstance(value, datetime):
        return check_instant(_aware(value), field)
    if isinstance(value, date):
        value = value.isoformat()
    return parse_instant(value, field)


def optional_instant(value: object, field: str) -> datetime | None:
    """As ``instant``; None when the element is absent."""
    return None if value is None else instant(value, field)


def instant_or_day(value: object, field: str) -> datetime:
    """A FHIR dateTime that must be a moment (a day is its start in UTC)."""
    if isinstance(value, datetime):
        return check_instant(_aware(value), field)
    if isinstance(value, date):
        check_day(value, field)
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return parse_instant_or_day(value, field)


def partial_date(value: object, field: str) -> PartialDate:
    """A FHIR date: a year, a month or a day."""
    if isinstance(value, date) and not isinstance(value, datetime):
        check_day(value, field)
        return PartialDate(value.year, value.month, value.day)
    return parse_partial_date(value, field)


def day(value: object, field: str) -> date:
    """A FHIR date that must name one day."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return check_day(value, field)
    return parse_day(value, field)


def optional_day(value: object, field: str) -> date | None:
    """As ``day``; None when the element is absent."""
    return None if value is None else day(value, field)


def identifier(text: str, field: str) -> tuple[str, str]:
    """The system and value of a ``system|value`` token, both required."""
    return system_and_value(text, field)


def expected_version(if_match: str | None, resource: Resource | Mapping[str, Any]) -> int | None:
    """The version a write was made against: ``If-Match``, else the body's ``meta.versionId``
    (the version the client read); None when neither is given."""
    if if_match is not None:
        return parse_if_match(if_match)
    if isinstance(resource, Resource):
        version = resource.meta.versionId if resource.meta is not None else None
        kind = resource.get_resource_type()
    else:
        version = (resource.get("meta") or {}).get("versionId")
        kind = resource.get("resourceType") or "Resource"
    if version is None:
        return None
    return parse_if_match(str(version), field=f"{kind}.meta.versionId")


def search_instant(text: str, name: str) -> datetime:
    """The date and time of a search value (``2026-03-01T10:00:00+01:00``); without an offset
    it is taken as UTC (R4 search lets the server choose), then checked as any instant is."""
    time = text.partition("T")[2]
    offset = any(sign in time for sign in "Z+-")
    return parse_instant(text if offset or not time else f"{text}+00:00", name)


def written_instant(text: str) -> datetime:
    """A dateTime or date the service wrote itself (``meta.lastUpdated``, a period it mapped):
    a date is the start of its day in UTC. Not bounded as inbound values are: a value stored
    before the bounds existed must still be read."""
    if len(text) == 10:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
