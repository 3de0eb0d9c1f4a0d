"""The browser-facing protections: cookies, CSRF tokens and the headers on every response."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets

from starlette.requests import Request
from starlette.responses import Response

from common_outcomes.web.oidc import FLOW_COOKIE

# __Host-: the browser only accepts these over HTTPS (or on localhost), for this host and
# path /, so a sibling subdomain cannot plant or read them.
SESSION_COOKIE = "__Host-outcomes-session"
CSRF_COOKIE = "__Host-outcomes-csrf"
# The newest state version this browser's own changes made: whichever worker process it asks
# next shows at least that (a process hears of others' changes a moment after they commit).
SEEN_COOKIE = "__Host-outcomes-seen"
COOKIE_FLAGS = "Path=/; Secure; HttpOnly; SameSite=lax"
CSRF_FIELD = "csrf_token"

# No inline script or style anywhere: everything the page runs or wears comes from /assets
# and /static on this origin.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    "connect-src 'self'",
    "manifest-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
))
# The API's documentation page (Swagger UI, served from /swagger-ui) only: its stylesheet
# draws its icons as data: SVG images. Nothing else is loosened: scripts and styles stay
# this origin's files (no inline script or style, no eval), nothing comes from elsewhere.
DOCS = "/docs"
DOCS_POLICY = CONTENT_SECURITY_POLICY.replace("img-src 'self'", "img-src 'self' data:")
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}


def set_cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", secure=True, httponly=True,
                        samesite="lax")


# What each cookie the app reads may hold: anything else (too long, or any character outside
# these, such as a superscript digit, which str.isdigit() accepts) is as if it were absent.
TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")  # secrets.token_urlsafe(32) is 43 characters
COOKIES = {
    SESSION_COOKIE: TOKEN,
    CSRF_COOKIE: TOKEN,
    SEEN_COOKIE: re.compile(r"[0-9]{1,18}"),  # ASCII digits, below 2**63
    FLOW_COOKIE: re.compile(r"[A-Za-z0-9_=-]{1,4000}\.[0-9a-f]{64}"),  # oidc.seal's
}


def cookie(request: Request, name: str) -> str | None:
    """A cookie's value if it has the form this app gives it, else None."""
    value = request.cookies.get(name)
    if value is None or not COOKIES[name].fullmatch(value):
        return None
    return value


def seen_version(request: Request) -> int:
    """The newest state version this browser's own changes made (0 if none or malformed)."""
    value = cookie(request, SEEN_COOKIE)
    return int(value) if value is not None else 0


def session_token(request: Request) -> str | None:
    return cookie(request, SESSION_COOKIE)


def _signed(secret: bytes, seed: str, session: str | None) -> str:
    # Bound to the session as well as the browser: a token from another session (or from
    # before signing in) does not fit. The session token is hashed, as the state keeps it.
    bound = hashlib.sha256((session or "").encode()).hexdigest()
    return hmac.new(secret, f"{seed}:{bound}".encode(), hashlib.sha256).hexdigest()


def csrf_token(secret: bytes, request: Request, response: Response | None = None) -> str:
    """The token a form must send back: an HMAC of the browser's CSRF cookie and its session
    (the signed double-submit pattern, bound to the session); the cookie is set on `response`
    when the browser has none."""
    seed = cookie(request, CSRF_COOKIE)
    if seed is None:
        seed = request.state.__dict__.setdefault("csrf_seed", secrets.token_urlsafe(32))
        if response is not None:
            set_cookie(response, CSRF_COOKIE, seed)
    return _signed(secret, seed, session_token(request))


def csrf_valid(secret: bytes, request: Request, sent: object) -> bool:
    seed = cookie(request, CSRF_COOKIE)
    if seed is None or not isinstance(sent, str):
        return False
    expected = _signed(secret, seed, session_token(request))
    # Compared as bytes: compare_digest refuses (raises on) a str with non-ASCII characters.
    return hmac.compare_digest(expected.encode(), sent.encode("utf-8", "replace"))


def client_of(request: Request) -> str:
    """The client's address as sign-in limits count it: an IPv6 address by its /64, which
    one subscriber usually holds whole (counting addresses would let them try 2**64)."""
    host = request.client.host if request.client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:100]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
