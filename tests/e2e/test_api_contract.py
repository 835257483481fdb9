"""What the OpenAPI document promises about every REST route, checked against what is served:
error bodies, required headers, amounts, and unknown query parameters."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.api.vocabulary import IN_SCHEMA, PROPERTIES

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
AMOUNT = re.compile(r"^-?[0-9]+\.[0-9]{2}$")


def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(COMMITTED.read_text(encoding="utf-8"))
    return loaded


def test_rest_error_bodies_are_documented_as_problem_json() -> None:
    checked = 0
    for path, operations in document()["paths"].items():
        if path.startswith(("/fhir", "/auth/token")):
            continue
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if not status.startswith("4"):
                    continue
                content = response["content"]
                assert set(content) == {"application/problem+json"}, (method, path, status)
                schema = content["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path)
                checked += 1
    assert checked > 300
    assert "HTTPValidationError" not in json.dumps(
        {p: o for p, o in document()["paths"].items() if not p.startswith("/fhir")}
    )


async def test_a_served_error_matches_its_documented_media_type(
    client: httpx.AsyncClient,
) -> None:
    refused = await client.get("/api/v1/persons/no-such-person")
    assert refused.status_code == 404
    assert refused.headers["content-type"] == "application/problem+json"
    assert {"type", "title", "status", "detail"} <= set(refused.json())


def test_the_if_match_of_a_plan_revision_is_marked_required() -> None:
    parameters = document()["paths"]["/api/v1/plans/{plan_id}"]["put"]["parameters"]
    (if_match,) = [p for p in parameters if p["name"] == "If-Match"]
    assert if_match["in"] == "header" and if_match["required"] is True
    assert "428" in document()["paths"]["/api/v1/plans/{plan_id}"]["put"]["responses"]


@pytest.mark.parametrize(
    ("path", "unknown"),
    [
        ("/api/v1/organizations?parent=region-norrbotten", ["parent"]),
        ("/api/v1/organizations?kind=region&limt=5&x=1", ["limt", "x"]),
        ("/api/v1/persons?identfier=x", ["identfier"]),
        ("/api/v1/liability/rule-sets?verbose=true", ["verbose"]),
    ],
)
async def test_an_unknown_query_parameter_is_refused_by_name(
    client: httpx.AsyncClient, path: str, unknown: list[str]
) -> None:
    refused = await client.get(path)
    assert refused.status_code == 400, refused.text
    body = refused.json()
    assert [e["field"] for e in body["errors"]] == unknown
    assert all(name in body["detail"] for name in unknown)


async def test_known_query_parameters_still_filter(client: httpx.AsyncClient) -> None:
    units = await client.get("/api/v1/organizations?parent_id=region-norrbotten&limit=3")
    assert units.status_code == 200
    assert {o["parent_id"] for o in units.json()["items"]} == {"region-norrbotten"}


async def test_rates_are_decimal_strings_with_two_places(client: httpx.AsyncClient) -> None:
    # Episode and report amounts: tests/e2e/test_liability_api.py.
    rule_sets = (await client.get("/api/v1/liability/rule-sets")).json()
    for table in rule_sets["rate_tables"]:
        assert table["currency"] in ("SEK", "NOK")
        assert all(AMOUNT.match(rate) for rate in table["rates"].values()), table


def test_every_property_of_every_schema_has_a_description() -> None:
    schemas = document()["components"]["schemas"]
    undescribed = [
        f"{name}.{prop}"
        for name, schema in schemas.items()
        for prop, spec in (schema.get("properties") or {}).items()
        if not spec.get("description")
    ]
    assert undescribed == []
    assert sum(len(s.get("properties") or {}) for s in schemas.values()) > 400
    episode = schemas["EpisodeRead"]["properties"]
    assert episode["id"]["description"] == "the episode's id"
    assert episode["hospital_unit_id"]["description"].startswith("the hospital ward")


def test_the_vocabulary_has_no_entry_that_nothing_uses() -> None:
    schemas = document()["components"]["schemas"]
    names = {p for s in schemas.values() for p in (s.get("properties") or {})}
    assert set(PROPERTIES) - names == set()
    assert {
        k for k in IN_SCHEMA if k[1] not in (schemas.get(k[0], {}).get("properties") or {})
    } == set()
