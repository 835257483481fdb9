"""The CapabilityStatement at /fhir/metadata, generated from the table that routes the requests."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.responses import Response

from app.fhir import messaging, subscriptions, writes
from app.fhir.common import FHIR_VERSION, canonical, instant
from app.fhir.dispatch import SettingsDep
from app.fhir.interactions import served
from app.fhir.outcome import fhir_response
from app.fhir.resources import RESOURCES
from app.fhir.search import REVINCLUDES


async def capability_statement(settings: SettingsDep) -> Response:
    """The CapabilityStatement, generated from the table that routes the requests."""
    base = f"{settings.issuer}/fhir"
    resources = []
    for name, spec in RESOURCES.items():
        interactions = [
            {"code": interaction.code}
            for interaction in served(
                versioned=spec.vread is not None,
                creatable=name in writes.CREATORS,
                updatable=name in writes.UPDATERS,
            )
        ]
        resources.append(
            {
                "type": name,
                "documentation": spec.documentation,
                "interaction": interactions,
                "versioning": "versioned" if spec.vread else "versioned-update",
                "readHistory": spec.vread is not None,
                "searchParam": [
                    {"name": p.name, "type": p.type, "documentation": p.documentation}
                    for p in spec.params
                ],
                **({"searchInclude": [i.name for i in spec.includes]} if spec.includes else {}),
                **({"searchRevInclude": list(REVINCLUDES)} if name == "Patient" else {}),
                **(
                    {"operation": [{"name": n, "definition": d} for n, d in spec.operations]}
                    if spec.operations
                    else {}
                ),
            }
        )
    # Delivery (issue 6): Subscription is served by app.fhir.subscriptions, not by RESOURCES.
    resources.append(subscriptions.capability())
    statement = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": instant(datetime.now(UTC)),
        "publisher": "Samverkan",
        "kind": "instance",
        "software": {"name": "Samverkan", "version": "0.1.0"},
        "implementation": {"description": "Samverkan FHIR R4 interface", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "extension": [
                        {
                            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/"
                            "oauth-uris",
                            "extension": [{"url": "token", "valueUri": settings.token_endpoint}],
                        }
                    ],
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/"
                                    "restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "description": "OAuth 2.0 client credentials (SMART Backend Services); see "
                    f"{settings.issuer}/.well-known/smart-configuration",
                },
                "resource": resources,
                "interaction": [{"code": "transaction"}, {"code": "batch"}],
                "searchParam": [
                    {
                        "name": "_lastUpdated",
                        "type": "date",
                        "documentation": "when the resource last changed (where it says)",
                    }
                ],
                "operation": [
                    {
                        "name": "process-message",
                        "definition": "http://hl7.org/fhir/OperationDefinition/"
                        "MessageHeader-process-message",
                    }
                ],
            }
        ],
        "messaging": [
            {
                "documentation": "Reliable messaging: a Bundle.id is remembered for "
                "reliableCache minutes; event codes of " + messaging.EVENT_SYSTEM,
                "reliableCache": settings.message_dedupe_minutes,
                "supportedMessage": [
                    {"mode": "receiver", "definition": canonical("MessageDefinition", event)}
                    for event in messaging.HANDLERS
                ],
            }
        ],
    }
    return fhir_response(statement)
