"""Demo patients for a development database: a few persons in the discharge flow from
Länssjukhuset i Kalmar to Kalmar kommun, so that `make run` shows the console with something on
its pages. (Region Norrbotten and Luleå are left to the README's examples, whose outputs assume
an inbox with nothing else in it.)

Everything is made through the same services as the API, by a demo record system of Region
Kalmar län; the persons are fictitious (valid test personnummer of the 1930s and 1940s).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from app.domain.care_messages import Category
from app.domain.deviations import DeviationCategory
from app.domain.episodes import AdmissionType
from app.domain.identifiers import PERSONNUMMER, make_personnummer
from app.domain.liability import LiabilityConfig
from app.domain.meetings import Participant, ParticipantKind
from app.domain.plans import ConsentGiver, ConsentMethod, Goal, InitiatorKind, PlanStatus
from app.security.access import Actor
from app.services import care_messages, deviations, episodes, meetings, persons, plans
from app.services.commands import (
    ChangeExpectedDischarge,
    DeclareDischargeReady,
    Notice,
    SendAdmissionNotice,
)
from app.store.unit_of_work import UnitOfWork

REGION = "region-kalmar"
WARD = "region-kalmar-lanssjukhuset-med"
MUNICIPALITY = "kommun-0880"
HOME_CARE = "kommun-0880-hemtjanst"
DEMO_SYSTEM = Actor(
    client_id="demo",
    organization_id=REGION,
    principal_id=REGION,
    scopes=frozenset({"system/*.cruds"}),
    user_id="demo data",
)


async def _person(
    uow: UnitOfWork,
    given: str,
    family: str,
    born: date,
    serial: int,
    now: datetime,
    *,
    protected: bool = False,
) -> str:
    person, _created = await persons.register_person(
        uow,
        DEMO_SYSTEM,
        persons.RegisterPerson(
            identifier_system=PERSONNUMMER,
            identifier_value=make_personnummer(born, serial),
            given_name=given,
            family_name=family,
            residence_municipality_id=MUNICIPALITY,
            protected_identity=protected,
        ),
        today=now.date(),
        reserve_systems=frozenset(),
    )
    return person.id


async def _episode(
    uow: UnitOfWork,
    liability: LiabilityConfig,
    person_id: str,
    admitted: datetime,
    now: datetime,
    *notices: Notice,
) -> str:
    episode = await episodes.register_admission(
        uow,
        DEMO_SYSTEM,
        episodes.RegisterAdmission(person_id, WARD, admitted, AdmissionType.ACUTE),
        now=now,
    )
    for notice in notices:
        await episodes.record_notice(
            uow, DEMO_SYSTEM, episode.id, notice, now=now, liability=liability
        )
    return episode.id


async def seed_demo_flow(uow: UnitOfWork, *, now: datetime, liability: LiabilityConfig) -> int:
    """Create the demo patients and what happened to them; returns how many persons.

    ``liability`` is the configuration the payment clocks are stored under, as for any notice.
    """
    days = timedelta(days=1)
    greta = await _person(uow, "Greta", "Lindqvist", date(1938, 4, 12), 123, now)
    sven = await _person(uow, "Sven", "Berg", date(1944, 9, 3), 456, now)
    ingrid = await _person(uow, "Ingrid", "Nilsson", date(1941, 1, 27), 789, now)
    hidden = await _person(uow, "Maj", "Sandberg", date(1947, 6, 30), 246, now, protected=True)
    admitted = now - 6 * days
    greta_stay = await _episode(
        uow,
        liability,
        greta,
        admitted,
        now,
        SendAdmissionNotice(at=admitted + timedelta(hours=2)),
        DeclareDischargeReady(at=now - 4 * days, coordinated_planning=True),
    )
    await _episode(
        uow,
        liability,
        sven,
        now - 1 * days,
        now,
        SendAdmissionNotice(at=now - 1 * days + timedelta(hours=3)),
        ChangeExpectedDischarge(
            at=now - timedelta(hours=12),
            expected_discharge_date=(now + 3 * days).date(),
        ),
    )
    await _episode(
        uow,
        liability,
        ingrid,
        now - 8 * days,
        now,
        SendAdmissionNotice(at=now - 8 * days + timedelta(hours=1)),
        DeclareDischargeReady(at=now - 1 * days),
    )
    await _episode(
        uow,
        liability,
        hidden,
        now - 2 * days,
        now,
        SendAdmissionNotice(at=now - 2 * days + timedelta(hours=4)),
    )
    plan = await plans.create_plan(
        uow,
        DEMO_SYSTEM,
        greta,
        InitiatorKind.UNIT,
        None,
        plans.ContentInput(
            title="SIP Greta Lindqvist",
            goals=(Goal("g1", "Bo kvar hemma med stöd"),),
            interventions=(
                plans.InterventionInput("i1", "Hemtjänst morgon och kväll", HOME_CARE),
                plans.InterventionInput("i2", "Läkemedelsgenomgång", WARD),
            ),
            responsible_principal_id=MUNICIPALITY,
            coordinator=plans.CoordinatorInput("Karin Samordnare", HOME_CARE),
            start_date=(now - 20 * days).date(),
            # The first follow-up passed without a meeting; the summons answers the second.
            follow_up_dates=tuple((now + d * days).date() for d in (-10, -3, 30)),
        ),
        now=now,
    )
    plan, _ = await plans.add_consent(
        uow,
        DEMO_SYSTEM,
        plan.id,
        given_by=ConsentGiver.PERSON,
        given_at=now,
        method=ConsentMethod.ORAL,
        share_with=(REGION, MUNICIPALITY),
        representative_name=None,
        if_match=None,
        now=now,
    )
    await plans.change_status(
        uow, DEMO_SYSTEM, plan.id, PlanStatus.ACTIVE, reason=None, if_match=None, now=now
    )
    await meetings.summon(
        uow,
        DEMO_SYSTEM,
        meetings.Summons(
            starts_at=now + 2 * days,
            reply_by=(now + 1 * days).date(),
            participants=(
                Participant("greta", ParticipantKind.PERSON),
                Participant("hemtj", ParticipantKind.UNIT, HOME_CARE),
            ),
            plan_id=plan.id,
            location="Länssjukhuset i Kalmar, avdelning 12",
        ),
        now=now,
    )
    await care_messages.send(
        uow,
        DEMO_SYSTEM,
        care_messages.Draft(
            recipients=(MUNICIPALITY,),
            subject="Hemgång på fredag",
            text="Sven behöver hemtjänst från fredag morgon.",
            category=Category.DISCHARGE,
            person_id=sven,
        ),
        now=now,
    )
    await deviations.report(
        uow,
        DEMO_SYSTEM,
        deviations.Report(
            category=DeviationCategory.MEDICATION_LIST_MISSING,
            description="Läkemedelslistan saknades i utskrivningsinformationen.",
            episode_id=greta_stay,
            handler_principal_id=MUNICIPALITY,
        ),
        now=now,
    )
    return 4
