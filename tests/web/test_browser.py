"""Every page in a real browser: zero WCAG 2.2 AA violations by axe-core, no Content Security
Policy violation or script error, and the page's own script running. One server (uvicorn on
loopback, SQLite state) and one headless Chromium (Debian's, driven by Playwright) for the
whole module."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from common_outcomes.state import Role
from common_outcomes.web.app import create_app
from common_outcomes.web.site import Served

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
EMAIL, PASSWORD = "browser@example.org", "a long synthetic passphrase"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(workspaces: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory,
           seed: Callable[[FastAPI, str], None]) -> Iterator[str]:
    database = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'app.sqlite3'}"
    app = create_app(list(workspaces), database)
    state = app.state.site.state
    state.add_user(EMAIL, "Browser", PASSWORD, "tower-hamlets", Role.ANALYST, "tests")
    state.grant(EMAIL, "elsewhere", Role.ANALYST, "tests")
    seed(app, EMAIL)
    port = free_port()
    running = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                            log_level="warning"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.is_file(), "Chromium is missing: run 'make install'"
    assert AXE.is_file(), "axe-core is missing: run 'make install'"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    # Injected by the browser itself, not by the page, so the CSP is not loosened for it.
    context.add_init_script(path=str(AXE))
    yield context.new_page()
    context.close()


class Problems:
    """Console errors (a CSP violation is one) and uncaught script errors, as they happen."""

    def __init__(self, page: Page) -> None:
        self.seen: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.seen.append(f"script error: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        # An invalid form is answered 400 on purpose; the browser logs that status too.
        if message.type == "error" and "status of 400" not in message.text:
            self.seen.append(message.text)

    def take(self) -> list[str]:
        seen, self.seen = self.seen, []
        return seen


def audit(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.2 AA violations on the page as it stands."""
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})",
                           WCAG_22_AA)
    return [{"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]]}
            for v in result["violations"]]


def check(page: Page, problems: Problems, where: str) -> None:
    # Every chart and map is drawn (an SVG from its Vega-Lite spec) before the audit.
    page.wait_for_function("[...document.querySelectorAll('[data-vega-lite]')]"
                           ".every(f => f.querySelector('svg.marks'))", timeout=15_000)
    assert audit(page) == [], where
    assert problems.take() == [], where
    # The page's own module script ran (the CSP lets it, and only it, run).
    assert page.evaluate("document.body.classList.contains('js-enabled')"), where


def test_every_page_is_accessible_and_keeps_to_its_policy(server: str, page: Page,
                                                          paths: list[str]) -> None:
    problems = Problems(page)
    page.goto(f"{server}/w/tower-hamlets")
    assert page.url.startswith(f"{server}/sign-in")
    check(page, problems, "sign-in")
    page.get_by_role("button", name="Sign in").click()
    assert page.locator(".govuk-error-summary").is_visible()
    check(page, problems, "sign-in with errors")
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server}/w/tower-hamlets")
    drawn = 0
    for path in paths:
        response = page.goto(server + path)
        assert response is not None and response.status == 200, path
        check(page, problems, path)
        drawn += page.locator("[data-vega-lite] svg.marks").count()
    assert drawn >= len([p for p in paths if "/indicators/" in p])


def test_invalid_stories_and_actions_are_accessible_too(server: str, page: Page,
                                                         indicator: str) -> None:
    problems = Problems(page)
    for path, button in ((f"/w/tower-hamlets/indicators/{indicator}/story", "Save the story"),
                         (f"/w/tower-hamlets/indicators/{indicator}/story", "Add the action"),
                         ("/w/tower-hamlets/actions/1", "Save the change")):
        page.goto(server + path)
        if button == "Save the change":
            page.get_by_label("Owner").fill("")
        page.get_by_role("button", name=button).click()
        summary = page.locator(".govuk-error-summary")
        assert summary.is_visible(), button
        # GOV.UK Frontend's script moves focus to the summary, for screen reader users.
        assert page.evaluate(
            "document.activeElement.classList.contains('govuk-error-summary')"), button
        check(page, problems, f"{button} with errors")


