"""The search parameters of Subscription, matched on the caller's subscriptions.

An organization has few subscriptions (``SAMVERKAN_MAX_SUBSCRIPTIONS_PER_ORGANIZATION``), so
they are matched as FHIR resources after being listed. Parameters follow R4's Subscription
search parameters (https://hl7.org/fhir/R4/subscription.html#search); a parameter not declared
here is refused, as for every other type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.domain.errors import InvalidInput
from app.fhir.search_params import split

Resource = dict[str, Any]

_STATUS_SYSTEM = "http://hl7.org/fhir/subscription-status"
_CHANNEL_SYSTEM = "http://terminology.hl7.org/CodeSystem/subscription-channel-type"
# name → (type, documentation)
PARAMS: dict[str, tuple[str, str]] = {
    "_id": ("token", "the logical id"),
    "status": ("token", "requested, active, error or off"),
    "type": ("token", "the channel type (rest-hook)"),
    "criteria": ("string", "the topic's canonical URL, or its beginning"),
    "url": ("uri", "the endpoint notifications are posted to"),
}
# Parameters every search takes besides the declared ones.
PAGING = ("_count", "_cursor", "_format")


def declared() -> list[dict[str, str]]:
    """The CapabilityStatement's searchParam entries of Subscription."""
    return [
        {"name": name, "type": kind, "documentation": documentation}
        for name, (kind, documentation) in PARAMS.items()
    ]


def openapi_parameters() -> list[dict[str, Any]]:
    """The query parameters of the search, as the OpenAPI document declares them."""
    paging = {
        "_count": "results per page",
        "_cursor": "the page after this one (from a next link)",
        "_format": "json only",
    }
    described = {name: documentation for name, (_kind, documentation) in PARAMS.items()}
    return [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": description,
            "schema": {"type": "string"},
        }
        for name, description in {**described, **paging}.items()
    ]


def _codes(value: str, system: str | None, name: str) -> set[str]:
    codes = set()
    for part in split(value):
        given, sep, code = part.rpartition("|")
        if not code:
            raise InvalidInput(f"{name} has no code", field=name)
        if not sep or not given or given == system:
            codes.add(code)
    return codes


def _token_test(name: str, value: str, system: str | None) -> Callable[[Resource], bool]:
    codes = _codes(value, system, name)
    element = "id" if name == "_id" else name
    if name == "type":
        return lambda r: (r.get("channel") or {}).get("type") in codes
    return lambda r: r.get(element) in codes


def tests(
    query: list[tuple[str, str]], ignored: dict[str, str] | None = None
) -> list[Callable[[Resource], bool]]:
    """The tests a subscription must pass to match a query; repeated parameters are refused,
    naming them, and so are unknown ones, unless ``ignored`` (lenient handling) is given: then
    each is put there, with why, and left out."""
    found: list[Callable[[Resource], bool]] = []
    seen: set[str] = set()
    for name, value in query:
        if name not in PARAMS and name not in PAGING:
            supported = ", ".join(sorted({*PARAMS, *PAGING}))
            why = f"Subscription is not searched by {name}; supported: {supported}"
            if ignored is None:
                raise InvalidInput(why, field=name)
            ignored[name] = why
            continue
        if name in seen:
            raise InvalidInput(f"{name} is given more than once", field=name)
        seen.add(name)
        if name in ("_id", "status"):
            found.append(_token_test(name, value, None if name == "_id" else _STATUS_SYSTEM))
        elif name == "type":
            found.append(_token_test(name, value, _CHANNEL_SYSTEM))
        elif name == "criteria":
            found.append(_starts_with(value))
        elif name == "url":
            found.append(_endpoint(value))
    return found


def _starts_with(value: str) -> Callable[[Resource], bool]:
    """A string search: the criteria begin with the value, ignoring case."""
    beginning = value.lower()
    return lambda r: str(r.get("criteria", "")).lower().startswith(beginning)


def _endpoint(value: str) -> Callable[[Resource], bool]:
    """A uri search: the endpoint is the value exactly."""
    return lambda r: (r.get("channel") or {}).get("endpoint") == value
