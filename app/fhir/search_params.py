"""The values of token and reference search parameters, and comma lists of them.

R4 search (https://hl7.org/fhir/R4/search.html) lets a client give

- a token as ``code``, ``system|code`` or ``|code`` (a code without a system);
- a reference as ``Type/id``, a bare ``id`` or the absolute URL of a resource of this server;
- several values of one parameter separated by commas, any of which may match (``\\,`` is a
  comma inside a value).

The searchers of ``RESOURCES`` take plain values: a bare code, an identifier as
``system|value``, a reference's id. ``plan`` turns the request's parameters into them. A comma
list of a token or reference parameter reaches the searcher whole, which asks its repository
for any of the values in one query (``IN``), so the page is paged and ordered as one. Only an
identifier (whose value without a system is tried in each system, a guess that may be invalid)
and the parameters a type declares ``single`` are searched one value at a time: ``plan`` makes
one alternative per combination of their values, and ``run`` searches each, merges what they
find and pages the union by id. A value that can match nothing here (a code of another system,
a reference to another server) is left out instead of being refused, as the specification says.

A few reference parameters are matched on the found resources instead (``FILTERED``): the
searcher cannot narrow by them, because they name members of more than one type. ``run`` reads
on until the page is full, so a page is short only when it is the last.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from app.domain.errors import InvalidInput
from app.domain.identifiers import (
    D_NUMMER,
    FODSELSNUMMER,
    H_NUMMER,
    PERSONNUMMER,
    SAMORDNINGSNUMMER,
)
from app.domain.organizations import (
    HER_ID,
    HSA_ID,
    NO_MUNICIPALITY_NUMBER,
    NO_ORGANISATION_NUMBER,
    RESH_ID,
    SE_MUNICIPALITY_CODE,
    SE_ORGANISATION_NUMBER,
)
from app.domain.staff import HPR_NUMBER
from app.fhir.parse import organization_of
from app.fhir.resources.spec import Found, Resource, Searcher, SearchQuery
from app.security.access import Actor
from app.services import staff as staff_service
from app.settings import Settings
from app.store.unit_of_work import UnitOfWork

# At most this many combinations of values searched one at a time are searched for one request.
MAX_ALTERNATIVES = 32
# At most this many values of one parameter are searched (in one query).
MAX_VALUES = 100
# A search of several alternatives reads at most this many resources before it is refused.
MAX_SCANNED = 10_000


def _fhir(name: str) -> str:
    return f"http://hl7.org/fhir/{name}"


def _own(kind: str, name: str) -> str:
    return f"https://samverkan.dev/fhir/{kind}/{name}"


@dataclass(frozen=True, slots=True)
class Token:
    """How a token parameter's codes are written.

    ``systems`` are the systems its codes carry in the resources; ``implicit`` is the value set
    of a ``code`` element (status), whose codes carry no system. ``identifier`` parameters
    are searched as ``system|value``: a value without a system is looked for in each system.
    """

    systems: tuple[str, ...] = ()
    implicit: str | None = None
    identifier: bool = False


_PERSON_IDS = (PERSONNUMMER, SAMORDNINGSNUMMER, FODSELSNUMMER, D_NUMMER, H_NUMMER)
_ORGANIZATION_IDS = (
    HSA_ID,
    SE_ORGANISATION_NUMBER,
    SE_MUNICIPALITY_CODE,
    HER_ID,
    NO_ORGANISATION_NUMBER,
    RESH_ID,
    NO_MUNICIPALITY_NUMBER,
)

# Every token parameter a resource type declares (``_id`` of every type is a plain code).
TOKENS: dict[tuple[str, str], Token] = {
    ("Patient", "identifier"): Token(_PERSON_IDS, identifier=True),
    ("Organization", "identifier"): Token(_ORGANIZATION_IDS, identifier=True),
    ("Practitioner", "identifier"): Token((HSA_ID, HPR_NUMBER), identifier=True),
    ("Encounter", "status"): Token(implicit=_fhir("encounter-status")),
    ("CarePlan", "status"): Token(implicit=_fhir("request-status")),
    ("CarePlan", "category"): Token((_own("CodeSystem", "plan-category"),)),
    ("Goal", "lifecycle-status"): Token(implicit=_fhir("goal-status")),
    ("CareTeam", "status"): Token(implicit=_fhir("care-team-status")),
    ("PractitionerRole", "role"): Token((_own("CodeSystem", "practitioner-role"),)),
    ("Appointment", "status"): Token(implicit=_fhir("appointmentstatus")),
    ("AppointmentResponse", "part-status"): Token(implicit=_fhir("participationstatus")),
    ("Communication", "category"): Token((_own("CodeSystem", "care-message-category"),)),
    ("Task", "status"): Token(implicit=_fhir("task-status")),
    ("Task", "business-status"): Token((_own("CodeSystem", "deviation-state"),)),
    ("Task", "code"): Token((_own("CodeSystem", "deviation-category"),)),
    ("DocumentReference", "type"): Token((_own("CodeSystem", "document-type"),)),
    ("Questionnaire", "version"): Token(),
}

_PATIENT = ("Patient",)
_ORGANIZATION = ("Organization",)
# Every reference parameter a resource type declares, with the types it may name.
REFERENCES: dict[tuple[str, str], tuple[str, ...]] = {
    ("Patient", "organization"): _ORGANIZATION,
    ("Organization", "partof"): _ORGANIZATION,
    ("PractitionerRole", "organization"): _ORGANIZATION,
    ("PractitionerRole", "practitioner"): ("Practitioner",),
    ("CareTeam", "participant"): ("Organization", "PractitionerRole", "Practitioner"),
    ("Appointment", "supporting-info"): ("CarePlan",),
    ("Appointment", "actor"): ("Patient", "Organization"),
    ("AppointmentResponse", "appointment"): ("Appointment",),
    ("Communication", "recipient"): _ORGANIZATION,
    ("Communication", "sender"): _ORGANIZATION,
    ("Communication", "part-of"): ("Communication",),
    ("Task", "owner"): _ORGANIZATION,
    ("Task", "requester"): _ORGANIZATION,
    ("AuditEvent", "agent"): _ORGANIZATION,
    ("DocumentReference", "encounter"): ("Encounter",),
    ("DocumentReference", "author"): _ORGANIZATION,
    ("QuestionnaireResponse", "encounter"): ("Encounter",),
}
# patient and subject name the person wherever they are declared.
PERSON_PARAMS = ("patient", "subject")


def _careteam_members(resource: Resource) -> set[str]:
    """The members of a CareTeam and the organizations they act for, as ``Type/id``."""
    found = set()
    for member in resource.get("participant") or []:
        for key in ("member", "onBehalfOf"):
            reference = (member.get(key) or {}).get("reference")
            if isinstance(reference, str):
                found.add(reference)
    return found


def _appointment_actors(resource: Resource) -> set[str]:
    """The participants of an Appointment: persons literally, units by their identifier."""
    found = set()
    for participant in resource.get("participant") or []:
        reference = participant.get("actor") or {}
        literal = reference.get("reference")
        if isinstance(literal, str):
            found.add(literal)
        unit = organization_of(reference)
        if unit is not None:
            found.add(f"Organization/{unit}")
    return found


# Reference parameters matched on the found resources: what each resource refers to.
FILTERED: dict[tuple[str, str], Callable[[Resource], set[str]]] = {
    ("CareTeam", "participant"): _careteam_members,
    ("Appointment", "actor"): _appointment_actors,
}


def split(value: str) -> list[str]:
    """The values of a comma list; ``\\,`` is a comma inside a value."""
    parts, current, escaped = [], [], False
    for char in value:
        if escaped:
            current.append(char if char == "," else "\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def reference(value: str, targets: tuple[str, ...], base: str, name: str) -> list[str]:
    """The ``Type/id`` references a reference value stands for (empty: none of this server).

    A bare id stands for a resource of each target type. A reference to a type the parameter
    does not name is refused when the parameter names one type only, and matches nothing
    otherwise.
    """
    text = value.strip()
    if not text:
        raise InvalidInput(f"{name} is empty", field=name)
    if "://" in text:
        if not text.startswith(base.rstrip("/") + "/"):
            return []
        text = text[len(base.rstrip("/")) + 1 :]
    kind, sep, ident = text.partition("/")
    if not sep:
        return [f"{target}/{text}" for target in targets]
    ident = ident.split("/_history/", 1)[0]
    if not ident or "/" in ident:
        raise InvalidInput(f"{name}: {value} is not Type/id, an id or a URL of one", field=name)
    if kind not in targets:
        if len(targets) == 1:
            raise InvalidInput(f"{name} must reference a {targets[0]}", field=name)
        return []
    return [f"{kind}/{ident}"]


def _named_person(value: str, base: str, bare: bool = False) -> str | None:
    """The person a reference value of this server names as ``Patient/id`` (or as a bare id,
    for a parameter that names persons only), if it does."""
    text = value.strip()
    root = base.rstrip("/") + "/"
    if text.startswith(root):
        text = text[len(root) :]
    kind, sep, ident = text.partition("/")
    if bare and not sep and "://" not in value:
        return kind or None
    if kind != "Patient":
        return None
    return ident.split("/", 1)[0] or None


def token(value: str, spec: Token, name: str) -> list[tuple[str, bool]]:
    """The values a searcher takes for one token value, each with whether it was guessed (a
    value without a system, tried in each identifier system)."""
    system, sep, code = value.rpartition("|") if not spec.identifier else value.partition("|")
    if not sep:
        system, code = "", value
    if not code:
        raise InvalidInput(f"{name} has no code", field=name)
    if spec.identifier:
        if not sep:
            return [(f"{s}|{code}", True) for s in spec.systems]
        # A system given is the searcher's to judge (it knows aliases and reserve numbers).
        return [(f"{system}|{code}", False)]
    if not sep:
        return [(code, False)]
    if not system:
        # |code: a code without a system, which only a code element (status) has.
        return [(code, False)] if not spec.systems else []
    return [(code, False)] if system in (*spec.systems, spec.implicit) else []


@dataclass(frozen=True, slots=True)
class Alternative:
    """One combination of values to search (a parameter's values: any may match);
    ``guessed`` names the parameters whose value was guessed (an invalid guess matches nothing
    rather than being refused)."""

    params: dict[str, tuple[str, ...]]
    guessed: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Plan:
    """What a search asks: the alternatives (none: nothing can match) and the reference
    parameters matched on the found resources."""

    alternatives: tuple[Alternative, ...]
    filters: dict[str, set[str]] = field(default_factory=dict)
    resource_type: str = ""
    persons: tuple[str, ...] = ()

    def keeps(self, resource: Resource) -> bool:
        for name, wanted in self.filters.items():
            if not FILTERED[(self.resource_type, name)](resource) & wanted:
                return False
        return True

    def subjects(self) -> list[str]:
        """The persons the search names (patient, subject, or a Patient reference of another
        parameter), each once: the search is an access to each, even when nothing matches."""
        found: list[str] = list(self.persons)
        for alternative in self.alternatives:
            for name in PERSON_PARAMS:
                for person in alternative.params.get(name, ()):
                    if person not in found:
                        found.append(person)
        return found


def _persons(lists: dict[str, tuple[str, ...]]) -> tuple[str, ...] | None:
    """patient and subject both name the person: the persons both name (None: neither)."""
    named = [lists.pop(name) for name in PERSON_PARAMS if name in lists]
    if not named:
        return None
    return tuple(p for p in named[0] if all(p in other for other in named[1:]))


def plan(
    resource_type: str,
    declared: dict[str, str],
    params: dict[str, str],
    base: str,
    single: frozenset[str] = frozenset(),
) -> Plan:
    """The alternatives of a search; ``declared`` maps the type's parameters to their types,
    ``single`` names those whose comma lists are searched one value at a time."""
    fixed: dict[str, tuple[str, ...]] = {}
    lists: dict[str, tuple[str, ...]] = {}
    persons: list[str] = []
    choices: list[tuple[str, list[tuple[str, bool]]]] = []
    filters: dict[str, set[str]] = {}
    for name, value in params.items():
        kind = "token" if name == "_id" else declared.get(name)
        key = (resource_type, name)
        if kind == "reference":
            targets = _PATIENT if name in PERSON_PARAMS else REFERENCES[key]
            values = split(value)
            # Every person named is an access, even when the search can match nothing.
            bare = name in PERSON_PARAMS
            persons += [p for v in values if (p := _named_person(v, base, bare)) is not None]
            found = [r for v in values for r in reference(v, targets, base, name)]
            if key in FILTERED:
                filters[name] = set(found)
                continue
            ids = sorted({r.partition("/")[2] for r in found})
            if name in single:
                choices.append((name, [(i, False) for i in ids]))
            else:
                lists[name] = tuple(ids)
        elif kind == "token":
            spec = TOKENS.get(key, Token())
            tokens = list(dict.fromkeys(t for v in split(value) for t in token(v, spec, name)))
            if spec.identifier or name in single:
                choices.append((name, tokens))
            else:
                lists[name] = tuple(v for v, _guess in tokens)
            if (resource_type, name) == ("Patient", "_id"):
                # A Patient's id is the person's: each named is an access (the links echo it).
                persons += lists[name]
        else:
            fixed[name] = (value,)
    for name, many in lists.items():
        if len(many) > MAX_VALUES:
            raise InvalidInput(f"{name} lists more than {MAX_VALUES} values", field=name)
    person_ids = _persons(lists)
    if person_ids is not None:
        lists["patient"] = person_ids
    nothing = Plan((), filters, resource_type, tuple(dict.fromkeys(persons)))
    if any(not values for _name, values in choices) or not all(filters.values()):
        return nothing
    if not all(lists.values()):
        return nothing
    combinations = 1
    for _name, listed in choices:
        combinations *= len(listed)
    if combinations > MAX_ALTERNATIVES:
        raise InvalidInput(
            f"the comma lists ask for {combinations} combinations; at most {MAX_ALTERNATIVES}",
            field=choices[-1][0],
        )
    alternatives = []
    for combination in itertools.product(*(listed for _name, listed in choices)):
        chosen = {**fixed, **lists}
        guessed = set()
        for (name, _values), (value, guess) in zip(choices, combination, strict=True):
            chosen[name] = (value,)
            if guess:
                guessed.add(name)
        alternatives.append(Alternative(chosen, frozenset(guessed)))
    return Plan(tuple(alternatives), filters, resource_type, tuple(dict.fromkeys(persons)))


async def _with_roles(uow: UnitOfWork, wanted: set[str], settings: Settings) -> set[str]:
    """A practitioner takes part in a team through their roles: add each role's reference."""
    widened = set(wanted)
    for ref in wanted:
        kind, _sep, ident = ref.partition("/")
        if kind != "Practitioner":
            continue
        after = None
        while True:
            page = await staff_service.list_roles(
                uow,
                limit=settings.max_page_size,
                after=after,
                organization_id=None,
                principal_id=None,
                practitioner_id=ident,
                role=None,
            )
            widened |= {f"PractitionerRole/{role.id}" for role in page.items}
            after = page.next_cursor
            if after is None:
                break
    return widened


Keeps = Callable[[Resource], bool]


async def _filled(
    search: Searcher,
    uow: UnitOfWork,
    actor: Actor,
    params: dict[str, tuple[str, ...]],
    count: int,
    cursor: str | None,
    settings: Settings,
    keeps: Keeps,
    parts: bool,
) -> Found:
    """A page of ``count`` of what the searcher finds and ``keeps`` keeps: the searcher's
    pages are read on until it is full (a page is short only when it is the last).

    A searcher's cursor is the id of the last resource it gave, so a page cut short has its
    last resource's id as its cursor; but the cursor of a searcher of ``parts`` (Goal: of
    plans) is the last record's, so it is asked only for as many as the page still lacks."""
    page: list[Resource] = []
    scanned = 0
    after = cursor
    while True:
        limit = count - len(page) if parts else count
        found, after = await search(uow, actor, SearchQuery(params, limit, after, settings))
        scanned += len(found)
        page += [r for r in found if keeps(r)]
        if len(page) > count and not parts:
            page = page[:count]
            return page, page[-1]["id"]
        if after is None or len(page) >= count:
            return page, after
        if scanned > MAX_SCANNED:
            raise InvalidInput(
                f"more than {MAX_SCANNED} resources read for one page; narrow the search",
                field=next(iter(params), None),
            )


async def run(
    search: Searcher,
    uow: UnitOfWork,
    actor: Actor,
    asked: Plan,
    count: int,
    cursor: str | None,
    settings: Settings,
    keeps: Keeps | None = None,
    parts: bool = False,
) -> Found:
    """Search each alternative; one searches straight through (its own pages), several are
    merged, kept once each and paged by id (the cursor is the last id given). ``keeps``
    matches what the searcher cannot (besides ``FILTERED``); ``parts``: the type's resources
    are parts of records, paged by record (``_filled``)."""
    if not asked.alternatives:
        return [], None
    filters = {n: await _with_roles(uow, w, settings) for n, w in asked.filters.items()}
    kept = Plan(asked.alternatives, filters, asked.resource_type, asked.persons)

    def wanted(resource: Resource) -> bool:
        return kept.keeps(resource) and (keeps is None or keeps(resource))

    [single] = asked.alternatives if len(asked.alternatives) == 1 else [None]
    if single is not None and not single.guessed:
        if not filters and keeps is None:
            return await search(uow, actor, SearchQuery(single.params, count, cursor, settings))
        return await _filled(
            search, uow, actor, single.params, count, cursor, settings, wanted, parts
        )
    merged: dict[str, Resource] = {}
    scanned = 0
    for alternative in asked.alternatives:
        after = None
        while True:
            query = SearchQuery(alternative.params, settings.max_page_size, after, settings)
            try:
                found, after = await search(uow, actor, query)
            except InvalidInput as exc:
                if exc.field in alternative.guessed:
                    break
                raise
            scanned += len(found)
            if scanned > MAX_SCANNED:
                raise InvalidInput(
                    f"more than {MAX_SCANNED} resources to merge; narrow the search",
                    field=next(iter(alternative.params), None),
                )
            merged.update((r["id"], r) for r in found if wanted(r))
            if after is None:
                break
    ordered = [merged[k] for k in sorted(merged) if cursor is None or k > cursor]
    page = ordered[:count]
    return page, page[-1]["id"] if len(ordered) > count else None
