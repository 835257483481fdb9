"""``samverkan organizations import``: load an organization register into an empty (or any)
database, the first step of a production bootstrap (docs/operations.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from app.cli import cli, in_unit_of_work

if TYPE_CHECKING:
    from app.services.organization_import import ImportReport, OrganizationEntry
    from app.store.unit_of_work import UnitOfWork

organizations_cli = typer.Typer(help="Import the organization register.", no_args_is_help=True)
cli.add_typer(organizations_cli, name="organizations")


@organizations_cli.command("import")
def import_register(
    file: Annotated[
        Path,
        typer.Argument(
            help="a CSV (country, code, name, region, cooperation_area, and optional kind, "
            "id, parent, function, hsa_id, her_id, organisation_number, resh_id) or a FHIR "
            "Bundle of Organizations (.json)",
            exists=True,
            dir_okay=False,
        ),
    ],
    check: Annotated[
        bool, typer.Option("--check", help="check and report only; change nothing")
    ] = False,
) -> None:
    """Create or update organizations by identifier (idempotent); prints what changed."""
    from app.services.organization_import import import_organizations

    entries = read_register(file)

    async def run(uow: UnitOfWork) -> ImportReport:
        return await import_organizations(uow, entries)

    report = in_unit_of_work(run, commit=not check)
    would = "would be " if check else ""
    for label, ids in (
        ("created", report.created),
        ("updated", report.updated),
        ("area created", report.areas_created),
        ("area joined", report.areas_joined),
    ):
        for org_id in ids:
            typer.echo(f"{would}{label}\t{org_id}")
    typer.echo(
        f"{file.name}: {len(entries)} organizations, {len(report.created)} {would}created, "
        f"{len(report.updated)} {would}updated, {len(report.unchanged)} unchanged; "
        f"{len(report.areas_created)} cooperation areas {would}created"
        + (" (checked only: nothing was changed)" if check else "")
    )


def read_register(file: Path) -> list[OrganizationEntry]:
    """The entries of a register file: a FHIR Bundle if it is JSON, else CSV."""
    from app.domain.errors import InvalidInput
    from app.services.organization_import import entries_from_bundle, entries_from_csv

    text = file.read_text(encoding="utf-8")
    if file.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:
            return entries_from_bundle(json.loads(text))
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{file} is not JSON: {exc}", field=str(file)) from None
    return entries_from_csv(text)
