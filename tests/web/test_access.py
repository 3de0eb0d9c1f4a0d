"""Access: nothing answers without sign-in unless it is public; a viewer cannot write; one
workspace's users cannot read another's; CSRF on every form; sign-in is rate-limited; cookies
and headers are the secure ones; every change is audited."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

from common_outcomes.state import Role, SignInRefused
from common_outcomes.state.limits import SignInLimits
from common_outcomes.web import api, conditions, pages, reviews, stories
from common_outcomes.web.deps import API, PUBLIC

Client = Callable[[str | None], TestClient]
Csrf = Callable[[str], str]


def concrete(path: str) -> str:
    """A route's path with every parameter filled in with a real value."""
    values = {"workspace": "tower-hamlets", "priority": "first-1001-days",
              "indicator": "smoking-at-delivery", "locality": "north-west", "fmt": "csv",
              "kind": "priorities", "subject": "first-1001-days", "number": "1"}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def every_route(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) for every route of the app; fails on a kind of route it cannot see into,
    so that a new router cannot slip past the test."""
    routers = {id(pages.router): "", id(stories.router): "", id(conditions.router): "",
               id(reviews.router): "",
               id(api.router): API}
    found: list[tuple[str, str]] = []
    for route in app.routes:
        if isinstance(route, Mount):
            assert route.path in PUBLIC, route.path  # the assets
        elif isinstance(route, Route):
            found.extend((m, route.path) for m in route.methods or ())
        else:
            router = getattr(route, "original_router", None)
            assert id(router) in routers, route
            found.extend((m, routers[id(router)] + r.path) for r in router.routes
                         if isinstance(r, APIRoute) for m in r.methods)
    return found


def test_no_route_answers_without_sign_in_unless_it_is_public(app: FastAPI,
                                                              client: Client) -> None:
    anonymous = client(None)
    routes = every_route(app)
    assert len(routes) >= 14
    for method, route in routes:
        path = concrete(route)
        response = anonymous.request(method, path, follow_redirects=False)
        if route in PUBLIC:
            # It answers (a form refuses only for want of its CSRF token).
            assert response.status_code == (403 if method == "POST" else 200), (method, path)
        elif path.startswith("/api/"):
            assert response.status_code == 401, (method, path)
        elif method == "POST":
            # A form needs a session and a CSRF token: refused either way.
            assert response.status_code in {303, 403}, (method, path)
        else:
            assert response.status_code == 303, (method, path)
            assert response.headers["location"].startswith("/sign-in?next=")


def test_a_viewer_cannot_write(app: FastAPI, client: Client, csrf: Csrf, indicator: str) -> None:
    INDICATOR = f"/w/tower-hamlets/indicators/{indicator}"
    viewer = client("viewer@example.org")
    page = viewer.get(f"{INDICATOR}/story").text
    assert "Save the story" not in page and "Add the action" not in page
    before = app.state.site.state.narratives("tower-hamlets", "indicator", indicator)
    refused = viewer.post(f"{INDICATOR}/narrative", data={
        "period": "2023/24", "text": "A viewer's story", "csrf_token": csrf(page)})
    assert refused.status_code == 403
    after = app.state.site.state.narratives("tower-hamlets", "indicator", indicator)
    assert after == before


def test_a_contributor_writes_a_versioned_audited_story(app: FastAPI, client: Client,
                                                        csrf: Csrf, indicator: str) -> None:
    INDICATOR = f"/w/tower-hamlets/indicators/{indicator}"
    contributor = client("contributor@example.org")
    page = contributor.get(f"{INDICATOR}/story").text
    period = re.findall(r'<option value="([^"]+)"', page.split('id="period"')[1])[1]
    for words in ("Bookings rose after the hub sessions.", "Revised after the board."):
        saved = contributor.post(f"{INDICATOR}/narrative", follow_redirects=False, data={
            "period": period, "text": words, "csrf_token": csrf(page)})
        assert saved.status_code == 303
    stories = app.state.site.state.narratives("tower-hamlets", "indicator", indicator)
    mine = [s for s in stories if s.period == period and s.author == "contributor@example.org"]
    assert [s.text for s in mine[:2]] == ["Revised after the board.",
                                          "Bookings rose after the hub sessions."]
    assert mine[0].version == mine[1].version + 1
    assert "Revised after the board." in contributor.get(INDICATOR).text
    events = app.state.site.state.events("tower-hamlets")
    assert any(e.action == "narrative.save" and e.actor == "contributor@example.org"
               and e.target == f"indicator/{indicator}/{period}" for e in events)


def test_only_analysts_and_admins_see_the_data_page(client: Client) -> None:
    for email, status in (("viewer@example.org", 403), ("contributor@example.org", 403),
                          ("analyst@example.org", 200)):
        signed_in = client(email)
        assert signed_in.get("/w/tower-hamlets/data").status_code == status, email
        has_link = 'href="/w/tower-hamlets/data"' in signed_in.get("/w/tower-hamlets").text
        assert has_link == (status == 200), email


def test_one_workspaces_user_cannot_read_anothers(client: Client, indicator: str) -> None:
    INDICATOR = f"/w/tower-hamlets/indicators/{indicator}"
    other = client("other@example.org")
    for path in ("/w/tower-hamlets", INDICATOR, f"{INDICATOR}/download.csv",
                 "/w/tower-hamlets/data", "/api/v1/workspaces/tower-hamlets",
                 "/api/v1/workspaces/tower-hamlets/results"):
        assert other.get(path, follow_redirects=False).status_code == 404, path
    listed = other.get("/api/v1/workspaces").json()
    assert [w["id"] for w in listed] == ["elsewhere"]
    assert other.get("/w/elsewhere").status_code == 200


def test_a_form_without_its_csrf_token_is_refused(client: Client, csrf: Csrf,
                                                  indicator: str) -> None:
    INDICATOR = f"/w/tower-hamlets/indicators/{indicator}"
    contributor = client("contributor@example.org")
    page = contributor.get(INDICATOR).text
    data = {"period": "2023/24", "text": "A forged story"}
    assert contributor.post(f"{INDICATOR}/narrative", data=data).status_code == 403
    forged = {**data, "csrf_token": "0" * 64}
    assert contributor.post(f"{INDICATOR}/narrative", data=forged).status_code == 403
    # A token from another browser does not fit this browser's cookie.
    stranger = client(None)
    theirs = csrf(stranger.get("/sign-in").text)
    assert theirs != csrf(page)
    assert contributor.post(f"{INDICATOR}/narrative",
                            data={**data, "csrf_token": theirs}).status_code == 403


def test_sign_in_is_rate_limited_per_email(app: FastAPI, client: Client, csrf: Csrf) -> None:
    state = app.state.site.state
    state.add_user("target@example.org", "Target", "the right passphrase", "tower-hamlets",
                   Role.VIEWER, "tests")
    browser = client(None)
    for _ in range(SignInLimits().free_per_account):
        wrong = browser.post("/sign-in", data={
            "email": "target@example.org", "password": "not the passphrase",
            "csrf_token": csrf(browser.get("/sign-in").text)})
        assert wrong.status_code == 400
        assert "Enter a correct email address and password" in wrong.text
    right = browser.post("/sign-in", data={
        "email": "target@example.org", "password": "the right passphrase",
        "csrf_token": csrf(browser.get("/sign-in").text)}, follow_redirects=False)
    assert right.status_code == 429
    assert "too many attempts" in right.text
    try:
        state.sign_in("target@example.org", "the right passphrase", "another client")
        raise AssertionError("a throttled email signed in from another client")
    except SignInRefused:
        pass
    actions = [e.action for e in state.events() if e.target == "target@example.org"]
    assert actions.count("sign-in.failed") == SignInLimits().free_per_account
    assert "sign-in.throttled" in actions and "user.add" in actions


def test_cookies_and_headers_are_the_secure_ones(client: Client, csrf: Csrf) -> None:
    browser = client(None)
    page = browser.get("/sign-in")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert "max-age" in page.headers["strict-transport-security"]
    signed = browser.post("/sign-in", follow_redirects=False, data={
        "email": "viewer@example.org", "password": "a long synthetic passphrase",
        "csrf_token": csrf(page.text)})
    cookies = [c for c in signed.headers.get_list("set-cookie") if "session" in c]
    assert len(cookies) == 1
    cookie = cookies[0].lower()
    assert cookie.startswith("__host-") and "secure" in cookie and "httponly" in cookie
    assert "samesite=lax" in cookie and "path=/" in cookie and "domain" not in cookie


def test_signing_out_ends_the_session(client: Client, csrf: Csrf) -> None:
    viewer = client("viewer@example.org")
    session = viewer.cookies.get("__Host-outcomes-session")
    page = viewer.get("/w/tower-hamlets").text
    done = viewer.post("/sign-out", data={"csrf_token": csrf(page)}, follow_redirects=False)
    assert done.status_code == 303
    # Even a copy of the old cookie no longer works.
    replay = client(None)
    replay.cookies.set("__Host-outcomes-session", str(session))
    assert replay.get("/api/v1/workspaces").status_code == 401


def test_after_sign_in_only_a_local_path_is_followed(client: Client, csrf: Csrf) -> None:
    browser = client(None)
    for target, lands in (("/w/tower-hamlets/data", "/w/tower-hamlets/data"),
                          ("https://evil.example/", "/"), ("//evil.example/", "/")):
        page = browser.get("/sign-in").text
        signed = browser.post("/sign-in", follow_redirects=False, data={
            "email": "viewer@example.org", "password": "a long synthetic passphrase",
            "next": target, "csrf_token": csrf(page)})
        assert signed.headers["location"] == lands
