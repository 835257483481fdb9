"""The PLO addressing: which of a Norwegian municipality's services receives each notice."""

from __future__ import annotations

from app.domain.plo import ServiceCode, route

UNITS = {
    ServiceCode.CASE_HANDLING: ["k-tildeling"],
    ServiceCode.NURSING: ["k-hjemmesykepleie", "k-helsehus"],
    ServiceCode.MENTAL_HEALTH: ["k-psykisk"],
}


def test_logistics_go_to_case_handling_and_psychiatric_stays_to_mental_health() -> None:
    for event in ("admission-notice", "discharge-ready", "discharge-ready-withdrawn"):
        assert route(event, "k", UNITS, psychiatric=False) == ["k-tildeling"]
        assert route(event, "k", UNITS, psychiatric=True) == ["k-psykisk"]
    no_mental = {ServiceCode.CASE_HANDLING: ["k-tildeling"]}
    assert route("discharge-notice", "k", no_mental, psychiatric=True) == ["k-tildeling"]


def test_health_information_goes_to_every_nursing_unit() -> None:
    assert route("document-shared", "k", UNITS, psychiatric=False) == [
        "k-hjemmesykepleie",
        "k-helsehus",
    ]
    assert route("document-shared", "k", {}, psychiatric=False) == ["k"]


def test_a_municipality_without_the_service_or_an_unaddressed_event_gets_it_itself() -> None:
    assert route("admission-notice", "k", {}, psychiatric=False) == ["k"]
    assert route("care-communication", "k", UNITS, psychiatric=False) == ["k"]
