"""Self-assessment rounds, through the pages, with every role, on SQLite and PostgreSQL (the
`app` fixture is made for each): only admins open, moderate and close; only a round's
respondents rate, and may save and come back; a rating outside the model, a round for an
unknown period and a change to a closed round are each one clear sentence with nothing saved;
every change is audited. The system conditions page, its exports and the API show what the
closed rounds settled."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from html import unescape

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from common_outcomes.state import Role, Round, State
from common_outcomes.web.round_views import conditions

Client = Callable[[str | None], TestClient]
Csrf = Callable[[str], str]
ADMIN = "rounds-admin@example.org"  # tests/web/conftest.py seeds it, with three rounds
HV, VCS = "hv-rater@example.org", "vcs-rater@example.org"
PASSWORD = "a long synthetic passphrase"
WS = "/w/tower-hamlets"


@pytest.fixture
def state(app: FastAPI) -> State:
    found: State = app.state.site.state
    # Respondents: a viewer for health visiting, a contributor for the voluntary sector.
    for email, role in ((HV, Role.VIEWER), (VCS, Role.CONTRIBUTOR)):
        if not found.has_user(email):
            found.add_user(email, email, PASSWORD, "tower-hamlets", role, "tests")
    return found


def sentences(html: str) -> list[str]:
    """The error summary's messages."""
    summary = html.split('class="govuk-error-summary"')[1].split("</ul>")[0]
    return [unescape(re.sub(r"\s+", " ", m)).strip()
            for m in re.findall(r"<a [^>]*>(.*?)</a>", summary, re.S)]


def open_round(client: TestClient, csrf: Csrf, period: str,
               respondents: dict[str, str]) -> object:
    form = client.get(f"{WS}/rounds/new")
    return client.post(f"{WS}/rounds", follow_redirects=False, data={
        "csrf_token": csrf(form.text), "period": period,
        **{f"respondents-{partner}": email for partner, email in respondents.items()}})


