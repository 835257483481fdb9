"""Domain exceptions.

They carry no HTTP status: `app.http.errors` translates them (as problem+json, and through
`app.fhir.outcome` as OperationOutcome under /fhir). Each carries a sentence an integrator can act
on and, where one input element is at fault, the name of that element as a dotted path
(``field``).
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class of every rule the domain refuses."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """The input is well-formed but breaks a domain rule (bad check digit, bad date order)."""


class UnknownReference(DomainError):
    """The input names something that does not exist (an unknown organization or person)."""


class NotFound(DomainError):
    """The thing asked for does not exist (or the caller may not know that it exists)."""


class IllegalTransition(DomainError):
    """The step is not allowed in the current state (a second discharge, for example)."""


class Conflict(DomainError):
    """The request clashes with something that already exists (a duplicate identifier)."""


class StaleVersion(DomainError):
    """The caller edited an older version than the current one (optimistic concurrency)."""


class AmbiguousMatch(DomainError):
    """A condition that must name at most one record names several (a conditional create)."""


class Forbidden(DomainError):
    """The caller is known and may see the thing, but this step is not theirs to take."""


class Incomplete(DomainError):
    """Several required elements are missing at once; ``problems`` names each (field, message)."""

    def __init__(self, message: str, problems: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.problems = problems


class VersionRequired(DomainError):
    """The change must name the version it was made against (``If-Match``), and did not."""


class Malformed(DomainError):
    """The input is not well-formed for its format (a FHIR resource its schema refuses)."""


class TooLarge(InvalidInput):
    """The content is over the configured size limit (a document)."""


class UnsupportedContent(InvalidInput):
    """The content's media type is not one the service accepts (a document)."""
