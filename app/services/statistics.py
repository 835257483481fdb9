"""Use case of the follow-up statistics: whose figures a caller may see, computed in SQL.

An organization sees the figures of itself (a principal, or one of its units) and of the
cooperation areas it belongs to (a municipality member, or the area's region); any other area
or organization is answered exactly as one that does not exist. Figures that are shared beyond
one principal (an area's, or a breakdown whose groups are other principals) have their small
cells suppressed. No person is named: the read is logged as an aggregate, without a person.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.domain.episodes import ZONES
from app.domain.errors import InvalidInput, NotFound
from app.domain.liability import LiabilityConfig
from app.domain.organizations import OrgKind
from app.domain.statistics import (
    Dimension,
    Family,
    Figure,
    Indicator,
    Kind,
    Period,
    day_buckets,
    quantiles,
    suppress,
)
from app.security.access import Actor, record
from app.services.liability_rules import LiabilityRules
from app.store.liability import day_number
from app.store.statistics import Bounds, Scope, Slice, StatisticsRepository, periods_table
from app.store.unit_of_work import UnitOfWork

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Subject:
    """Whose figures: an organization (principal or unit) or a cooperation area."""

    kind: str
    id: str
    name: str
    jurisdiction: str
    scope: Scope
    principal_id: str | None


@dataclass(slots=True)
class Statistics:
    """The figures of some indicators over some periods, per group when broken down."""

    subject: Subject
    by: Dimension | None
    periods: list[Period]
    shared: bool
    figures: dict[str, list[Figure]] = field(default_factory=dict)


async def subject_for(
    uow: UnitOfWork, actor: Actor, organization_id: str | None, area_id: str | None
) -> Subject:
    """The subject the caller asked about, if the caller may see its figures.

    An organization the caller is not (nor a unit of its principal), and an area it does not
    belong to, are refused as not found, naming the parameter.
    """
    if area_id is not None:
        area = await uow.areas.get(area_id)
        member = area is not None and (
            actor.principal_id == area.region_id or actor.principal_id in area.municipality_ids
        )
        if area is None or not member:
            raise NotFound(f"no cooperation area with id {area_id}", field="area")
        region = await uow.organizations.get(area.region_id)
        assert region is not None
        return Subject(
            "area",
            area.id,
            area.name,
            region.jurisdiction.value,
            Scope(region_id=area.region_id, municipality_ids=tuple(area.municipality_ids)),
            None,
        )
    wanted = organization_id or actor.principal_id
    org = await uow.organizations.get(wanted)
    if org is None or (org.id != actor.principal_id and org.parent_id != actor.principal_id):
        raise NotFound(f"no organization with id {wanted}", field="organization")
    jurisdiction = org.jurisdiction.value
    if org.kind is OrgKind.REGION:
        scope = Scope(region_id=org.id)
    elif org.kind is OrgKind.MUNICIPALITY:
        scope = Scope(municipality_ids=(org.id,))
    elif org.kind is OrgKind.UNIT:
        scope = Scope(unit_ids=(org.id,))
    else:
        raise InvalidInput(
            f"{org.id} is a {org.kind.value}; statistics are kept for regions, municipalities, "
            "their units and cooperation areas",
            field="organization",
        )
    return Subject("organization", org.id, org.name, jurisdiction, scope, actor.principal_id)


async def statistics(
    uow: UnitOfWork,
    actor: Actor,
    indicators: Sequence[Indicator],
    periods: Sequence[Period],
    *,
    by: Dimension | None,
    organization_id: str | None,
    area_id: str | None,
    rules: LiabilityRules,
    now: datetime,
) -> Statistics:
    """The indicators' figures for the subject over the periods, computed in the database.

    The figures of an area, and a breakdown by municipality or area, are shared beyond one
    principal and so suppressed (`app.domain.statistics.suppress`); a principal's own figures,
    and those of its own units, are not.
    """
    subject = await subject_for(uow, actor, organization_id, area_id)
    for item in indicators:
        refuse_unfit(item, subject, by)
    zone_name = ZONES[subject.jurisdiction].key
    zone = ZONES[subject.jurisdiction]
    bounds = []
    for key, period in enumerate(periods):
        starts, stops = period.bounds(zone)
        bounds.append(
            Bounds(key, starts, stops, day_number(period.first_day), day_number(period.stop_day))
        )
    table = periods_table(bounds)
    shared = subject.kind == "area" or by in (Dimension.MUNICIPALITY, Dimension.AREA)
    config = await rules.in_step(uow) if any(i.kind is Kind.AMOUNT for i in indicators) else None
    result = Statistics(subject, by, list(periods), shared)
    cache: dict[str, list[Row]] = {}
    for item in indicators:
        figures = await _figures(
            uow, item, subject, by, table, list(periods), zone_name, now, config, cache
        )
        result.figures[item.code] = suppress(figures, item.kind) if shared else figures
    record(uow, actor, "read", "Statistics", subject.id, None)
    return result


async def recompute_daily(uow: UnitOfWork) -> int:
    """Rebuild the statistics per local day from the events (`samverkan statistics recompute`);
    the rows it holds. Each write keeps the table true in its own transaction; this is for data
    loaded around the service, and to check it."""
    return await uow.statistics.recompute_daily()


def refuse_unfit(item: Indicator, subject: Subject, by: Dimension | None) -> None:
    """Refuse, naming the parameter, an indicator the subject or the breakdown does not fit."""
    if by is not None and by not in item.dimensions:
        raise InvalidInput(
            f"{item.code} can be broken down by "
            f"{', '.join(sorted(d.value for d in item.dimensions)) or 'nothing'}, not {by}",
            field="by",
        )
    if item.family is Family.MESSAGES and subject.kind == "area":
        raise InvalidInput(
            f"{item.code} counts the messages of organizations, not of an area", field="area"
        )
    if item.family is Family.PLANS and subject.scope.unit_ids is not None:
        if item.code != "meetings-held":
            raise InvalidInput(
                f"{item.code} counts plans, which belong to principals, not to a unit",
                field="organization",
            )


async def _figures(
    uow: UnitOfWork,
    item: Indicator,
    subject: Subject,
    by: Dimension | None,
    table: Any,
    periods: list[Period],
    zone: str,
    now: datetime,
    config: LiabilityConfig | None,
    cache: dict[str, list[Row]],
) -> list[Figure]:
    repo, sl = uow.statistics, Slice(subject.scope, by, table)
    groups: dict[tuple[int, Any], dict[str, Any]] = defaultdict(dict)
    code = item.code
    if code in ("admissions-notified", "admission-notice-within-24h", "discharge-ready-notices",
                "discharge-ready-withdrawals"):  # fmt: skip
        if "events" not in cache:
            cache["events"] = await repo.episode_events(sl)
        for k, g, admissions, within, ready, withdrawn in cache["events"]:
            values = {
                "admissions-notified": {"count": admissions},
                "admission-notice-within-24h": _share(within, admissions),
                "discharge-ready-notices": {"count": ready},
                "discharge-ready-withdrawals": {"count": withdrawn},
            }[code]
            groups[(k, g)] = values
    elif code == "days-ready-to-discharge":
        histograms = _histograms(await repo.days_to_discharge(sl, zone))
        for key, histogram in histograms.items():
            groups[key] = {**quantiles(histogram), "strata": day_buckets(histogram)}
    elif code in ("deviation-hours-to-answer", "acknowledgement-minutes"):
        rows = (
            await repo.hours_to_answer(sl)
            if code == "deviation-hours-to-answer"
            else await repo.acknowledgement_minutes(sl)
        )
        for key, histogram in _histograms(rows).items():
            groups[key] = quantiles(histogram)
    elif code == "readmissions-30-days":
        for k, g, readmitted, discharges in await repo.readmissions(sl):
            groups[(k, g)] = _share(readmitted, discharges)
    elif code == "summons-within-deadline":
        for k, g, met, decided in await repo.summonses(sl, now, zone):
            groups[(k, g)] = _share(met, decided)
    elif code == "liable-days":
        assert config is not None
        for k, g, rate_table_id, days, episodes in await repo.liable_days(sl, now, zone):
            groups[(k, g)] = _priced(
                groups.get((k, g)), config, rate_table_id, periods[k].first_day.year, days, episodes
            )
    elif code in _COUNTS:
        for k, g, count in await _COUNTS[code](repo, sl, now):
            groups[(k, g)] = {"count": count}
    elif code.startswith("deviations-by-"):
        column = code.removeprefix("deviations-by-")
        for k, g, stratum, count in await repo.deviations(column, sl):
            cell = groups.setdefault((k, g), {"count": 0, "strata": dict.fromkeys(item.strata, 0)})
            cell["count"] += count
            cell["strata"][stratum] = cell["strata"].get(stratum, 0) + count
    return _complete(item, groups, periods, by)


Counting = Callable[[StatisticsRepository, Slice, datetime], Awaitable[list[Row]]]
# The indicators that are one count per period and group, and the query that counts them.
_COUNTS: dict[str, Counting] = {
    "plans-started": lambda repo, sl, _now: repo.plans_reaching(None, sl),
    "plans-activated": lambda repo, sl, _now: repo.plans_reaching("active", sl),
    "plans-completed": lambda repo, sl, _now: repo.plans_reaching("completed", sl),
    "plans-with-overdue-follow-up": lambda repo, sl, now: repo.overdue_follow_ups(sl, now),
    "meetings-held": lambda repo, sl, now: repo.meetings_held(sl, now),
    "care-messages": lambda repo, sl, _now: repo.care_messages(sl),
}


def _share(numerator: int | None, denominator: int | None) -> dict[str, Any]:
    num, den = int(numerator or 0), int(denominator or 0)
    return {"numerator": num, "denominator": den, "share": round(num / den, 4) if den else None}


def _histograms(rows: list[Row]) -> dict[tuple[int, Any], dict[int, int]]:
    found: dict[tuple[int, Any], dict[int, int]] = defaultdict(dict)
    for k, g, value, count in rows:
        found[(k, g)][int(value)] = found[(k, g)].get(int(value), 0) + int(count)
    return found


def _priced(
    cell: dict[str, Any] | None,
    config: LiabilityConfig,
    rate_table_id: str,
    year: int,
    days: int | None,
    episodes: int | None,
) -> dict[str, Any]:
    cell = cell or {"days": 0, "episodes": 0, "amount": Decimal(0), "currency": None, "notes": []}
    table = config.rate_tables.get(rate_table_id)
    days_ = int(days or 0)
    cell["days"] += days_
    cell["episodes"] += int(episodes or 0)
    if table is None or not days_:
        return cell
    rate = table.rate_for(year)
    if cell["currency"] not in (None, table.currency):
        cell["notes"].append("several currencies: no amount")
        cell["amount"] = None
    cell["currency"] = table.currency
    if rate.rate is None:
        cell["notes"].append(f"no rate for {year}")
        cell["amount"] = None
    elif cell["amount"] is not None:
        cell["amount"] += rate.rate * days_
    return cell


def _empty(item: Indicator) -> dict[str, Any]:
    match item.kind:
        case Kind.COUNT:
            return {"count": 0}
        case Kind.SHARE:
            return _share(0, 0)
        case Kind.DISTRIBUTION:
            values: dict[str, Any] = quantiles({})
            if item.strata:
                values["strata"] = dict.fromkeys(item.strata, 0)
            return values
        case Kind.AMOUNT:
            return {"days": 0, "episodes": 0, "amount": Decimal(0), "currency": None, "notes": []}
        case Kind.STRATA:
            return {"count": 0, "strata": dict.fromkeys(item.strata, 0)}


def _complete(
    item: Indicator,
    groups: dict[tuple[int, Any], dict[str, Any]],
    periods: list[Period],
    by: Dimension | None,
) -> list[Figure]:
    """Every period gets a figure (zeros where nothing happened); groups only where found."""
    figures = []
    names = sorted({g for _k, g in groups if g is not None})
    for k, period in enumerate(periods):
        for group in [None] if by is None else names:
            values = dict(groups.get((k, group)) or _empty(item))
            strata = values.pop("strata", {})
            notes = sorted(set(values.pop("notes", [])))
            figures.append(Figure(period, group, values, strata, notes=notes))
    return figures
