"""Episodes and the notices of the discharge flow, as commands on an episode."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Generic, TypeVar

import orjson
from fastapi import Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.v1.attachments import (
    DocumentSummary,
    DocumentUpload,
    PlanningBasisIn,
    PlanningBasisRead,
    carried,
    content_json,
)
from app.api.v1.common import IfMatch, ListPage, page_of, parse_if_match, router
from app.api.v1.handover import (
    AnswerRead,
    MunicipalityResponse,
    ServicesStarted,
    ServicesStartedRead,
    answer_json,
    answer_of,
    started_json,
)
from app.domain.documents import Timeliness
from app.domain.episodes import (
    AdmissionType,
    CareType,
    Episode,
    EpisodeEvent,
    EpisodeState,
    EventKind,
)
from app.domain.handover import Answer, PlannedService
from app.http.deps import (
    DocumentRulesDep,
    EncounterCreator,
    EncounterReader,
    EncounterSearcher,
    EncounterUpdater,
    LiabilityDep,
    NowDep,
    PageDep,
    UowDep,
)
from app.http.errors import errors_for
from app.http.routing import reads_only
from app.http.values import Day, Instant
from app.services import commands
from app.services import episodes as service
from app.services.documents import DocumentRules
from app.services.notice_content import EpisodeContent, content_of
from app.store.unit_of_work import UnitOfWork

api = router("/api/v1", "episodes")


class EpisodeCreate(BaseModel):
    """An admission: a person was admitted to a hospital or psychiatric ward."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "person_id": "5f0c1a52-8d7e-4b8a-9a7e-2f1d3c4b5a69",
                    "hospital_unit_id": "region-norrbotten-sunderby-med",
                    "admitted_at": "2026-03-02T08:15:00+01:00",
                    "admission_type": "acute",
                    "primary_care_unit_id": "region-norrbotten-hc-lulea",
                }
            ]
        },
    )

    person_id: str
    hospital_unit_id: str
    admitted_at: Instant = Field(description="with UTC offset")
    admission_type: AdmissionType
    municipality_id: str | None = Field(
        default=None,
        description="receiving municipality; defaults to the person's residence "
        "municipality (in Norway the municipality of stay)",
    )
    primary_care_unit_id: str | None = None
    expected_discharge_date: Day | None = None


class EventRead(BaseModel):
    """One notice of an episode."""

    seq: int
    kind: EventKind
    at: datetime
    expected_discharge_date: date | None = None
    decided_at: datetime | None = None
    can_receive_from: date | None = None
    coordinated_planning: bool = False
    units: list[str] = Field(default=[], description="the municipality's units named in its answer")
    answer: Answer | None = Field(
        default=None, description="in the municipality's answer: can-receive or cannot-receive-yet"
    )
    reason: str | None = Field(
        default=None, description="why the municipality cannot receive the patient yet"
    )
    services: list[PlannedService] = Field(
        default=[],
        description="the services the municipality plans (its answer) or that began "
        "(services-started)",
    )
    arrived_at: datetime | None = Field(
        default=None, description="services-started: when the patient arrived home"
    )


class EpisodeRead(BaseModel):
    """An inpatient episode with its notices."""

    id: str
    person_id: str
    hospital_unit_id: str
    region_id: str
    municipality_id: str
    receiving_units: list[str] = Field(
        description="the municipality's units named in its answer: the episode's receivers in "
        "its place, once named"
    )
    primary_care_unit_id: str | None
    jurisdiction: str
    admitted_at: datetime
    admission_type: AdmissionType
    care_type: CareType
    state: EpisodeState
    expected_discharge_date: date | None
    admission_notice_at: datetime | None
    discharge_ready_since: datetime | None = Field(description="start of the running payment clock")
    discharged_at: datetime | None
    readmission_of_id: str | None = Field(
        description="the episode discharged within 30 days before this admission"
    )
    is_readmission: bool
    municipality_answer: AnswerRead | None = Field(
        description="the municipality's latest answer to the discharge-ready notice"
    )
    services_started: ServicesStartedRead | None = Field(
        description="the municipality's confirmation that the patient arrived and its services "
        "began"
    )
    version: int
    events: list[EventRead]
    documents: list[DocumentSummary] = Field(
        default=[], description="documents attached to the episode (its notices' and shared)"
    )
    planning_basis: list[PlanningBasisRead] = Field(
        default=[], description="the planning bases its notices carried, oldest first"
    )
    discharge_information: Timeliness | None = Field(
        default=None,
        description="once discharged: on-time when discharge information (a document of type "
        "discharge-information) arrived no later than the end of the discharge day, local "
        "time; late otherwise; pending while that day lasts",
    )


