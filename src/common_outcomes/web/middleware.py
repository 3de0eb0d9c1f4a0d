"""What wraps every request: the security headers on every answer (errors included) and the
limit on a request's body. Plain ASGI, added by the app."""

from __future__ import annotations

import os
from collections.abc import Callable

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common_outcomes.errors import UserError
from common_outcomes.web.handlers import TOO_LARGE, server_error, too_large
from common_outcomes.web.security import COOKIE_FLAGS, DOCS, DOCS_POLICY, HEADERS, SEEN_COOKIE


class Headers:
    """The security headers on every answer, and no-store on all but the assets (pages and
    data are per user: no shared cache may keep them). Plain ASGI: no per-request copy of
    the body, as Starlette's BaseHTTPMiddleware would make. An error escaping the app is
    answered here (500, with the headers), since Starlette's own 500 is made outside every
    middleware; it is raised again for the server to log."""

    def __init__(self, app: ASGIApp, committed: Callable[[], int]) -> None:
        self.app = app
        self.committed = committed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cached = scope["path"].startswith(("/assets/", "/static/", "/vega/", "/swagger-ui/"))
        changing = scope["method"] not in ("GET", "HEAD")
        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers.update(HEADERS)
                if scope["path"] == DOCS:
                    headers["Content-Security-Policy"] = DOCS_POLICY
                if not cached:
                    headers["Cache-Control"] = "no-store"
                if changing and (seen := self.committed()):
                    headers.append("set-cookie", f"{SEEN_COOKIE}={seen}; {COOKIE_FLAGS}")
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            if not started:
                await server_error(Request(scope))(scope, receive, with_headers)
            raise


MAX_BODY = 1_000_000  # bytes: the largest form or JSON body this app takes is a few KB
MAX_BODY_VARIABLE = "OUTCOMES_MAX_BODY"


def body_limit_from_environment() -> int:
    """OUTCOMES_MAX_BODY (bytes, ASCII digits), else 1 MB."""
    text = os.environ.get(MAX_BODY_VARIABLE, "").strip()
    if not text:
        return MAX_BODY
    if not (text.isascii() and text.isdigit() and 0 < int(text) < 2**40):
        raise UserError(f"{MAX_BODY_VARIABLE} must be a number of bytes, such as 1000000; "
                        f"it is '{text[:40]}'.")
    return int(text)


class BodyLimit:
    """Request bodies over `limit` bytes are refused (413): by their Content-Length before
    any of the body is read, and a body sent without one (chunked) as soon as the bytes read
    pass the limit, so that no route, signed in or not, reads a large body into memory."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = [v for k, v in scope["headers"] if k == b"content-length"]
        if any(not v.isdigit() or len(v) > 15 or int(v) > self.limit for v in declared):
            await too_large(Request(scope))(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, TOO_LARGE)
            return message

        await self.app(scope, counted, send)
