"""Norway's PLO messages are addressed to a service, not to an organization (DESIGN §9).

Helsedirektoratet's pleie- og omsorgsmeldinger (Pasientlogistikkmeldinger v1.6, Helseopplysninger,
Innleggelsesrapport, Utskrivningsrapport, …) go to a municipality's service as the address
register names it: the tjenestetype of the code list Volven 8663 ("Tjenestetyper for kommunal
helse- og omsorgstjeneste mv.", ``urn:oid:2.16.578.1.12.4.1.1.8663``). A Norwegian unit here may
carry one such service code; a notice to a Norwegian municipality is delivered to its unit that
provides the service the notice is for, and to the municipality itself when it has none.

Which service each event is for (the logistics messages to saksbehandling, the tildelingskontor;
a psychiatric stay's to psykisk helsetjeneste where the municipality has one; health information
to the sykepleietjeneste) is the table ``EVENT_SERVICES``; docs/norway.md shows it beside the PLO
message names.
"""

from __future__ import annotations

from enum import StrEnum

from app.domain.message_events import MessageEvent

VOLVEN_8663 = "urn:oid:2.16.578.1.12.4.1.1.8663"


class ServiceCode(StrEnum):
    """The municipal services (Volven 8663) that PLO messages are addressed to here."""

    CASE_HANDLING = "KD0501"
    NURSING = "KP02"
    MENTAL_HEALTH = "KP03"
    PHYSICIAN = "KP01"
    GENERAL_PRACTITIONER = "KA01"
    SOCIAL_SERVICES = "KD01"
    REHABILITATION = "KR"


# Volven 8663's own displays.
SERVICE_DISPLAY: dict[ServiceCode, str] = {
    ServiceCode.CASE_HANDLING: "Saksbehandler pleie, omsorg, rehab.",
    ServiceCode.NURSING: "Sykepleietjeneste, pleie- og omsorg",
    ServiceCode.MENTAL_HEALTH: "Psykisk kommunehelsetjeneste",
    ServiceCode.PHYSICIAN: "Legetjeneste, pleie- og omsorg",
    ServiceCode.GENERAL_PRACTITIONER: "Fastlegetjeneste",
    ServiceCode.SOCIAL_SERVICES: "Sosialkontortjeneste",
    ServiceCode.REHABILITATION: "Rehabilitering",
}

# For each event a municipality receives, the services it is addressed to, each as a list in
# order of preference: the first service the municipality has a unit for receives it.
_LOGISTICS = ((ServiceCode.CASE_HANDLING,),)
EVENT_SERVICES: dict[MessageEvent, tuple[tuple[ServiceCode, ...], ...]] = {
    MessageEvent.ADMISSION_NOTICE: _LOGISTICS,  # melding om innlagt pasient
    MessageEvent.EXPECTED_DISCHARGE_CHANGED: _LOGISTICS,
    MessageEvent.DISCHARGE_READY: _LOGISTICS,  # melding om utskrivningsklar pasient
    MessageEvent.DISCHARGE_READY_WITHDRAWN: _LOGISTICS,  # avmelding av utskrivningsklar pasient
    MessageEvent.DISCHARGE_NOTICE: _LOGISTICS,  # melding om utskrevet pasient
    # helseopplysninger, utskrivningsrapport, epikrise: to the nurses who take over the care
    MessageEvent.DOCUMENT_SHARED: ((ServiceCode.NURSING, ServiceCode.CASE_HANDLING),),
}
# A psychiatric stay's logistics go to the municipality's mental-health service if it has one.
_PSYCHIATRIC = ((ServiceCode.MENTAL_HEALTH, ServiceCode.CASE_HANDLING),)


def addressed_services(
    event: MessageEvent, *, psychiatric: bool
) -> tuple[tuple[ServiceCode, ...], ...]:
    """The services a Norwegian municipality receives ``event`` at (empty: the municipality)."""
    wanted = EVENT_SERVICES.get(event, ())
    if psychiatric and wanted == _LOGISTICS:
        return _PSYCHIATRIC
    return wanted


def route(
    event: MessageEvent,
    municipality_id: str,
    units_by_service: dict[ServiceCode, list[str]],
    *,
    psychiatric: bool,
) -> list[str]:
    """The receivers of ``event`` at a Norwegian municipality whose units provide
    ``units_by_service``: for each addressed service, the units of the first one it has, else
    the municipality itself."""
    receivers: list[str] = []
    for preferences in addressed_services(event, psychiatric=psychiatric) or ((),):
        found = next((units_by_service[s] for s in preferences if units_by_service.get(s)), None)
        for receiver in found or [municipality_id]:
            if receiver not in receivers:
                receivers.append(receiver)
    return receivers
