"""Conditional create (https://hl7.org/fhir/R4/http.html#ccreate): ``If-None-Exist`` carries a
search of the type being created; no match creates, one match is returned (200) and nothing is
written, several matches are refused (412 Precondition Failed).

The search is the type's own, with the caller's access, so a condition finds what a search by
the caller would find.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any
from urllib.parse import parse_qsl

from app.domain.errors import AmbiguousMatch, InvalidInput

Resource = dict[str, Any]
# Runs the type's search with the given parameters and returns at most ``count`` matches.
Search = Callable[[dict[str, str], int], Awaitable[list[Resource]]]
HEADER = "If-None-Exist"


def parse(condition: str, resource_type: str, declared: Collection[str]) -> dict[str, str]:
    """The search parameters of an ``If-None-Exist`` header, each one the type declares."""
    try:
        pairs = parse_qsl(condition.strip().lstrip("?"), strict_parsing=True)
    except ValueError as exc:
        raise InvalidInput(
            f"{HEADER} is a search, e.g. identifier=system|value: {exc}", field=HEADER
        ) from exc
    params: dict[str, str] = {}
    for name, value in pairs:
        if name not in declared:
            raise InvalidInput(
                f"{HEADER}: {resource_type} is not searched by {name}; supported: "
                f"{', '.join(sorted(declared))}",
                field=HEADER,
            )
        if name in params:
            raise InvalidInput(f"{HEADER}: {name} is given more than once", field=HEADER)
        params[name] = value
    return params


async def existing(
    condition: str, resource_type: str, declared: Collection[str], search: Search
) -> Resource | None:
    """The one resource the condition matches, None for none; AmbiguousMatch for several."""
    params = parse(condition, resource_type, declared)
    found = await search(params, 2)
    if len(found) > 1:
        raise AmbiguousMatch(
            f"{HEADER}: {condition} matches more than one {resource_type}; name one "
            "(e.g. by identifier=system|value) or create without the condition",
            field=HEADER,
        )
    return found[0] if found else None
