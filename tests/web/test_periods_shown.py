"""Honest periods in the web app (issue 17): over the example's returns cut at the end of
September 2024 (half way through 2024/25), the API, the indicator, priority and locality
pages and the story form show nothing of a period the data do not cover, and a provisional
figure says so and carries no judgement."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from common_outcomes.periods import PeriodType, period_containing
from common_outcomes.results.coverage import NOT_ASSESSED
from common_outcomes.state import Role
from common_outcomes.web.app import create_app

END = date(2024, 9, 30)
BASE = "/api/v1/workspaces/tower-hamlets"
PAGES = "/w/tower-hamlets"
EMAIL, PASSWORD = "analyst@example.org", "a long synthetic passphrase"
# Quarters wholly after the data end, which the whole data would fill with reviews not yet
# due and bookings not yet made: no page may name one.
AFTER = [period_containing(date(2024 + (m // 12), m % 12 + 1, 1), PeriodType.QUARTER).label
         for m in range(9, 9 + 36, 3)]


@pytest.fixture(scope="module")
def app(cut_example: Callable[[date], Path], tmp_path_factory: pytest.TempPathFactory
        ) -> FastAPI:
    state = tmp_path_factory.mktemp("state") / "state.db"
    application = create_app([cut_example(END)], f"sqlite:///{state}")
    application.state.site.state.add_user(EMAIL, "Analyst", PASSWORD, "tower-hamlets",
                                          Role.ANALYST, "tests")
    return application


@pytest.fixture(scope="module")
def browser(app: FastAPI) -> TestClient:
    client = TestClient(app, base_url="https://testserver")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/sign-in").text)
    assert token
    done = client.post("/sign-in", data={"email": EMAIL, "password": PASSWORD,
                                         "csrf_token": token.group(1), "next": "/"},
                       follow_redirects=False)
    assert done.status_code == 303, done.text
    return client


def _rows(browser: TestClient, **params: str) -> list[dict[str, Any]]:
    got = browser.get(f"{BASE}/results", params={**params, "limit": "1000"})
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["total"] == len(body["rows"])
    rows: list[dict[str, Any]] = body["rows"]
    return rows


def test_the_api_answers_no_period_after_the_data_end_and_no_judgement_on_a_provisional_one(
        browser: TestClient) -> None:
    rows = _rows(browser, area="E09000030")
    computed = [r for r in rows if not r["method"].startswith("published")]
    assert computed
    provisional = [r for r in computed if (r["value_note"] or "").startswith("provisional")]
    assert provisional
    for r in computed:
        if r in provisional:
            assert r["compared_to_benchmark"] is None and r["recent_trend"] is None
            assert r["target_status"] in (None, NOT_ASSESSED)
        else:
            assert date.fromisoformat(r["period_end"]) <= END, r
    assert not {r["period"] for r in rows} & set(AFTER)


def _periods_offered(html: str) -> list[str]:
    """The options of the story form's period list (not of its partners')."""
    found = re.search(r'<select[^>]*name="period"[^>]*>(.*?)</select>', html, re.S)
    assert found, "the story page has no period list"
    return re.findall(r'<option value="([^"]+)"', found.group(1))


def test_the_story_form_offers_only_periods_with_results(browser: TestClient) -> None:
    for indicator in ("review-12-months", "early-booking", "smoking-at-delivery"):
        offered = _periods_offered(browser.get(f"{PAGES}/indicators/{indicator}/story").text)
        assert offered, indicator
        held = {r["period"] for r in _rows(browser, indicator=indicator)}
        assert set(offered) <= held
        assert not set(offered) & set(AFTER)
    booking = _periods_offered(browser.get(f"{PAGES}/indicators/early-booking/story").text)
    assert "2024/25" not in booking and "2024/25 Q1" not in booking


def test_pages_name_no_period_after_the_data_end_and_flag_a_provisional_value(
        app: FastAPI, browser: TestClient) -> None:
    served = app.state.site.workspaces["tower-hamlets"]
    paths = [f"{PAGES}/indicators/{i}" for i in (
        "review-12-months", "review-2-years", "early-booking", "new-birth-visit-14-days")]
    paths += [f"{PAGES}/priorities/{p['id']}" for p in served.map["priorities"]]
    paths += [f"{PAGES}/localities/{loc['id']}" for loc in served.map["localities"]]
    for path in paths:
        page = browser.get(path)
        assert page.status_code == 200, path
        named = [q for q in AFTER if q in page.text]
        assert not named, f"{path} names {named}"
    smoking = browser.get(f"{PAGES}/indicators/smoking-at-delivery?period_type=financial_year")
    assert "(provisional: 6 months of 12)" in smoking.text
