"""Driving the console in Debian's headless Chromium: sign in, visit a page, check it with
axe-core and keep a screenshot of it under the test output."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Any

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Screenshots go here, one folder per database engine; the report lists them.
OUTPUT = Path(os.environ.get("SAMVERKAN_TEST_OUTPUT", "test-output")) / "console"
RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}}).then(
  (result) => done(result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' '))}))),
  (error) => done([{id: 'axe-error', impact: 'critical', help: String(error), nodes: []}]));
"""


class ConsoleBrowser:
    """A browser on the console of one running server, for one database engine."""

    def __init__(self, driver: WebDriver, base: str, engine: str, axe_source: str) -> None:
        self.driver, self.base, self.axe_source = driver, base, axe_source
        self.folder = OUTPUT / engine
        self.folder.mkdir(parents=True, exist_ok=True)
        self.shots: list[Path] = []
        self.checked: list[str] = []

    def open(self, path: str) -> None:
        """Load a page of the server."""
        self.driver.get(self.base + path)

    @property
    def text(self) -> str:
        """The visible text of the page."""
        return str(self.driver.find_element(By.TAG_NAME, "body").text)

    def heading(self) -> str:
        """The page's first-level heading."""
        return str(self.driver.find_element(By.TAG_NAME, "h1").text)

    def follow(self, element: WebElement) -> None:
        """Click a link or submit button and wait until the next page has replaced this one."""
        page = self.driver.find_element(By.TAG_NAME, "html")
        element.click()

        def replaced(_driver: WebDriver) -> bool:
            # Chromium answers for a node of a page being left either "stale" or, mid-navigation,
            # "does not belong to the document": both mean the page is gone.
            try:
                page.is_enabled()
            except WebDriverException:
                return True
            return False

        wait = WebDriverWait(self.driver, 15)
        wait.until(replaced)
        wait.until(lambda d: d.execute_script("return document.readyState") == "complete")

    def sign_in(self, organization: str, role: str, name: str) -> None:
        """Sign in through the development sign-in form, as a person does."""
        self.open("/console/sign-in")
        Select(self.driver.find_element(By.ID, "organization")).select_by_value(organization)
        Select(self.driver.find_element(By.ID, "role")).select_by_value(role)
        self.driver.find_element(By.ID, "name").send_keys(name)
        self.follow(
            self.driver.find_element(By.CSS_SELECTOR, "form[action='/console/sign-in/dev'] button")
        )
        assert self.driver.current_url.startswith(self.base + "/console/worklist"), self.text

    def sign_out(self) -> None:
        """Sign out with the header's button."""
        self.follow(
            self.driver.find_element(By.CSS_SELECTOR, "form[action='/console/sign-out'] button")
        )
        assert "/console/sign-in" in self.driver.current_url

    def check(self, name: str) -> None:
        """Run axe-core on the page (no serious or critical violation) and keep a screenshot."""
        self.images_loaded()
        violations: list[dict[str, Any]] = self.driver.execute_async_script(
            self.axe_source + "\n" + RUN_AXE, AXE_TAGS
        )
        bad = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert not bad, f"axe-core on {name} ({self.driver.current_url}): {bad}"
        self.checked.append(name)
        self.screenshot(name)

    def visit(self, path: str, name: str) -> None:
        """Open a page, check that it rendered, run axe-core and keep its screenshot."""
        self.open(path)
        assert "Something went wrong" not in self.heading(), self.text
        self.check(name)

    def images_loaded(self) -> None:
        """Wait until every image of the page (the statistics' charts) has loaded or failed."""
        WebDriverWait(self.driver, 60).until(
            lambda d: d.execute_script("return [...document.images].every((i) => i.complete)")
        )

    def charts_drawn(self) -> int:
        """How many charts the page shows, each loaded and with a text alternative."""
        self.images_loaded()
        drawn: int = self.driver.execute_script(
            "return [...document.querySelectorAll('img.chart')]"
            ".filter((i) => i.naturalWidth > 0 && i.alt.length > 20).length"
        )
        return drawn

    def screenshot(self, name: str) -> Path:
        """The whole page as a PNG under the test output."""
        metrics = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = metrics["cssContentSize"]
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {
                    "x": 0,
                    "y": 0,
                    "width": max(size["width"], 1024),
                    "height": min(size["height"], 6000),
                    "scale": 1,
                },
            },
        )
        path = self.folder / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        self.shots.append(path)
        return path
