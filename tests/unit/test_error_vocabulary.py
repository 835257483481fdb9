"""The one error vocabulary, FHIRPath in issues, the checks the FHIR models leave out, and
content negotiation: the pure parts of issue 16."""

from __future__ import annotations

import inspect

import pytest

from app.domain import errors
from app.domain.errors import DomainError, Malformed
from app.fhir import bundles, expressions, negotiation, primitives
from app.http import vocabulary

# https://hl7.org/fhir/R4/valueset-issue-type.html
R4_ISSUE_TYPES = {
    "invalid", "structure", "required", "value", "invariant", "security", "login", "unknown",
    "expired", "forbidden", "suppressed", "processing", "not-supported", "duplicate",
    "multiple-matches", "not-found", "deleted", "too-long", "code-invalid", "extension",
    "too-costly", "business-rule", "conflict", "transient", "lock-error", "no-store",
    "exception", "timeout", "incomplete", "throttled", "informational",
}  # fmt: skip


def domain_errors() -> list[type[DomainError]]:
    return [
        cls
        for _name, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, DomainError) and cls is not DomainError
    ]


@pytest.mark.parametrize("cls", domain_errors(), ids=lambda c: c.__name__)
def test_every_domain_error_has_its_own_row(cls: type[DomainError]) -> None:
    rows = [row for row, _kind in vocabulary.DOMAIN_ERRORS]
    assert cls in rows, f"{cls.__name__} has no row in app/http/vocabulary.py"
    # A subclass comes before its base, or the base's row would answer for it.
    for base in cls.__mro__[1:]:
        if base in rows:
            assert rows.index(cls) < rows.index(base), (cls, base)


def test_issue_codes_are_r4_issue_types() -> None:
    codes = {kind.issue for _cls, kind in vocabulary.DOMAIN_ERRORS}
    codes |= set(vocabulary.STATUS_ISSUES.values())
    assert codes <= R4_ISSUE_TYPES, codes - R4_ISSUE_TYPES


def test_the_statuses_the_edges_used_to_disagree_on() -> None:
    classify = vocabulary.classify
    assert classify(errors.IllegalTransition("x")).status == 409
    assert classify(errors.StaleVersion("x")).status == 412
    assert classify(errors.AmbiguousMatch("x")).status == 412
    assert classify(errors.TooLarge("x")).status == 413
    assert classify(errors.InvalidInput("x")).status == 422
    assert vocabulary.status_line(409) == "409 Conflict"
    assert vocabulary.issue_code(409, "illegal-transition") == "business-rule"
    assert vocabulary.issue_code(409, "stale-version") == "conflict"  # another status's row


@pytest.mark.parametrize(
    ("field", "resource_type", "expected"),
    [
        ("family_name", "Patient", "Patient.name[0].family"),
        ("hospital_unit_id", "Encounter", "Encounter.serviceProvider"),
        ("Bundle.entry[0].fullUrl", None, "Bundle.entry[0].fullUrl"),
        ("_count", "Patient", None),
        ("patient:missing", "CarePlan", None),
        ("entry.0.resource", None, None),
        ("If-None-Exist", "Patient", None),
    ],
)
def test_elements_become_fhirpath_or_nothing(
    field: str, resource_type: str | None, expected: str | None
) -> None:
    assert expressions.element(field, resource_type) == expected


def test_a_located_issue_names_its_bundle_entry() -> None:
    issue = expressions.locate({}, "family_name", "Patient", entry=3)
    assert issue == {"expression": ["Bundle.entry[3].resource.name[0].family"]}
    issue = expressions.locate({}, "_count")
    assert issue == {"details": {"text": "_count"}}
    assert expressions.from_loc("Bundle", ("entry", 0, "resource", "name", 1)) == (
        "Bundle.entry[0].resource.name[1]"
    )


@pytest.mark.parametrize(
    ("resource", "where"),
    [
        ({"resourceType": "Patient", "gender": "unknown-gender"}, "Patient.gender"),
        ({"resourceType": "Patient", "active": "true"}, "Patient.active"),
        ({"resourceType": "Patient", "name": [{"use": "x"}]}, "Patient.name[0].use"),
        (
            {"resourceType": "Bundle", "type": "batch", "entry": [{"resource": {
                "resourceType": "Patient", "deceasedBoolean": 1}}]},
            "Bundle.entry[0].resource.deceasedBoolean",
        ),
        ({"resourceType": "Binary", "contentType": "text/plain", "data": "%%%"}, "Binary.data"),
        (
            {"resourceType": "DocumentReference", "content": [{"attachment": {"data": "aGVq!"}}]},
            "DocumentReference.content[0].attachment.data",
        ),
    ],
)  # fmt: skip
def test_codes_booleans_and_base64_the_models_let_through_are_refused(
    resource: dict[str, object], where: str
) -> None:
    with pytest.raises(Malformed) as refused:
        primitives.check(resource)
    assert refused.value.field == where


def test_a_valid_patient_passes() -> None:
    primitives.check(
        {"resourceType": "Patient", "active": False, "gender": "other", "name": [{"use": "usual"}]}
    )
    primitives.check({"resourceType": "Binary", "contentType": "text/plain", "data": "aGVq"})


def test_full_urls_are_unique_unless_versions_differ() -> None:
    same = {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient"}}
    with pytest.raises(Malformed) as refused:
        bundles.check_full_urls([same, {"fullUrl": "urn:uuid:2"}, same])
    assert refused.value.field == "Bundle.entry[2].fullUrl"
    versions = [
        {"fullUrl": "urn:uuid:1", "resource": {"meta": {"versionId": str(v)}}} for v in (1, 2)
    ]
    bundles.check_full_urls(versions)


@pytest.mark.parametrize(
    ("accept", "served"),
    [
        ("", True),
        ("*/*", True),
        ("application/fhir+json", True),
        ("application/fhir+json; fhirVersion=4.0", True),
        ("application/fhir+xml, application/json;q=0.1", True),
        ("application/fhir+xml", False),
        ("application/xml, text/html", False),
        ("application/fhir+json; fhirVersion=3.0", False),
        ("application/fhir+json;q=0", False),
    ],
)
def test_accept(accept: str, served: bool) -> None:
    assert (negotiation.unacceptable(accept) is None) is served


def test_format_and_body_version() -> None:
    assert negotiation.unserved_format(b"_format=json&_count=2") is None
    assert negotiation.unserved_format(b"_format=application%2Ffhir%2Bjson") is None
    assert negotiation.unserved_format(b"_format=xml") is not None
    assert negotiation.unsupported_body("application/fhir+json; fhirVersion=4.0") is None
    assert negotiation.unsupported_body("application/fhir+json; fhirVersion=3.0") is not None
