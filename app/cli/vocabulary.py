"""``samverkan events``: the table of message events in the docs, written from
``app.domain.message_events`` so that the docs say what the code does.

``samverkan events`` prints the table; ``samverkan events --docs docs/domain.md`` puts it between
the file's markers (``<!-- message-events -->`` and ``<!-- /message-events -->``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli import Refused, cli
from app.domain.message_events import MessageEvent

START = "<!-- message-events: written by `samverkan events --docs`; do not edit by hand -->"
END = "<!-- /message-events -->"


def event_table() -> str:
    """The Markdown table of every message event, in the CodeSystem's order."""
    rows = [
        "| event | meaning | REST notice (`/api/v1/episodes/{id}/…`) | topic | who receives it |",
        "|---|---|---|---|---|",
    ]
    for event in MessageEvent:
        notice = f"`{event.notice}`" if event.notice else "—"
        rows.append(
            f"| `{event.value}` | {event.definition} | {notice} | `{event.topic.value}` | "
            f"{event.routing.description} |"
        )
    return "\n".join(rows) + "\n"


def with_table(text: str) -> str:
    """``text`` with the table between its markers; Refused when the markers are missing."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise Refused(f"the file has no single {START} … {END} block for the table")
    before, rest = text.split(START, 1)
    _old, after = rest.split(END, 1)
    return f"{before}{START}\n{event_table()}{END}{after}"


@cli.command()
def events(
    docs: Annotated[
        Path | None, typer.Option(help="Markdown file whose marked table to rewrite")
    ] = None,
) -> None:
    """Print the table of message events, or write it into a docs file between its markers."""
    if docs is None:
        typer.echo(event_table(), nl=False)
        return
    try:
        text = docs.read_text(encoding="utf-8")
    except OSError as exc:
        raise Refused(f"cannot read {docs}: {exc.strerror}") from None
    docs.write_text(with_table(text), encoding="utf-8")
    typer.echo(f"wrote the message-event table into {docs}")
