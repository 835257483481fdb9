"""What the ``fhir.resources`` models let through and FHIR does not: a code outside its required
value set (``Patient.gender: "unknown-gender"``), a JSON string where FHIR has a boolean
(``Patient.active: "true"``) and a base64Binary that is no base64 (``Attachment.data: "%%%"``).

The models coerce a string to a boolean, keep a required binding's codes only as metadata
(``enum_values``) and decode base64 leniently (what is no base64 is dropped); this walk over the
resource as sent, guided by the same models, refuses all three and names the element as FHIRPath.
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
    boolean: bool
    base64: bool
    nested: Model | None


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
            inner is bool,
            inner is bytes,
            _element_model(info),
        )
    return found


def check(resource: dict[str, Any], path: str | None = None) -> None:
    """Refuse (Malformed, naming the element) a code outside its required value set, a
    non-boolean where FHIR has a boolean, or base64Binary that is no base64, anywhere in
    ``resource``."""
    model = _model(str(resource.get("resourceType")))
    if model is not None:
        _walk(model, resource, path or str(resource["resourceType"]))


def _walk(model: Model, node: dict[str, Any], path: str) -> None:
    fields = _fields(model)
    for key, value in node.items():
        info = fields.get(key)
        if info is None or value is None:
            continue
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            where = f"{path}.{key}" + (f"[{index}]" if isinstance(value, list) else "")
            _check_value(info, item, where)


def _check_value(info: _Field, item: Any, where: str) -> None:
    allowed = info.allowed
    if allowed is not None and isinstance(item, str) and item not in allowed:
        raise Malformed(f"{where}: {item!r} is not one of {', '.join(allowed)}", field=where)
    if info.boolean and not isinstance(item, bool):
        raise Malformed(f"{where}: a boolean is true or false, not {item!r}", field=where)
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
