"""Sign-in with an OpenID Connect provider (Microsoft Entra ID, or any other), by
configuration: the authorization-code flow with PKCE (S256), state and nonce, and the ID token
checked in full (signature by a key from the provider's JWKS, issuer, audience, authorised
party, expiry, issue time, nonce) before the account it names is signed in.

The browser carries the flow's secrets (state, nonce, PKCE verifier, where to go next) in a
short-lived cookie signed with the instance key, so any worker can finish a flow another began.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from common_outcomes.errors import UserError

ENV = "OUTCOMES_OIDC_"
FLOW_COOKIE = "__Host-outcomes-oidc"
FLOW_LIFETIME = 600  # seconds to sign in at the provider
LEEWAY = 60  # seconds of clock difference allowed between the provider and this server
# Asymmetric algorithms only: never "none", never a secret shared with the client.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
TIMEOUT = 10


class SignInFailed(UserError):
    """The provider's answer cannot be trusted or used; the message is safe to show."""


@dataclass(frozen=True)
class OidcSettings:
    """The provider and this app's registration with it (OUTCOMES_OIDC_* variables)."""

    issuer: str
    client_id: str
    client_secret: str | None = None
    name: str = "your organisation's account"
    redirect_uri: str | None = None  # default: this app's /sign-in/oidc/callback
    scopes: str = "openid email profile"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> OidcSettings | None:
        env = os.environ if environ is None else environ
        issuer, client = env.get(f"{ENV}ISSUER", "").strip(), env.get(f"{ENV}CLIENT_ID", "")
        if not issuer and not client:
            return None
        if not issuer or not client.strip():
            raise UserError(f"Set both {ENV}ISSUER and {ENV}CLIENT_ID to sign in with "
                            "OpenID Connect, or neither.")
        if not issuer.startswith("https://") and not _loopback(issuer):
            raise UserError(f"{ENV}ISSUER must be an https:// URL, not '{issuer}'.")
        return cls(issuer.rstrip("/"), client.strip(),
                   env.get(f"{ENV}CLIENT_SECRET") or None,
                   env.get(f"{ENV}NAME") or cls.name,
                   env.get(f"{ENV}REDIRECT_URI") or None)


