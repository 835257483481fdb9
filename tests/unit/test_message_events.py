"""The message events are listed once (``MessageEvent``); what else names them is derived."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.api.v1.episodes import NOTICE_ROUTES
from app.cli import Refused, cli
from app.cli.vocabulary import END, START, event_table, with_table
from app.domain.delivery import TOPIC_EVENTS, UNACKNOWLEDGED_EVENTS, Topic, covers
from app.domain.episodes import EventKind
from app.domain.message_events import MessageEvent, Routing, event_of
from app.domain.plo import EVENT_SERVICES
from app.fhir.conformance import CODE_SYSTEMS
from app.fhir.operations.process_message import MESSAGE_SCOPES
from app.services import commands
from app.services.notice_handlers import HANDLERS

DOMAIN_DOCS = Path(__file__).resolve().parents[2] / "docs" / "domain.md"
COMMANDS = typing.get_args(commands.Notice)


def test_the_docs_table_is_the_one_the_enum_writes() -> None:
    text = DOMAIN_DOCS.read_text(encoding="utf-8")
    assert with_table(text) == text, "run: samverkan events --docs docs/domain.md"
    for event in MessageEvent:
        assert f"| `{event.value}` |" in text


def test_the_events_command_rewrites_only_the_marked_block(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(f"# Events\n\n{START}\nstale\n{END}\n\nAfter.\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["events", "--docs", str(page)])
    assert result.exit_code == 0, result.output
    assert page.read_text(encoding="utf-8") == (
        f"# Events\n\n{START}\n{event_table()}{END}\n\nAfter.\n"
    )
    printed = CliRunner().invoke(cli, ["events"])
    assert printed.output == event_table()


def test_a_file_without_the_markers_is_refused() -> None:
    with pytest.raises(Refused, match="message-events"):
        with_table("# No table here\n")
    with pytest.raises(Refused):
        with_table(f"{END}\n{START}\n")


def test_the_code_system_is_the_enum_in_its_order() -> None:
    _title, codes = CODE_SYSTEMS["message-event"]
    assert [(c.code, c.display, c.definition) for c in codes] == [
        (e.value, e.display, e.definition) for e in MessageEvent
    ]


def test_a_code_is_looked_up_and_a_stranger_refused() -> None:
    assert event_of("discharge-ready-withdrawn") is MessageEvent.DISCHARGE_READY_WITHDRAWN
    with pytest.raises(ValueError, match="gossip"):
        event_of("gossip")


def test_the_episode_notices_are_the_events_with_a_rest_name() -> None:
    assert {k.event for k in EventKind} == {e for e in MessageEvent if e.notice is not None}
    assert [k.notice for k in EventKind] == [
        "admission-notice",
        "expected-discharge",
        "discharge-ready",
        "withdrawal",
        "municipality-response",
        "discharge",
        "services-started",
    ]
    # The hospital's notices go to the municipality's side, the municipality's to the hospital.
    assert {k.event.routing for k in EventKind} == {
        Routing.MUNICIPALITY_AND_PRIMARY_CARE,
        Routing.HOSPITAL_AND_REGION,
        Routing.HOSPITAL_UNIT,
    }


def test_each_notice_has_one_command_one_handler_and_one_route() -> None:
    assert [c.kind for c in COMMANDS] == list(EventKind)
    assert set(HANDLERS) == set(COMMANDS)
    assert [r.command for r in NOTICE_ROUTES] == list(COMMANDS)
    assert [r.name for r in NOTICE_ROUTES] == [
        "send_admission_notice",
        "change_expected_discharge",
        "declare_discharge_ready",
        "withdraw_discharge_ready",
        "record_municipality_response",
        "discharge",
        "confirm_services_started",
    ]


def test_the_topics_follow_the_events() -> None:
    assert TOPIC_EVENTS[Topic.MESSAGES] == frozenset(MessageEvent)
    assert TOPIC_EVENTS[Topic.PLAN_CHANGES] == {
        MessageEvent.SIP_SUMMONS,
        MessageEvent.SIP_SUMMONS_REPLY,
        MessageEvent.CAREPLAN_REVISED,
    }
    for event in MessageEvent:
        assert covers(event.topic, event.value)
        assert covers(Topic.DISCHARGE_READY, event.value) == (event.topic is Topic.DISCHARGE_READY)
    assert not covers(Topic.DISCHARGE_READY, "gossip")
    assert UNACKNOWLEDGED_EVENTS == {MessageEvent.ACKNOWLEDGEMENT}


def test_norway_addresses_only_what_reaches_the_municipalitys_side() -> None:
    for event in EVENT_SERVICES:
        assert event.routing in {Routing.MUNICIPALITY_AND_PRIMARY_CARE, Routing.OTHER_PARTIES}


def test_every_event_names_the_scope_its_message_needs() -> None:
    assert set(MESSAGE_SCOPES) == set(MessageEvent)
