"""Idempotent requests: the response recorded for a request made with an ``Idempotency-Key``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A response recorded under an idempotency key."""

    method: str
    path: str
    request_hash: str
    status_code: int
    headers: dict[str, str]
    body: bytes
    # (resource type, resource id, person id) of the personal data the response discloses, so
    # that a replay is logged as the disclosure it is.
    disclosed: list[tuple[str, str | None, str]] = field(default_factory=list)
