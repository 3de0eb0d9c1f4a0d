"""Pages are rendered once and kept (web/rendering.py `page`): each reader still gets their own
email and CSRF token, a reader with another role gets the page for that role, and a change to
what a page shows (a story saved, by anyone, in any worker) shows on the next page on SQLite
and as soon as PostgreSQL's notification arrives."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient

from common_outcomes.state import Role, State
from common_outcomes.web.rendering import CSRF_MARK, EMAIL_MARK

Client = Callable[[str | None], TestClient]
Csrf = Callable[[str], str]


def _story(priority: str) -> str:
    return f"/w/tower-hamlets/priorities/{priority}/story"


def test_each_reader_gets_their_own_email_and_csrf_token(app: FastAPI, client: Client,
                                                         csrf: Csrf) -> None:
    path = "/w/tower-hamlets"
    first, second = client("analyst@example.org"), client("viewer@example.org")
    state: State = app.state.site.state
    state.add_user("analyst2@example.org", "Second analyst", "a long synthetic passphrase",
                   "tower-hamlets", Role.ANALYST, "tests")
    third = client("analyst2@example.org")  # the same role as the first: the same kept page
    pages = {c: c.get(path).text for c in (first, second, third)}
    for reader, email in ((first, "analyst@example.org"), (second, "viewer@example.org"),
                          (third, "analyst2@example.org")):
        text = pages[reader]
        assert f"Signed in as {email}<" in text
        assert EMAIL_MARK not in text and CSRF_MARK not in text
        others = {"analyst@example.org", "viewer@example.org", "analyst2@example.org"} - {email}
        assert not any(f"as {o}<" in text for o in others)
        # The token is this browser's: signing out with it works only from this browser.
        assert csrf(text) != csrf(pages[first if reader is not first else third])
    signed_out = third.post("/sign-out", data={"csrf_token": csrf(pages[third])},
                            follow_redirects=False)
    assert signed_out.status_code == 303
    assert third.get(path, follow_redirects=False).status_code == 303  # to sign-in


def test_a_reader_with_another_role_gets_the_page_for_that_role(app: FastAPI,
                                                                client: Client) -> None:
    priority = app.state.site.workspaces["tower-hamlets"].map["priorities"][0]["id"]
    contributor, viewer = client("contributor@example.org"), client("viewer@example.org")
    for _ in range(2):  # the second time from the kept pages
        assert 'action="/w/tower-hamlets/priorities/' in contributor.get(_story(priority)).text
        assert 'action="/w/tower-hamlets/priorities/' not in viewer.get(_story(priority)).text
        assert 'href="/w/tower-hamlets/data"' in client("analyst@example.org").get(
            "/w/tower-hamlets").text
        assert 'href="/w/tower-hamlets/data"' not in viewer.get("/w/tower-hamlets").text


def test_a_story_saved_in_another_worker_shows_on_the_next_page(app: FastAPI, client: Client,
                                                              database: str) -> None:
    served = app.state.site.workspaces["tower-hamlets"]
    priority = served.map["priorities"][1]["id"]
    viewer = client("viewer@example.org")
    before = viewer.get(_story(priority)).text
    assert viewer.get(_story(priority)).text == before  # kept, and unchanged
    other = State.open(database)  # another worker process's state
    try:
        writer = other.account(other.sign_in("contributor@example.org",
                                             "a long synthetic passphrase", "tests"))
        assert writer is not None
        period = re.findall(r'<option value="([^"]+)"', client("contributor@example.org").get(
            _story(priority)).text.split('id="period"')[1])[1]
        other.save_narrative(writer, "tower-hamlets", "priority", priority, period,
                             "Written in another worker.")
    finally:
        other.close()
    # On PostgreSQL another process hears of the change when the notification arrives (well
    # under a second, docs/web.md), not by its next request: wait for it, within a bound that
    # a busy machine still meets. On SQLite the very next request reads the new version.
    _until_shown(lambda: viewer.get(_story(priority)).text, "Written in another worker.",
                 0.0 if database.startswith("sqlite") else 5.0)
    assert "Written in another worker." in viewer.get(
        f"/w/tower-hamlets/priorities/{priority}").text


def _until_shown(page: Callable[[], str], text: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while text not in page():
        assert time.monotonic() < deadline, f"{text!r} not shown within {seconds} s"
        time.sleep(0.05)
