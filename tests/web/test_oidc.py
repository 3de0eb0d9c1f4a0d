"""Sign-in with OpenID Connect against a real provider run here on loopback: discovery, JWKS,
an authorization endpoint that signs in a chosen person and a token endpoint that checks the
code, the client's secret and the PKCE verifier, and signs ID tokens with its RSA key
(joserfc). Then the ways a token or a flow can be wrong, each refused without a session."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import html5lib
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey

from common_outcomes.errors import UserError
from common_outcomes.state import Role, SignInRefused
from common_outcomes.web.app import create_app
from common_outcomes.web.oidc import OidcSettings
from common_outcomes.web.security import SESSION_COOKIE

CLIENT_ID, CLIENT_SECRET = "common-outcomes", "a client secret"
REDIRECT = "https://testserver/sign-in/oidc/callback"


@dataclass
class Provider:
    """The identity provider's own state: its key, the person who signs in next, the codes
    it has issued, and what it should get wrong (to test that the app notices)."""

    base: str = ""
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(
        2048, parameters={"kid": "provider-key", "use": "sig"}))
    person: dict[str, Any] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    wrong: dict[str, Any] = field(default_factory=dict)
    signer: RSAKey | None = None
    unsigned: bool = False

    def discovery(self) -> dict[str, Any]:
        return {"issuer": self.base, "authorization_endpoint": f"{self.base}/authorize",
                "token_endpoint": f"{self.base}/token", "jwks_uri": f"{self.base}/jwks",
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"]}

    def authorize(self, query: dict[str, str]) -> str:
        """Where the browser goes next: back to the client with a code, once the request is
        one this provider accepts."""
        assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
        assert query["redirect_uri"] == REDIRECT and query["code_challenge_method"] == "S256"
        assert "openid" in query["scope"].split()
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"challenge": query["code_challenge"], "nonce": query["nonce"],
                            "redirect_uri": query["redirect_uri"], **self.person}
        return f"{REDIRECT}?{urllib.parse.urlencode({'code': code, 'state': query['state']})}"

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = self.codes.pop(form.get("code", ""), None)  # a code is used once
        verifier = form.get("code_verifier", "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if (grant is None or form.get("grant_type") != "authorization_code"
                or form.get("client_id") != CLIENT_ID
                or form.get("client_secret") != CLIENT_SECRET
                or form.get("redirect_uri") != grant["redirect_uri"]
                or challenge.decode() != grant["challenge"]):
            return 400, {"error": "invalid_grant"}
        now = int(time.time())
        claims = {"iss": self.base, "aud": CLIENT_ID, "sub": grant["sub"], "iat": now,
                  "exp": now + 300, "nonce": grant["nonce"], "email": grant["email"],
                  "email_verified": True, "name": "Hub Lead", **self.wrong}
        return 200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                     "expires_in": 300, "id_token": self.sign(claims)}

    def sign(self, claims: dict[str, Any]) -> str:
        if self.unsigned:
            def part(data: dict[str, Any]) -> str:
                return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
            return f"{part({'alg': 'none'})}.{part(claims)}."
        key = self.signer or self.key
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def serve(provider: Provider) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: dict[str, Any] | None = None,
                  location: str | None = None) -> None:
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            data = json.dumps(body or {}).encode()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/.well-known/openid-configuration":
                self._send(200, provider.discovery())
            elif url.path == "/jwks":
                self._send(200, {"keys": [provider.key.as_dict(private=False)]})
            elif url.path == "/authorize":
                query = dict(urllib.parse.parse_qsl(url.query))
                self._send(302, location=provider.authorize(query))
            else:
                self._send(404)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            self._send(*provider.token(form)) if self.path == "/token" else self._send(404)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    made = Provider()
    for base in serve(made):
        made.base = base
        yield made


@pytest.fixture(scope="module")
def oidc_app(workspaces: tuple[Path, Path], provider: Provider,
             tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    database = f"sqlite:///{tmp_path_factory.mktemp('oidc') / 'app.sqlite3'}"
    app = create_app(list(workspaces), database, OidcSettings(
        provider.base, CLIENT_ID, CLIENT_SECRET, "Example Council account"))
    app.state.site.state.add_user("lead@example.org", "Hub lead", "a long synthetic passphrase",
                                  "tower-hamlets", Role.VIEWER, "tests")
    return app


@pytest.fixture(autouse=True)
def honest(provider: Provider) -> Iterator[None]:
    provider.person = {"sub": "subject-lead", "email": "lead@example.org"}
    yield
    provider.wrong, provider.signer, provider.unsigned = {}, None, False


def begin(app: FastAPI, provider: Provider) -> tuple[TestClient, str]:
    """A browser through the app's button and the provider's sign-in: the browser, and the
    callback (with the code and state) the provider sends it back to."""
    browser = TestClient(app, base_url="https://testserver")
    start = browser.get("/sign-in/oidc?next=/w/tower-hamlets", follow_redirects=False)
    assert start.status_code == 303 and start.headers["location"].startswith(provider.base)
    sent = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start.headers["location"]).query))
    assert len(sent["state"]) >= 32 and len(sent["nonce"]) >= 32

    class Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    try:
        urllib.request.build_opener(Stay).open(start.headers["location"], timeout=10)
    except urllib.error.HTTPError as answer:
        assert answer.code == 302
        return browser, answer.headers["Location"].removeprefix("https://testserver")
    raise AssertionError("the provider did not send the browser back")


def sign_in(app: FastAPI, provider: Provider) -> tuple[TestClient, Any]:
    """The whole flow; returns the browser and the app's answer to the callback."""
    browser, callback = begin(app, provider)
    return browser, browser.get(callback, follow_redirects=False)


