"""The committed OpenAPI document is the one the application serves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from app.cli import render_openapi

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


async def test_committed_openapi_matches_the_served_document(client: httpx.AsyncClient) -> None:
    served = (await client.get("/openapi.json")).json()
    assert COMMITTED.exists(), "openapi/openapi.json is missing: run `make openapi`"
    assert render_openapi(served) == COMMITTED.read_text(encoding="utf-8"), (
        "openapi/openapi.json is out of date: run `make openapi` and commit it"
    )


async def test_every_operation_has_a_summary_tag_and_error_responses(
    client: httpx.AsyncClient,
) -> None:
    document = json.loads(COMMITTED.read_text(encoding="utf-8"))
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert operation.get("summary"), where
            assert operation.get("tags"), where
            if path.startswith("/api/v1") and "{" in path:
                assert "404" in operation["responses"], where
            if path.startswith("/api/v1"):
                assert {"401", "403", "429"} <= set(operation["responses"]), where
                assert operation.get("security") == [{"HTTPBearer": []}], where
            if method == "post" and path.startswith("/api/v1"):
                assert "422" in operation["responses"], where
                body = operation["requestBody"]["content"]["application/json"]["schema"]
                assert "$ref" in body, where


@pytest.mark.parametrize(("page", "marker"), [("/docs", "swagger"), ("/redoc", "redoc")])
async def test_the_api_reference_renders_without_internet(
    anonymous: httpx.AsyncClient, page: str, marker: str
) -> None:
    response = await anonymous.get(page)
    assert response.status_code == 200 and marker in response.text.lower()
    # Every script, style sheet and icon comes from the service itself, none from a CDN.
    assets = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert assets and all(a.startswith("/") for a in assets), assets
    for asset in assets:
        served = await anonymous.get(asset)
        assert served.status_code == 200 and len(served.content) > 100, asset
    assert "cdn" not in response.text


async def test_the_root_points_a_person_at_the_console_and_the_docs(
    anonymous: httpx.AsyncClient,
) -> None:
    response = await anonymous.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    links = re.findall(r'href="([^"]+)"', response.text.replace("&amp;", "&"))
    assert {"/console", "/docs", "/redoc", "/openapi.json", "/fhir/metadata"} <= set(links)
    for link in links:
        # A browser follows the console's redirect to its sign-in page.
        followed = await anonymous.get(link, follow_redirects=True)
        assert followed.status_code == 200, link


async def test_token_endpoint_documents_its_form_body_and_oauth_errors(
    client: httpx.AsyncClient,
) -> None:
    document = json.loads(COMMITTED.read_text(encoding="utf-8"))
    token = document["paths"]["/auth/token"]["post"]
    form = token["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert {"grant_type", "client_assertion_type", "client_assertion"} <= set(form["required"])
    assert {"200", "400", "401"} <= set(token["responses"])
    assert "security" not in token


async def test_every_fhir_interaction_of_the_capability_statement_is_declared(
    client: httpx.AsyncClient,
) -> None:
    document = json.loads(COMMITTED.read_text(encoding="utf-8"))
    statement = (await client.get("/fhir/metadata")).json()
    where = {
        "read": ("get", ""),
        "vread": ("get", "/_history/{vid}"),
        "search-type": ("get", None),
        "create": ("post", None),
        "update": ("put", ""),
        "history-instance": ("get", "/_history"),
        "history-type": ("get", None),
    }
    declared = 0
    for resource in statement["rest"][0]["resource"]:
        name = resource["type"]
        if name == "Subscription":
            continue
        for interaction in resource["interaction"]:
            method, tail = where[interaction["code"]]
            path = (
                f"/fhir/{name}/{{id}}{tail}"
                if tail is not None
                else f"/fhir/{name}/_history"
                if interaction["code"] == "history-type"
                else f"/fhir/{name}"
            )
            operation = document["paths"][path][method]
            statuses = operation["responses"]
            success = [s for s in statuses if s.startswith("2")]
            assert success, (method, path)
            for status, response in statuses.items():
                schema = response["content"]["application/fhir+json"]["schema"]
                if status.startswith("4"):
                    assert schema == {"$ref": "#/components/schemas/FhirOperationOutcome"}
            assert {"400", "401", "403", "422", "429"} <= set(statuses), (method, path)
            if "{id}" in path:
                assert "404" in statuses, (method, path)
            if method in ("post", "put"):
                assert {"413", "415"} <= set(statuses), (method, path)
                assert "application/fhir+json" in operation["requestBody"]["content"]
            declared += 1
    assert declared >= 4 * len(statement["rest"][0]["resource"]) - 4
    # The generic routes themselves are not in the document: only what a type serves is.
    assert not [p for p in document["paths"] if "{resource_type}" in p]


@pytest.mark.parametrize(
    ("method", "path", "allow", "media_type"),
    [
        ("OPTIONS", "/api/v1/persons", "GET, POST", "application/problem+json"),
        ("DELETE", "/api/v1/plans/x", "GET, PUT", "application/problem+json"),
        ("PUT", "/fhir/Patient/x", "GET", "application/fhir+json"),
        ("PUT", "/fhir/CarePlan/_history", "GET", "application/fhir+json"),
        ("DELETE", "/fhir/Patient", "GET, POST", "application/fhir+json"),
        ("GET", "/fhir/$process-message", "POST", "application/fhir+json"),
        ("POST", "/fhir/metadata", "GET", "application/fhir+json"),
        ("PATCH", "/fhir/CarePlan/x", "GET, PUT", "application/fhir+json"),
    ],
)
async def test_a_405_allows_every_method_the_path_supports(
    client: httpx.AsyncClient, method: str, path: str, allow: str, media_type: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == allow
    assert response.headers["content-type"] == media_type


async def test_every_rest_route_with_a_body_declares_413_and_415() -> None:
    document = json.loads(COMMITTED.read_text(encoding="utf-8"))
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/api/") and "requestBody" in operation:
                for status in ("413", "415"):
                    content = operation["responses"][status]["content"]
                    assert list(content) == ["application/problem+json"], (method, path)
