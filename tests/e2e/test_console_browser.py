"""The console in a real browser: Debian's headless Chromium, driven by Selenium, against
`samverkan serve` over real HTTP, on each database engine.

A hospital unit, a municipality and its MAS walk every page; an unrelated municipality sees none
of the persons; each action is done in the browser and its effect read back through the API;
axe-core checks every page (no serious or critical WCAG 2.1 A/AA violation); every page is kept
as a screenshot under ``test-output/console/<engine>/``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from app.domain.statistics import INDICATORS
from app.settings import Settings
from tests.conftest import IN_CI, ClientFor
from tests.console.browser import ConsoleBrowser
from tests.console.scenario import MUNICIPALITY, Scenario, build, ok
from tests.e2e.test_http_server import Server, server  # noqa: F401 (the fixture)

# Committing: a uvicorn process reads and writes the database.
pytestmark = pytest.mark.committing

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
AXE = Path(os.environ.get("SAMVERKAN_AXE", ".cache/node/node_modules/axe-core/axe.min.js"))


def _needed(path: Path, what: str) -> None:
    if path.exists():
        return
    if IN_CI:
        pytest.fail(f"{what} is missing at {path}; `make test` installs it")
    pytest.skip(f"{what} is missing at {path} (`make test` installs it)")


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """Headless Chromium with a fresh profile, nothing fetched from the network."""
    _needed(CHROMIUM, "Debian's chromium")
    _needed(CHROMEDRIVER, "Debian's chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,1000",
        "--lang=en-GB",
    ):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-GB,en"})
    chrome = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    chrome.set_script_timeout(60)
    try:
        yield chrome
    finally:
        chrome.quit()


@pytest.fixture
def console(driver: webdriver.Chrome, server: Server, settings: Settings) -> ConsoleBrowser:  # noqa: F811
    """The browser on the running console; screenshots go to this engine's folder."""
    _needed(AXE, "axe-core")
    engine = "sqlite" if settings.database_url.startswith("sqlite") else "postgresql"
    return ConsoleBrowser(driver, server.url, engine, AXE.read_text(encoding="utf-8"))


@pytest.fixture
async def scenario(client_for: ClientFor) -> Scenario:
    return await build(await client_for("region-norrbotten"), await client_for(MUNICIPALITY))


