"""What the ``fhir.resources`` models let through and FHIR does not: a code outside its required
value set (``Patient.gender: "unknown-gender"``); a JSON value of the wrong type that the
models coerce — a string where FHIR has a boolean (``Patient.active: "true"``) or a number
(``multipleBirthInteger: "2"``), a number where FHIR has a date or time (``birthDate: 0``
would be 1970-01-01); a base64Binary that is no base64 (``Attachment.data: "%%%"``, which the
model decodes leniently, dropping what is no base64); and what FHIR JSON leaves out rather than
sends empty: ``null``, ``[]`` and ``{}`` (ele-1, https://hl7.org/fhir/R4/json.html).

The models keep a required binding's codes only as metadata (``enum_values``); this walk over the
resource as sent, guided by the same models, refuses all of these and names the element as
FHIRPath.
It runs once per request, over the whole body (a Bundle's entries included), beside the one
validation of the body against its model (``app.fhir.writes.validate``).
"""

from __future__ import annotations

import base64
import binascii
import functools
import types
import typing
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from app.domain.errors import Malformed

Model = type[BaseModel]


def _model(name: str) -> Model | None:
    try:
        found = get_fhir_model_class(name)
    except (KeyError, ValueError):
        return None
    return found if isinstance(found, type) and issubclass(found, BaseModel) else None


def _inner(annotation: Any) -> Any:
    """The element type of ``Optional[List[X]]`` and its kin."""
    while True:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType, list, typing.Annotated):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if not args:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _element_model(info: FieldInfo) -> Model | None:
    inner = _inner(info.annotation)
    if isinstance(inner, type) and issubclass(inner, BaseModel):
        return inner
    name = getattr(inner, "__name__", "")
    if name.endswith("Type") and name not in ("ResourceType",):
        return _model(name.removesuffix("Type"))
    return None


@dataclass(frozen=True, slots=True)
class _Field:
    """What the walk checks of one element of a model."""

    allowed: tuple[str, ...] | None
    # The JSON types a value must have, and what to say when it has another (``_JSON_TYPES``).
    json: tuple[tuple[type, ...], str] | None
    base64: bool
    nested: Model | None


# What a JSON value of each primitive's Python type must be: FHIR JSON sends booleans and
# numbers as such and dates and times as strings; the models would coerce the others.
_JSON_TYPES: dict[Any, tuple[tuple[type, ...], str]] = {
    bool: ((bool,), "a boolean is true or false"),
    int: ((int,), "an integer is a JSON number"),
    Decimal: ((int, float), "a decimal is a JSON number"),
    float: ((int, float), "a decimal is a JSON number"),
    date: ((str,), "a date is a string"),
    datetime: ((str,), "a date and time is a string"),
    time: ((str,), "a time is a string"),
}


@functools.cache
def _fields(model: Model) -> dict[str, _Field]:
    """The elements of ``model`` by their JSON name (worked out once per model)."""
    found = {}
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        allowed = extra.get("enum_values")
        inner = _inner(info.annotation)
        found[info.alias or name] = _Field(
            tuple(str(code) for code in allowed) if isinstance(allowed, list) else None,
            _JSON_TYPES.get(inner),
            inner is bytes,
            _element_model(info),
        )
    return found


def check(resource: dict[str, Any], path: str | None = None) -> None:
    """Refuse (Malformed, naming the element) a code outside its required value set, a value of
    the wrong JSON type, base64Binary that is no base64, or an empty value, anywhere in
    ``resource``."""
    model = _model(str(resource.get("resourceType")))
    if model is not None:
        _walk(model, resource, path or str(resource["resourceType"]))


def _walk(model: Model, node: dict[str, Any], path: str) -> None:
    fields = _fields(model)
    for key, value in node.items():
        if value is None or value == []:
            where = f"{path}.{key}"
            shown = "null" if value is None else "an empty array"
            raise Malformed(
                f"{where}: {shown} is not a value in FHIR JSON; leave the element out",
                field=where,
            )
        info = fields.get(key)
        if info is None:
            continue
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            where = f"{path}.{key}" + (f"[{index}]" if isinstance(value, list) else "")
            # A null in a list of primitives stands for a value given only as an extension
            # (the ``_key`` list beside it), and a null in that ``_key`` list for a value that
            # has none.
            if item is None and isinstance(value, list) and _paired(key, node):
                continue
            _check_value(info, item, where)


def _paired(key: str, node: dict[str, Any]) -> bool:
    """Whether the list ``key`` has its primitive-extension partner (``_key`` or ``key``)."""
    return (key[1:] if key.startswith("_") else f"_{key}") in node


def _check_value(info: _Field, item: Any, where: str) -> None:
    if item is None or item == {}:
        shown = "null" if item is None else "an empty object"
        raise Malformed(
            f"{where}: {shown} is not a value in FHIR JSON; leave the element out", field=where
        )
    expected = info.json
    if expected is not None and (
        not isinstance(item, expected[0]) or (isinstance(item, bool) and bool not in expected[0])
    ):
        raise Malformed(f"{where}: {expected[1]}, not {item!r}", field=where)
    allowed = info.allowed
    if allowed is not None and isinstance(item, str) and item not in allowed:
        raise Malformed(f"{where}: {item!r} is not one of {', '.join(allowed)}", field=where)
    if info.base64 and isinstance(item, str):
        try:
            base64.b64decode(item, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Malformed(f"{where}: the data is not base64: {exc}", field=where) from exc
    if isinstance(item, dict):
        if isinstance(item.get("resourceType"), str):
            nested = _model(item["resourceType"])
        else:
            nested = info.nested
        if nested is not None:
            _walk(nested, item, where)
