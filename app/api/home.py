"""``GET /``: a page for a person who opens the service's address, pointing at the docs."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from app.api.routing import DocumentedRoute

api = APIRouter(route_class=DocumentedRoute, include_in_schema=False)

LINKS = (
    ("/docs", "API reference (Swagger UI)"),
    ("/redoc", "API reference (ReDoc)"),
    ("/openapi.json", "OpenAPI document"),
    ("/fhir/metadata", "FHIR R4 CapabilityStatement"),
    ("/.well-known/smart-configuration", "SMART Backend Services configuration"),
    ("/readyz", "Readiness"),
)


@api.get("/", response_class=HTMLResponse)
async def home(request: Request) -> HTMLResponse:
    """Links to the API reference, the FHIR CapabilityStatement and the discovery documents."""
    version = escape(request.app.version)
    items = "\n".join(f'<li><a href="{href}">{escape(text)}</a></li>' for href, text in LINKS)
    return HTMLResponse(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Samverkan</title></head>
<body>
<h1>Samverkan {version}</h1>
<p>An integration service for coordinated care between regions and municipalities: REST under
<code>/api/v1</code>, FHIR R4 under <code>/fhir</code>. Every call but these pages needs a bearer
token from <code>POST /auth/token</code>.</p>
<ul>
{items}
</ul>
<p>The guides (domain rules, integrating, operations) are in the repository's
<code>docs/</code> folder.</p>
</body></html>
"""
    )
