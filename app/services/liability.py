"""Use cases of payment liability: an episode's liability and a municipality's monthly report.

Liability is computed, never typed in. An episode's figure is computed from its notices when it is
asked for; the monthly report sums the liable intervals stored beside the notices (derived from
them by the same domain function, `app.services.liability_rules`) in SQL, and prices the days at
the rate of the month's year.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from app.domain.episodes import ZONES, CareType
from app.domain.errors import InvalidInput, NotFound
from app.domain.liability import (
    AppliedRate,
    AverageMonth,
    AverageRuleSet,
    EpisodeLiability,
    LiabilityConfig,
    compute_average_month,
    compute_episode_liability,
    money,
    months_needed_for,
    resolve_for,
    stay_from_episode,
)
from app.domain.organizations import Organization, OrgKind
from app.domain.persons import Person
from app.security.access import Actor, each_entry, listed_persons
from app.services.episodes import get_episode
from app.services.liability_rules import LiabilityRules
from app.store.episodes import EpisodeSummary
from app.store.liability import Window
from app.store.unit_of_work import UnitOfWork


async def episode_liability(
    uow: UnitOfWork, actor: Actor, episode_id: str, config: LiabilityConfig, *, as_of: datetime
) -> EpisodeLiability | AverageRuleSet:
    """An episode's liability, or the average rule set when its municipality pays by average.

    Under an average model no single episode carries an amount; the caller shows the rule set and
    points to the municipality's monthly report.
    """
    episode = await get_episode(uow, actor, episode_id)
    rule_set = resolve_for(config, episode)
    if isinstance(rule_set, AverageRuleSet):
        return rule_set
    return compute_episode_liability(episode, rule_set, config.rates_for(rule_set), as_of=as_of)


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One episode's liable days in the report's month, priced at the rate of the month's year
    (no amount, flagged "no rate for YEAR", when the table has none)."""

    episode: EpisodeSummary
    person: Person
    rule_set_id: str
    liable_days: int
    rate: AppliedRate
    amount: Decimal | None
    currency: str
    rate_table_id: str


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    """A municipality's invoice basis for one month."""

    municipality: Organization
    year: int
    month: int
    as_of: datetime
    currency: str | None
    rows: list[ReportRow]
    averages: list[AverageMonth]

    def totals(self) -> ReportTotals:
        """The month's totals over every row and average-model month."""
        totals = ReportTotals()
        totals.add(self.rows)
        return totals.closed(self.averages)

    @property
    def total_days(self) -> int:
        """Liable days of the individual model in the month."""
        return self.totals().days

    @property
    def total_amount(self) -> Decimal | None:
        """The month's amount under every rule set that applies; None when a part of it has no
        rate."""
        return self.totals().amount

    @property
    def notes(self) -> list[str]:
        """ "no rate for YEAR" when a row or an average month has days without a rate."""
        return sorted(self.totals().notes)


@dataclass(slots=True)
class ReportTotals:
    """A report's totals, added up as its rows are read: liable days of the individual model,
    the amount under every rule set that applies (None once a part has no rate) and the notes
    ("no rate for YEAR") of the rows and average-model months."""

    days: int = 0
    amount: Decimal | None = Decimal(0)
    notes: set[str] = field(default_factory=set)

    def add(self, rows: Iterable[ReportRow]) -> None:
        for row in rows:
            self.days += row.liable_days
            self._priced(row.amount, [row.rate.note] if row.rate.note else [])

    def closed(self, averages: Iterable[AverageMonth]) -> ReportTotals:
        """These totals with the average-model months added."""
        done = ReportTotals(self.days, self.amount, set(self.notes))
        for average in averages:
            done._priced(average.amount, average.to_dict()["notes"])
        return done

    def _priced(self, amount: Decimal | None, notes: Iterable[str]) -> None:
        self.amount = None if amount is None or self.amount is None else self.amount + amount
        self.notes.update(notes)