def _loopback(url: str) -> bool:
    # Plain http only for a provider on this machine (a local test or development provider).
    host = urllib.parse.urlsplit(url).hostname or ""
    return url.startswith("http://") and (host == "localhost" or host.startswith("127."))


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in."""

    issuer: str
    subject: str
    email: str | None
    name: str | None


@dataclass(frozen=True)
class Flow:
    """One sign-in under way: what the browser must bring back, and what proves it."""

    state: str
    nonce: str
    verifier: str
    next: str
    started: int


@dataclass
class Provider:
    """The provider as its discovery document describes it; the document and its keys are
    fetched once and the keys again when a token names one not seen yet (key rotation)."""

    settings: OidcSettings
    _discovery: dict[str, Any] | None = None
    _keys: KeySet | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def discovery(self) -> dict[str, Any]:
        if self._discovery is None:
            found = _get_json(f"{self.settings.issuer}/.well-known/openid-configuration")
            if found.get("issuer", "").rstrip("/") != self.settings.issuer:
                raise SignInFailed("The identity provider describes a different issuer "
                                   "from the one configured.")
            self._discovery = found
        return self._discovery

    def start(self, redirect_uri: str, next_path: str) -> tuple[str, Flow]:
        """The provider's URL to send the browser to, and the flow to remember."""
        flow = Flow(secrets.token_urlsafe(32), secrets.token_urlsafe(32),
                    secrets.token_urlsafe(48), next_path, int(time.time()))
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": self.settings.client_id,
            "redirect_uri": redirect_uri, "scope": self.settings.scopes, "state": flow.state,
            "nonce": flow.nonce, "code_challenge": challenge(flow.verifier),
            "code_challenge_method": "S256"})
        endpoint = self.discovery()["authorization_endpoint"]
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", flow

    def finish(self, flow: Flow, state: str, code: str, redirect_uri: str) -> Identity:
        """The identity in the ID token the code is exchanged for, once every check holds."""
        # As bytes: compare_digest raises on a str with non-ASCII characters.
        if not hmac.compare_digest(flow.state.encode(), state.encode("utf-8", "replace")):
            raise SignInFailed("The sign-in did not match the one this browser started; "
                               "start again.")
        if time.time() - flow.started > FLOW_LIFETIME:
            raise SignInFailed("The sign-in took too long; start again.")
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": redirect_uri, "client_id": self.settings.client_id,
                "code_verifier": flow.verifier}
        if self.settings.client_secret:
            form["client_secret"] = self.settings.client_secret
        answer = _post_form(self.discovery()["token_endpoint"], form)
        id_token = answer.get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed("The identity provider sent no ID token.")
        return self.identity(id_token, flow.nonce)

    def identity(self, id_token: str, nonce: str) -> Identity:
        claims = self._verified(id_token)
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY, iss={"essential": True, "value": self.settings.issuer},
            aud={"essential": True, "value": self.settings.client_id},
            sub={"essential": True}, exp={"essential": True}, iat={"essential": True},
            nonce={"essential": True, "value": nonce})
        try:
            registry.validate(claims)
        except JoseError as e:
            raise SignInFailed(f"The identity provider's token was refused ({e}).") from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.settings.client_id:
            raise SignInFailed("The identity provider's token was issued to another "
                               "application.")
        email = claims.get("email") or claims.get("preferred_username")
        if claims.get("email_verified") is False or not (isinstance(email, str)
                                                           and "@" in email):
            email = None
        name = claims.get("name")
        return Identity(self.settings.issuer, str(claims["sub"]), email,
                        name if isinstance(name, str) else None)

    def _verified(self, id_token: str) -> dict[str, Any]:
        """The token's claims once its signature checks out against the provider's keys."""
        for fresh in (False, True):
            try:
                token = jwt.decode(id_token, self._key_set(fresh), algorithms=ALGORITHMS)
            except JoseError as e:
                if fresh:
                    raise SignInFailed("The identity provider's token is not signed by any "
                                       f"of its published keys ({e}).") from None
                continue
            claims: dict[str, Any] = token.claims
            return claims
        raise AssertionError("unreachable")

    def _key_set(self, fresh: bool) -> KeySet:
        with self._lock:
            if self._keys is None or fresh:
                try:
                    jwks: Any = _get_json(self.discovery()["jwks_uri"])
                    self._keys = KeySet.import_key_set(jwks)
                except (JoseError, ValueError, TypeError, KeyError) as e:
                    raise SignInFailed("The identity provider's keys cannot be read "
                                       f"({e}).") from None
            return self._keys


def challenge(verifier: str) -> str:
    """PKCE's S256 code challenge (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def seal(flow: Flow, secret: bytes) -> str:
    """The flow as a cookie value, signed so that the browser cannot alter it."""
    body = base64.urlsafe_b64encode(json.dumps(flow.__dict__).encode()).decode()
    return f"{body}.{hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()}"


def unseal(value: str | None, secret: bytes) -> Flow:
    body, _, signature = (value or "").partition(".")
    expected = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
    if not value or not hmac.compare_digest(expected.encode(),
                                            signature.encode("utf-8", "replace")):
        raise SignInFailed("This browser did not start this sign-in (or its cookie has "
                           "expired); start again.")
    try:
        return Flow(**json.loads(base64.urlsafe_b64decode(body)))
    except (ValueError, TypeError) as e:
        raise SignInFailed(f"The sign-in cookie cannot be read ({e}); start again.") from None


def _get_json(url: str) -> dict[str, Any]:
    return _answer(urllib.request.Request(url, headers={"Accept": "application/json"}))


def _post_form(url: str, form: dict[str, str]) -> dict[str, Any]:
    return _answer(urllib.request.Request(
        url, data=urllib.parse.urlencode(form).encode(), method="POST",
        headers={"Accept": "application/json",
                 "Content-Type": "application/x-www-form-urlencoded"}))


def _answer(request: urllib.request.Request) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            found = json.loads(answer.read())
    except urllib.error.HTTPError as e:
        raise SignInFailed(f"The identity provider refused the request ({e.code}).") from None
    except (OSError, ValueError) as e:
        raise SignInFailed(f"The identity provider could not be reached ({e}).") from None
    if not isinstance(found, dict):
        raise SignInFailed("The identity provider's answer is not a JSON object.")
    return found