def refused(answer: Any, browser: TestClient, why: str) -> None:
    assert answer.status_code == 400, answer.text
    assert why in answer.text
    assert SESSION_COOKIE not in browser.cookies
    page = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(answer.text)
    links = [a.get("href") for a in page.iter("a") if a.get("href") == "#oidc"]
    assert links and page.find(".//*[@id='oidc']") is not None
    assert browser.get("/w/tower-hamlets", follow_redirects=False).status_code == 303


def test_a_person_signs_in_with_the_provider(oidc_app: FastAPI, provider: Provider) -> None:
    page = TestClient(oidc_app, base_url="https://testserver").get("/sign-in").text
    assert "Sign in with Example Council account" in page
    browser, answer = sign_in(oidc_app, provider)
    assert answer.status_code == 303 and answer.headers["location"] == "/w/tower-hamlets"
    assert browser.get("/w/tower-hamlets", follow_redirects=False).status_code == 200
    # Linked on first sign-in by email; from then on by the provider's subject alone.
    provider.person = {"sub": "subject-lead", "email": "renamed@example.org"}
    again, answer = sign_in(oidc_app, provider)
    assert answer.status_code == 303
    assert again.get("/api/v1/workspaces").json()[0]["role"] == "viewer"
    events = [(e.action, e.actor) for e in oidc_app.state.site.state.events(limit=20)]
    assert ("user.link", "lead@example.org") in events
    assert events.count(("sign-in", "lead@example.org")) >= 2


@pytest.mark.parametrize(("wrong", "why"), [
    ({"aud": "another-application"}, "token was refused"),
    ({"iss": "https://impostor.example.org"}, "token was refused"),
    ({"exp": int(time.time()) - 3600}, "token was refused"),
    ({"nonce": "a replayed token's nonce"}, "token was refused"),
    ({"aud": [CLIENT_ID, "another"], "azp": "another"}, "issued to another application"),
])
def test_a_token_with_a_wrong_claim_is_refused(oidc_app: FastAPI, provider: Provider,
                                               wrong: dict[str, Any], why: str) -> None:
    provider.wrong = wrong
    browser, answer = sign_in(oidc_app, provider)
    refused(answer, browser, why)


def test_a_token_not_signed_by_the_providers_keys_is_refused(oidc_app: FastAPI,
                                                             provider: Provider) -> None:
    provider.signer = RSAKey.generate_key(2048, parameters={"kid": "provider-key"})
    browser, answer = sign_in(oidc_app, provider)
    refused(answer, browser, "not signed by any of its published keys")
    provider.signer, provider.unsigned = None, True
    browser, answer = sign_in(oidc_app, provider)
    refused(answer, browser, "not signed by any of its published keys")


def test_a_flow_this_browser_did_not_start_is_refused(oidc_app: FastAPI,
                                                      provider: Provider) -> None:
    browser, callback = begin(oidc_app, provider)
    forged = re.sub(r"state=[^&]+", "state=another-browsers-state", callback)
    refused(browser.get(forged, follow_redirects=False), browser,
            "did not match the one this browser started")
    # A code carried to another browser (without the flow's cookie) signs nobody in.
    _, callback = begin(oidc_app, provider)
    stranger = TestClient(oidc_app, base_url="https://testserver")
    refused(stranger.get(callback, follow_redirects=False), stranger,
            "did not start this sign-in")


def test_someone_without_an_account_is_refused(oidc_app: FastAPI, provider: Provider) -> None:
    provider.person = {"sub": "subject-stranger", "email": "stranger@example.org"}
    browser, answer = sign_in(oidc_app, provider)
    refused(answer, browser, "There is no account here for stranger@example.org")


def test_the_provider_is_configured_by_environment_variables() -> None:
    assert OidcSettings.from_environment({}) is None
    entra = OidcSettings.from_environment({
        "OUTCOMES_OIDC_ISSUER": "https://login.microsoftonline.com/tenant-id/v2.0/",
        "OUTCOMES_OIDC_CLIENT_ID": "app-id", "OUTCOMES_OIDC_CLIENT_SECRET": "secret",
        "OUTCOMES_OIDC_NAME": "Council account"})
    assert entra == OidcSettings("https://login.microsoftonline.com/tenant-id/v2.0", "app-id",
                                 "secret", "Council account")
    for half in ({"OUTCOMES_OIDC_ISSUER": "https://idp.example.org"},
                 {"OUTCOMES_OIDC_ISSUER": "http://idp.example.org",
                  "OUTCOMES_OIDC_CLIENT_ID": "app-id"}):
        with pytest.raises(UserError):
            OidcSettings.from_environment(half)


def test_an_invited_account_signs_in_only_through_the_provider(
        oidc_app: FastAPI, provider: Provider, workspaces: tuple[Path, Path]) -> None:
    url = str(oidc_app.state.site.state.engine.url)
    invited = subprocess.run(
        [str(Path(sys.executable).with_name("outcomes")), "users", "invite", str(workspaces[0]),
         "--email", "invited@example.org", "--role", "contributor"],
        capture_output=True, text=True, check=False, timeout=120, stdin=subprocess.DEVNULL,
        env={**os.environ, "DATABASE_URL": url})
    assert invited.returncode == 0, invited.stderr
    state = oidc_app.state.site.state
    with pytest.raises(SignInRefused):
        state.sign_in("invited@example.org", "any password at all", "tests")
    provider.person = {"sub": "subject-invited", "email": "invited@example.org"}
    browser, answer = sign_in(oidc_app, provider)
    assert answer.status_code == 303
    assert browser.get("/api/v1/workspaces").json()[0]["role"] == "contributor"
