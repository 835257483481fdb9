"""Rules every Bundle this server accepts keeps, whatever its type.

bdl-7 (https://hl7.org/fhir/R4/bundle.html#invs): a fullUrl is unique within a Bundle, unless
the entries sharing it are different versions (``meta.versionId``) of one resource; a history
Bundle is exempt, and this server accepts none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fhir.resources.R4B.bundle import BundleEntry

from app.domain.errors import Malformed


def _full_url_and_version(entry: Any) -> tuple[str | None, Any]:
    """An entry's fullUrl and its resource's ``meta.versionId``, from the model or JSON."""
    if isinstance(entry, BundleEntry):
        resource = entry.resource
        meta = resource.meta if resource is not None else None
        return entry.fullUrl, meta.versionId if meta is not None else None
    if not isinstance(entry, dict) or not isinstance(entry.get("fullUrl"), str):
        return None, None
    resource = entry.get("resource")
    version = (
        ((resource or {}).get("meta") or {}).get("versionId")
        if isinstance(resource, dict)
        else None
    )
    return entry["fullUrl"], version


def check_full_urls(entries: Sequence[BundleEntry] | Sequence[Any]) -> None:
    """Malformed naming the second entry that repeats an earlier entry's fullUrl (bdl-7)."""
    seen: dict[tuple[str, Any], int] = {}
    for index, entry in enumerate(entries):
        full_url, version = _full_url_and_version(entry)
        if full_url is None:
            continue
        key = (full_url, version)
        if key in seen:
            where = f"Bundle.entry[{index}].fullUrl"
            raise Malformed(
                f"{where}: {full_url} is also the fullUrl of Bundle.entry[{seen[key]}]; "
                "a fullUrl names one entry of a Bundle (bdl-7)",
                field=where,
            )
        seen[key] = index
