"""The statistics' pure rules on generated figures: quantiles inside the distribution, shares
between 0 and 1, and suppression that no complement undoes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.domain.statistics import (
    SMALL,
    Figure,
    Grain,
    Kind,
    Period,
    day_buckets,
    parse_period,
    quantiles,
    series,
    suppress,
)

MARCH = Period(2026, 3, Grain.MONTH)
HISTOGRAMS = st.dictionaries(st.integers(0, 60), st.integers(1, 40), min_size=1, max_size=12)


@given(HISTOGRAMS)
def test_quantiles_lie_inside_the_distribution(histogram: dict[int, int]) -> None:
    found = quantiles(histogram)
    low, high = min(histogram), max(histogram)
    assert found["n"] == sum(histogram.values())
    for name in ("median", "p90", "mean"):
        value = found[name]
        assert value is not None and low <= value <= high, name
    assert found["p90"] in histogram
    assert sum(v for v in day_buckets(histogram).values() if v) == found["n"]


@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=8))
def test_shares_stay_between_0_and_1_and_no_complement_reveals_a_small_part(
    pairs: list[tuple[int, int]],
) -> None:
    figures = []
    for index, (a, b) in enumerate(pairs):
        numerator, denominator = min(a, b), max(a, b)
        share = numerator / denominator if denominator else None
        values = {"numerator": numerator, "denominator": denominator, "share": share}
        figures.append(Figure(MARCH, f"group-{index}", dict(values)))
    for figure in suppress(figures, Kind.SHARE):
        share = figure.values["share"]
        assert share is None or 0 <= float(share) <= 1
        numerator, denominator = figure.values["numerator"], figure.values["denominator"]
        if denominator is not None:
            assert int(denominator) >= SMALL
        if numerator is not None:
            assert denominator is not None
            assert int(numerator) >= SMALL and int(denominator) - int(numerator) >= SMALL


@given(
    st.lists(st.integers(0, 30), min_size=2, max_size=8),
    st.lists(st.integers(0, 30), min_size=2, max_size=8),
)
def test_a_masked_cell_never_stands_alone_beside_shown_ones(
    counts: list[int], strata: list[int]
) -> None:
    figures = [
        Figure(MARCH, f"m-{i}", {"count": count}, {f"s{j}": n for j, n in enumerate(strata)})
        for i, count in enumerate(counts)
    ]
    masked = suppress(figures, Kind.STRATA)
    shown = [f for f in masked if f.values["count"] is not None]
    hidden = [f for f in masked if f.values["count"] is None]
    # The subject's total minus the shown groups must not give away one hidden group.
    assert len(hidden) != 1 or not shown
    for figure in shown:
        assert int(figure.values["count"] or 0) >= SMALL
        small = [name for name, n in figure.strata.items() if n is None]
        visible = [n for n in figure.strata.values() if n is not None]
        assert all(n >= SMALL for n in visible)
        assert len(small) != 1 or not visible


def test_periods_and_series() -> None:
    assert parse_period("2026-Q2", "period").first_day.isoformat() == "2026-04-01"
    assert parse_period("2026", "period").stop_day.isoformat() == "2027-01-01"
    months = series(parse_period("2025-11", "from"), parse_period("2026-02", "to"), Grain.MONTH)
    assert [p.label for p in months] == ["2025-11", "2025-12", "2026-01", "2026-02"]
    quarters = series(parse_period("2025", "from"), parse_period("2026-Q1", "to"), Grain.QUARTER)
    assert [p.label for p in quarters] == ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1"]
