"""FHIR wire values into domain values (app.fhir.parse): the good ones and the refused ones,
each refusal naming the element."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.reference import Reference

from app.domain.errors import InvalidInput
from app.domain.values import PartialDate
from app.fhir import parse
from app.fhir.common import ORGANIZATION_IDS, instant

BASE = "https://example.test/fhir"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Patient/p1", ("Patient", "p1")),
        ("Patient/p1/_history/3", ("Patient", "p1")),
        (" Organization/org-1 ", ("Organization", "org-1")),
        (f"{BASE}/CarePlan/c.1", ("CarePlan", "c.1")),
        (f"{BASE}/CarePlan/c1/_history/2", ("CarePlan", "c1")),
    ],
)
def test_literal_reads_relative_versioned_and_our_absolute_references(
    text: str, expected: tuple[str, str]
) -> None:
    found = parse.literal(text, base=BASE)
    assert found is not None
    assert (found.kind, found.id) == expected
    assert str(found) == "/".join(expected)


@pytest.mark.parametrize(
    "text",
    [
        None,
        3,
        "",
        "p1",
        "Patient/",
        "/p1",
        "Patient/p1/extra",
        "patient/p1",
        "urn:uuid:3f0c2b1a-7a51-4a8e-9f0e-8d6b2f1c5a22",
        "https://elsewhere.test/fhir/Patient/p1",
    ],
)
def test_literal_is_none_for_what_names_no_resource_of_ours(text: object) -> None:
    assert parse.literal(text, base=BASE) is None


def test_an_absolute_reference_without_a_base_is_no_literal() -> None:
    assert parse.literal(f"{BASE}/Patient/p1") is None


def test_bundle_local_references_are_urn_uuids() -> None:
    assert parse.is_bundle_local("urn:uuid:3f0c2b1a-7a51-4a8e-9f0e-8d6b2f1c5a22")
    assert not parse.is_bundle_local("urn:uuid:")
    assert not parse.is_bundle_local("Patient/p1")
    assert not parse.is_bundle_local(None)


def test_reference_id_takes_the_id_of_the_named_type() -> None:
    assert parse.reference_id({"reference": "Patient/p1"}, "Patient", "Encounter.subject") == "p1"
    assert parse.reference_id({"reference": "Patient/p1/_history/2"}, "Patient", "Task.for") == "p1"


@pytest.mark.parametrize(
    "value",
    [
        None,
        {},
        {"reference": ""},
        {"reference": "Organization/o1"},
        {"reference": "Patient/"},
        {"reference": "Patient/p1/more"},
        {"display": "Anna"},
    ],
)
def test_reference_id_refuses_naming_the_element(value: dict[str, str] | None) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse.reference_id(value, "Patient", "Encounter.subject")
    assert raised.value.field == "Encounter.subject"
    assert "Encounter.subject must reference a Patient" in raised.value.message


def test_an_unresolved_urn_uuid_is_named_as_such() -> None:
    urn = "urn:uuid:3f0c2b1a-7a51-4a8e-9f0e-8d6b2f1c5a22"
    with pytest.raises(InvalidInput) as raised:
        parse.reference_id({"reference": urn}, "Patient", "Encounter.subject")
    assert raised.value.field == "Encounter.subject"
    assert f"names {urn}, which no entry of this Bundle creates" in raised.value.message


def test_optional_reference_id_is_none_when_absent() -> None:
    assert parse.optional_reference_id(None, "Organization", "Task.owner") is None
    assert parse.optional_reference_id({}, "Organization", "Task.owner") is None
    assert parse.optional_reference_id({"reference": "Organization/o"}, "Organization", "x") == "o"
    with pytest.raises(InvalidInput) as raised:
        parse.optional_reference_id({"reference": "Patient/p"}, "Organization", "Task.owner")
    assert raised.value.field == "Task.owner"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("123", "123"), ("Patient/123", "123"), (f"{BASE}/Patient/123", "123")],
)
def test_search_reference_id_takes_an_id_a_reference_or_a_url(value: str, expected: str) -> None:
    assert parse.search_reference_id(value, "Patient", "subject") == expected


def test_search_reference_id_refuses_another_type_naming_the_parameter() -> None:
    with pytest.raises(InvalidInput) as raised:
        parse.search_reference_id("Organization/o1", "Patient", "subject")
    assert raised.value.field == "subject"


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ({"reference": "Organization/o1"}, "o1"),
        ({"reference": "Organization/o1/_history/4"}, "o1"),
        ({"identifier": {"system": ORGANIZATION_IDS, "value": "o2"}}, "o2"),
        ({"identifier": {"system": "https://other.test/ids", "value": "o2"}}, None),
        ({"identifier": {"system": ORGANIZATION_IDS}}, None),
        ({"reference": "Patient/p1"}, None),
        ({"display": "Ward 3"}, None),
        (None, None),
    ],
)
def test_organization_of_reads_literal_and_logical_references(
    reference: dict[str, object] | None, expected: str | None
) -> None:
    assert parse.organization_of(reference) == expected


def test_instants_keep_their_offset_and_refuse_naming_the_element() -> None:
    assert parse.instant("2026-03-01T10:00:00Z", "Encounter.period.start") == datetime(
        2026, 3, 1, 10, tzinfo=UTC
    )
    east = parse.instant("2026-03-01T10:00:00+01:00", "Encounter.period.start")
    assert east.utcoffset() == timedelta(hours=1)
    for bad in ("2026-03-01T10:00:00", "2026-03-01", "yesterday", "1066-10-14T09:00:00Z", 7):
        with pytest.raises(InvalidInput) as raised:
            parse.instant(bad, "Encounter.period.start")
        assert raised.value.field == "Encounter.period.start"


def test_optional_values_are_none_when_absent() -> None:
    assert parse.optional_instant(None, "AppointmentResponse.start") is None
    assert parse.optional_day(None, "Patient.birthDate") is None
    assert parse.optional_day("2026-03-01", "Patient.birthDate") == date(2026, 3, 1)


def test_instant_or_day_takes_a_day_as_its_start_in_utc() -> None:
    field = "Encounter.extension('x').extension('arrived')"
    assert parse.instant_or_day("2026-03-01", field) == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse.instant_or_day("2026-03-01T08:30:00+02:00", field) == datetime(
        2026, 3, 1, 8, 30, tzinfo=timezone(timedelta(hours=2))
    )
    with pytest.raises(InvalidInput) as raised:
        parse.instant_or_day("2026-03", field)
    assert raised.value.field == field
    assert "names a month" in raised.value.message


def test_dates_are_years_months_or_days() -> None:
    assert parse.partial_date("2026", "Patient.birthDate") == PartialDate(2026)
    assert parse.partial_date("2026-03", "Patient.birthDate") == PartialDate(2026, 3)
    assert parse.day("2026-03-01", "Patient.birthDate") == date(2026, 3, 1)
    for bad in ("2026-02-30", "26-03-01", "2026-03-01T10:00:00Z"):
        with pytest.raises(InvalidInput) as raised:
            parse.partial_date(bad, "Patient.birthDate")
        assert raised.value.field == "Patient.birthDate"
    with pytest.raises(InvalidInput, match="must name a day"):
        parse.day("2026", "Patient.birthDate")


def test_search_instants_without_an_offset_are_utc() -> None:
    assert parse.search_instant("2026-03-01T10:00:00", "date") == datetime(
        2026, 3, 1, 10, tzinfo=UTC
    )
    assert parse.search_instant("2026-03-01T10:00:00-05:00", "date").utcoffset() == timedelta(
        hours=-5
    )
    with pytest.raises(InvalidInput) as raised:
        parse.search_instant("2026-03-01T25:00:00", "_lastUpdated")
    assert raised.value.field == "_lastUpdated"


def test_written_instants_read_what_the_service_wrote() -> None:
    assert parse.written_instant("2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse.written_instant("2026-03-01T10:00:00Z") == datetime(2026, 3, 1, 10, tzinfo=UTC)
    # A value stored before the bounds existed is still read.
    assert parse.written_instant("0001-01-01T00:00:00Z").year == 1


def test_instants_are_written_to_the_microsecond_and_sort_as_they_happened() -> None:
    whole = datetime(2026, 3, 1, 10, tzinfo=UTC)
    later = whole + timedelta(microseconds=500_000)
    cet = timezone(timedelta(hours=1))
    assert instant(whole) == "2026-03-01T10:00:00.000000Z"
    assert instant(later.astimezone(cet)) == "2026-03-01T10:00:00.500000Z"
    # As text, in the order they happened (a whole second once sorted after its fractions).
    assert instant(whole) < instant(later)
    for value in (whole, later):
        assert parse.written_instant(instant(value)) == value


def test_identifier_tokens_need_a_system_and_a_value() -> None:
    assert parse.identifier("urn:oid:1.2.752.129.2.1.3.1|191212121212", "identifier") == (
        "urn:oid:1.2.752.129.2.1.3.1",
        "191212121212",
    )
    assert parse.identifier("https://x.test/ids|a|b", "identifier") == ("https://x.test/ids", "a|b")
    for bad in ("191212121212", "|191212121212", "urn:oid:1.2|", ""):
        with pytest.raises(InvalidInput) as raised:
            parse.identifier(bad, "identifier")
        assert raised.value.field == "identifier"
        assert "system|value" in raised.value.message


@pytest.mark.parametrize(("tag", "version"), [('W/"3"', 3), ('"3"', 3), ("3", 3), (' W/"12" ', 12)])
def test_expected_version_reads_if_match(tag: str, version: int) -> None:
    assert parse.expected_version(tag, {"meta": {"versionId": "9"}}) == version


def test_expected_version_falls_back_to_meta_version_id() -> None:
    assert parse.expected_version(None, {"meta": {"versionId": "4"}}) == 4
    assert parse.expected_version(None, {"meta": {}}) is None
    assert parse.expected_version(None, {}) is None


@pytest.mark.parametrize(
    ("tag", "meta", "field"),
    [
        ('W/"three"', {}, "If-Match"),
        ("*", {}, "If-Match"),
        ('W/"-1"', {}, "If-Match"),
        ('W/"99999999999"', {}, "If-Match"),
        (
            None,
            {"resourceType": "CarePlan", "meta": {"versionId": "v2"}},
            "CarePlan.meta.versionId",
        ),
    ],
)
def test_expected_version_refuses_what_names_no_version(
    tag: str | None, meta: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse.expected_version(tag, meta)
    assert raised.value.field == field
    assert "must name a version" in raised.value.message


# --- the values a validated model holds ---------------------------------------------------------


def test_model_instants_are_checked_and_carry_a_plain_offset() -> None:
    encounter = Encounter.model_validate(
        {
            "resourceType": "Encounter",
            "status": "in-progress",
            "class": {"code": "IMP"},
            "period": {"start": "2026-03-01T10:00:00+01:00", "end": "2026-03-02"},
        }
    )
    assert encounter.period is not None
    start = parse.instant(encounter.period.start, "Encounter.period.start")
    assert start == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert start.tzinfo == timezone(timedelta(hours=1))
    # A dateTime that is a day is no instant, named as the text it was sent as.
    with pytest.raises(InvalidInput) as refused:
        parse.instant(encounter.period.end, "Encounter.period.end")
    assert "(not '2026-03-02')" in refused.value.message
    assert parse.instant_or_day(encounter.period.end, "x") == datetime(2026, 3, 2, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="outside"):
        parse.instant(datetime(1, 1, 1, tzinfo=UTC), "Encounter.period.start")


def test_model_dates_are_days_or_partial_dates() -> None:
    full = Patient.model_validate({"resourceType": "Patient", "birthDate": "1950-03-04"})
    year = Patient.model_validate({"resourceType": "Patient", "birthDate": "1950"})
    assert parse.day(full.birthDate, "Patient.birthDate") == date(1950, 3, 4)
    assert parse.partial_date(full.birthDate, "Patient.birthDate") == PartialDate(1950, 3, 4)
    assert parse.partial_date(year.birthDate, "Patient.birthDate") == PartialDate(1950)
    with pytest.raises(InvalidInput) as refused:
        parse.day(year.birthDate, "Patient.birthDate")
    assert refused.value.field == "Patient.birthDate" and "names a year" in refused.value.message
    with pytest.raises(InvalidInput, match="outside"):
        parse.day(date(1800, 1, 1), "Patient.birthDate")


def test_model_references_and_identifiers() -> None:
    assert parse.reference_id(Reference(reference="Patient/p1"), "Patient", "x") == "p1"
    assert parse.optional_reference_id(Reference(display="Anna"), "Patient", "x") is None
    logical = Reference(identifier=Identifier(system=ORGANIZATION_IDS, value="kommun-0880"))
    assert parse.organization_of(logical) == "kommun-0880"
    assert parse.contained_id(Reference(reference="#g1")) == "g1"
    assert parse.contained_id(Reference(reference="Goal/g1")) is None
    assert parse.reference_to(Reference(reference="CarePlan/c1"), {"CarePlan"}) == (
        "CarePlan",
        "c1",
    )
    assert parse.reference_to(Reference(reference="Goal/g1"), {"CarePlan"}) is None
    assert parse.system_value(Identifier(system="s", value="v"), "Patient.identifier[0]") == (
        "s",
        "v",
    )
    with pytest.raises(InvalidInput) as refused:
        parse.system_value(Identifier(system="s"), "Patient.identifier[0]")
    assert refused.value.field == "Patient.identifier[0].value"
    assert (
        parse.identifier_in(
            [Identifier(system="a", value="1"), Identifier(system="b", value="2")], "b"
        )
        == "2"
    )