def test_a_round_from_opening_to_closing_with_every_role(
        app: FastAPI, state: State, client: Client, csrf: Csrf) -> None:
    admin, hv, vcs = client(ADMIN), client(HV), client(VCS)
    viewer, contributor, analyst = (client("viewer@example.org"),
                                    client("contributor@example.org"),
                                    client("analyst@example.org"))
    before = len(state.rounds("tower-hamlets"))
    year = 2030 + before  # a period no other round of this database has
    period = f"{year}/{(year + 1) % 100:02d}"

    # Only admins open a round: others are refused, and nothing is saved.
    for other in (viewer, contributor, analyst, hv):
        assert other.get(f"{WS}/rounds/new").status_code == 403
        token = csrf(other.get(f"{WS}/conditions").text)
        refused = other.post(f"{WS}/rounds", data={"csrf_token": token, "period": period,
                                                     "respondents-health-visiting": HV})
        assert refused.status_code == 403
    no_csrf = admin.post(f"{WS}/rounds", data={"period": period,
                                               "respondents-health-visiting": HV})
    assert no_csrf.status_code == 403
    assert len(state.rounds("tower-hamlets")) == before

    # A round for an unknown period, or a respondent without a role here: one sentence each.
    for bad_period, named, field, message in (
            ("next year", {"health-visiting": HV}, "period",
             "'next year' is not a period; write it like"),
            (period, {"health-visiting": "nobody@example.org"}, "respondents",
             "nobody@example.org has no account with a role in this workspace"),
            (period, {}, "respondents", "Name at least one respondent.")):
        answer = open_round(admin, csrf, bad_period, named)
        assert answer.status_code == 400
        said = sentences(answer.text)
        assert len(said) == 1 and said[0].startswith(message), said
        summary = answer.text.split('class="govuk-error-summary"')[1].split("</ul>")[0]
        assert f'href="#{field}"' in summary and f'id="{field}"' in answer.text
    assert len(state.rounds("tower-hamlets")) == before

    opened = open_round(admin, csrf, period, {"health-visiting": HV, "vcs-alliance": VCS})
    assert opened.status_code == 303
    number = int(opened.headers["location"].rsplit("/", 1)[1])
    found = state.round("tower-hamlets", number)
    assert found is not None and found.period == period and not found.closed
    assert {(r.email, r.partner) for r in found.respondents} == {
        (HV, "health-visiting"), (VCS, "vcs-alliance")}
    features = [f.id for f in found.features]
    first, second = features[0], features[1]

    # Only the round's respondents rate: an admin, the analyst and a contributor who is not
    # one are refused.
    for other in (admin, analyst, contributor):
        assert other.get(f"{WS}/rounds/{number}/rate").status_code == 403
        token = csrf(other.get(f"{WS}/rounds/{number}").text)
        refused = other.post(f"{WS}/rounds/{number}/rate", data={
            "csrf_token": token, f"level-{first}": "embedded"})
        assert refused.status_code == 403
    assert state.round("tower-hamlets", number).ratings == ()  # type: ignore[union-attr]

    # A respondent saves some ratings, with evidence and links, and comes back to them.
    page = hv.get(f"{WS}/rounds/{number}/rate")
    assert page.status_code == 200
    saved = hv.post(f"{WS}/rounds/{number}/rate", follow_redirects=False, data={
        "csrf_token": csrf(page.text), f"level-{first}": "developing",
        f"evidence-{first}": "Board minutes, March.",
        f"links-{first}": "https://example.org/minutes\nhttps://example.org/plan"})
    assert saved.status_code == 303
    again = hv.get(f"{WS}/rounds/{number}/rate").text
    assert 'value="developing" checked' in again and "Board minutes, March." in again
    hv.post(f"{WS}/rounds/{number}/rate", data={
        "csrf_token": csrf(again), f"level-{first}": "maturing",
        f"evidence-{first}": "Board minutes, June.", f"level-{second}": "emerging"})
    mine = _round(state, number).rated_by(HV)
    assert (mine[first].level, mine[first].evidence, mine[first].links) == (
        "maturing", "Board minutes, June.", ())
    assert mine[second].level == "emerging"

    # A rating outside the model, or a link that is not a web address: one sentence, and
    # nothing of the form is saved (the good rating beside it neither).
    for level, links, message in (
            ("excellent", "", f"'excellent' is not a level of the model for '{first}'"),
            ("embedded", "javascript:alert(1)", "'javascript:alert(1)' is not a web address")):
        answer = hv.post(f"{WS}/rounds/{number}/rate", data={
            "csrf_token": csrf(again), f"level-{second}": "embedded",
            f"level-{first}": level, f"links-{first}": links})
        assert answer.status_code == 400
        said = sentences(answer.text)
        assert len(said) == 1 and said[0].startswith(message), said
        assert _round(state, number).rated_by(HV) == mine
    vcs_page = vcs.get(f"{WS}/rounds/{number}/rate").text
    vcs.post(f"{WS}/rounds/{number}/rate", data={
        "csrf_token": csrf(vcs_page), f"level-{first}": "maturing",
        f"level-{second}": "developing"})

    # The round shows the spread of ratings per feature.
    assert _round(state, number).spread(first) == {
        "emerging": 0, "developing": 0, "maturing": 2, "embedded": 0}
    assert _round(state, number).spread(second) == {
        "emerging": 1, "developing": 1, "maturing": 0, "embedded": 0}

    # Only admins moderate and close.
    round_page = hv.get(f"{WS}/rounds/{number}").text
    assert "Save the moderated level" not in round_page and "Close the round" not in round_page
    for other in (hv, vcs, contributor):
        token = csrf(other.get(f"{WS}/rounds/{number}").text)
        assert other.post(f"{WS}/rounds/{number}/moderate", data={
            "csrf_token": token, "feature": first, f"level-{first}": "maturing",
            f"rationale-{first}": "Mine."}).status_code == 403
        assert other.post(f"{WS}/rounds/{number}/close",
                          data={"csrf_token": token}).status_code == 403
    assert _round(state, number).moderated == ()

    admin_page = admin.get(f"{WS}/rounds/{number}").text
    token = csrf(admin_page)
    no_reason = admin.post(f"{WS}/rounds/{number}/moderate", data={
        "csrf_token": token, "feature": first, f"level-{first}": "maturing"})
    assert no_reason.status_code == 400
    assert sentences(no_reason.text) == ["Enter why the round settles on this level."]
    outside = admin.post(f"{WS}/rounds/{number}/moderate", data={
        "csrf_token": token, "feature": first, f"level-{first}": "excellent",
        f"rationale-{first}": "Because."})
    assert outside.status_code == 400 and _round(state, number).moderated == ()
    moderated = admin.post(f"{WS}/rounds/{number}/moderate", follow_redirects=False, data={
        "csrf_token": token, "feature": first, f"level-{first}": "maturing",
        f"rationale-{first}": "Both partners placed it at maturing."})
    assert moderated.status_code == 303
    done = _round(state, number).moderation(first)
    assert done is not None and (done.level, done.moderator) == ("maturing", ADMIN)

    # Closing needs every feature moderated.
    early = admin.post(f"{WS}/rounds/{number}/close", data={"csrf_token": token})
    assert early.status_code == 400
    assert sentences(early.text)[0].startswith(
        f"Moderate every feature before closing round {number}: {len(features) - 1} not yet")
    assert not _round(state, number).closed
    for feature in features[1:]:
        admin.post(f"{WS}/rounds/{number}/moderate", data={
            "csrf_token": token, "feature": feature, f"level-{feature}": "developing",
            f"rationale-{feature}": "Agreed at the board."})
    closed = admin.post(f"{WS}/rounds/{number}/close", follow_redirects=False,
                        data={"csrf_token": token})
    assert closed.status_code == 303
    final = _round(state, number)
    assert final.closed and final.closed_by == ADMIN

    # A closed round is read-only: a respondent's rating and an admin's moderation are each
    # refused in one sentence, and nothing changes.
    refused = hv.post(f"{WS}/rounds/{number}/rate", data={
        "csrf_token": csrf(again), f"level-{first}": "embedded"})
    assert refused.status_code == 400
    assert sentences(refused.text) == [
        f"Round {number} ({period}) is closed, so nothing in it can change."]
    refused = admin.post(f"{WS}/rounds/{number}/moderate", data={
        "csrf_token": token, "feature": first, f"level-{first}": "embedded",
        f"rationale-{first}": "Later."})
    assert refused.status_code == 400
    assert _round(state, number) == final
    shown = hv.get(f"{WS}/rounds/{number}").text
    assert "Rate this round" not in shown and "nothing in it can change" in shown

    # Every change was audited, by whom.
    events = [(e.action, e.actor) for e in state.events("tower-hamlets", limit=500)
              if e.target.startswith(f"round-{number}")]
    assert ("round.open", ADMIN) in events and ("round.close", ADMIN) in events
    assert ("round.rate", HV) in events and ("round.rate", VCS) in events
    assert ("round.moderate", ADMIN) in events

    # The closed round counts in the system conditions: on the page, in the exports and in
    # the API, for every reader.
    conditions = viewer.get(f"{WS}/conditions").text
    assert f">{period}</th>" in conditions
    rows = list(csv.DictReader(io.StringIO(
        viewer.get(f"{WS}/conditions/download.csv").content.decode("utf-8-sig"))))
    mine_rows = [r for r in rows if r["period"] == period]
    assert {r["feature"]: r["moderated_level"] for r in mine_rows}[first] == "Maturing"
    assert {r["feature"]: r["rationale"] for r in mine_rows}[first] == (
        "Both partners placed it at maturing.")
    book = load_workbook(io.BytesIO(viewer.get(f"{WS}/conditions/download.xlsx").content))
    sheet = book.active
    assert sheet is not None
    assert [c.value for c in next(sheet.iter_rows(max_row=1))][:3] == [
        "condition", "condition_name", "feature"]
    assert sheet.max_row == len(rows) + 1
    api = viewer.get(f"/api/v1/workspaces/tower-hamlets/rounds/{number}").json()
    assert api["period"] == period and api["closed_by"] == ADMIN
    view = viewer.get("/api/v1/workspaces/tower-hamlets/conditions").json()
    assert [r[1] for r in view["rounds"]][-1] == period


