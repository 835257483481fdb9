"""The configuration file's rule sets and the domain's are one shape: every field the file
takes is a field of the domain's rule set (and ``model``, which picks it), and reading the
shipped file and writing it back gives the same rule sets and the same versions."""

from __future__ import annotations

from dataclasses import fields

import pytest

from app.domain.liability import DEFAULT_CONFIG_PATH, AverageRuleSet, IndividualRuleSet
from app.services.liability_config import (
    AverageModel,
    IndividualModel,
    parse_liability_config,
    read_liability_config,
)


@pytest.mark.parametrize(
    ("model", "domain"), [(IndividualModel, IndividualRuleSet), (AverageModel, AverageRuleSet)]
)
def test_the_file_takes_the_domain_rule_sets_fields(model: type, domain: type) -> None:
    assert model.domain is domain
    assert set(model.model_fields) == {f.name for f in fields(domain)} | {"model"}


def test_the_shipped_rules_read_back_from_what_they_write() -> None:
    shipped = read_liability_config(DEFAULT_CONFIG_PATH)
    again = parse_liability_config(shipped.to_dict())
    assert again == shipped and again.version == shipped.version
    individual = again.rule_sets["se-statutory-somatic"]
    assert isinstance(individual, IndividualRuleSet)
    assert isinstance(individual.conditions, tuple) and individual.cutoff_time is None
    average = again.rule_sets["se-average-stockholm"]
    assert isinstance(average, AverageRuleSet) and average.evaluation_months == (3, 6, 9, 12)