async def test_a_hospital_unit_walks_every_page(
    console: ConsoleBrowser, scenario: Scenario
) -> None:
    console.open("/")
    assert console.heading() == "Samverkan"
    console.check("landing")
    console.follow(console.driver.find_element(By.LINK_TEXT, "The console"))
    assert "/console/sign-in" in console.driver.current_url
    console.check("sign-in")
    console.sign_in("region-norrbotten-sunderby-med", "planner", "Sara Sjuksköterska")
    assert console.heading() == "Worklist: Sunderby sjukhus, medicinavdelning"
    assert "Greta Lindqvist" in console.text
    # The protected person is marked and masked in the list, as the API's lists mask.
    assert "PROTECTED IDENTITY" in console.text and "Hemlig" not in console.text
    console.check("hospital-worklist")
    console.visit(
        "/console/worklist?sort=name&order=desc&state=discharge-ready", "hospital-worklist-filtered"
    )
    assert "Greta Lindqvist" in console.text and "PROTECTED IDENTITY" not in console.text

    console.follow(console.driver.find_element(By.PARTIAL_LINK_TEXT, "Greta Lindqvist"))
    assert console.heading() == "Greta Lindqvist"
    for expected in (
        "Admission notice",
        "Discharge-ready notice",
        "Care message",
        "Summons to a planning meeting",
        "Plan version",
        "Hemgång på fredag",
    ):
        assert expected in console.text, expected
    console.check("hospital-person-flow")

    # The hospital must act for the protected person: it sees the details, clearly marked.
    console.visit(f"/console/persons/{scenario.maj['id']}", "hospital-protected-person")
    assert console.heading() == "PROTECTED IDENTITY Maj Hemlig"
    assert "Hemliga vägen 1" in console.text

    console.visit("/console/plans", "hospital-plans")
    assert "SIP Greta" in console.text and "10 days" in console.text
    console.follow(console.driver.find_element(By.LINK_TEXT, "SIP Greta"))
    assert console.heading() == "SIP Greta"
    assert "Luleå hemtjänst" in console.text and "Hemtjänst morgon och kväll" in console.text
    assert "Karin Samordnare" in console.text
    console.check("hospital-plan")

    console.visit("/console/deviations?role=reporter", "hospital-deviations-reported")
    assert "Missing discharge information" in console.text
    # The invoice basis is read between principals: the ward is told so.
    console.visit(f"/console/liability?municipality={MUNICIPALITY}", "hospital-liability")
    assert "sign in for your region or municipality" in console.text
    console.visit("/console/statistics", "hospital-statistics")
    assert console.heading() == "Statistics: Region Norrbotten"
    assert "Admissions notified" in console.text or "admissions" in console.text.lower()
    assert console.charts_drawn() == 6
    console.visit("/console/notice-boards", "hospital-notice-boards")
    assert "Region Norrbotten" in console.text

    # The language switch, by keyboard: skip link first, then the languages.
    console.open("/console/worklist")
    body = console.driver.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    assert console.driver.switch_to.active_element.text == "Skip to content"
    console.follow(console.driver.find_element(By.LINK_TEXT, "Svenska"))
    assert console.heading().startswith("Arbetslista")
    console.check("hospital-worklist-sv")
    console.follow(console.driver.find_element(By.LINK_TEXT, "Norsk bokmål"))
    assert console.heading().startswith("Arbeidsliste")
    console.visit("/console/plans", "hospital-plans-nb")
    console.follow(console.driver.find_element(By.LINK_TEXT, "English"))
    console.sign_out()


