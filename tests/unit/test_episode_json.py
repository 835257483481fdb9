"""An episode's JSON, which finds what the episode derives from its events in one walk over
them (issue 20), shows what the episode's own properties say, in the order the response has
always had."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest

from app.api.v1.episodes import _EPISODE_AS_IS, _event_json, episode_json
from app.api.v1.handover import answer_json, started_json
from app.domain.episodes import (
    AdmissionType,
    CareType,
    Episode,
    EpisodeEvent,
    EpisodeState,
    EventKind,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
K = EventKind


def _by_properties(episode: Episode) -> dict[str, object]:
    """The episode's JSON as it was built before: each derived field from its property."""
    shown: dict[str, object] = {name: getattr(episode, name) for name in _EPISODE_AS_IS}
    shown["receiving_units"] = list(episode.receiving_units)
    shown["municipality_answer"] = answer_json(episode.latest_answer)
    shown["services_started"] = started_json(episode.services_started)
    shown["events"] = [_event_json(e) for e in episode.events]
    shown.update({"documents": [], "planning_basis": [], "discharge_information": None})
    return shown


def _event(seq: int, kind: EventKind, **data: object) -> EpisodeEvent:
    return EpisodeEvent(seq, kind, T0 + timedelta(hours=seq), **data)  # type: ignore[arg-type]


def _answer(seq: int, *units: str) -> EpisodeEvent:
    return _event(
        seq,
        K.MUNICIPALITY_RESPONSE,
        can_receive_from=date(2026, 3, 9) if seq % 2 else None,
        reason=None if seq % 2 else "no place yet",
        units=units,
        services=("home-care",),
    )


# Event histories, including ones the commands would refuse (two admission notices, two
# discharge notices, services started twice): the JSON must agree with the properties on any.
HISTORIES: list[list[EpisodeEvent]] = [
    [],
    [_event(1, K.ADMISSION_NOTICE)],
    [_event(1, K.ADMISSION_NOTICE), _event(2, K.ADMISSION_NOTICE)],
    [_event(1, K.ADMISSION_NOTICE), _event(2, K.DISCHARGE_READY, coordinated_planning=True)],
    [
        _event(1, K.ADMISSION_NOTICE),
        _event(2, K.DISCHARGE_READY),
        _event(3, K.DISCHARGE_READY_WITHDRAWN),
    ],
    [
        _event(1, K.ADMISSION_NOTICE),
        _event(2, K.DISCHARGE_READY),
        _event(3, K.DISCHARGE_READY_WITHDRAWN),
        _event(4, K.DISCHARGE_READY),
        _answer(5, "kommun-2580-hemsjukvard"),
        _answer(6),
    ],
    [
        _event(1, K.ADMISSION_NOTICE),
        _event(2, K.DISCHARGE_READY),
        _answer(3, "unit-a", "unit-b"),
        _answer(4, "unit-c"),
        _event(5, K.EXPECTED_DISCHARGE_CHANGED, expected_discharge_date=date(2026, 3, 8)),
        _event(6, K.DISCHARGE_NOTICE),
        _event(7, K.DISCHARGE_NOTICE),
        _event(8, K.SERVICES_STARTED, arrived_at=T0 + timedelta(hours=7), services=("x",)),
        _event(9, K.SERVICES_STARTED, services=("y",)),
    ],
    [_event(1, K.DISCHARGE_NOTICE), _event(2, K.DISCHARGE_READY)],
]


@pytest.mark.parametrize(
    ("events", "state", "readmission_of_id"),
    list(itertools.product(HISTORIES, list(EpisodeState), [None, "ep-earlier"])),
)
def test_the_json_shows_what_the_properties_say(
    events: list[EpisodeEvent], state: EpisodeState, readmission_of_id: str | None
) -> None:
    episode = Episode(
        id="ep-1",
        person_id="person-1",
        hospital_unit_id="region-norrbotten-sunderby-med",
        region_id="region-norrbotten",
        municipality_id="kommun-2580",
        primary_care_unit_id=None,
        jurisdiction="SE",
        admitted_at=T0,
        admission_type=AdmissionType.ACUTE,
        care_type=CareType.SOMATIC,
        state=state,
        expected_discharge_date=date(2026, 3, 7),
        readmission_of_id=readmission_of_id,
        version=3,
        events=list(events),
    )
    shown = episode_json(episode)
    expected = _by_properties(episode)
    assert list(shown) == list(expected)
    assert list(shown)[: len(_EPISODE_AS_IS)] == list(_EPISODE_AS_IS)
    assert shown == expected
    option = orjson.OPT_UTC_Z
    assert orjson.dumps(shown, option=option) == orjson.dumps(expected, option=option)
