"""Reading a liability configuration: JSON in the shape of ``app/data/liability.json``.

pydantic checks the shape (every field, type and range; unknown keys are refused, since a misspelt
key in a money agreement must not fall back to a default unnoticed); the cross-references between
rate tables, rule sets and bindings are checked after it. Every problem becomes one `InvalidInput`
whose message names the rule set (or rate table, or binding) and the field, and whose ``field`` is
the dotted path to it. The domain gets its plain dataclasses (`app.domain.liability`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
    field_validator,
)

from app.domain.episodes import CareType
from app.domain.errors import InvalidInput
from app.domain.liability import (
    AmountFormula,
    AverageRuleSet,
    Binding,
    Condition,
    Counting,
    IndividualRuleSet,
    LiabilityConfig,
    RateTable,
    RuleSet,
)


def _decimal(value: Any) -> Decimal:
    # Floats are refused: 0.1 in JSON is already inexact by the time it reaches us, and money
    # written as a string keeps every digit the agreement states.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(
            f'must be a decimal number written as a string (e.g. "8200"), not {value!r}'
        )
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal number") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"must be a finite number of at least 0, not {value}")
    return number


def _cutoff(value: Any) -> time | None:
    if value is None:
        return None
    hours, sep, minutes = value.partition(":") if isinstance(value, str) else ("", "", "")
    if not (sep and len(hours) == 2 and len(minutes) == 2 and (hours + minutes).isdigit()):
        raise ValueError(f"{value!r} is not a time of day written HH:MM (00:00–23:59), or null")
    if int(hours) > 23 or int(minutes) > 59:
        raise ValueError(f"{value!r} is not a time of day written HH:MM (00:00–23:59), or null")
    return time(int(hours), int(minutes))


Text = Annotated[str, StringConstraints(min_length=1, pattern=r"\S")]
Money = Annotated[Decimal, BeforeValidator(_decimal)]
Year = Annotated[str, StringConstraints(pattern=r"^\d{4}$")]
Cutoff = Annotated[time | None, BeforeValidator(_cutoff)]
Month = Annotated[StrictInt, Field(ge=1, le=12)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateTableModel(_Strict):
    """One rate table: daily rates per year, their currency and their published source."""

    title: Text | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    source: Text = "not stated"
    note: str | None = None
    rates: Annotated[dict[Year, Money], Field(min_length=1)]


class _RuleSetModel(_Strict):
    """The fields of a rule set as written in the file: the domain's rule set of ``domain``,
    field for field (a test keeps the two alike), plus ``model``, which picks it."""

    domain: ClassVar[type[IndividualRuleSet] | type[AverageRuleSet]]

    id: Text
    title: Text | None = None
    jurisdiction: Text
    timezone: Text
    rate_table: Text
    source: Text = "not stated"
    note: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(
                f"{value!r} is not an IANA time zone such as Europe/Stockholm"
            ) from None
        return value

    def build(self) -> RuleSet:
        """The domain's rule set (a missing title is the id; lists become tuples)."""
        values: dict[str, Any] = {
            name: tuple(value) if isinstance(value, list) else value
            for name, value in self.model_dump(exclude={"model"}).items()
        }
        values["title"] = self.title or self.id
        return self.domain(**values)


class IndividualModel(_RuleSetModel):
    """An individual rule set as written in the file."""

    domain: ClassVar[type[IndividualRuleSet]] = IndividualRuleSet
    model: Literal["individual"]
    start_offset_days: Annotated[StrictInt, Field(ge=0)]
    cutoff_time: Cutoff = None
    counting: Counting
    conditions: list[Condition] = []
    stop_when_municipality_can_receive: StrictBool = False
    count_end_day: StrictBool = False

    @field_validator("conditions")
    @classmethod
    def _once_each(cls, value: list[Condition]) -> list[Condition]:
        if len(set(value)) != len(value):
            raise ValueError("names a condition twice")
        return value