async def test_a_municipality_acts_and_the_api_sees_it(
    console: ConsoleBrowser, scenario: Scenario, client_for: ClientFor
) -> None:
    municipality = await client_for(MUNICIPALITY)
    console.sign_in(MUNICIPALITY, "planner", "Pia Planerare")
    assert console.heading() == "Worklist: Luleå kommun"
    assert "Greta Lindqvist" in console.text and "Unread in your inbox" in console.text
    console.check("municipality-worklist")
    unread = len(console.driver.find_elements(By.CSS_SELECTOR, "form[action$='/acknowledgement']"))
    assert unread >= 4  # admission notices, the expected date, discharge-ready, the message…

    # Acknowledge the oldest unread item.
    form = console.driver.find_element(By.CSS_SELECTOR, "form[action$='/acknowledgement']")
    item_id = int(form.get_attribute("action").split("/")[-2])
    console.follow(form.find_element(By.TAG_NAME, "button"))
    assert "The inbox item was acknowledged." in console.text
    # The acknowledged item left the unread list (others may have arrived meanwhile).
    assert not console.driver.find_elements(
        By.CSS_SELECTOR, f"form[action='/console/inbox/{item_id}/acknowledgement']"
    )
    console.check("municipality-worklist-acknowledged")
    inbox = ok(await municipality.get("/api/v1/inbox?limit=200"))
    acknowledged = {i["id"]: i["acknowledgement"] for i in inbox["items"]}
    assert acknowledged[item_id]["outcome"] == "ok"

    # The municipality's answer: from when it can receive Greta.
    console.follow(console.driver.find_element(By.PARTIAL_LINK_TEXT, "Greta Lindqvist"))
    receive = (datetime.now(UTC) + timedelta(days=2)).date()
    field = console.driver.find_element(By.ID, f"receive-{scenario.episode['id']}")
    console.driver.execute_script("arguments[0].value = arguments[1]", field, receive.isoformat())
    console.follow(field.find_element(By.XPATH, "./following-sibling::button"))
    assert "The municipality's answer was sent." in console.text
    episode = ok(await municipality.get(f"/api/v1/episodes/{scenario.episode['id']}"))
    answers = [e for e in episode["events"] if e["kind"] == "municipality-response"]
    assert [a["can_receive_from"] for a in answers] == [receive.isoformat()]

    # A reply to the summons, for the home-care unit.
    reply_form = console.driver.find_element(By.CSS_SELECTOR, "form[action$='/reply']")
    reply_form.find_element(By.CSS_SELECTOR, "input[value='accepted']").click()
    console.follow(reply_form.find_element(By.CSS_SELECTOR, "button[type='submit']"))
    assert "Your reply was sent." in console.text
    console.check("municipality-person-flow")
    meeting = ok(await municipality.get(f"/api/v1/meetings/{scenario.meeting['id']}"))
    assert {p["id"]: p["reply"] for p in meeting["participants"]}["hemtj"] == "accepted"

    # A bulletin on the cooperation area's board.
    console.visit("/console/notice-boards", "municipality-notice-boards")
    board = console.driver.find_element(By.CSS_SELECTOR, "form[action$='/bulletins']")
    board_id = board.get_attribute("action").split("/")[-2]
    title = f"Ny rutin {time.time_ns()}"
    board.find_element(By.NAME, "title").send_keys(title)
    board.find_element(By.NAME, "text").send_keys("Utskrivning före kl. 14.")
    console.follow(board.find_element(By.TAG_NAME, "button"))
    assert "The bulletin was posted." in console.text and title in console.text
    posted = ok(await municipality.get(f"/api/v1/notice-boards/{board_id}/bulletins"))
    assert title in [b["title"] for b in posted["items"]]

    console.visit("/console/statistics?indicator=all", "municipality-statistics")
    assert console.heading() == "Statistics: Luleå kommun"
    assert console.charts_drawn() == len(INDICATORS)
    console.visit("/console/plans", "municipality-plans")
    assert "SIP Greta" in console.text
    console.visit(f"/console/liability?month={datetime.now(UTC):%Y-%m}", "municipality-liability")
    assert "Payment liability: Luleå kommun" in console.heading()
    console.sign_out()

    # The MAS works through the deviation reports.
    console.sign_in(MUNICIPALITY, "mas", "Maria MAS")
    console.visit("/console/deviations", "mas-deviations")
    assert "Missing discharge information" in console.text
    assert "Läkemedelslistan saknades." in console.text
    # The MAS's role does not answer for the municipality's episodes.
    console.open(f"/console/persons/{scenario.greta['id']}")
    assert not console.driver.find_elements(
        By.CSS_SELECTOR, "form[action$='/municipality-response']"
    )
    console.check("mas-person-flow")


async def test_an_unrelated_municipality_sees_none_of_the_persons(
    console: ConsoleBrowser, scenario: Scenario
) -> None:
    console.sign_in("kommun-0880", "planner", "Kalle Kalmar")
    assert console.heading() == "Worklist: Kalmar kommun"
    names = ("Greta", "Lindqvist", "Maj", "Hemlig", "PROTECTED IDENTITY")
    for path, name in [
        ("/console/worklist", "unrelated-worklist"),
        ("/console/plans", "unrelated-plans"),
        ("/console/deviations", "unrelated-deviations"),
        ("/console/liability", "unrelated-liability"),
    ]:
        console.visit(path, name)
        assert not [n for n in names if n in console.text], (path, console.text)
    for person in (scenario.greta, scenario.maj):
        console.open(f"/console/persons/{person['id']}")
        assert console.heading() == "Something went wrong"
        assert "There is nothing here that you may see." in console.text
        assert not [n for n in names if n in console.text]
    console.check("unrelated-person-not-found")
    console.open(f"/console/plans/{scenario.plan['id']}")
    assert "There is nothing here that you may see." in console.text
