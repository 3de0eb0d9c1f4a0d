"""The browser-facing protections: cookies, CSRF tokens and the headers on every response."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

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


def csrf_token(secret: bytes, request: Request, response: Response | None = None) -> str:
    """The token a form must send back: an HMAC of the browser's CSRF cookie (the signed
    double-submit pattern), which is set on `response` when the browser has none."""
    seed = request.cookies.get(CSRF_COOKIE)
    if not seed:
        seed = request.state.__dict__.setdefault("csrf_seed", secrets.token_urlsafe(32))
        if response is not None:
            set_cookie(response, CSRF_COOKIE, seed)
    return hmac.new(secret, seed.encode(), hashlib.sha256).hexdigest()


def csrf_valid(secret: bytes, request: Request, sent: object) -> bool:
    seed = request.cookies.get(CSRF_COOKIE)
    if not seed or not isinstance(sent, str):
        return False
    expected = hmac.new(secret, seed.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, sent)


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"
