"""The story behind the curve for priorities and indicators: narratives with contributing
factors and partners, and actions with owners and due dates, written by contributors in the
pages and through the API, each change a new version and an audit event; viewers read only."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient

from common_outcomes.web.site import Served

Client = Callable[[str | None], TestClient]
Csrf = Callable[[str], str]
PRIORITY = "/w/tower-hamlets/priorities/first-1001-days"
API = "/api/v1/workspaces/tower-hamlets"


def options(html: str, select_id: str) -> list[str]:
    return re.findall(r'<option value="([^"]+)"', html.split(f'id="{select_id}"')[1]
                      .split("</select>")[0])


def test_a_contributor_writes_a_priority_story_and_its_actions(
        app: FastAPI, client: Client, csrf: Csrf, example: Served) -> None:
    contributor = client("contributor@example.org")
    page = contributor.get(f"{PRIORITY}/story").text
    period = options(page, "period")[0]
    partner = sorted(example.partners)[1]
    saved = contributor.post(f"{PRIORITY}/narrative", follow_redirects=False, data={
        "period": period, "text": "Fewer late bookings\nin the south east.",
        "factors": "A new midwife in the hub.", "partners": [partner],
        "csrf_token": csrf(page)})
    assert saved.status_code == 303
    story = contributor.get(f"{PRIORITY}/story").text
    assert "Fewer late bookings" in story and "A new midwife in the hub." in story
    assert example.partners[partner] in story
    # The priority page shows the newest story and leads to the rest.
    assert "Fewer late bookings" in contributor.get(PRIORITY).text

    added = contributor.post(f"{PRIORITY}/actions", follow_redirects=False, data={
        "period": period, "description": "Book-in clinic on Saturdays", "owner": "Hub lead",
        "partner": partner, "due-day": "30", "due-month": "6", "due-year": "2026",
        "csrf_token": csrf(page)})
    assert added.status_code == 303
    number = int(added.headers["location"].rsplit("#action-", 1)[1])
    action_page = contributor.get(f"/w/tower-hamlets/actions/{number}").text
    assert "Book-in clinic on Saturdays" in action_page and "30 June 2026" in action_page
    changed = contributor.post(f"/w/tower-hamlets/actions/{number}", follow_redirects=False,
                               data={"period": period, "description": "Book-in clinic on "
                                     "Saturdays", "owner": "Hub lead", "partner": partner,
                                     "due-day": "31", "due-month": "7", "due-year": "2026",
                                     "status": "done", "csrf_token": csrf(page)})
    assert changed.status_code == 303
    versions = app.state.site.state.action("tower-hamlets", number)
    assert [(v.version, v.fields.status, v.fields.due.isoformat()) for v in versions] == [
        (2, "done", "2026-07-31"), (1, "open", "2026-06-30")]
    assert "Book-in clinic on Saturdays" in contributor.get(f"{PRIORITY}/story").text
    events = [(e.action, e.actor, e.target) for e in app.state.site.state.events("tower-hamlets")]
    for action, target in (("narrative.save", f"priority/first-1001-days/{period}"),
                           ("action.add", f"priority/first-1001-days/action-{number}"),
                           ("action.change", f"priority/first-1001-days/action-{number}")):
        assert (action, "contributor@example.org", target) in events


def test_a_viewer_reads_the_story_but_cannot_write_it(app: FastAPI, client: Client,
                                                      csrf: Csrf) -> None:
    viewer = client("viewer@example.org")
    page = viewer.get(f"{PRIORITY}/story").text
    assert "Run antenatal sessions in every hub" in page  # seeded
    assert "Add the action" not in page and "Save the story" not in page
    before = app.state.site.state.actions("tower-hamlets")
    for path in (f"{PRIORITY}/actions", "/w/tower-hamlets/actions/1"):
        refused = viewer.post(path, data={"period": "x", "description": "y", "owner": "z",
                                          "csrf_token": csrf(page)})
        assert refused.status_code == 403, path
    assert app.state.site.state.actions("tower-hamlets") == before
    assert "Save the change" not in viewer.get("/w/tower-hamlets/actions/1").text


def test_narratives_and_actions_through_the_api(app: FastAPI, client: Client,
                                                example: Served) -> None:
    contributor, viewer = client("contributor@example.org"), client("viewer@example.org")
    period = options(contributor.get(f"{PRIORITY}/story").text, "period")[0]
    story = {"subject_kind": "priority", "subject": "first-1001-days", "period": period,
             "text": "Told through the API.", "partners": [sorted(example.partners)[0]]}
    made = contributor.post(f"{API}/narratives", json=story)
    assert made.status_code == 201, made.text
    again = contributor.post(f"{API}/narratives", json={**story, "text": "Revised."})
    assert again.json()["version"] == made.json()["version"] + 1
    listed = viewer.get(f"{API}/narratives", params={
        "subject_kind": "priority", "subject": "first-1001-days", "period": period}).json()
    assert [n["text"] for n in listed[:2]] == ["Revised.", "Told through the API."]
    assert listed[0]["author"] == "contributor@example.org"

    action = {"subject_kind": "priority", "subject": "first-1001-days", "period": period,
              "description": "Text reminders before booking", "owner": "Midwifery manager",
              "due": "2026-09-30"}
    added = contributor.post(f"{API}/actions", json=action)
    assert added.status_code == 201, added.text
    number = added.json()["number"]
    changed = contributor.put(f"{API}/actions/{number}", json={
        **{k: v for k, v in action.items() if not k.startswith("subject")}, "status": "done"})
    assert changed.status_code == 200 and changed.json()["version"] == 2
    history = viewer.get(f"{API}/actions/{number}").json()
    assert [(a["version"], a["fields"]["status"]) for a in history] == [(2, "done"),
                                                                         (1, "open")]
    current = viewer.get(f"{API}/actions", params={"subject": "first-1001-days"}).json()
    assert [a["fields"]["status"] for a in current if a["number"] == number] == ["done"]

    # Refusals: a viewer, an unknown period, a body that is not JSON, another workspace.
    assert viewer.post(f"{API}/narratives", json=story).status_code == 403
    wrong = contributor.post(f"{API}/narratives", json={**story, "period": "1999/00"})
    assert wrong.status_code == 400 and "period" in wrong.json()["detail"]
    form = contributor.post(f"{API}/narratives", content=str(story),
                            headers={"Content-Type": "text/plain"})
    assert form.status_code == 415
    assert client("other@example.org").get(f"{API}/actions").status_code == 404
    assert viewer.get(f"{API}/actions/999999").status_code == 404