# What the API shows of an episode as the domain has it (the rest is derived).
_EPISODE_AS_IS = (
    "id",
    "person_id",
    "hospital_unit_id",
    "region_id",
    "municipality_id",
    "primary_care_unit_id",
    "jurisdiction",
    "admitted_at",
    "admission_type",
    "care_type",
    "state",
    "expected_discharge_date",
    "admission_notice_at",
    "discharge_ready_since",
    "discharged_at",
    "readmission_of_id",
    "is_readmission",
    "version",
)


def _event_json(e: EpisodeEvent) -> dict[str, object]:
    # Spelled out, in the order the response has always had (``EventRead``'s): a list page
    # shows about a hundred events, and a getattr by name for each was a tenth of its mapping.
    return {
        "seq": e.seq,
        "kind": e.kind,
        "at": e.at,
        "expected_discharge_date": e.expected_discharge_date,
        "decided_at": e.decided_at,
        "can_receive_from": e.can_receive_from,
        "coordinated_planning": e.coordinated_planning,
        "reason": e.reason,
        "arrived_at": e.arrived_at,
        "units": list(e.units),
        "services": list(e.services),
        "answer": answer_of(e) if e.kind is EventKind.MUNICIPALITY_RESPONSE else None,
    }


_CLOCKED = (EpisodeState.DISCHARGE_READY, EpisodeState.DISCHARGED)


def episode_json(episode: Episode, content: EpisodeContent | None = None) -> dict[str, object]:
    """The episode as ``EpisodeRead`` shows it (with its documents and planning basis, when
    given), as plain values: a list serializes them straight to JSON, without pydantic.

    What the episode's properties derive from its events (``admission_notice_at``,
    ``discharge_ready_since``, ``discharged_at``, ``receiving_units``, ``latest_answer``,
    ``services_started``) is found in one walk over them here: each property walking them
    again was most of an item's building on a list page (issue 20, profiled;
    tests/unit/test_episode_json.py holds the two together)."""
    admission_notice_at = ready_since = discharged_at = None
    answer = started = None
    units: tuple[str, ...] = ()
    events = []
    for e in episode.events:
        kind = e.kind
        if kind is EventKind.ADMISSION_NOTICE:
            if admission_notice_at is None:
                admission_notice_at = e.at
        elif kind is EventKind.DISCHARGE_READY:
            ready_since = e.at
        elif kind is EventKind.DISCHARGE_READY_WITHDRAWN:
            ready_since = None
        elif kind is EventKind.MUNICIPALITY_RESPONSE:
            answer = e
            if e.units:
                units = e.units
        elif kind is EventKind.DISCHARGE_NOTICE:
            if discharged_at is None:
                discharged_at = e.at
        elif kind is EventKind.SERVICES_STARTED and started is None:
            started = e
        events.append(_event_json(e))
    # In ``_EPISODE_AS_IS``'s order, then what is derived: the order the response has had.
    shown: dict[str, object] = {
        "id": episode.id,
        "person_id": episode.person_id,
        "hospital_unit_id": episode.hospital_unit_id,
        "region_id": episode.region_id,
        "municipality_id": episode.municipality_id,
        "primary_care_unit_id": episode.primary_care_unit_id,
        "jurisdiction": episode.jurisdiction,
        "admitted_at": episode.admitted_at,
        "admission_type": episode.admission_type,
        "care_type": episode.care_type,
        "state": episode.state,
        "expected_discharge_date": episode.expected_discharge_date,
        "admission_notice_at": admission_notice_at,
        "discharge_ready_since": ready_since if episode.state in _CLOCKED else None,
        "discharged_at": discharged_at,
        "readmission_of_id": episode.readmission_of_id,
        "is_readmission": episode.readmission_of_id is not None,
        "version": episode.version,
        "receiving_units": list(units),
        "municipality_answer": answer_json(answer),
        "services_started": started_json(started),
        "events": events,
    }
    shown.update(content_json(content))
    return shown


def episode_read(episode: Episode, content: EpisodeContent | None = None) -> EpisodeRead:
    """The API shape of an episode (with its documents and planning basis, when given)."""
    return EpisodeRead.model_validate(episode_json(episode, content))


async def with_content(
    uow: UnitOfWork, episodes: list[Episode], now: datetime
) -> list[EpisodeRead]:
    """The episodes' API shapes with what their notices carried."""
    content = await content_of(uow, episodes, now=now)
    return [episode_read(e, content[e.id]) for e in episodes]


