"""The five findings of the security probe, each tested as the probe found it: sign-in
attempts made at once against a real server in several processes, a body far over the
limit sent to a real server (declared and chunked), malformed cookies and headers (and a
property test over them), error pages' headers, and CSRF tokens from another session."""

from __future__ import annotations

import http.client
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from common_outcomes.state import Role, SignInRefused, State
from common_outcomes.state.limits import SignInLimits
from common_outcomes.web.middleware import MAX_BODY
from common_outcomes.web.security import (
    CSRF_COOKIE,
    HEADERS,
    SEEN_COOKIE,
    SESSION_COOKIE,
)

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long synthetic passphrase"
Csrf = Callable[[str], str]


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's strategy without data: enough to serve, quick to copy."""
    ws = tmp_path_factory.mktemp("bare") / "tower-hamlets"
    shutil.copytree(ROOT / "examples" / "tower-hamlets", ws, ignore=shutil.ignore_patterns(
        "incoming", "synth-truth", ".outcomes", ".synth-staging-*"))
    return ws


def _form(base: str) -> tuple[str, str]:
    """A fresh browser's CSRF cookie and the sign-in form's token (cookies carried by hand:
    plain http keeps no Secure cookie)."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("GET", "/sign-in")
    answer = connection.getresponse()
    cookie = answer.getheader("set-cookie", "").split(";")[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', answer.read().decode())
    connection.close()
    assert cookie.startswith(CSRF_COOKIE) and token is not None
    return cookie, token.group(1)


def _post_sign_in(base: str, cookie: str, token: str, email: str, password: str) -> int:
    from urllib.parse import urlencode

    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    connection.request("POST", "/sign-in", body=urlencode({
        "email": email, "password": password, "csrf_token": token, "next": "/"}),
        headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    status = connection.getresponse().status
    connection.close()
    return status


# Finding 1: sign-in attempts made at once were all checked (21 of 30 before the lock-out).

def test_attempts_made_at_once_are_checked_no_more_than_the_limit(
        bare: Path, database: str, serve: Callable[..., object]) -> None:
    email = f"target-{time.monotonic_ns()}@example.org"
    state = State.open(database)
    state.add_user(email, "Target", PASSWORD, "tower-hamlets", Role.VIEWER, "tests")
    with serve([bare], database, workers=2) as (base, _):  # type: ignore[attr-defined]
        forms = [_form(base) for _ in range(30)]
        start = threading.Barrier(len(forms))
        statuses: list[int] = []

        def attempt(cookie: str, token: str) -> None:
            start.wait()
            statuses.append(_post_sign_in(base, cookie, token, email, "a wrong passphrase"))

        threads = [threading.Thread(target=attempt, args=form) for form in forms]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    try:
        actions = [e.action for e in state.events(limit=1000) if e.target == email]
    finally:
        state.close()
    failed = statuses.count(400)
    assert failed == actions.count("sign-in.failed")  # passwords checked
    assert 1 <= failed <= SignInLimits().free_per_account
    assert statuses.count(429) == actions.count("sign-in.throttled") == 30 - failed


# Finding 5b: anyone could hold a known user out by failing five sign-ins with their email.

def test_someone_failing_with_a_users_email_cannot_hold_them_out(database: str) -> None:
    # The attacker's own back-off starts at a minute; a client that has not failed for the
    # account waits a second at most (short, so that the test is).
    short = SignInLimits(first_wait=timedelta(minutes=1), stranger_wait=timedelta(seconds=1))
    state = State.open(database, short)
    email = f"owner-{time.monotonic_ns()}@example.org"
    state.add_user(email, "Owner", PASSWORD, "tower-hamlets", Role.VIEWER, "tests")
    try:
        refused = []
        for _ in range(12):  # an attacker at one address, trying again and again
            try:
                state.sign_in(email, "a guess at the passphrase", "198.51.100.7")
            except SignInRefused as e:
                refused.append(e.retry_after is not None)
        assert refused.count(False) == short.free_per_account  # checked, and wrong
        assert refused.count(True) == 12 - short.free_per_account  # throttled unchecked
        # The owner, at their own address, waits the short back-off at most...
        time.sleep(short.stranger_wait.total_seconds() + 0.2)
        assert state.account(state.sign_in(email, PASSWORD, "203.0.113.9")) is not None
        # ...while the attacker's address waits its own back-off, even with the passphrase.
        with pytest.raises(SignInRefused, match="too many attempts"):
            state.sign_in(email, PASSWORD, "198.51.100.7")
    finally:
        state.close()


# Finding 2: an anonymous 200 MB body was read whole (server memory 595 -> 1,175 MB).

def _memory_kb(pid: int, field: str) -> int:
    found = re.search(rf"^{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    assert found
    return int(found.group(1))


def _send_large(base: str, chunked: bool, size: int = 200_000_000) -> bytes:
    """POST `size` bytes of JSON to the narratives API without signing in; the answer's
    status line and headers (whatever the server said before closing)."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=20)
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    sock.sendall(f"POST /api/v1/workspaces/tower-hamlets/narratives HTTP/1.1\r\nHost: {host}"
                 f"\r\nContent-Type: application/json\r\n{length}\r\n\r\n".encode())
    answer = bytearray()

    def read() -> None:
        try:
            while b"\r\n\r\n" not in answer and (data := sock.recv(65536)):
                answer.extend(data)
        except OSError:
            pass

    reader = threading.Thread(target=read)
    reader.start()
    piece = b"[" + b"1," * 500_000
    sent = 0
    try:
        while sent < size and reader.is_alive():
            part = piece[:size - sent]
            sock.sendall(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
            sent += len(part)
    except OSError:
        pass  # the server stopped reading: what is wanted
    reader.join(30)
    sock.close()
    return bytes(answer)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_refused_before_it_is_read(
        bare: Path, tmp_path: Path, serve: Callable[..., object], chunked: bool) -> None:
    database = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    with serve([bare], database) as (base, server):  # type: ignore[attr-defined]
        before = _memory_kb(server.pid, "VmRSS")
        started = time.monotonic()
        answer = _send_large(base, chunked)
        took = time.monotonic() - started
        peak = _memory_kb(server.pid, "VmHWM")
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    head = answer.decode("latin-1").lower()
    assert "content-security-policy:" in head and "x-frame-options: deny" in head
    # Nowhere near the 200 MB sent: at most the limit and the server's buffers.
    assert (peak - before) * 1024 < 10 * MAX_BODY, (before, peak)
    assert took < 20


def test_the_limit_is_a_setting(bare: Path, tmp_path: Path) -> None:
    from common_outcomes.web.app import create_app

    app = create_app([bare], f"sqlite:///{tmp_path / 'app.sqlite3'}", max_body=100)
    with TestClient(app, base_url="https://testserver") as browser:
        small = browser.post("/sign-in", content=b"email=a", headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        assert small.status_code == 403  # read, and refused for its missing CSRF token
        large = browser.post("/sign-in", content=b"email=" + b"a" * 200, headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        assert large.status_code == 413 and "too large" in large.text
        streamed = browser.post("/api/v1/workspaces/tower-hamlets/narratives",
                                content=iter([b"[" + b"1," * 100] * 3))  # no Content-Length
        assert streamed.status_code == 413
        assert streamed.json() == {"detail": "The request is too large for this service."}
        assert all(streamed.headers[k] == v for k, v in HEADERS.items())


# Finding 4: a superscript digit in __Host-outcomes-seen gave a 500 on every signed-in route,
# and the 500 page had none of the security headers.

def _raw(app: FastAPI, method: str, path: str, headers: list[tuple[bytes, bytes]],
         body: bytes = b"") -> tuple[int, dict[str, str]]:
    """One request straight to the ASGI app with header bytes as a server passes them on
    (TestClient re-encodes a header's Latin-1 as UTF-8, so "\xb2" would never arrive as "²");
    an exception escaping the app is raised here."""
    import asyncio

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "https", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
             "server": ("testserver", 443), "headers": [(b"host", b"testserver"), *headers]}
    sent: list[dict[str, object]] = []
    bodies = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, object]:
        return bodies.pop() if bodies else {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    raw = start["headers"]
    assert isinstance(raw, list) and isinstance(start["status"], int)
    return start["status"], {k.decode().lower(): v.decode("latin-1") for k, v in raw}


def _has_headers(headers: dict[str, str]) -> bool:
    return all(headers.get(k.lower()) == v for k, v in HEADERS.items())


def _cookies(**values: str) -> dict[str, bytes]:
    # Latin-1 where it can be (as Starlette reads a header: "²" is one byte), else UTF-8.
    text = "; ".join(f"{k}={v}" for k, v in values.items())
    try:
        return {"Cookie": text.encode("latin-1")}
    except UnicodeEncodeError:
        return {"Cookie": text.encode()}


def test_a_malformed_version_cookie_is_ignored(app: FastAPI) -> None:
    token = app.state.site.state.sign_in("viewer@example.org", PASSWORD, "tests")
    for seen in ("²", "1²", "¹²³", "9" * 40, "-1", " 1", "1e9", "0x10"):
        status, headers = _raw(app, "GET", "/w/tower-hamlets", [(b"cookie", (
            f"{SESSION_COOKIE}={token}; {SEEN_COOKIE}={seen}").encode("latin-1"))])
        assert status == 200, (seen, status)
        assert _has_headers(headers)


def test_a_server_error_carries_the_security_headers(app: FastAPI,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    token = app.state.site.state.sign_in("viewer@example.org", PASSWORD, "tests")
    served = app.state.site.workspaces["tower-hamlets"]

    def broken() -> object:
        raise RuntimeError("a fault inside the app")

    monkeypatch.setattr(served, "versions", broken)  # every workspace page asks for them
    browser = TestClient(app, base_url="https://testserver", raise_server_exceptions=False)
    for path in ("/w/tower-hamlets", "/api/v1/workspaces/tower-hamlets/narratives"):
        answer = browser.get(path, headers=_cookies(**{SESSION_COOKIE: token}))
        assert answer.status_code == 500, path
        assert all(answer.headers[k] == v for k, v in HEADERS.items()), path
        assert answer.headers["cache-control"] == "no-store"
        assert "a fault inside the app" not in answer.text  # no detail given away
    for method, path, status in (("GET", "/w/tower-hamlets/nothing", 404),
                                 ("DELETE", "/sign-in", 405)):
        answer = browser.request(method, path, headers=_cookies(**{SESSION_COOKIE: token}))
        assert answer.status_code == status, path
        assert all(answer.headers[k] == v for k, v in HEADERS.items()), path


def _text(alphabet: st.SearchStrategy[str], most: int) -> st.SearchStrategy[str]:
    return st.text(alphabet, max_size=most)


# Cookie values as a browser might send them: printable Latin-1 without ";", including
# superscripts, other scripts' digits (only their Latin-1 ones travel in a header), very long.
LATIN = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters=";\x7f")
VALUES = st.one_of(_text(LATIN, 30), _text(st.sampled_from("0123456789²³¹¼"), 30),
                   _text(LATIN, 5000), st.text("abcdef0123456789.-_=", max_size=300))


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(session=st.one_of(st.none(), VALUES), seen=st.one_of(st.none(), VALUES),
       csrf=st.one_of(st.none(), VALUES), oidc=st.one_of(st.none(), VALUES),
       content_type=st.one_of(st.none(), _text(LATIN, 300)),
       sent_token=_text(LATIN, 100),
       route=st.sampled_from([("GET", "/"), ("GET", "/w/tower-hamlets"),
                              ("GET", "/sign-in"), ("POST", "/sign-in"),
                              ("POST", "/sign-out"), ("GET", "/sign-in/oidc/callback"),
                              ("GET", "/api/v1/workspaces"),
                              ("POST", "/api/v1/workspaces/tower-hamlets/narratives")]))
@example(session=None, seen="²", csrf=None, oidc=None, content_type=None, sent_token="",
         route=("GET", "/w/tower-hamlets"))  # the probe's finding
def test_no_cookie_or_header_makes_a_server_error(
        app: FastAPI, session: str | None, seen: str | None, csrf: str | None,
        oidc: str | None, content_type: str | None, sent_token: str,
        route: tuple[str, str]) -> None:
    values = {SESSION_COOKIE: session, SEEN_COOKIE: seen, CSRF_COOKIE: csrf,
              "__Host-outcomes-oidc": oidc}
    cookie = "; ".join(f"{k}={v}" for k, v in values.items() if v is not None)
    headers = [(b"cookie", cookie.encode("latin-1"))]
    if content_type is not None:
        headers.append((b"content-type", content_type.encode("latin-1")))
    method, path = route
    body = f"csrf_token={sent_token}&email=a@example.org&password=x".encode()
    status, answered = _raw(app, method, path, headers, body if method == "POST" else b"")
    assert status < 500, status
    assert _has_headers(answered)


# Finding 5a: a CSRF token was not bound to the session.

def test_a_csrf_token_from_another_session_is_refused(app: FastAPI, csrf: Csrf,
                                                      indicator: str) -> None:
    state = app.state.site.state
    mine, theirs = (state.sign_in("contributor@example.org", PASSWORD, "tests")
                    for _ in range(2))
    # Both sessions' browsers hold the same CSRF cookie (one planted through a sibling site,
    # say): the other session's token still does not fit this one.
    seed = "s" * 43
    page = f"/w/tower-hamlets/indicators/{indicator}"
    browser = TestClient(app, base_url="https://testserver")

    def token_of(session: str) -> str:
        return csrf(browser.get(page, headers=_cookies(**{SESSION_COOKIE: session,
                                                          CSRF_COOKIE: seed})).text)

    data = {"period": "2023/24", "text": "A story sent with another session's token"}
    as_me = _cookies(**{SESSION_COOKIE: mine, CSRF_COOKIE: seed})
    assert browser.post(f"{page}/narrative", data={**data, "csrf_token": token_of(theirs)},
                        headers=as_me, follow_redirects=False).status_code == 403
    assert browser.post(f"{page}/narrative", data={**data, "csrf_token": token_of(mine)},
                        headers=as_me, follow_redirects=False).status_code == 303
