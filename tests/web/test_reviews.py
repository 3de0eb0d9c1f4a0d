"""Quarterly reviews, the one list of actions and the strategy as of a date, in the pages and
through the API, on SQLite and PostgreSQL (the `app` fixture runs on each): who may open,
write and sign off a review; a signed-off review is read-only; what a review saw is kept as
it was after the results change; overdue actions on the overview and in the exports."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from common_outcomes.project import Project
from common_outcomes.results import table as results
from common_outcomes.state import ActionFields, ReviewFields, Role, State
from common_outcomes.strategy.changes import StopActivity
from common_outcomes.web.app import create_app
from common_outcomes.web.site import Served, Site
from common_outcomes.web.story_checks import subject_of

Client = Callable[[str | None], TestClient]
Csrf = Callable[[str], str]
WS = "/w/tower-hamlets"
API = "/api/v1/workspaces/tower-hamlets"
ADMIN = "chair@example.org"
CONTRIBUTOR = "contributor@example.org"
PRIORITY = "ready-for-school"  # not the priority seed_story granted
PASSWORD = "the chair's long passphrase"


def site(app: FastAPI) -> Site:
    found: Site = app.state.site
    return found


def signed_in(app: FastAPI, email: str, csrf: Csrf) -> TestClient:
    browser = TestClient(app, base_url="https://testserver")
    done = browser.post("/sign-in", data={"email": email, "password": PASSWORD, "next": "/",
                                          "csrf_token": csrf(browser.get("/sign-in").text)},
                        follow_redirects=False)
    assert done.status_code == 303, done.text
    return browser


def admin(app: FastAPI, csrf: Csrf) -> TestClient:
    state = site(app).state
    if not state.has_user(ADMIN):
        state.add_user(ADMIN, "Chair", PASSWORD, "tower-hamlets", Role.ADMIN, "tests")
    return signed_in(app, ADMIN, csrf)


def open_form(browser: TestClient, csrf: Csrf, quarter: str, priority: str = PRIORITY
              ) -> tuple[int, str]:
    token = csrf(browser.get(f"{WS}/reviews").text)
    sent = browser.post(f"{WS}/reviews", data={
        "priority": priority, "quarter": quarter, "held-day": "14", "held-month": "8",
        "held-year": "2025", "csrf_token": token}, follow_redirects=False)
    return sent.status_code, sent.headers.get("location", sent.text)


def test_the_review_workflow_with_every_role(app: FastAPI, client: Client, csrf: Csrf,
                                             example: Served) -> None:
    state = site(app).state
    quarter = example.project.quarters()[0]
    viewer, contributor, chair = (client("viewer@example.org"), client(CONTRIBUTOR),
                                  admin(app, csrf))
    # Neither a viewer nor a contributor not granted the priority may open one.
    assert open_form(viewer, csrf, quarter)[0] == 403
    account = state.account_of(CONTRIBUTOR)
    assert account is not None
    if not state.may_review(account, "tower-hamlets", "priority", PRIORITY):  # first database
        assert open_form(contributor, csrf, quarter)[0] == 403
    state.grant_review(CONTRIBUTOR, "tower-hamlets", "priority", PRIORITY, "tests")
    # Bad input: one message per field, nothing saved.
    count = len(state.reviews("tower-hamlets"))
    assert open_form(contributor, csrf, "1999/00 Q1")[0] == 400
    assert len(state.reviews("tower-hamlets")) == count

    status, where = open_form(contributor, csrf, quarter)
    assert status == 303, where
    number = int(where.rsplit("/", 1)[1])
    review = state.review("tower-hamlets", number)
    assert review is not None and review.snapshot
    about = subject_of(example, "priority", PRIORITY)
    assert about is not None
    assert list(review.snapshot) == example.project.snapshot(about.indicators, quarter)
    page = contributor.get(where).text
    assert "What the data showed" in page and review.snapshot[0]["indicator_name"] in page

    token = csrf(page)
    saved = contributor.post(where, data={"learned": "Take-up is lowest where need is.",
                                          "decisions": "Follow up every family.",
                                          "csrf_token": token}, follow_redirects=False)
    assert saved.status_code == 303
    # A contributor may not sign off; an administrator may.
    assert contributor.post(f"{where}/sign", data={"csrf_token": token},
                            follow_redirects=False).status_code == 403
    chair_token = csrf(chair.get(where).text)
    signed = chair.post(f"{where}/sign", data={"csrf_token": chair_token},
                        follow_redirects=False)
    assert signed.status_code == 303
    done = state.review("tower-hamlets", number)
    assert done is not None and done.signed and done.signed_by == ADMIN
    # Signed off: read-only for everyone, one sentence, nothing saved.
    for browser, t in ((contributor, token), (chair, chair_token)):
        refused = browser.post(where, data={"learned": "Changed.", "decisions": "Changed.",
                                            "csrf_token": t}, follow_redirects=False)
        assert refused.status_code == 400
        assert "a signed-off review cannot be changed, so nothing was saved" in refused.text
    assert state.review("tower-hamlets", number) == done
    api = chair.put(f"{API}/reviews/{number}", json={"learned": "x", "decisions": "y"})
    assert api.status_code == 400 and "signed-off" in api.json()["detail"]
    assert state.review("tower-hamlets", number) == done
    # The review is reachable from its priority, and in the API.
    assert f"{WS}/reviews/{number}" in viewer.get(f"{WS}/priorities/{PRIORITY}").text
    listed = viewer.get(f"{API}/reviews").json()
    assert number in [r["number"] for r in listed]
    assert viewer.post(f"{API}/reviews", json={"priority": PRIORITY, "quarter": quarter,
                                               "held": "2025-08-14"}).status_code == 403


def test_a_review_keeps_the_figures_it_saw_after_the_results_change(
        workspaces: tuple[Path, Path], tmp_path: Path) -> None:
    folder = tmp_path / "tower-hamlets"
    shutil.copytree(workspaces[0], folder)
    project = Project.view(folder)
    quarter = project.quarters()[0]
    seen = project.snapshot(_measures_of(project), quarter)
    assert seen and any(r["value"] is not None for r in seen)
    state = State.open(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    try:
        state.add_user(ADMIN, "Chair", PASSWORD, "tower-hamlets", Role.ADMIN, "tests")
        chair = state.account_of(ADMIN)
        assert chair is not None
        made = state.add_review(chair, "tower-hamlets", ReviewFields(
            "priority", PRIORITY, quarter, date(2025, 8, 14)), seen)
        # A later load and run changes every value (here: the results table rewritten).
        table = results.read(project.results_path)
        assert table is not None
        bumped = pc.add(table.column("value"), pa.scalar(1.0))
        results.write(project.results_path, table.set_column(
            table.schema.get_field_index("value"), "value", bumped))
        now = Project.view(folder).snapshot(_measures_of(project), quarter)
        assert now != seen  # the results did change
        kept = state.review("tower-hamlets", made.number)
        assert kept is not None and list(kept.snapshot) == seen
    finally:
        state.close()


def _measures_of(project: Project) -> frozenset[str]:
    return frozenset(next(p for p in project.workspace.priorities if p.id == PRIORITY).measures)


def test_one_list_of_actions_with_overdue_ones_on_the_overview_and_in_the_exports(
        app: FastAPI, client: Client, csrf: Csrf, example: Served) -> None:
    state = site(app).state
    contributor = state.account_of(CONTRIBUTOR)
    assert contributor is not None
    late = state.add_action(contributor, "tower-hamlets", "priority", "first-1001-days",
                            ActionFields("2024/25", "Write to every late booker", CONTRIBUTOR,
                                         None, date.today() - timedelta(days=3), "open"),
                            "review", "1")
    viewer = client("viewer@example.org")
    overview = viewer.get(WS).text
    assert "Overdue actions" in overview and "Write to every late booker" in overview
    overdue = viewer.get(f"{WS}/actions?show=overdue").text
    assert "Write to every late booker" in overdue and "Review 1" in overdue
    # "Your actions": the owner's, not the viewer's.
    assert "Write to every late booker" in client(CONTRIBUTOR).get(
        f"{WS}/actions?show=mine").text
    assert "Write to every late booker" not in viewer.get(f"{WS}/actions?show=mine").text
    rows = list(csv.DictReader(io.StringIO(
        viewer.get(f"{WS}/actions.csv").content.decode("utf-8-sig"))))
    mine = next(r for r in rows if r["number"] == str(late.number))
    assert (mine["overdue"], mine["arose_from"], mine["status"]) == ("yes", "Review 1", "open")
    assert len(rows) == len(state.actions("tower-hamlets"))
    book = openpyxl.load_workbook(io.BytesIO(viewer.get(f"{WS}/actions.xlsx").content))
    assert book["Actions"].max_row == len(rows) + 1
    api = viewer.get(f"{API}/actions", params={"overdue": "true"}).json()
    assert late.number in [a["number"] for a in api]
    assert all(date.fromisoformat(a["fields"]["due"]) < date.today() for a in api)
    assert next(a for a in api if a["number"] == late.number)["origin"] == "review"
    # Marked done, it is no longer overdue.
    state.change_action(contributor, "tower-hamlets", late.number, ActionFields(
        "2024/25", "Write to every late booker", CONTRIBUTOR, None,
        date.today() - timedelta(days=3), "done"))
    assert late.number not in [a["number"] for a in viewer.get(
        f"{API}/actions", params={"overdue": "true"}).json()]


@pytest.fixture(scope="module")
def changed(workspaces: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[FastAPI]:
    """The example with an activity stopped by review 1 on 14 August 2025, served."""
    folder = tmp_path_factory.mktemp("changed") / "tower-hamlets"
    shutil.copytree(workspaces[0], folder)
    Project.open(folder).change_strategy(StopActivity("stay-and-play-sessions"),
                                         why="Nobody was better off.", by=ADMIN,
                                         effective=date(2025, 8, 14), review=1)
    url = f"sqlite:///{tmp_path_factory.mktemp('changed-state') / 'app.sqlite3'}"
    made = create_app([folder], url)
    site(made).state.add_user(ADMIN, "Chair", PASSWORD, "tower-hamlets", Role.VIEWER, "tests")
    yield made


def test_the_strategy_page_shows_the_activity_before_the_review_and_not_after(
        changed: FastAPI, csrf: Csrf) -> None:
    viewer = signed_in(changed, ADMIN, csrf)
    before = viewer.get(f"{WS}/strategy", params={"as-of": "2025-08-13"})
    after = viewer.get(f"{WS}/strategy", params={"as-of": "2025-08-14"})
    assert before.status_code == after.status_code == 200
    name = "Stay and play and early learning sessions"
    assert name in before.text.split('id="history"')[0]
    assert name not in after.text.split('id="history"')[0]
    assert "Nobody was better off." in after.text and "review 1" in after.text
    assert "Not yet in effect on this date" in before.text
    history = viewer.get("/api/v1/workspaces/tower-hamlets/strategy/history").json()
    assert [(h["review"], h["why"]) for h in history] == [(1, "Nobody was better off.")]
    bad = viewer.get(f"{WS}/strategy", params={"as-of": "14/08/2025"})
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text
