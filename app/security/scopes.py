"""SMART v2 system scopes: parsing, what a set of scopes allows, and what a client is granted."""

from __future__ import annotations

import re

SCOPE_PATTERN = re.compile(r"^system/(\*|[A-Z][A-Za-z]+)\.(c?r?u?d?s?)$")
"""SMART v2 system scope: ``system/<ResourceType or *>.<permissions in cruds order>``."""

ADMIN_SCOPE = "samverkan/admin"
"""Scope for the service's own administrative API (client and organization management)."""
METRICS_SCOPE = "samverkan/metrics"
"""Scope for reading the Prometheus metrics at ``GET /metrics``."""
LOG_EXTRACT_SCOPE = "samverkan/log-extract"
"""Scope for the complete access-log extract of one person (PDL 8 kap.; pasientjournalloven)."""
SERVICE_SCOPES = frozenset({ADMIN_SCOPE, METRICS_SCOPE, LOG_EXTRACT_SCOPE})

_V1_SCOPE_PATTERN = re.compile(r"^system/(\*|[A-Z][A-Za-z]+)\.(read|write)$")
_V1_TO_V2 = {"read": "rs", "write": "cud"}
_PERMISSIONS = "cruds"


def _split_scope(scope: str) -> tuple[str, str] | None:
    """(resource or "*", permission letters) of a v2 system scope, else None."""
    match = SCOPE_PATTERN.fullmatch(scope)
    if match is None or not match.group(2):
        return None
    return match.group(1), match.group(2)


def parse_scopes(text: str) -> frozenset[str]:
    """Parse a space-separated scope string into normalized SMART v2 system scopes.

    SMART v1 ``system/X.read`` / ``system/X.write`` are accepted and rewritten as ``system/X.rs`` /
    ``system/X.cud``. Raises ValueError naming the first unsupported scope, or if none is given.
    """
    parsed: set[str] = set()
    for scope in text.split():
        if scope in SERVICE_SCOPES or _split_scope(scope) is not None:
            parsed.add(scope)
            continue
        v1 = _V1_SCOPE_PATTERN.fullmatch(scope)
        if v1 is not None:
            parsed.add(f"system/{v1.group(1)}.{_V1_TO_V2[v1.group(2)]}")
            continue
        shown = scope if len(scope) <= 100 else scope[:100] + "…"
        raise ValueError(f"unsupported scope: {shown!r}")
    if not parsed:
        raise ValueError("no scope was given")
    return frozenset(parsed)


def scope_allows(scopes: frozenset[str], resource: str, permission: str) -> bool:
    """Whether any ``system/<resource or *>.<perms>`` scope grants ``permission`` (one of cruds)."""
    if len(permission) != 1 or permission not in _PERMISSIONS:
        raise ValueError(f"permission must be one of the letters {_PERMISSIONS!r}")
    for scope in scopes:
        split = _split_scope(scope)
        if split is not None and split[0] in (resource, "*") and permission in split[1]:
            return True
    return False


def grant_scopes(requested: frozenset[str], allowed: frozenset[str]) -> frozenset[str]:
    """The part of ``requested`` that ``allowed`` covers, per resource and permission letter.

    ``system/*.rs`` allowed and ``system/Patient.cruds`` requested gives ``system/Patient.rs``.
    A requested wildcard is narrowed to the allowed specific resources (``system/*.rs`` requested
    with ``system/Patient.r`` allowed gives ``system/Patient.r``) rather than refused outright, as
    OAuth lets a server grant less than asked. The service's own scopes (``samverkan/admin``,
    ``samverkan/metrics``, ``samverkan/log-extract``) are granted only if allowed.
    """
    letters: dict[str, set[str]] = {}
    for scope in requested:
        split = _split_scope(scope)
        if split is None:
            continue
        resource, perms = split
        for letter in perms:
            if scope_allows(allowed, resource, letter):
                letters.setdefault(resource, set()).add(letter)
            elif resource == "*":
                for allowed_scope in allowed:
                    allowed_split = _split_scope(allowed_scope)
                    if allowed_split is not None and letter in allowed_split[1]:
                        letters.setdefault(allowed_split[0], set()).add(letter)
    granted = {
        f"system/{resource}.{''.join(p for p in _PERMISSIONS if p in found)}"
        for resource, found in letters.items()
        if found
    }
    granted |= requested & allowed & SERVICE_SCOPES
    return frozenset(granted)