def test_the_conditions_show_the_seeded_rounds_movement(app: FastAPI, client: Client) -> None:
    """The two closed rounds the conftest seeds (state/demo.py): each feature's movement
    between them, and each condition's (its least mature feature's), as the view the page,
    the exports and the API share works them out, against the moderations themselves."""
    state: State = app.state.site.state
    closed = [r for r in state.rounds("tower-hamlets") if r.closed][:2]
    assert [r.period for r in closed] == ["2023/24", "2024/25"]
    levels = ["emerging", "developing", "maturing", "embedded"]

    def rank(r: Round, feature: str) -> int:
        found = r.moderation(feature)
        assert found is not None
        return levels.index(found.level)

    moved = {f.id: rank(closed[1], f.id) - rank(closed[0], f.id) for f in closed[0].features}
    assert any(m > 0 for m in moved.values()) and any(m < 0 for m in moved.values())
    model = app.state.site.workspaces["tower-hamlets"].project.maturity
    view = conditions(model, closed)
    assert {f.feature: f.movement for c in view.conditions for f in c.features} == moved
    for c in view.conditions:
        ids = [f.id for f in closed[0].features if f.condition == c.id]
        assert ids
        least = [min(rank(r, i) for i in ids) for r in closed]
        assert (c.level, c.movement) == (levels[least[1]], least[1] - least[0]), c.id
    viewer = client("viewer@example.org")
    page = viewer.get(f"{WS}/conditions").text
    assert ">2023/24</th>" in page and ">2024/25</th>" in page
    assert 'id="system-conditions"' in viewer.get(WS).text


