"""The committed OpenAPI document is the one the application serves."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

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
            if method == "post":
                assert "422" in operation["responses"], where
                body = operation["requestBody"]["content"]["application/json"]["schema"]
                assert "$ref" in body, where


async def test_docs_page_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200 and "swagger" in response.text.lower()
