"""`samverkan organizations import`: a register as CSV or FHIR Bundle, created or updated by
identifier, idempotent, with a dry run; and `clients add --admin` for the first administrator."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.settings import Settings
from tests.conftest import ClientFor
from tests.database import connected
from tests.e2e.test_configuration import run

# Committing: the command runs in another process.
pytestmark = pytest.mark.committing

REGISTER = """\
country,kind,id,code,name,region,cooperation_area,parent,function,hsa_id,organisation_number
SE,region,region-import-test,,Region Importtest,,,,,,232100-0999
SE,unit,,,Importsjukhuset medicin,,,region-import-test,hospital-ward,SE2321000999-IMP1,
SE,,,0991,Importby kommun,Region Importtest,Importområdet,,,,
SE,,,0992,Testvik kommun,region-import-test,Importområdet,,,,
SE,unit,,,Hemtjänst Importby,,,urn:oid:1.2.752.129.2.2.1.17|0991,home-care,,
"""


# Organizations outlive a test (other tests count the demo data), so these tests remove theirs.
@pytest.fixture(autouse=True)
async def remove_imported(engine: AsyncEngine) -> AsyncIterator[None]:
    yield
    async with connected(engine) as conn:
        ids = list(
            (
                await conn.execute(
                    text(
                        "SELECT id FROM organizations WHERE id LIKE '%import%' "
                        "OR id IN ('kommun-0991', 'kommun-0992')"
                    )
                )
            ).scalars()
        )
        if not ids:
            return
        expanding = {"ids": ids}
        for statement in (
            "DELETE FROM cooperation_area_members WHERE municipality_id IN :ids",
            "DELETE FROM cooperation_areas WHERE region_id IN :ids",
            "DELETE FROM organization_identifiers WHERE organization_id IN :ids",
            "DELETE FROM organizations WHERE id IN :ids AND parent_id IS NOT NULL",
            "DELETE FROM organizations WHERE id IN :ids",
        ):
            await conn.execute(
                text(statement).bindparams(bindparam("ids", expanding=True)), expanding
            )


def imported(settings: Settings, path: Path, *options: str) -> list[str]:
    result = run(settings, "organizations", "import", str(path), *options)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


async def get(client: httpx.AsyncClient, org_id: str) -> dict[str, object]:
    response = await client.get(f"/api/v1/organizations/{org_id}")
    assert response.status_code == 200, (org_id, response.text)
    found: dict[str, object] = response.json()
    return found


async def test_a_register_csv_is_imported_once_and_updated_by_identifier(
    settings: Settings, client_for: ClientFor, tmp_path: Path
) -> None:
    client = await client_for("region-norrbotten")
    register = tmp_path / "register.csv"
    register.write_text(REGISTER, encoding="utf-8")
    checked = imported(settings, register, "--check")
    assert checked[-1].endswith("(checked only: nothing was changed)")
    assert "would be created\tkommun-0991" in checked
    assert (await client.get("/api/v1/organizations/kommun-0991")).status_code == 404

    first = imported(settings, register)
    assert first[-1].startswith("register.csv: 5 organizations, 5 created, 0 updated")
    ward = await get(client, "region-import-test-importsjukhuset-medicin")
    assert (ward["kind"], ward["parent_id"], ward["function"]) == (
        "unit",
        "region-import-test",
        "hospital-ward",
    )
    home_care = await get(client, "kommun-0991-hemtjanst-importby")
    assert home_care["parent_id"] == "kommun-0991"
    area = (await client.get("/api/v1/cooperation-areas/area-importomradet")).json()
    assert (area["region_id"], sorted(area["municipality_ids"])) == (
        "region-import-test",
        ["kommun-0991", "kommun-0992"],
    )

    again = imported(settings, register)
    assert again == [
        "register.csv: 5 organizations, 0 created, 0 updated, 5 unchanged; "
        "0 cooperation areas created"
    ]

    # Matched by its HSA-id, the ward is renamed, not created again.
    register.write_text(
        REGISTER.replace("Importsjukhuset medicin,", "Importsjukhuset, medicinavdelning 2,"),
        encoding="utf-8",
    )
    register.write_text(
        register.read_text(encoding="utf-8").replace(
            "Importsjukhuset, medicinavdelning 2,", '"Importsjukhuset, medicinavdelning 2",'
        ),
        encoding="utf-8",
    )
    renamed = imported(settings, register)
    assert "updated\tregion-import-test-importsjukhuset-medicin" in renamed
    ward = await get(client, "region-import-test-importsjukhuset-medicin")
    assert (ward["name"], ward["version"]) == ("Importsjukhuset, medicinavdelning 2", 2)


@pytest.mark.parametrize(
    ("row", "said"),
    [
        ("SE,unit,,,Nowhere ward,,,region-absent,hospital-ward,,", "line 2 (parent)"),
        ("SE,,,12345,Bad code kommun,,,,,,", "line 2 (identifiers[0].value)"),
        ("SE,hospital,,,X,,,,,,", "line 2 (kind)"),
        ("NO,unit,,,X,,,region-norrbotten,home-care,SE2321000999-X,", "line 2 (hsa_id)"),
    ],
)
def test_a_bad_row_is_refused_by_line_and_nothing_is_written(
    settings: Settings, tmp_path: Path, row: str, said: str
) -> None:
    register = tmp_path / "bad.csv"
    register.write_text(REGISTER.splitlines()[0] + "\n" + row + "\n", encoding="utf-8")
    result = run(settings, "organizations", "import", str(register))
    assert result.returncode == 2, result.stdout
    assert result.stderr.startswith(f"samverkan: refused: {said}"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


async def test_a_fhir_bundle_of_organizations_round_trips(
    settings: Settings, client_for: ClientFor, tmp_path: Path
) -> None:
    client = await client_for("region-norrbotten")
    units = (await client.get("/fhir/Organization?partof=helse-stavanger")).json()
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "Organization",
                    "id": "helse-importtest",
                    "name": "Helse Importtest HF",
                    "identifier": [
                        {"system": "urn:oid:2.16.578.1.12.4.1.4.101", "value": "999999991"}
                    ],
                }
            },
            {
                "resource": {
                    "resourceType": "Organization",
                    "name": "Importtest sykehus, medisinsk sengepost",
                    "partOf": {"reference": "Organization/helse-importtest"},
                    "identifier": [{"system": "urn:oid:2.16.578.1.12.4.1.2", "value": "999991"}],
                    "type": [
                        {
                            "coding": [
                                {
                                    "system": "https://samverkan.dev/fhir/CodeSystem/unit-function",
                                    "code": "hospital-ward",
                                }
                            ]
                        }
                    ],
                }
            },
        ],
    }
    path = tmp_path / "register.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    assert imported(settings, path)[-1].startswith("register.json: 2 organizations, 2 created")
    ward = await get(client, "helse-importtest-importtest-sykehus-medisinsk-sengepost")
    assert (ward["jurisdiction"], ward["parent_id"]) == ("NO", "helse-importtest")
    # What the service's own FHIR API returns imports again unchanged.
    path.write_text(json.dumps(units), encoding="utf-8")
    lines = imported(settings, path)
    assert lines[-1].endswith("0 created, 0 updated, 2 unchanged; 0 cooperation areas created")


async def test_the_first_administrator_registers_organizations_over_the_api(
    settings: Settings, tmp_path: Path
) -> None:
    key = tmp_path / "admin.pem"
    made = run(settings, "clients", "new-key", str(key))
    assert made.returncode == 0, made.stderr
    jwks = tmp_path / "admin.jwks.json"
    jwks.write_text(made.stdout, encoding="utf-8")
    added = run(
        settings,
        "clients",
        "add",
        "--org",
        "region-norrbotten",
        "--jwks",
        str(jwks),
        "--admin",
        "--client-id",
        f"admin-{tmp_path.name[-8:]}",
    )
    assert added.returncode == 0, added.stderr
    listed = run(settings, "clients", "list").stdout
    (line,) = [x for x in listed.splitlines() if x.startswith(added.stdout.strip())]
    assert "samverkan/admin" in line
    refused = run(settings, "clients", "new-key", str(key))
    assert refused.returncode == 2 and "never overwritten" in refused.stderr
