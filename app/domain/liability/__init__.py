"""Municipal payment liability for discharge-ready patients (DESIGN §4, "Payment liability").

Liability is computed, never typed in: it is a pure function of an episode's notices
(`app.domain.episodes`), the rule set of the agreement that applies and the rate table of that
rule set. The package holds one concept per module:

* `rules` — rate tables, rule sets and the bindings that choose them (data, not code);
* `individual` — per episode: each discharge-ready notice starts a clock, and the days it runs
  past the agreed free days are liable; the same clocks as storable intervals of local days;
* `average` — per municipality and month: the average stay compared with an agreed level.
"""

from app.domain.liability.average import (
    AverageMonth,
    DischargeStay,
    compute_average_month,
    months_needed_for,
    stay_from_episode,
)
from app.domain.liability.individual import (
    EpisodeLiability,
    LiabilityClock,
    LiableInterval,
    compute_episode_liability,
    liable_intervals,
    notice_date,
    resolve_for,
)
from app.domain.liability.rules import (
    CONDITION_EXPLANATIONS,
    DEFAULT_CONFIG_PATH,
    AmountFormula,
    AppliedRate,
    AverageRuleSet,
    Binding,
    Condition,
    Counting,
    EndReason,
    IndividualRuleSet,
    LiabilityConfig,
    LiabilityModel,
    RateTable,
    RuleSet,
    content_version,
    money,
    price,
)

__all__ = [
    "CONDITION_EXPLANATIONS",
    "DEFAULT_CONFIG_PATH",
    "AmountFormula",
    "AppliedRate",
    "AverageMonth",
    "AverageRuleSet",
    "Binding",
    "Condition",
    "Counting",
    "DischargeStay",
    "EndReason",
    "EpisodeLiability",
    "IndividualRuleSet",
    "LiabilityClock",
    "LiabilityConfig",
    "LiabilityModel",
    "LiableInterval",
    "RateTable",
    "RuleSet",
    "compute_average_month",
    "compute_episode_liability",
    "content_version",
    "liable_intervals",
    "money",
    "months_needed_for",
    "notice_date",
    "price",
    "resolve_for",
    "stay_from_episode",
]