def etag(episode: Episode) -> str:
    """The entity tag of an episode's current version."""
    return f'W/"{episode.version}"'


@api.post("/episodes", status_code=201, response_model=EpisodeRead, responses=errors_for(415, 422))
async def register_admission(
    actor: EncounterCreator,
    body: EpisodeCreate,
    uow: UowDep,
    now: NowDep,
    request: Request,
    response: Response,
) -> EpisodeRead:
    """Register an admission; a readmission within 30 days is linked to the earlier episode."""
    episode = await service.register_admission(
        uow,
        actor,
        service.RegisterAdmission(
            person_id=body.person_id,
            hospital_unit_id=body.hospital_unit_id,
            admitted_at=body.admitted_at,
            admission_type=body.admission_type,
            municipality_id=body.municipality_id,
            primary_care_unit_id=body.primary_care_unit_id,
            expected_discharge_date=body.expected_discharge_date,
        ),
        now=now,
    )
    response.headers["Location"] = str(request.url_for("get_episode", episode_id=episode.id))
    response.headers["ETag"] = etag(episode)
    return episode_read(episode)


@api.get("/episodes", response_model=ListPage[EpisodeRead], responses=errors_for(422))
@reads_only
async def list_episodes(
    actor: EncounterSearcher,
    uow: UowDep,
    page: PageDep,
    now: NowDep,
    request: Request,
    person_id: str | None = None,
    municipality_id: str | None = None,
    hospital_unit_id: str | None = None,
    state: EpisodeState | None = None,
) -> Response:
    """List episodes, e.g. a municipality's discharge-ready patients (`state=discharge-ready`)."""
    result = await service.list_episodes(
        uow,
        actor,
        limit=page.limit,
        after=page.cursor,
        person_id=person_id,
        municipality_id=municipality_id,
        hospital_unit_id=hospital_unit_id,
        state=state,
    )
    content = await content_of(uow, result.items, now=now)
    # The page is serialized as it is built, without pydantic (the declared ``ListPage`` is
    # the document's): a page of 50 episodes was 150 models validated, then validated and
    # serialized again by FastAPI (issue 20).
    shaped = page_of(
        request, result.items, result.next_cursor, lambda e: episode_json(e, content[e.id])
    )
    return Response(orjson.dumps(shaped, option=orjson.OPT_UTC_Z), media_type="application/json")


@api.get("/episodes/{episode_id}", response_model=EpisodeRead, responses=errors_for(404))
@reads_only
async def get_episode(
    actor: EncounterReader, episode_id: str, uow: UowDep, now: NowDep
) -> Response:
    """Read one episode with its notices, documents and planning basis."""
    episode = await service.get_episode(uow, actor, episode_id)
    content = await content_of(uow, [episode], now=now)
    # Built as plain values and sent as orjson bytes, as the list's items are (the declared
    # ``EpisodeRead`` is the document's): no model on a read's response (issue 20).
    return Response(
        orjson.dumps(episode_json(episode, content[episode.id]), option=orjson.OPT_UTC_Z),
        media_type="application/json",
        headers={"ETag": etag(episode)},
    )


class NoticeBase(BaseModel):
    """When the notice was sent; defaults to the time the service receives it."""

    model_config = ConfigDict(extra="forbid")

    at: Instant | None = Field(default=None, description="when the notice was sent, with offset")


class CarryingNotice(NoticeBase):
    """A notice that may carry documents to its receivers."""

    documents: list[DocumentUpload] = Field(
        default=[], max_length=10, description="documents that go with the notice to its receivers"
    )


class PlanningNotice(CarryingNotice):
    """A notice that may carry documents and the planning basis."""

    planning_basis: PlanningBasisIn | None = Field(
        default=None,
        description="answers to the planning-basis questionnaire (`/fhir/Questionnaire`); "
        "the receivers read them as structured data",
    )


class ExpectedDischargeNotice(NoticeBase):
    """A new expected discharge date."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"expected_discharge_date": "2026-03-09"}]}
    )

    expected_discharge_date: Day


class DischargeReadyNotice(PlanningNotice):
    """The treating doctor judged the patient discharge-ready; the payment clock starts."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "at": "2026-03-05T11:40:00+01:00",
                    "decided_at": "2026-03-05T10:30:00+01:00",
                    "coordinated_planning": True,
                }
            ]
        }
    )

    decided_at: datetime | None = Field(
        default=None, description="when the doctor decided; defaults to `at`"
    )
    coordinated_planning: bool = Field(
        default=False,
        description="both region and municipality must provide services after the discharge: "
        "a coordinated-plan summons is due within 3 days (see `/api/v1/summons-deadlines`)",
    )


