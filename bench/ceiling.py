"""The ceiling: a bare FastAPI app that returns a fixed FHIR CarePlan from memory.

Measured in the same run, with the same server settings and load generator, as the service; every
throughput of the service is reported as a ratio to this one.
"""

from __future__ import annotations

import orjson
from fastapi import FastAPI
from starlette.responses import Response

BODY = orjson.dumps(
    {
        "resourceType": "CarePlan",
        "id": "ceiling",
        "meta": {"versionId": "1"},
        "status": "active",
        "intent": "plan",
        "title": "SIP",
        "subject": {"reference": "Patient/ceiling"},
        "goal": [{"reference": "#goal-1"}],
        "contained": [
            {
                "resourceType": "Goal",
                "id": "goal-1",
                "lifecycleStatus": "active",
                "description": {"text": "Bo kvar hemma"},
                "subject": {"reference": "Patient/ceiling"},
            }
        ],
    }
)

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/fhir/CarePlan/{plan_id}")
async def careplan(plan_id: str) -> Response:
    """The same fixed CarePlan for every id."""
    return Response(BODY, media_type="application/fhir+json")
