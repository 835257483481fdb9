"""The checked values of ``app.domain.values`` as pydantic types, and the checks of raw JSON
bodies, for both edges (the REST models of ``app.api`` and the FHIR parsing of ``app.fhir``).

A JSON body is checked before anything parses it recursively: nested deeper than
``SAMVERKAN_MAX_JSON_DEPTH`` (arrays and objects) or holding a NUL character in any string, it is
refused with 400 and the element named.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator

from app.domain.errors import DomainError, InvalidInput, Malformed
from app.domain.values import NUL, check_day, check_instant, check_text, parse_int


def _as_value_error(check: Callable[[Any, str], Any]) -> Callable[[Any], Any]:
    # pydantic names the element itself (as its location) when a validator raises ValueError.
    def validate(value: Any) -> Any:
        try:
            return check(value, "value")
        except DomainError as exc:
            raise ValueError(exc.message.removeprefix("value ").removeprefix("value: ")) from exc

    return validate


Instant = Annotated[datetime, AfterValidator(_as_value_error(check_instant))]
"""An instant with a UTC offset, within the configured years."""
Day = Annotated[date, AfterValidator(_as_value_error(check_day))]
"""A day within the configured years."""


_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
# Depth does not depend on the kind of bracket (the parser checks they match).
_ONE_KIND = bytes.maketrans(b"{}", b"[]")
_ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def json_depth_exceeds(raw: bytes, limit: int) -> bool:
    """Whether the arrays and objects of the (well-formed) JSON text ``raw`` nest deeper than
    ``limit``; found without parsing, so a hostile body cannot exhaust the stack.

    Strings are removed, then the innermost pairs of brackets are peeled off, one level a round:
    what remains after ``limit`` rounds lies deeper. (A 500-entry Bundle: ~6 ms, as long as
    orjson takes to parse it.)
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    # Escaped backslashes, then escaped quotes, go first (left to right, as JSON reads them);
    # then only quotes and brackets are kept, and every other piece between quotes is a string.
    structure = raw.replace(b"\\\\", b"").replace(b'\\"', b"").translate(_ONE_KIND, _NOT_STRUCTURE)
    brackets = b"".join(structure.split(b'"')[::2])
    for _ in range(limit):
        if not brackets:
            return False
        # One round removes exactly the pairs adjacent now: replace() does not look again at
        # what its own removals bring together.
        brackets = brackets.replace(b"[]", b"")
    return bool(brackets)


def _nul_element(value: Any, path: str) -> str | None:
    """The path of the first string (or member name) holding NUL, or None."""
    pending: list[tuple[Any, str]] = [(value, path)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, str):
            if NUL in item:
                return where
        elif isinstance(item, dict):
            for key, member in item.items():
                if NUL in key:
                    return where
                pending.append((member, f"{where}.{key}" if where else key))
        elif isinstance(item, list):
            pending.extend((member, f"{where}[{i}]") for i, member in enumerate(item))
    return None


def check_json_body(raw: bytes, max_depth: int) -> None:
    """Refuse (400) a JSON body nested deeper than ``max_depth`` or with NUL in a string.

    Malformed JSON is left to the parser that follows, which names its own error.
    """
    if not raw:
        return
    if json_depth_exceeds(raw, max_depth):
        raise Malformed(
            f"the body nests arrays and objects deeper than {max_depth} levels", field="body"
        )
    if b"\\u0000" not in raw or _ESCAPED_NUL.search(raw) is None:
        return
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return
    where = _nul_element(parsed, "")
    if where is not None:
        check_text(NUL, where or "body")


def parse_if_match(value: str | None, field: str = "If-Match") -> int | None:
    """The version an ``If-Match`` header (or another entity tag) names: ``W/"3"``, ``"3"`` or
    ``3``; None when not given. Anything else is a 422 naming ``field``."""
    if value is None:
        return None
    cleaned = value.strip().removeprefix("W/").strip('"')
    return parse_int(cleaned, field, what=f'{field} must name a version, e.g. W/"3"')


def system_and_value(text: str, field: str) -> tuple[str, str]:
    """An identifier written as ``system|value``, both parts required; 422 naming ``field``."""
    system, sep, value = text.partition("|")
    if not sep or not system or not value:
        raise InvalidInput(
            f"{field} must be given as system|value (not {text[:60]!r})", field=field
        )
    return system, value
