"""Copying fields by name between API shapes and entities or commands (app/http/shapes.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from pydantic import BaseModel

from app.http.shapes import command, shaped


@dataclass
class Item:
    id: str
    size: int


@dataclass
class Entity:
    id: str
    name: str
    items: tuple[Item, ...]
    secret: str = "not shown"


@dataclass
class Detail:
    id: str
    note: str


class ItemRead(BaseModel):
    id: str
    size: int


class EntityRead(BaseModel):
    id: str
    label: str
    items: list[ItemRead]
    note: str | None = None


class Body(BaseModel):
    id: str
    name: str
    tags: list[str]


@dataclass(frozen=True)
class Create:
    id: str
    name: str
    tags: tuple[str, ...]
    kind: str = "plain"
    extra: list[str] = field(default_factory=list)


def test_a_shape_copies_the_fields_it_names_nested_ones_too_and_takes_overrides():
    entity = Entity("e1", "Ett", (Item("i1", 3),))
    read = shaped(EntityRead, entity, label=entity.name.upper())
    assert read == EntityRead(id="e1", label="ETT", items=[ItemRead(id="i1", size=3)])


def test_a_later_source_gives_what_the_first_lacks_and_never_overrides_it():
    entity = Entity("e1", "Ett", ())
    read = shaped(EntityRead, entity, Detail("d1", "a note"), label="x")
    assert (read.id, read.note) == ("e1", "a note")


def test_a_required_field_no_source_has_is_refused_by_name():
    with pytest.raises(AttributeError, match=r"EntityRead\.label"):
        shaped(EntityRead, Entity("e1", "Ett", ()))


def test_an_override_of_no_field_is_refused():
    with pytest.raises(TypeError, match="labl"):
        shaped(EntityRead, Entity("e1", "Ett", ()), label="x", labl="y")


def test_a_command_takes_the_body_s_fields_and_keeps_its_defaults():
    body = Body(id="b1", name="Namn", tags=["a"])
    made = command(Create, body, tags=tuple(body.tags))
    assert made == Create("b1", "Namn", ("a",))


def test_a_command_field_the_body_lacks_without_a_default_is_refused():
    @dataclass
    class Needs:
        id: str
        owner: str

    with pytest.raises(AttributeError, match=r"Needs\.owner"):
        command(Needs, Body(id="b1", name="n", tags=[]))
