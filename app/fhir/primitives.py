"""What the ``fhir.resources`` models let through and FHIR does not: a code outside its required
value set (``Patient.gender: "unknown-gender"``) and a JSON string where FHIR has a boolean
(``Patient.active: "true"``).

The models coerce a string to a boolean and keep a required binding's codes only as metadata
(``enum_values``); this walk over the resource as sent, guided by the same models, refuses both
and names the element as FHIRPath.
"""

from __future__ import annotations

import types
import typing
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


def _is_boolean(info: FieldInfo) -> bool:
    return _inner(info.annotation) is bool


def _fields(model: Model) -> dict[str, FieldInfo]:
    return {info.alias or name: info for name, info in model.model_fields.items()}


def check(resource: dict[str, Any], path: str | None = None) -> None:
    """Refuse (Malformed, naming the element) a code outside its required value set or a
    non-boolean where FHIR has a boolean, anywhere in ``resource``."""
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


def _check_value(info: FieldInfo, item: Any, where: str) -> None:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    allowed = extra.get("enum_values")
    if isinstance(allowed, list) and isinstance(item, str) and item not in allowed:
        codes = ", ".join(str(code) for code in allowed)
        raise Malformed(f"{where}: {item!r} is not one of {codes}", field=where)
    if _is_boolean(info) and not isinstance(item, bool):
        raise Malformed(f"{where}: a boolean is true or false, not {item!r}", field=where)
    if isinstance(item, dict):
        if isinstance(item.get("resourceType"), str):
            nested = _model(item["resourceType"])
        else:
            nested = _element_model(info)
        if nested is not None:
            _walk(nested, item, where)