def signed_in(browser: Browser, server: str, width: int) -> tuple[Page, Problems]:
    """A new page at this width, signed in, watched for console and script errors."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    problems = Problems(page)
    page.goto(f"{server}/sign-in")
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server}/**")
    return page, problems


def longest_series(example: Served) -> tuple[str, str]:
    """The indicator and period type with the most periods: the axis most likely to smear."""
    table = example.results()
    assert table is not None
    periods: dict[tuple[str, str], set[str]] = {}
    for i, kind, p in zip(table.column("indicator_id").to_pylist(),
                          table.column("period_type").to_pylist(),
                          table.column("period").to_pylist(), strict=True):
        periods.setdefault((i, kind), set()).add(p)
    return max(sorted(periods), key=lambda k: len(periods[k]))


X_LABELS = """figure => [...figure.querySelectorAll('g.role-axis')]
  .filter(a => (a.getAttribute('aria-label') || '').startsWith('X-axis'))
  .flatMap(a => [...a.querySelectorAll('g.role-axis-label text')])
  .filter(t => t.textContent && getComputedStyle(t).opacity !== '0'
               && t.getAttribute('opacity') !== '0')
  .map(t => { const b = t.getBoundingClientRect()
              return {text: t.textContent, left: b.left, right: b.right} })"""


@pytest.mark.parametrize("width", [1280, 375])
def test_time_axes_are_readable_and_points_and_shapes_say_their_values(
        server: str, browser: Browser, example: Served, width: int) -> None:
    indicator, kind = longest_series(example)
    page, problems = signed_in(browser, server, width)
    page.goto(f"{server}/w/tower-hamlets/indicators/{indicator}?period_type={kind}")
    check(page, problems, f"{indicator} by {kind} at {width}px")
    figure = page.locator("#chart-series")
    labels = figure.evaluate(X_LABELS)
    # A few labels, none touching the next (a quarterly axis was a smear of them).
    assert 2 <= len(labels) <= 6, labels
    ordered = sorted(labels, key=lambda b: b["left"])
    for one, other in itertools.pairwise(ordered):
        assert one["right"] <= other["left"], (one, other)
    box = figure.bounding_box()
    assert box is not None
    assert all(box["x"] - 1 <= b["left"] and b["right"] <= box["x"] + box["width"] + 1
               for b in labels), labels

    # Pointing at a value shows its period, value and interval.
    point = figure.locator("g.mark-symbol path[aria-label*='95% CI']").first
    point.scroll_into_view_if_needed()
    spot = point.bounding_box()
    assert spot is not None
    page.mouse.move(spot["x"] + spot["width"] / 2, spot["y"] + spot["height"] / 2)
    tip = page.locator(".app-tooltip")
    tip.wait_for(state="visible")
    assert tip.text_content() == point.get_attribute("aria-label")
    assert "95% CI" in (tip.text_content() or "")

    # Each ward on the map takes focus from the keyboard and says its name and value.
    shapes = page.locator("#map-wards path[tabindex='0']")
    assert shapes.count() == len(example.shapes)
    shapes.first.focus()
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert focused == shapes.nth(1).get_attribute("aria-label")
    assert tip.is_visible() and tip.text_content() == focused
    assert problems.take() == []
    page.context.close()


def test_a_printed_page_has_no_navigation_forms_or_buttons_but_its_charts_and_date(
        server: str, browser: Browser, indicator: str) -> None:
    page, problems = signed_in(browser, server, 1280)
    page.goto(f"{server}/w/tower-hamlets/indicators/{indicator}")
    check(page, problems, indicator)
    # On screen: the navigation and the sign-out form, not the print note.
    assert page.locator(".govuk-service-navigation").is_visible()
    assert page.locator(".app-account form").is_visible()
    assert not page.locator(".app-print-only").is_visible()
    page.emulate_media(media="print")
    for gone in (".govuk-service-navigation", ".app-account", "form", ".govuk-button",
                 ".govuk-breadcrumbs"):
        assert not any(page.locator(gone).nth(n).is_visible()
                       for n in range(page.locator(gone).count())), gone
    assert page.locator(".app-print-only").is_visible()
    assert page.locator(".app-data-version").is_visible()
    assert page.locator("#chart-series svg.marks").is_visible()
    page.context.close()


def test_the_api_docs_draw_every_route_within_the_policy(server: str, browser: Browser
                                                         ) -> None:
    page, problems = signed_in(browser, server, 1280)
    page.goto(f"{server}/docs")
    page.locator(".opblock").first.wait_for()
    document = page.evaluate("fetch('/api/v1/openapi.json').then(r => r.json())")
    routes = sum(len(methods) for methods in document["paths"].values())
    assert page.locator(".opblock").count() == routes
    page.locator(".opblock-summary").first.click()
    page.locator(".opblock-body").first.wait_for()
    check(page, problems, "/docs")
    page.context.close()


def test_a_phone_never_scrolls_a_page_sideways(server: str, browser: Browser,
                                               example: Served) -> None:
    """At 375 px a wide table scrolls in its own box (the locality tables, the actions
    table), and nothing in it (a visually hidden caption) widens the page."""
    page, problems = signed_in(browser, server, 375)
    priority = example.map["priorities"][0]["id"]
    for path in (*(f"/w/tower-hamlets/localities/{x['id']}" for x in example.map["localities"]),
                 f"/w/tower-hamlets/priorities/{priority}/story"):
        page.goto(server + path)
        check(page, problems, path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
    assert page.locator(".app-actions-table").count() == 1  # the seeded action's
    page.context.close()


def test_the_diagrams_are_drawn_and_fit_a_desktop_and_a_phone(server: str, browser: Browser
                                                               ) -> None:
    """The framework's contribution view and a golden thread: drawn at 1280 px without the
    page scrolling sideways, and on a phone scrolling inside their own box, never the page;
    axe finds nothing at either width."""
    for width in (1280, 375):
        context = browser.new_context(viewport={"width": width, "height": 800})
        context.add_init_script(path=str(AXE))
        page = context.new_page()
        problems = Problems(page)
        page.goto(f"{server}/sign-in")
        page.get_by_label("Email address").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{server}/")
        for path in ("/w/tower-hamlets", "/w/tower-hamlets/priorities/first-1001-days"):
            page.goto(server + path)
            picture = page.locator(".app-diagram svg[role=img]").first
            box = picture.bounding_box()
            assert box is not None and box["width"] > 900 and box["height"] > 300, path
            assert page.evaluate("document.documentElement.scrollWidth") <= width, path
            scrolls = page.evaluate("(() => { const d = document.querySelector("
                                    "'.app-diagram'); return d.scrollWidth > d.clientWidth; "
                                    "})()")
            assert scrolls == (width < 960), path
            check(page, problems, f"{path} at {width} px")
        context.close()


def test_the_self_assessment_forms_are_accessible_with_and_without_errors(
        server: str, browser: Browser) -> None:
    """The round forms only an admin sees (open a round, moderate, close) and a respondent's
    rating form, each as it first shows and with its errors."""
    context = browser.new_context()
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    problems = Problems(page)
    try:
        for email, steps in (
                # conftest.py's seed_rounds opens the rounds as this admin.
                ("rounds-admin@example.org", (("/w/tower-hamlets/rounds/new", "Open the round"),
                                ("/w/tower-hamlets/rounds/3", "Close the round"))),
                (EMAIL, (("/w/tower-hamlets/rounds/3/rate", "Save and come back later"),))):
            page.goto(f"{server}/sign-in")
            page.get_by_label("Email address").fill(email)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(lambda url: "/sign-in" not in url)
            for path, button in steps:
                page.goto(server + path)
                check(page, problems, path)
                if "rate" in path:  # a link that is not a web address
                    page.locator("textarea[name^='links-']").first.fill("not a link")
                    page.locator("input[type=radio]").first.check()
                page.get_by_role("button", name=button).click()
                assert page.locator(".govuk-error-summary").is_visible(), path
                check(page, problems, f"{path} with errors")
            context.clear_cookies()
    finally:
        context.close()
