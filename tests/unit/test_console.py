"""The console's pure parts: language choice, catalogs, redirects, session lifetimes, roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from app.domain.organizations import Jurisdiction, Organization, OrgKind, UnitFunction
from app.domain.sessions import ConsoleSession, Identity, Role
from app.security.people import ROLE_SCOPES, person_actor
from app.security.scopes import scope_allows
from app.services.worklist import Side, side_of
from app.web import i18n
from app.web.sign_in import local_path, safe_next

WEB = Path(i18n.__file__).parent


@pytest.mark.parametrize(
    ("cookie", "header", "chosen"),
    [
        (None, "sv-SE,sv;q=0.9,en;q=0.8", "sv"),
        (None, "nb-NO,nb;q=0.9", "nb"),
        (None, "no", "nb"),
        (None, "nn-NO", "nb"),
        (None, "de-DE,de;q=0.9", "en"),
        (None, "en-US,sv;q=0.5", "en"),
        (None, "de;q=0.9,sv;q=0.8", "sv"),
        (None, "sv;q=0", "en"),
        (None, None, "en"),
        ("nb", "sv-SE", "nb"),
        ("xx", "sv-SE", "sv"),
    ],
)
def test_the_language_is_the_switch_then_the_browser_then_english(
    cookie: str | None, header: str | None, chosen: str
) -> None:
    assert i18n.choose(cookie, header) == chosen


def test_every_text_of_the_console_is_translated() -> None:
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"trim_blocks": "true", "lstrip_blocks": "true"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2)}
    texts = {
        message if isinstance(message, str) else message[0]
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(WEB), method_map, options_map=options, keywords=keywords
        )
    }
    assert len(texts) > 150
    for language in ("sv", "nb"):
        with (WEB / "locale" / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
            catalog = read_po(handle, locale=language)
        translated = {
            (m.id if isinstance(m.id, str) else m.id[0])
            for m in catalog
            if m.id
            and m.string
            and all(m.string if isinstance(m.string, tuple) else [m.string])
            and not m.fuzzy
        }
        assert texts <= translated, f"{language} lacks {sorted(texts - translated)[:10]}"


def test_texts_come_out_in_the_chosen_language() -> None:
    i18n.activate("sv")
    assert i18n.gettext("Worklist") == "Arbetslista"
    assert i18n.ngettext("%(num)d patient", "%(num)d patients", 2) == "%(num)d patienter"
    i18n.activate("nb")
    assert i18n.gettext("Protected identity") == "Strengt fortrolig"
    i18n.activate("en")
    assert i18n.gettext("Worklist") == "Worklist"
    assert str(i18n.locale()) == "en_GB"


@pytest.mark.parametrize(
    ("value", "local", "after_sign_in"),
    [
        (
            "/console/plans?status=active",
            "/console/plans?status=active",
            "/console/plans?status=active",
        ),
        ("/", "/", "/console/worklist"),
        ("/console/sign-in?next=x", "/console/sign-in?next=x", "/console/worklist"),
        ("https://evil.example/console", None, "/console/worklist"),
        ("//evil.example/console", None, "/console/worklist"),
        ("/\\evil.example", None, "/console/worklist"),
        ("/api/v1/persons", None, "/console/worklist"),
        (None, None, "/console/worklist"),
    ],
)
def test_redirects_stay_on_the_console(
    value: str | None, local: str | None, after_sign_in: str
) -> None:
    assert local_path(value) == local
    assert safe_next(value) == after_sign_in


def test_a_session_ends_when_idle_or_too_old() -> None:
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    session = ConsoleSession("id", "csrf", created_at=start, last_seen_at=start)
    idle, lifetime = timedelta(minutes=30), timedelta(hours=12)
    assert not session.is_over(start + timedelta(minutes=30), idle=idle, lifetime=lifetime)
    assert session.is_over(start + timedelta(minutes=31), idle=idle, lifetime=lifetime)
    busy = ConsoleSession(
        "id", "csrf", created_at=start, last_seen_at=start + timedelta(hours=12, minutes=1)
    )
    assert busy.is_over(start + timedelta(hours=12, minutes=2), idle=idle, lifetime=lifetime)
    assert not session.needs_touch(start + timedelta(seconds=59))
    assert session.needs_touch(start + timedelta(minutes=1))


def test_the_role_grants_scopes_as_a_client_token_would() -> None:
    identity = Identity("sub-1", "Anna", "kommun-2580-hemtjanst", Role.MAS)
    actor = person_actor(identity, "kommun-2580", "req-1")
    assert (actor.client_id, actor.user_id, actor.principal_id) == (
        "console",
        "sub-1",
        "kommun-2580",
    )
    assert actor.organizations == ("kommun-2580-hemtjanst", "kommun-2580")
    assert scope_allows(actor.scopes, "Task", "u")
    assert not scope_allows(actor.scopes, "Encounter", "u")
    assert scope_allows(ROLE_SCOPES[Role.PLANNER], "Encounter", "u")
    for role, scopes in ROLE_SCOPES.items():
        assert scope_allows(scopes, "Patient", "r") and scope_allows(scopes, "Encounter", "s")
        # No role may create or delete what record systems send.
        assert not scope_allows(scopes, "Encounter", "c"), role
        assert not any(scope_allows(scopes, r, "d") for r in ("Patient", "CarePlan", "Task"))
    assert set(ROLE_SCOPES) == set(Role)


def _org(kind: OrgKind, function: UnitFunction | None = None) -> Organization:
    return Organization("x", kind, "X", Jurisdiction.SE, parent_id="p", function=function)


def test_the_worklist_side_follows_the_organization() -> None:
    assert side_of(_org(OrgKind.REGION)) is Side.HOSPITAL
    assert side_of(_org(OrgKind.UNIT, UnitFunction.HOSPITAL_WARD)) is Side.HOSPITAL
    assert side_of(_org(OrgKind.UNIT, UnitFunction.PSYCHIATRIC_WARD)) is Side.HOSPITAL
    assert side_of(_org(OrgKind.UNIT, UnitFunction.PRIMARY_CARE)) is Side.RECEIVING
    assert side_of(_org(OrgKind.MUNICIPALITY)) is Side.RECEIVING
    assert side_of(_org(OrgKind.UNIT, UnitFunction.HOME_CARE)) is Side.RECEIVING
