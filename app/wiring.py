"""Start-up wiring: connect the adapters to the ports the services declare (``app.services.ports``).

The one place besides ``app.main`` that knows both the services and the adapters; the server
(``create_app``), the ``samverkan`` command and the test suite call ``wire`` before any service
runs.
"""

from __future__ import annotations

from app.delivery import outbox
from app.fhir.projections import PROJECTORS
from app.services import ports
from app.store import projections


def wire() -> None:
    """Connect every port to its adapter; calling it again changes nothing."""
    ports.connect_events(outbox.emit)
    for resource_type, projector in PROJECTORS.items():
        projections.connect(resource_type, projector)
