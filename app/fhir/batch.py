"""Transaction and batch Bundles (https://hl7.org/fhir/R4/http.html#transaction); the entry
responses are built in ``app.fhir.batch_entries``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fhir.resources.R4B.bundle import Bundle
from starlette.exceptions import HTTPException
from starlette.responses import Response

from app.domain.errors import DomainError, Malformed, NotFound
from app.fhir import batch_entries, search, writes
from app.fhir.dispatch import SettingsDep, require_scope, spec_of
from app.fhir.outcome import error_outcome, fhir_response, read_body
from app.fhir.resources.spec import Resource
from app.http.deps import Caller, UowDep


async def transaction(
    actor: Caller, uow: UowDep, request: Request, settings: SettingsDep
) -> Response:
    """A transaction (all or nothing, any entry order, urn:uuid references) or a batch; reads
    (``GET Type/id``) and searches (``GET Type?params``) in either are answered after the
    writes, with the caller's access."""
    body = writes.validate_as(await read_body(request), Bundle)
    kind = body.type
    if kind not in ("transaction", "batch"):
        raise Malformed("Bundle.type must be transaction or batch", field="Bundle.type")
    entries = writes.entries_of(body, settings.max_bundle_entries)
    for entry in entries:
        resource_type = entry.url.split("/", 1)[0]
        if entry.method != "GET":  # a read's (or search's) scope is checked as it is made
            require_scope(actor, resource_type, "c" if entry.method == "POST" else "u")

    async def reader(kind: str, ident: str, version: int | None) -> Resource:
        spec = spec_of(kind)
        require_scope(actor, kind, "r")
        if version is not None and spec.vread is not None:
            return await spec.vread(uow, actor, ident, version)
        resource = await spec.read(uow, actor, ident)
        if version is not None and resource["meta"]["versionId"] != str(version):
            raise NotFound(f"{kind}/{ident} keeps only its current version")
        return resource

    lenient = search.lenient(request.headers.get("prefer", ""))

    async def searcher(kind: str, items: list[tuple[str, str]]) -> Resource:
        url = f"{settings.issuer}/fhir/{kind}"
        return await search.searchset(uow, actor, kind, items, url, settings, lenient=lenient)

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
                answers[entry.index] = batch_entries.written(written, settings.issuer)
        except writes.EntryFailed as exc:
            failed = (exc.index, exc.error)
        for entry in entries:
            if failed is not None:
                break
            if entry.index in answers:
                continue
            try:
                if entry.method == "GET":
                    answers[entry.index] = await batch_entries.answer_get(
                        entry, reader, searcher, settings.issuer
                    )
                    continue
                written = await writes.apply(uow, actor, entry, created, settings, now)
            except DomainError as exc:
                failed = (entry.index, exc)
            else:
                answers[entry.index] = batch_entries.written(written, settings.issuer)
        if failed is not None:
            # Nothing of the transaction is kept: the request's unit of work is not committed.
            index, error = failed
            failed_type = next(e for e in entries if e.index == index).url.split("/", 1)[0]
            status, refusal = error_outcome(error, failed_type, entry=index)
            for issue in refusal["issue"]:
                issue["diagnostics"] = f"Bundle.entry[{index}]: {issue['diagnostics']}"
            return fhir_response(refusal, status=status)
    else:
        for entry in entries:
            try:
                async with uow.savepoint():
                    if entry.method == "GET":
                        answer = await batch_entries.answer_get(
                            entry, reader, searcher, settings.issuer
                        )
                    else:
                        written = await writes.apply(uow, actor, entry, created, settings, now)
                        answer = batch_entries.written(written, settings.issuer)
                answers[entry.index] = answer
            except (DomainError, HTTPException) as exc:
                answers[entry.index] = batch_entries.refused(entry, exc)
    # ele-1: a Bundle without entries (an empty batch) has no entry array.
    response: dict[str, Any] = {"resourceType": "Bundle", "type": f"{kind}-response"}
    if answers:
        response["entry"] = [answers[i] for i in sorted(answers)]
    return fhir_response(response)