def test_a_spreadsheet_formula_in_a_rationale_is_neutralised(
        app: FastAPI, state: State, client: Client) -> None:
    """A rationale that a spreadsheet would run is written as text in both exports."""
    admin = state.account_of(ADMIN)
    assert admin is not None
    before = len(state.rounds("tower-hamlets"))
    year = 2040 + before
    period = f"{year}/{(year + 1) % 100:02d}"
    features = app.state.site.workspaces["tower-hamlets"].project.round_features()
    made = state.open_round(admin, "tower-hamlets", period, features, [(HV, "health-visiting")],
                            {"health-visiting"})
    for f in features:
        state.moderate(admin, "tower-hamlets", made.number, f.id, f.levels[0],
                       '=HYPERLINK("https://example.org","x")')
    state.close_round(admin, "tower-hamlets", made.number)
    signed_in = client("viewer@example.org")
    text = signed_in.get(f"{WS}/conditions/download.csv").content.decode("utf-8-sig")
    assert "\"'=HYPERLINK(" in text and '"=HYPERLINK(' not in text
    book = load_workbook(io.BytesIO(signed_in.get(f"{WS}/conditions/download.xlsx").content))
    sheet = book.active
    assert sheet is not None
    values = [c.value for row in sheet.iter_rows() for c in row]
    assert "'=HYPERLINK(\"https://example.org\",\"x\")" in values
    assert not any(isinstance(v, str) and v.startswith("=") for v in values)


def _round(state: State, number: int) -> Round:
    found = state.round("tower-hamlets", number)
    assert found is not None
    return found
