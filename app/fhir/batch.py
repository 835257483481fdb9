"""Transaction and batch Bundles (https://hl7.org/fhir/R4/http.html#transaction)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from starlette.responses import Response

from app.domain.errors import DomainError, Incomplete, Malformed
from app.fhir import writes
from app.fhir.dispatch import SettingsDep, require_scope
from app.fhir.outcome import fhir_response, outcome, read_body
from app.http.deps import Caller, UowDep
from app.http.errors import domain_error_response
from app.settings import Settings


async def transaction(
    actor: Caller, uow: UowDep, request: Request, settings: SettingsDep
) -> Response:
    """A transaction (all or nothing, any entry order, urn:uuid references) or a batch."""
    body = writes.validate(await read_body(request), "Bundle")
    kind = body.get("type")
    if kind not in ("transaction", "batch"):
        raise Malformed("Bundle.type must be transaction or batch", field="Bundle.type")
    entries = writes.entries_of(body, settings.max_bundle_entries)
    for entry in entries:
        resource_type = entry.url.split("/", 1)[0]
        require_scope(actor, resource_type, "c" if entry.method == "POST" else "u")
    now = datetime.now(UTC)
    created: dict[str, str] = {}
    answers: dict[int, dict[str, Any]] = {}
    if kind == "transaction":
        # New Patients go in together; the rest one by one, after them (they may refer to them).
        patients = [e for e in entries if e.method == "POST" and e.url == "Patient"]
        failed: tuple[int, DomainError] | None = None
        try:
            for entry, written in zip(
                patients,
                await writes.create_patients(uow, actor, patients, created, settings, now),
                strict=True,
            ):
                answers[entry.index] = _entry_response(written, settings)
        except writes.EntryFailed as exc:
            failed = (exc.index, exc.error)
        for entry in entries:
            if failed is not None:
                break
            if entry.index in answers:
                continue
            try:
                written = await writes.apply(uow, actor, entry, created, settings, now)
            except DomainError as exc:
                failed = (entry.index, exc)
            else:
                answers[entry.index] = _entry_response(written, settings)
        if failed is not None:
            # Nothing of the transaction is kept: the request's unit of work is not committed.
            index, error = failed
            where = f"Bundle.entry[{index}]"
            problems = error.problems if isinstance(error, Incomplete) else [(error.field, "")]
            return outcome(
                domain_error_response(error).status_code,
                f"{where}: {error.message}",
                expressions=[
                    (f"{where}.{field}" if field else where, message or error.message)
                    for field, message in problems
                ],
            )
    else:
        for entry in entries:
            try:
                async with uow.savepoint():
                    written = await writes.apply(uow, actor, entry, created, settings, now)
                answers[entry.index] = _entry_response(written, settings)
            except DomainError as exc:
                answers[entry.index] = {
                    "response": {
                        "status": str(_status_of(exc)),
                        "outcome": {
                            "resourceType": "OperationOutcome",
                            "issue": [
                                {
                                    "severity": "error",
                                    "code": "processing",
                                    "diagnostics": exc.message,
                                    **({"expression": [exc.field]} if exc.field else {}),
                                }
                            ],
                        },
                    }
                }
    # ele-1: a Bundle without entries (an empty batch) has no entry array.
    response: dict[str, Any] = {"resourceType": "Bundle", "type": f"{kind}-response"}
    if answers:
        response["entry"] = [answers[i] for i in sorted(answers)]
    return fhir_response(response)


def _status_of(exc: DomainError) -> int:
    return domain_error_response(exc).status_code


def _entry_response(written: writes.Written, settings: Settings) -> dict[str, Any]:
    resource = written.resource
    return {
        "fullUrl": f"{settings.issuer}/fhir/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "response": {
            "status": "201 Created" if written.created else "200 OK",
            "location": f"{resource['resourceType']}/{resource['id']}/_history/"
            f"{resource['meta']['versionId']}",
            "etag": f'W/"{resource["meta"]["versionId"]}"',
        },
    }
