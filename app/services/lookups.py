"""Reading one record by id in a use case: a record that is not there is a 404 naming it."""

from __future__ import annotations

from typing import TypeVar

from app.domain.errors import NotFound

T = TypeVar("T")


def present(found: T | None, what: str, ident: str) -> T:
    """``found``, or NotFound ("no <what> with id <ident>") when the read found nothing."""
    if found is None:
        raise NotFound(f"no {what} with id {ident}")
    return found
