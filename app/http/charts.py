"""Charts of the statistics, drawn on the server with matplotlib (Agg: no display, nothing
fetched at run time), with labelled axes and units, the Okabe–Ito colour-blind-safe palette, and
a text alternative (SVG ``<title>``/``<desc>``; for PNG, the caller sends it as a header)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

from app.domain.statistics import Figure, Indicator, Kind
from app.services.statistics import Statistics

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour
# vision deficiency.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
_VALUE = {
    Kind.COUNT: ("count", 1.0),
    Kind.SHARE: ("share", 100.0),
    Kind.DISTRIBUTION: ("median", 1.0),
    Kind.AMOUNT: ("days", 1.0),
    Kind.STRATA: ("count", 1.0),
}


@dataclass(frozen=True, slots=True)
class Chart:
    """A rendered chart and its text alternative."""

    body: bytes
    media_type: str
    description: str


def _axis_label(item: Indicator) -> str:
    if item.kind is Kind.SHARE:
        return "share (%)"
    if item.kind is Kind.DISTRIBUTION:
        return f"median ({item.unit})"
    if item.kind is Kind.AMOUNT:
        return "liable days"
    return item.unit


def _series(figures: list[Figure], item: Indicator) -> dict[str, list[float | None]]:
    name, scale = _VALUE[item.kind]
    lines: dict[str, list[float | None]] = {}
    for figure in figures:
        value = figure.values.get(name)
        number = float(value) * scale if isinstance(value, int | float) else None
        lines.setdefault(figure.group or "all", []).append(number)
    return lines


def describe(result: Statistics, item: Indicator) -> str:
    """A sentence or two that says what the chart shows, value by value."""
    figures = result.figures[item.code]
    name, scale = _VALUE[item.kind]
    parts = []
    for figure in figures:
        value = figure.values.get(name)
        shown = (
            "suppressed"
            if value is None and figure.suppressed
            else "no value"
            if value is None
            else f"{float(value) * scale:g}"
        )
        who = f"{figure.group} " if figure.group else ""
        parts.append(f"{who}{figure.period.label}: {shown}")
    return (
        f"{item.title} for {result.subject.name}, {_axis_label(item)} per period "
        f"(local time). " + "; ".join(parts) + "."
    )


def render_chart(result: Statistics, item: Indicator, fmt: str) -> Chart:
    """Draw one indicator's figures: a line per group (or for the subject), one point per
    period."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figures = result.figures[item.code]
    labels = [p.label for p in result.periods]
    title = f"{item.title}: {result.subject.name}"
    description = describe(result, item)
    fig, axes = plt.subplots(figsize=(8, 4.5), dpi=100)
    try:
        for index, (group, values) in enumerate(_series(figures, item).items()):
            axes.plot(
                labels,
                [v if v is not None else float("nan") for v in values],
                marker="o",
                color=PALETTE[index % len(PALETTE)],
                label=group,
            )
        axes.set_title(title)
        axes.set_xlabel("period (local time)")
        axes.set_ylabel(_axis_label(item))
        axes.set_ylim(bottom=0)
        axes.grid(axis="y", alpha=0.3)
        if result.by is not None:
            axes.legend(title=result.by.value, fontsize="small")
        if len(labels) > 6:
            axes.tick_params(axis="x", labelrotation=45)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, metadata={"Title": title} if fmt == "svg" else None)
    finally:
        plt.close(fig)
    body = buffer.getvalue()
    if fmt == "svg":
        body = _with_text_alternative(body, title, description)
        return Chart(body, "image/svg+xml", description)
    return Chart(body, "image/png", description)


def _with_text_alternative(svg: bytes, title: str, description: str) -> bytes:
    """The SVG with ``<title>`` and ``<desc>`` as the first children of its root, and
    role="img" with aria-labelledby, so screen readers announce the chart."""
    text = svg.decode()
    text = re.sub(r"<title>.*?</title>", "", text, count=1, flags=re.S)
    opening = re.search(r"<svg\b[^>]*>", text)
    assert opening is not None
    root = opening.group(0)
    labelled = root[:-1] + ' role="img" aria-labelledby="chart-title chart-desc">'
    inserted = (
        f'{labelled}<title id="chart-title">{escape(title)}</title>'
        f'<desc id="chart-desc">{escape(description)}</desc>'
    )
    return text.replace(root, inserted, 1).encode()
