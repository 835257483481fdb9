"""The CarePlan mapping of what has no element of its own: the service's extensions."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.errors import InvalidInput
from app.fhir.conformance import EXTENSIONS
from app.fhir.mappers import careplan


def _plan(*extensions: dict[str, Any], note: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "CarePlan",
        "title": "SIP",
        "extension": list(extensions),
    }
    if note is not None:
        resource["note"] = [{"text": note}]
    return resource


def test_needs_resources_others_and_basis_are_read_from_extensions() -> None:
    content = careplan.from_fhir(
        _plan(
            {"url": careplan.NEED, "valueString": "Trygghetslarm"},
            {"url": careplan.RESOURCE, "valueString": "Maken"},
            careplan._parts(
                careplan.OTHER, who="Svea", relation="granne", contribution="Tittar in"
            ),
            careplan._parts(
                careplan.BASIS, kind="lss-plan", reference="LSS 1", description="Boende"
            ),
        )
    )
    assert content.needs == ("Trygghetslarm",) and content.resources == ("Maken",)
    assert [(o.who, o.relation, o.contribution) for o in content.others] == [
        ("Svea", "granne", "Tittar in")
    ]
    assert [(b.kind.value, b.reference, b.description) for b in content.basis] == [
        ("lss-plan", "LSS 1", "Boende")
    ]


def test_text_in_notes_is_narrative_and_not_read_as_content() -> None:
    content = careplan.from_fhir(_plan(note="Need: Trygghetslarm"))
    assert content.needs == () and content.others == ()


@pytest.mark.parametrize(
    ("extension", "said"),
    [
        ({"url": careplan.NEED, "valueInteger": 3}, "valueString"),
        ({"url": careplan.NEED, "valueString": "  "}, "valueString"),
        (careplan._parts(careplan.OTHER, who="Svea", relation="granne"), "contribution"),
        (careplan._parts(careplan.BASIS, kind="lss-plan"), "reference"),
        (careplan._parts(careplan.BASIS, kind="dagbok", reference="1"), "plan-basis kind"),
    ],
)
def test_a_malformed_content_extension_is_refused_naming_it(
    extension: dict[str, Any], said: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        careplan.from_fhir(_plan({"url": careplan.FOLLOW_UP, "valueDate": "2026-01-01"}, extension))
    assert said in refused.value.message
    assert (refused.value.field or "").startswith("CarePlan.extension[1]")


def test_every_content_extension_is_defined_for_careplan() -> None:
    for url in (careplan.NEED, careplan.RESOURCE, careplan.OTHER, careplan.BASIS):
        assert EXTENSIONS[url.rsplit("/", 1)[1]].context == "CarePlan"
