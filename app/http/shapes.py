"""Copying a thing's fields by name between the edges' shapes and the services' values.

An API shape (a pydantic model) mostly names its fields as the entity it shows does, and a
service's command (a dataclass) mostly as the body it is made from. Rather than list every
field twice, a route names only those that differ: renamed, reshaped or computed.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

M = TypeVar("M", bound=BaseModel)
C = TypeVar("C", bound="DataclassInstance")


def _copied(
    sources: tuple[object, ...], names: dict[str, bool], overrides: dict[str, Any], target: str
) -> dict[str, Any]:
    """Each named field's value: from ``overrides``, else the attribute of that name on the
    first of ``sources`` that has one; a field with a default (``names[name]``) may be missing
    from all."""
    values: dict[str, Any] = {}
    for name, has_default in names.items():
        if name in overrides:
            values[name] = overrides[name]
            continue
        holder = next((s for s in sources if hasattr(s, name)), None)
        if holder is not None:
            values[name] = getattr(holder, name)
        elif not has_default:
            kinds = " or ".join(type(s).__name__ for s in sources)
            raise AttributeError(f"{target}.{name}: {kinds} has no {name}")
    unknown = overrides.keys() - names.keys()
    if unknown:
        raise TypeError(f"{target} has no field {', '.join(sorted(unknown))}")
    return values


def shaped(model: type[M], source: object, /, *more: object, **overrides: Any) -> M:
    """The API shape ``model`` of ``source``: each field read from the attribute of its name
    (on ``source``, else on the first of ``more`` that has it; nested shapes likewise, from the
    attributes of the nested values), unless ``overrides`` gives it."""
    names = {name: not field.is_required() for name, field in model.model_fields.items()}
    values = _copied((source, *more), names, overrides, model.__name__)
    return model.model_validate(values, from_attributes=True)


def command(cls: type[C], body: object, /, **overrides: Any) -> C:
    """The dataclass ``cls`` made from ``body``: each field from the body's attribute of its
    name, unless ``overrides`` gives it; a field the body lacks keeps its default."""
    names = {
        f.name: f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        for f in dataclasses.fields(cls)
        if f.init
    }
    return cls(**_copied((body,), names, overrides, cls.__name__))
