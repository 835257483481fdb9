"""Organization rules, without a database."""

from __future__ import annotations

import pytest

from app.domain.errors import InvalidInput
from app.domain.organizations import (
    HSA_ID,
    NO_MUNICIPALITY_NUMBER,
    SE_MUNICIPALITY_CODE,
    Jurisdiction,
    Organization,
    OrgIdentifier,
    OrgKind,
    UnitFunction,
    validate_organization,
)

LULEA = Organization(
    "kommun-2580",
    OrgKind.MUNICIPALITY,
    "Luleå kommun",
    Jurisdiction.SE,
    identifiers=(OrgIdentifier(SE_MUNICIPALITY_CODE, "2580"),),
)


def unit(**changes: object) -> Organization:
    fields: dict[str, object] = {
        "id": "u1",
        "kind": OrgKind.UNIT,
        "name": "Hemtjänst",
        "jurisdiction": Jurisdiction.SE,
        "parent_id": LULEA.id,
        "function": UnitFunction.HOME_CARE,
    }
    fields.update(changes)
    return Organization(**fields)  # type: ignore[arg-type]


def test_valid_unit_and_municipality_pass() -> None:
    validate_organization(LULEA, None)
    validate_organization(unit(), LULEA)


@pytest.mark.parametrize(
    ("org", "parent", "field"),
    [
        (unit(function=None), LULEA, "function"),
        (unit(), None, "parent_id"),
        (unit(jurisdiction=Jurisdiction.NO), LULEA, "parent_id"),
        (unit(id="bad id!"), LULEA, "id"),
        (unit(identifiers=(OrgIdentifier(HSA_ID, "2580"),)), LULEA, "identifiers[0].value"),
        (
            unit(identifiers=(OrgIdentifier(NO_MUNICIPALITY_NUMBER, "1120"),)),
            LULEA,
            "identifiers[0].system",
        ),
        (unit(identifiers=(OrgIdentifier("urn:x", "1"),)), LULEA, "identifiers[0].system"),
        (Organization("k", OrgKind.MUNICIPALITY, "K", Jurisdiction.SE), None, "identifiers"),
        (
            Organization("r", OrgKind.REGION, "R", Jurisdiction.SE, function=UnitFunction.OTHER),
            None,
            "function",
        ),
    ],
)
def test_rule_breaks_name_the_field(
    org: Organization, parent: Organization | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_organization(org, parent)
    assert caught.value.field == field
