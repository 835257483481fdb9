"""Legal representatives: who may act for a person in a plan or a meeting (DESIGN §1, §5).

A child has one or two guardians (vårdnadshavare; Norwegian foresatt); an adult may have a god man
or a förvaltare (Sweden) or a verge (Norway). Each of them can consent to a plan, and take part
in and answer a summons, for the person.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.domain.errors import InvalidInput


class RepresentativeRole(StrEnum):
    """The legal ground on which someone acts for the person."""

    GUARDIAN = "guardian"  # vårdnadshavare / foresatt: a child's parent or guardian
    TRUSTEE = "trustee"  # god man
    ADMINISTRATOR = "administrator"  # förvaltare
    ADULT_GUARDIAN = "adult-guardian"  # verge (Norway)


@dataclass(frozen=True, slots=True)
class Representative:
    """A named legal representative and the ground they act on (unknown for consents recorded
    before it was asked)."""

    name: str
    role: RepresentativeRole | None = None


def check_representatives(representatives: tuple[Representative, ...], field: str) -> None:
    """Each representative is named, and no one is listed twice."""
    seen: set[str] = set()
    for index, representative in enumerate(representatives):
        name = representative.name.strip()
        if not name:
            raise InvalidInput("a representative is named", field=f"{field}[{index}].name")
        if name.casefold() in seen:
            raise InvalidInput(
                f"{name} is listed twice among the representatives", field=f"{field}[{index}]"
            )
        seen.add(name.casefold())
