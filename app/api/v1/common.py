"""Shapes shared by the v1 routers: pagination envelopes and helpers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, Field

from app.http import values
from app.http.errors import errors_for
from app.http.routing import UnitOfWorkRoute
from app.http.values import parse_if_match as parse_if_match  # the routers take it from here

S = TypeVar("S")
T = TypeVar("T")
ItemT = TypeVar("ItemT")


class ListPage(BaseModel, Generic[ItemT]):
    """One page of a list; follow ``next`` until it is null."""

    items: list[ItemT]
    next_cursor: str | None = Field(description="pass as `cursor` to get the next page")
    next: str | None = Field(description="URL of the next page")


def next_link(request: Request, cursor: str | None) -> str | None:
    """The URL of the next page, keeping the caller's filters."""
    if cursor is None:
        return None
    return str(request.url.include_query_params(cursor=cursor))


def page_of(
    request: Request, items: Sequence[S], cursor: str | None, convert: Callable[[S], T]
) -> dict[str, object]:
    """A list page as a plain dict, ready for the response model."""
    return {
        "items": [convert(i) for i in items],
        "next_cursor": cursor,
        "next": next_link(request, cursor),
    }


def system_and_value(text: str | None, field: str) -> tuple[str, str] | None:
    """An identifier given as ``system|value`` (None when not given); 422 naming ``field``."""
    return None if text is None else values.system_and_value(text, field)


IfMatch = Annotated[
    str | None, Header(alias="If-Match", description='version last seen, e.g. W/"2"')
]
# Required where a change must say which version it was made against; absent, it is a 428
# (api/errors.py), as RFC 6585 has it, not a 422.
RequiredIfMatch = Annotated[
    str,
    Header(
        alias="If-Match",
        description='the version the change was made against, e.g. W/"2"; 428 without it',
    ),
]


def version_tag(version: int) -> str:
    """The entity tag of a resource's version."""
    return f'W/"{version}"'


def router(prefix: str, tag: str) -> APIRouter:
    """A v1 router whose routes each run in one unit of work, all behind a bearer token."""
    return APIRouter(
        prefix=prefix,
        tags=[tag],
        route_class=UnitOfWorkRoute,
        responses=errors_for(400, 401, 403, 429),
    )
