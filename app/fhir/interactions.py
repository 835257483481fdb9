"""The FHIR interactions the server answers, each with the statuses it can answer.

One row per interaction (https://hl7.org/fhir/R4/http.html): how it is requested, what a success
returns and which errors it can answer. The CapabilityStatement (``/fhir/metadata``) names the
interactions of each resource type from these rows, and the OpenAPI document
(``app.fhir.openapi``) declares one operation per resource type and interaction from the same
rows, so what the two documents promise is what the routes do.

Every error is an OperationOutcome; ``$process-message`` answers a refused message with a
response message (a Bundle) instead, as its operation definition says.
"""

from __future__ import annotations

from dataclasses import dataclass

# What any authenticated FHIR request can answer: a malformed request (400), no or a bad token
# (401), a token without the scope (403), an Accept, _format or fhirVersion not served (406), a
# parameter out of bounds (422), over the rate limit.
AUTHENTICATED = (400, 401, 403, 406, 422, 429)
# A request with a body: too large (413), not sent as FHIR JSON (415).
WITH_BODY = (413, 415)


@dataclass(frozen=True, slots=True)
class Interaction:
    """One FHIR interaction as this server answers it.

    ``path`` follows ``/fhir/<type>`` (``{id}`` and ``{vid}`` are the instance and version);
    ``returns`` names what a success carries: ``resource`` (the type's own), ``Bundle``, or
    another resource type; ``errors`` the statuses it can refuse with.
    """

    code: str
    method: str
    path: str
    summary: str
    success: tuple[int, ...]
    errors: tuple[int, ...]
    returns: str = "resource"
    body: bool = False
    searches: bool = False


READ = Interaction("read", "get", "/{id}", "Read a {type}", (200,), (*AUTHENTICATED, 404))
VREAD = Interaction(
    "vread",
    "get",
    "/{id}/_history/{vid}",
    "Read a version of a {type}",
    (200,),
    (*AUTHENTICATED, 404),
)
HISTORY_INSTANCE = Interaction(
    "history-instance",
    "get",
    "/{id}/_history",
    "The history of a {type}",
    (200,),
    (*AUTHENTICATED, 404),
    returns="Bundle",
)
# 404 when a reference parameter names a record the caller has no part in.
SEARCH_TYPE = Interaction(
    "search-type",
    "get",
    "",
    "Search {type}",
    (200,),
    (*AUTHENTICATED, 404),
    returns="Bundle",
    searches=True,
)
HISTORY_TYPE = Interaction(
    "history-type",
    "get",
    "/_history",
    "The history of every {type}",
    (200,),
    AUTHENTICATED,
    returns="Bundle",
)
# 200 when If-None-Exist finds one match, 412 when it finds several; 404/409 for what the
# resource refers to or contradicts (a Patient already registered, without If-None-Exist).
CREATE = Interaction(
    "create",
    "post",
    "",
    "Create a {type}",
    (201, 200),
    (*AUTHENTICATED, 404, 409, 412, *WITH_BODY),
    body=True,
)
# 412 against a stale version, 428 without one.
UPDATE = Interaction(
    "update",
    "put",
    "/{id}",
    "Update a {type} (If-Match)",
    (200,),
    (*AUTHENTICATED, 404, 409, 412, 428, *WITH_BODY),
    body=True,
)
DELETE = Interaction("delete", "delete", "/{id}", "Delete a {type}", (204,), (*AUTHENTICATED, 404))

# System and instance interactions served by routes of their own, by the route's name (its
# operationId).
CAPABILITIES = Interaction(
    "capabilities",
    "get",
    "",
    "The CapabilityStatement",
    (200,),
    (406,),
    returns="CapabilityStatement",
)
TRANSACTION = Interaction(
    "transaction",
    "post",
    "",
    "A transaction or batch Bundle",
    (200,),
    (*AUTHENTICATED, 404, 409, 412, 428, *WITH_BODY),
    returns="Bundle",
    body=True,
)
PROCESS_MESSAGE = Interaction(
    "process-message",
    "post",
    "",
    "Process a message Bundle",
    (200,),
    (*AUTHENTICATED, 404, 409, 412, *WITH_BODY),
    returns="Bundle",
    body=True,
)
INSTANCE_OPERATION = Interaction(
    "operation",
    "get",
    "",
    "An operation on an instance",
    (200,),
    (*AUTHENTICATED, 404),
    returns="Bundle",
)
EVALUATE_MEASURE = Interaction(
    "operation",
    "get",
    "",
    "$evaluate-measure",
    (200,),
    (*AUTHENTICATED, 404),
    returns="MeasureReport",
)
ROUTES = {
    "capability_statement": CAPABILITIES,
    "transaction": TRANSACTION,
    "process_message": PROCESS_MESSAGE,
    "create_fhir_subscription": CREATE,
    "search_fhir_subscriptions": SEARCH_TYPE,
    "read_fhir_subscription": READ,
    "delete_fhir_subscription": DELETE,
    "fhir_subscription_status": INSTANCE_OPERATION,
    "evaluate_measure": EVALUATE_MEASURE,
}


def served(*, creatable: bool, updatable: bool) -> tuple[Interaction, ...]:
    """The interactions of a resource type of the interaction table, in the order the
    CapabilityStatement lists them.

    Every type answers vread: the version its ``meta.versionId`` and ETag name always, earlier
    versions where the type keeps them (its ``readHistory``); a version not kept is a 404.
    """
    found = [READ, VREAD, SEARCH_TYPE]
    if creatable:
        found.append(CREATE)
    if updatable:
        found.append(UPDATE)
    return (*found, HISTORY_INSTANCE, HISTORY_TYPE)