def month_bounds(year: int, month: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The first instant of the local month and of the next one."""
    if not 1 <= month <= 12 or not 2000 <= year <= 2100:
        raise InvalidInput(
            f"{year:04d}-{month:02d} is not a month this service reports on", field="month"
        )
    start = datetime.combine(date(year, month, 1), time(), zone)
    next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
    return start, datetime.combine(date(next_year, next_month, 1), time(), zone)


@dataclass(frozen=True, slots=True)
class ReportScope:
    """What a month's report is read under, decided before its first row is read: the
    municipality, the reader's view (a region sees its own hospitals' rows), the month's rate
    and currency of each rate table the rows price by, and the average-model figures."""

    municipality: Organization
    year: int
    month: int
    as_of: datetime
    window: Window
    region_view: str | None
    rates: dict[str, tuple[AppliedRate, str]]
    currency: str | None
    averages: list[AverageMonth]
    config: LiabilityConfig


# A row's place in the report's order (admission, episode, rule set, rate table): where the
# next part of a report read in parts starts.
RowKey = tuple[datetime, str, str, str]


async def report_scope(
    uow: UnitOfWork,
    actor: Actor,
    municipality_id: str,
    year: int,
    month: int,
    rules: LiabilityRules,
    *,
    as_of: datetime,
) -> ReportScope:
    """Everything of a month's report but its rows, and every refusal it can give.

    The individual model's rows are the stored liable intervals summed over the month's local
    days in SQL; a municipality bound to an average rule set (for episodes of some region) also
    gets that model's month figures. The report is the invoice basis between principals, so it
    is read by principal-level clients: the municipality's sees its whole report; a region's the
    rows of its own hospitals' episodes (what it invoices); anyone else is told there is no such
    municipality.
    """
    municipality = await uow.organizations.get(municipality_id)
    if municipality is None or municipality.kind is not OrgKind.MUNICIPALITY:
        raise NotFound(f"no municipality with id {municipality_id}")
    region_view: str | None = None
    if not actor.is_principal_level:
        raise NotFound(f"no municipality with id {municipality_id}")
    if municipality_id != actor.principal_id:
        principal = await uow.organizations.get(actor.principal_id)
        if principal is None or principal.kind is not OrgKind.REGION:
            raise NotFound(f"no municipality with id {municipality_id}")
        region_view = principal.id
    config = await rules.in_step(uow)
    zone = ZONES[municipality.jurisdiction.value]
    start, end = month_bounds(year, month, zone)
    window = Window(start.date(), end.date(), start, end, as_of, as_of.astimezone(zone).date())
    tables, regions = await uow.liability_report.priced_by(
        window, municipality_id=municipality_id, region_id=region_view
    )
    # The month's rate of each table, looked up once (a report has thousands of rows).
    rates = {
        table_id: (
            config.rate_tables[table_id].rate_for(year),
            config.rate_tables[table_id].currency,
        )
        for table_id in tables
    }
    averages = await _average_months(
        uow, municipality, year, month, config, zone, regions, only_region=region_view
    )
    currencies = {currency for _rate, currency in rates.values()}
    currencies.update(config.rates_for(config.rule_sets[a.rule_set_id]).currency for a in averages)
    if len(currencies) > 1:
        raise InvalidInput(
            f"the rule sets of {municipality_id} price in several currencies "
            f"({', '.join(sorted(currencies))})",
            field="bindings",
        )
    return ReportScope(
        municipality,
        year,
        month,
        as_of,
        window,
        region_view,
        rates,
        next(iter(currencies), None),
        averages,
        config,
    )


async def report_rows(
    uow: UnitOfWork,
    actor: Actor,
    scope: ReportScope,
    *,
    after: RowKey | None = None,
    limit: int | None = None,
    episode_ids: Sequence[str] | None = None,
    until: RowKey | None = None,
) -> list[ReportRow]:
    """The report's rows in its order (the ``limit`` after ``after``, or all), with protected
    persons masked, each logged as read (by the statement that reads them). Persons are shown
    as the caller may see them (DESIGN §10)."""
    # Each row is logged as read by SQL, with the read (`LiabilityReportReads.lines`): no
    # entry is made per row here (a region's month is tens of thousands of rows).
    logged = each_entry(actor, "read", "LiabilityReport")
    lines = await uow.liability_report.lines(
        scope.window,
        municipality_id=scope.municipality.id,
        region_id=scope.region_view,
        reader=actor.reach,
        after=after,
        limit=limit,
        log=logged,
        episode_ids=episode_ids,
        until=until,
    )
    uow.logged_by_statement(logged, [(line.episode.id, line.episode.person_id) for line in lines])
    # Only the persons who appear in the report are read (and logged as read), in the same
    # statement as the rows; the parties are read only of those the statement could not decide.
    stored = {line.person.id: line.person for line in lines}
    persons = await listed_persons(
        uow, actor, list(stored.values()), {line.person.id for line in lines if line.knows_details}
    )
    rows: list[ReportRow] = []
    for line in lines:
        row, episode = line.days, line.episode
        if row.rate_table_id not in scope.rates:  # a notice that came after the scope was read
            table = scope.config.rate_tables[row.rate_table_id]
            scope.rates[row.rate_table_id] = (table.rate_for(scope.year), table.currency)
        rate, currency = scope.rates[row.rate_table_id]
        amount = rate.rate * row.liable_days if rate.rate is not None else None
        rows.append(
            ReportRow(
                episode,
                persons[episode.person_id],
                row.rule_set_id,
                row.liable_days,
                rate,
                amount,
                currency,
                row.rate_table_id,
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class LaterPart:
    """A part of a report after its first: the rows after the previous part's last place up
    to ``until``, which are rows of ``episode_ids`` (``report_rows``'s arguments)."""

    episode_ids: list[str]
    until: RowKey


async def later_parts(
    uow: UnitOfWork, scope: ReportScope, *, after: RowKey, part: int
) -> list[LaterPart]:
    """The parts of ``part`` rows each of the report's rows after ``after``, from the month's
    rows summed and ordered once (their places, not the rows): a report of several parts then
    reads each later part by its own episodes instead of the whole month again. Only each
    part's episodes and last place are kept."""
    places = await uow.liability_report.order(
        scope.window,
        municipality_id=scope.municipality.id,
        region_id=scope.region_view,
        after=after,
    )
    return [
        LaterPart(
            list(dict.fromkeys(place[1] for place in places[start : start + part])),
            places[min(start + part, len(places)) - 1],
        )
        for start in range(0, len(places), part)
    ]


def row_key(row: ReportRow) -> RowKey:
    """Where the rows after ``row`` start."""
    return (row.episode.admitted_at, row.episode.id, row.rule_set_id, row.rate_table_id)


async def monthly_report(
    uow: UnitOfWork,
    actor: Actor,
    municipality_id: str,
    year: int,
    month: int,
    rules: LiabilityRules,
    *,
    as_of: datetime,
) -> MonthlyReport:
    """The month's whole report at once (`report_scope` and every row), for a page that shows
    it; the API sends a report in parts as it reads them."""
    scope = await report_scope(uow, actor, municipality_id, year, month, rules, as_of=as_of)
    rows = await report_rows(uow, actor, scope)
    return MonthlyReport(
        scope.municipality, year, month, as_of, scope.currency, rows, scope.averages
    )


async def _average_months(
    uow: UnitOfWork,
    municipality: Organization,
    year: int,
    month: int,
    config: LiabilityConfig,
    zone: ZoneInfo,
    episode_regions: list[str],
    *,
    only_region: str | None,
) -> list[AverageMonth]:
    """The month figures of each average model the municipality pays under.

    With ``only_region`` (a region reading the report) only that region's model and episodes
    count: another region's figures are not its business.
    """
    if only_region is not None:
        regions = [only_region]
    else:
        areas = await uow.areas.page(limit=100, municipality_id=municipality.id)
        regions = sorted({a.region_id for a in areas.items} | set(episode_regions))
    rule_sets: dict[str, AverageRuleSet] = {}
    for region_id in regions:
        rule_set = config.resolve(
            municipality.jurisdiction.value,
            region_id,
            municipality.id,
            CareType.SOMATIC,
            date(year, month, 1),
        )
        if isinstance(rule_set, AverageRuleSet):
            rule_sets[rule_set.id] = rule_set
    results = []
    for rule_set in rule_sets.values():
        months = months_needed_for(year, month, rule_set)
        first_start, _ = month_bounds(*min(months), zone)
        _, last_end = month_bounds(*max(months), zone)
        discharged = await uow.episodes.discharged_between(municipality.id, first_start, last_end)
        stays = [
            stay
            for episode in discharged
            if only_region in (None, episode.region_id)
            and resolve_for(config, episode).id == rule_set.id
            and (stay := stay_from_episode(episode, rule_set)) is not None
        ]
        results.append(
            compute_average_month(
                stays, rule_set, config.rates_for(rule_set), year=year, month=month
            )
        )
    return results


CSV_COLUMNS = [
    "municipality_id",
    "month",
    "episode_id",
    "person_id",
    "person_name",
    "person_identifier",
    "admitted_at",
    "discharge_ready_at",
    "discharged_at",
    "rule_set_id",
    "liable_days",
    "rate",
    "amount",
    "currency",
    "note",
]


def report_csv(report: MonthlyReport) -> str:
    """The invoice basis as CSV: one line per episode, then one per average-model month.

    Persons are as the report holds them (masked when protected); amounts have two decimals,
    and a year without a rate leaves rate and amount empty with the note "no rate for YEAR".
    """
    return csv_lines(
        report.municipality.id,
        f"{report.year:04d}-{report.month:02d}",
        report.currency,
        report.rows,
        report.averages,
        header=True,
    )


def csv_lines(
    municipality_id: str,
    month: str,
    currency: str | None,
    rows: Iterable[ReportRow],
    averages: Iterable[AverageMonth] = (),
    *,
    header: bool = False,
) -> str:
    """Lines of `report_csv` (its header first, when asked): a report sent in parts is the
    header and its first rows, more rows, then the average-model months."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    for row in rows:
        person, episode = row.person, row.episode
        writer.writerow(
            [
                municipality_id,
                month,
                episode.id,
                person.id,
                f"{person.given_name} {person.family_name}".strip(),
                person.identifier.value,
                episode.admitted_at.isoformat(),
                episode.discharge_ready_at.isoformat() if episode.discharge_ready_at else "",
                episode.discharged_at.isoformat() if episode.discharged_at else "",
                row.rule_set_id,
                row.liable_days,
                money(row.rate.rate) or "",
                money(row.amount) or "",
                currency or "",
                row.rate.note or "",
            ]
        )
    for average in (a.to_dict() for a in averages):
        writer.writerow(
            [
                municipality_id,
                month,
                "",
                "",
                f"average model: {average['persons']} "
                f"persons, average {average['average']}, "
                f"rolling average {average['rolling_average']}"
                f" at {average['evaluation_month']}, level {average['level']}",
                "",
                "",
                "",
                "",
                average["rule_set_id"],
                average["excess_days"],
                average["rate"]["rate"] or "",
                average["amount"] or "",
                currency,
                "; ".join(average["notes"]),
            ]
        )
    return out.getvalue()