NOTICE_ERRORS = errors_for(404, 409, 412, 413, 415, 422)
B = TypeVar("B", bound=BaseModel)
C = TypeVar("C", bound=commands.EpisodeNotice)


@dataclass(frozen=True, slots=True)
class NoticeRoute(Generic[B, C]):
    """One notice's REST command: ``POST /episodes/{episode_id}/<notice>``.

    Its path is the notice's name (``EventKind.notice``) and its operation is named after the
    ``command`` (``DeclareDischargeReady``: ``declare_discharge_ready``); ``build`` makes the
    command of the request's ``body`` and the document rules (the route adds what every notice
    says: ``at`` and the If-Match version); ``summary`` says what the notice does.
    """

    command: type[C]
    body: type[B]
    build: Callable[[B, DocumentRules], C]
    summary: str

    @property
    def name(self) -> str:
        """The operation's name (its operationId)."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.command.__name__).lower()


NOTICE_ROUTES: tuple[NoticeRoute[Any, Any], ...] = (
    NoticeRoute(
        commands.SendAdmissionNotice,
        PlanningNotice,
        lambda body, rules: commands.SendAdmissionNotice(
            carried=carried(body.documents, body.planning_basis, rules)
        ),
        "Send the admission notice to the municipality and primary care (within 24 h).",
    ),
    NoticeRoute(
        commands.ChangeExpectedDischarge,
        ExpectedDischargeNotice,
        lambda body, _rules: commands.ChangeExpectedDischarge(
            expected_discharge_date=body.expected_discharge_date
        ),
        "Tell the receivers a new expected discharge date.",
    ),
    NoticeRoute(
        commands.DeclareDischargeReady,
        DischargeReadyNotice,
        lambda body, rules: commands.DeclareDischargeReady(
            decided_at=body.decided_at,
            coordinated_planning=body.coordinated_planning,
            carried=carried(body.documents, body.planning_basis, rules),
        ),
        "Send the discharge-ready notice; its time starts the payment clock.",
    ),
    NoticeRoute(
        commands.WithdrawDischargeReady,
        NoticeBase,
        lambda body, _rules: commands.WithdrawDischargeReady(),
        "Withdraw the discharge-ready notice; the clock stops until a new notice.",
    ),
    NoticeRoute(
        commands.RecordMunicipalityResponse,
        MunicipalityResponse,
        lambda body, _rules: commands.RecordMunicipalityResponse(
            answer=body.answer,
            can_receive_from=body.can_receive_from,
            reason=body.reason,
            services=tuple(body.planned_services),
            units=tuple(body.units),
        ),
        "Record the municipality's answer: it can receive the patient from a date, or not yet.",
    ),
    NoticeRoute(
        commands.Discharge,
        CarryingNotice,
        lambda body, rules: commands.Discharge(carried=carried(body.documents, None, rules)),
        "Send the discharge notice, with the discharge information; it closes the episode.",
    ),
    NoticeRoute(
        commands.ConfirmServicesStarted,
        ServicesStarted,
        lambda body, _rules: commands.ConfirmServicesStarted(
            arrived_at=body.arrived_at, services=tuple(body.services)
        ),
        "Confirm, after the discharge, that the patient arrived home and the services began.",
    ),
)


def _add_notice_route(route: NoticeRoute[Any, Any]) -> None:
    """Add the route of one notice: the same steps for each, with its own body and command."""

    async def record_notice(
        actor: EncounterUpdater,
        episode_id: str,
        body: Any,
        uow: UowDep,
        now: NowDep,
        liability: LiabilityDep,
        rules: DocumentRulesDep,
        response: Response,
        if_match: IfMatch = None,
    ) -> EpisodeRead:
        notice = replace(route.build(body, rules), at=body.at, if_match=parse_if_match(if_match))
        episode, _event = await service.record_notice(
            uow, actor, episode_id, notice, now=now, liability=liability
        )
        response.headers["ETag"] = etag(episode)
        return (await with_content(uow, [episode], now))[0]

    # FastAPI reads the body's schema from the annotation: the notice's own.
    record_notice.__annotations__ = {**record_notice.__annotations__, "body": route.body}
    record_notice.__name__ = route.name
    record_notice.__doc__ = route.summary
    api.add_api_route(
        f"/episodes/{{episode_id}}/{route.command.kind.notice}",
        record_notice,
        methods=["POST"],
        name=route.name,
        response_model=EpisodeRead,
        responses=NOTICE_ERRORS,
    )


for _route in NOTICE_ROUTES:
    _add_notice_route(_route)
