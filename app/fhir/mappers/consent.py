"""A plan's consent → Consent (https://hl7.org/fhir/R4/consent.html).

The provision permits sharing the plan with the consented principals; a withdrawal adds a nested
deny provision from its time for the principals it names (all of them when it names none). A
consent given by legal representatives has one ``performer`` and one ``verification`` per
representative who consented (a child's two guardians), each with the ground they act on.
"""

from __future__ import annotations

from typing import Any

from app.domain.plans import Consent, Plan
from app.domain.representatives import Representative
from app.fhir.common import concept, instant, meta, ref

CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
LOINC = "http://loinc.org"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"


def consent_id(plan: Plan, index: int) -> str:
    """The FHIR id of the plan's ``index``-th consent."""
    return f"{plan.id}.{index}"


def to_fhir(plan: Plan, index: int) -> dict[str, Any]:
    """The Consent resource of one of the plan's consents."""
    consent: Consent = plan.consents[index]
    withdrawals = [w for w in plan.withdrawals if w.consent_id == consent.id]
    full = any(w.is_full for w in withdrawals)
    actors = [
        {
            "role": concept(PARTICIPATION, "IRCP", "information recipient"),
            "reference": ref("Organization", principal),
        }
        for principal in consent.share_with
    ]
    provision: dict[str, Any] = {
        "type": "permit",
        "period": {"start": instant(consent.given_at)},
        "actor": actors,
        "data": [{"meaning": "related", "reference": ref("CarePlan", plan.id)}],
    }
    denies = []
    for withdrawal in withdrawals:
        named = withdrawal.principal_ids or consent.share_with
        denies.append(
            {
                "type": "deny",
                "period": {"start": instant(withdrawal.at)},
                "actor": [
                    {
                        "role": concept(PARTICIPATION, "IRCP", "information recipient"),
                        "reference": ref("Organization", principal),
                    }
                    for principal in named
                ],
            }
        )
    if denies:
        provision["provision"] = denies
    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "id": consent_id(plan, index),
        "meta": meta(plan.version, plan.last_changed_at),
        "status": "inactive" if full else "active",
        "scope": concept(CONSENT_SCOPE, "patient-privacy", "Privacy Consent"),
        "category": [concept(LOINC, "59284-0", "Patient Consent")],
        "patient": ref("Patient", plan.person_id),
        "dateTime": instant(consent.given_at),
        "organization": [ref("Organization", consent.recorded_by)],
        "policyRule": concept(ACT_CODE, "OPTIN", "opt-in"),
        "provision": provision,
        "sourceAttachment": {"title": f"{consent.method.value} consent"},
    }
    representatives = consent.consenting_representatives
    if representatives:
        resource["performer"] = [{"display": _named(r)} for r in representatives]
        resource["verification"] = [
            {
                "verified": True,
                "verifiedWith": {"display": _named(r)},
                "verificationDate": instant(consent.given_at),
            }
            for r in representatives
        ]
    else:
        resource["performer"] = [ref("Patient", plan.person_id)]
    return resource


def _named(representative: Representative) -> str:
    if representative.role is None:
        return representative.name
    return f"{representative.name} ({representative.role.value.replace('-', ' ')})"