class AverageModel(_RuleSetModel):
    """An average rule set as written in the file."""

    domain: ClassVar[type[AverageRuleSet]] = AverageRuleSet
    model: Literal["average"]
    level_days: Money
    evaluation_months: Annotated[list[Month], Field(min_length=1)]
    amount_formula: AmountFormula = AmountFormula.EXCESS_DAYS

    @field_validator("evaluation_months")
    @classmethod
    def _once_each(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("names a month twice")
        return sorted(value)


class BindingModel(_Strict):
    """A binding as written in the file; the keys it leaves out match anything."""

    rule_set: Text
    jurisdiction: Text | None = None
    region: Text | None = None
    municipality: Text | None = None
    care_type: CareType | None = None
    notices_from: date | None = None
    notices_until: date | None = None


class ConfigModel(_Strict):
    """The whole file."""

    rate_tables: dict[str, RateTableModel]
    rule_sets: list[Annotated[IndividualModel | AverageModel, Field(discriminator="model")]]
    bindings: list[BindingModel]
    note: str | None = None


def read_liability_config(path: Path) -> LiabilityConfig:
    """Read and validate the liability configuration file at ``path``."""
    with path.open(encoding="utf-8") as handle:
        return parse_liability_config(json.load(handle))


def parse_liability_config(raw: Any) -> LiabilityConfig:
    """Validate an already-parsed liability configuration and build its typed form.

    Every problem — an unknown rate table, time zone, condition, model, counting unit or
    formula, a cutoff that is not ``HH:MM``, a negative offset or level, an unknown or misspelt
    field, a duplicate id or binding — raises `InvalidInput` naming the rule set (or table, or
    binding) and the field.
    """
    try:
        model = ConfigModel.model_validate(raw)
    except ValidationError as exc:
        raise _refusal(exc, raw) from None
    rate_tables = {
        table_id: RateTable(
            id=table_id,
            title=table.title or table_id,
            currency=table.currency,
            source=table.source,
            rates=MappingProxyType({int(year): rate for year, rate in table.rates.items()}),
            note=table.note,
        )
        for table_id, table in model.rate_tables.items()
    }
    rule_sets: dict[str, RuleSet] = {}
    for index, body in enumerate(model.rule_sets):
        where = f"rule_sets[{index}]"
        if body.rate_table not in rate_tables:
            raise InvalidInput(
                f"rule set {body.id}: rate_table names {body.rate_table!r}, which is not a rate "
                f"table of the configuration (known: {', '.join(sorted(rate_tables))})",
                field=f"{where}.rate_table",
            )
        if body.id in rule_sets:
            raise InvalidInput(
                f"rule set {body.id}: id is used by more than one rule set", field=f"{where}.id"
            )
        rule_sets[body.id] = body.build()
    bindings: list[Binding] = []
    for index, entry in enumerate(model.bindings):
        bindings.append(_binding(index, entry, rule_sets, bindings))
    return LiabilityConfig(
        rate_tables=MappingProxyType(rate_tables),
        rule_sets=MappingProxyType(rule_sets),
        bindings=tuple(bindings),
    )


def _binding(
    index: int, entry: BindingModel, rule_sets: Mapping[str, RuleSet], earlier: list[Binding]
) -> Binding:
    where, owner = f"bindings[{index}]", f"binding {index}"
    bound = rule_sets.get(entry.rule_set)
    if bound is None:
        raise InvalidInput(
            f"{owner}: rule_set names {entry.rule_set!r}, which is not a rule set of the "
            "configuration",
            field=f"{where}.rule_set",
        )
    if entry.jurisdiction is not None and entry.jurisdiction != bound.jurisdiction:
        raise InvalidInput(
            f"{owner}: jurisdiction is {entry.jurisdiction}, but rule set {bound.id} is of "
            f"jurisdiction {bound.jurisdiction}",
            field=f"{where}.jurisdiction",
        )
    if entry.notices_from and entry.notices_until and entry.notices_from > entry.notices_until:
        raise InvalidInput(
            f"{owner}: notices_from is after notices_until", field=f"{where}.notices_from"
        )
    binding = Binding(**entry.model_dump())
    if any(binding.keys == other.keys for other in earlier):
        raise InvalidInput(
            f"{owner} (rule set {binding.rule_set}): the same jurisdiction, region, "
            "municipality, care type and notice dates are already bound; one of the two would "
            "never apply",
            field=where,
        )
    return binding


def _refusal(exc: ValidationError, raw: Any) -> InvalidInput:
    """The first problem pydantic found, as the service's error naming owner and field."""
    error = exc.errors(include_url=False)[0]
    loc = [str(part) for part in error["loc"]]
    if error["type"] == "union_tag_invalid":
        loc.append("model")
    owner, path, rest = "liability configuration", "$", loc
    if loc[:1] == ["rate_tables"] and len(loc) > 1:
        owner, path, rest = f"rate table {loc[1]}", f"rate_tables.{loc[1]}", loc[2:]
    elif loc[:1] == ["rule_sets"] and len(loc) > 1:
        index = int(loc[1])
        rest = [part for part in loc[2:] if part not in ("individual", "average")]
        body = raw["rule_sets"][index] if isinstance(raw, Mapping) else None
        named = body.get("id") if isinstance(body, Mapping) else None
        owner, path = f"rule set {named or index}", f"rule_sets[{index}]"
    elif loc[:1] == ["bindings"] and len(loc) > 1:
        owner, path, rest = f"binding {loc[1]}", f"bindings[{loc[1]}]", loc[2:]
    name = ".".join(part for part in rest if part != "[key]") or "the document"
    message = error["msg"].removeprefix("Value error, ")
    shown = error.get("input")
    if error["type"] == "extra_forbidden":
        message = "is not a known field"
    elif error["type"] == "missing":
        message = "is required"
    elif not isinstance(shown, Mapping | list):
        message = f"{message} (got {shown!r})"
    field = path if name == "the document" else f"{path}.{rest[0]}"
    return InvalidInput(f"{owner}: {name} {message}", field=field)
