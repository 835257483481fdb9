"""Documents and the planning basis as pure rules: content checks, the discharge day's end in
local time, and answers that fit the questionnaire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.documents import (
    CONTENT_TYPES,
    Timeliness,
    check_content,
    discharge_information_timeliness,
    end_of_discharge_day,
)
from app.domain.errors import InvalidInput, TooLarge, UnsupportedContent
from app.domain.planning_basis import check_answers

ANSWERS = {
    "functional-status": ["independent"],
    "current-home-services": [False],
    "cognitive-state": ["unimpaired"],
    "expected-needs": ["Inga"],
}


def check(content_type: str, data: bytes, max_bytes: int = 1000) -> str:
    return check_content(
        content_type, data, allowed=CONTENT_TYPES, max_bytes=max_bytes, field="document"
    )


def test_content_must_agree_with_its_declared_type() -> None:
    assert check("application/pdf", b"%PDF-1.4 x") == "application/pdf"
    assert check("text/plain; charset=utf-8", "Luleå".encode()) == "text/plain"
    bundle = b'{"resourceType": "Bundle", "type": "document", "entry": [{"resource": ' + (
        b'{"resourceType": "Composition"}}]}'
    )
    assert check("application/fhir+json", bundle) == "application/fhir+json"
    for content_type, data in (
        ("application/pdf", b"PK\x03\x04"),
        ("text/plain", "Luleå".encode("latin-1")),
        ("application/fhir+json", b'{"resourceType": "Bundle", "type": "collection"}'),
        ("application/fhir+json", b'{"resourceType": "Bundle", "type": "document"}'),
        ("application/fhir+json", b"not json"),
        ("text/plain", b""),
    ):
        with pytest.raises(InvalidInput) as refused:
            check(content_type, data)
        assert refused.value.field == "document.data"
    with pytest.raises(TooLarge):
        check("text/plain", b"x" * 101, max_bytes=100)
    with pytest.raises(UnsupportedContent) as unsupported:
        check("image/png", b"\x89PNG")
    assert unsupported.value.field == "document.content_type"


def test_the_discharge_day_ends_at_local_midnight() -> None:
    # 23:30 in Stockholm (summer time) is 21:30 UTC: the day ends 22:00 UTC.
    late_evening = datetime(2026, 6, 10, 21, 30, tzinfo=UTC)
    assert end_of_discharge_day(late_evening, "SE") == datetime(2026, 6, 10, 22, tzinfo=UTC)
    # 00:30 in Oslo in winter is 23:30 UTC the day before: that local day ends 23:00 UTC next day.
    after_midnight = datetime(2026, 1, 9, 23, 30, tzinfo=UTC)
    assert end_of_discharge_day(after_midnight, "NO") == datetime(2026, 1, 10, 23, tzinfo=UTC)


def test_discharge_information_is_on_time_late_or_pending() -> None:
    discharged = datetime(2026, 3, 12, 10, tzinfo=UTC)  # 11:00 in Kalmar
    deadline = datetime(2026, 3, 12, 23, tzinfo=UTC)  # midnight in Kalmar
    before = deadline - timedelta(minutes=1)
    assert discharge_information_timeliness(None, "SE", [], before) is None
    assert discharge_information_timeliness(discharged, "SE", [], before) is Timeliness.PENDING
    assert discharge_information_timeliness(discharged, "SE", [], deadline) is Timeliness.LATE
    on_time = [discharged - timedelta(hours=1)]
    assert discharge_information_timeliness(discharged, "SE", on_time, deadline) is (
        Timeliness.ON_TIME
    )
    assert discharge_information_timeliness(discharged, "SE", [deadline], deadline) is (
        Timeliness.LATE
    )


def test_answers_must_fit_the_questionnaire() -> None:
    assert check_answers({**ANSWERS, "aids": ["rollator", "käpp"]}, "1.0.0")["aids"] == [
        "rollator",
        "käpp",
    ]
    for answers, field in (
        ({**ANSWERS, "pets": ["katt"]}, "pets"),
        ({**ANSWERS, "current-home-services": ["nej"]}, "current-home-services"),
        ({**ANSWERS, "functional-status": ["fine"]}, "functional-status"),
        ({**ANSWERS, "contact-name": ["A", "B"]}, "contact-name"),
        ({k: v for k, v in ANSWERS.items() if k != "cognitive-state"}, "cognitive-state"),
    ):
        with pytest.raises(InvalidInput) as refused:
            check_answers(answers, "1.0.0")
        assert refused.value.field == field
    with pytest.raises(InvalidInput) as version:
        check_answers(ANSWERS, "2.0.0")
    assert version.value.field == "questionnaire"
