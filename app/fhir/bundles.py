"""Rules every Bundle this server accepts keeps, whatever its type.

bdl-7 (https://hl7.org/fhir/R4/bundle.html#invs): a fullUrl is unique within a Bundle, unless
the entries sharing it are different versions (``meta.versionId``) of one resource; a history
Bundle is exempt, and this server accepts none.
"""

from __future__ import annotations

from typing import Any

from app.domain.errors import Malformed


def check_full_urls(entries: list[Any]) -> None:
    """Malformed naming the second entry that repeats an earlier entry's fullUrl (bdl-7)."""
    seen: dict[tuple[str, Any], int] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("fullUrl"), str):
            continue
        resource = entry.get("resource")
        version = (
            ((resource or {}).get("meta") or {}).get("versionId")
            if isinstance(resource, dict)
            else None
        )
        key = (entry["fullUrl"], version)
        if key in seen:
            where = f"Bundle.entry[{index}].fullUrl"
            raise Malformed(
                f"{where}: {entry['fullUrl']} is also the fullUrl of Bundle.entry[{seen[key]}]; "
                "a fullUrl names one entry of a Bundle (bdl-7)",
                field=where,
            )
        seen[key] = index
