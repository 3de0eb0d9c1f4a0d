"""The FastAPI app: HTTP only. Pages and the JSON API read through `Project` (project.py) and
change nothing but the app's state (`common_outcomes.state`), which audits every change.

Every route needs a signed-in user unless it is in PUBLIC; a workspace's routes also need a
role in that workspace (a user without one gets 404, as if it did not exist).
"""

from __future__ import annotations

import dataclasses
import gc
import secrets
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from markupsafe import escape
from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common_outcomes.errors import UserError
from common_outcomes.state import Account, Role
from common_outcomes.web.oidc import OidcSettings
from common_outcomes.web.security import (
    COOKIE_FLAGS,
    HEADERS,
    SEEN_COOKIE,
    csrf_token,
    seen_version,
    session_token,
)
from common_outcomes.web.site import GOVUK_ASSETS, OWN_ASSETS, VEGA_ASSETS, Served, Site

T = TypeVar("T")
API = "/api/v1"
# The only routes that answer without sign-in: signing in, the assets, a liveness probe and
# the API's description (which holds no data). A test fails when a route is added without
# sign-in and without being named here.
PUBLIC = frozenset({"/sign-in", "/health", f"{API}/openapi.json", "/assets", "/static",
                    "/vega", "/sign-in/oidc", "/sign-in/oidc/callback"})


class SignInNeeded(Exception):
    pass


def create_app(folders: Sequence[Path], database: str | None = None,
               oidc: OidcSettings | None = None, max_body: int | None = None) -> FastAPI:
    """The app serving these workspaces, its state in `database` (else DATABASE_URL, else
    SQLite in the first workspace's .outcomes folder), with sign-in through the OpenID
    Connect provider `oidc` (else the one OUTCOMES_OIDC_* name, if any) beside local
    accounts, refusing request bodies over `max_body` bytes (else OUTCOMES_MAX_BODY, else
    1 MB)."""
    from common_outcomes.web import api, pages, stories

    site = Site.open(folders, database, oidc or OidcSettings.from_environment())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Compile the templates, read and check the results, and make the data page's
        # quality and each page's default view, before the first request: not for the
        # first fifty at once.
        for name in site.templates.list_templates(filter_func=_page_or_macro):
            site.templates.get_template(name)  # compiled once, not by fifty threads at once
        for served in site.workspaces.values():
            served.data()
            pages.warm(served)
        # What is loaded now lives as long as the app: keep the collector from walking it
        # again and again (its full passes were the slowest requests' pauses under load).
        gc.collect()
        gc.freeze()
        yield
        site.state.close()

    app = FastAPI(title="common-outcomes", version="1", openapi_url=f"{API}/openapi.json",
                  docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="The borough's outcomes framework, strategy and published "
                  "indicator values. Every route but this document needs a signed-in user.")
    app.state.site = site
    app.state.pages = Pages()
    app.mount("/assets", StaticFiles(directory=GOVUK_ASSETS), name="assets")
    app.mount("/static", StaticFiles(directory=OWN_ASSETS), name="static")
    app.mount("/vega", StaticFiles(directory=VEGA_ASSETS), name="vega")
    app.include_router(pages.router)
    app.include_router(stories.router)
    if site.oidc is not None:
        app.include_router(pages.oidc_router)
    app.include_router(api.router, prefix=API)
    app.add_middleware(BodyLimit, limit=max_body or body_limit_from_environment())
    app.add_middleware(Headers, committed=site.state.committed)
    app.add_exception_handler(SignInNeeded, _sign_in_needed)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(UserError, _cannot_show)
    return app


FOLDERS = "OUTCOMES_SERVE_FOLDERS"


def from_environment() -> FastAPI:
    """The app for the workspaces OUTCOMES_SERVE_FOLDERS names (separated as in PATH): the
    factory each worker process of `outcomes serve --workers N` calls."""
    import os

    return create_app([Path(f) for f in os.environ[FOLDERS].split(os.pathsep) if f])


def _page_or_macro(name: str) -> bool:
    return name.endswith(".html")


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
        cached = scope["path"].startswith(("/assets/", "/static/", "/vega/"))
        changing = scope["method"] not in ("GET", "HEAD")
        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers.update(HEADERS)
                if not cached:
                    headers["Cache-Control"] = "no-store"
                if changing and (seen := self.committed()):
                    headers.append("set-cookie", f"{SEEN_COOKIE}={seen}; {COOKIE_FLAGS}")
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            if not started:
                await _server_error(Request(scope))(scope, receive, with_headers)
            raise


MAX_BODY = 1_000_000  # bytes: the largest form or JSON body this app takes is a few KB
MAX_BODY_VARIABLE = "OUTCOMES_MAX_BODY"
TOO_LARGE = "The request is too large for this service."


def body_limit_from_environment() -> int:
    """OUTCOMES_MAX_BODY (bytes, ASCII digits), else 1 MB."""
    import os

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
            await _too_large(Request(scope))(scope, receive, send)
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


def site_of(request: Request) -> Site:
    site: Site = request.app.state.site
    return site


async def signed_in(request: Request) -> Account:
    """The signed-in account, and the state version the request reads the state at (read
    once). Both are usually known in this process (see State.known_version, remembered):
    then the answer needs no worker thread; a round trip to the database goes to one."""
    state = site_of(request).state
    at_least = seen_version(request)
    version = state.known_version(at_least)
    if version is None:
        version = await run_in_threadpool(state.version, at_least)
    request.state.version = version
    token = session_token(request)
    known, account = state.remembered(token, version)
    if not known:
        account = await run_in_threadpool(state.account, token, version)
    if account is None:
        raise SignInNeeded
    request.state.account = account  # for the page's header, without asking again
    return account


async def workspace(workspace: str, request: Request,
                    account: Annotated[Account, Depends(signed_in)]) -> Served:
    """A workspace the signed-in user may read; 404 for any other, so that its existence is
    not disclosed."""
    served = site_of(request).workspaces.get(workspace)
    if served is None or not account.may(workspace, Role.VIEWER):
        raise HTTPException(404, "There is no such workspace.")
    return served


SignedIn = Annotated[Account, Depends(signed_in)]
Workspace = Annotated[Served, Depends(workspace)]


# Where the reader's own email and CSRF token go in a kept page: random for each process, so
# that no text a contributor writes can contain them.
EMAIL_MARK = f"email-{secrets.token_hex(16)}"
CSRF_MARK = f"csrf-{secrets.token_hex(16)}"
PAGES_KEPT = 1_000


class Pages:
    """Rendered pages by what they depend on (see `page`); the least recently used go first,
    so query strings nobody repeats cannot fill the memory."""

    def __init__(self, size: int = PAGES_KEPT) -> None:
        self._kept: OrderedDict[Hashable, str] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> str | None:
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
            return found

    def put(self, key: Hashable, text: str) -> None:
        with self._lock:
            self._kept[key] = text
            if len(self._kept) > self._size:
                self._kept.popitem(last=False)


async def kept(request: Request, ws: Served, make: Callable[[], str]) -> str:
    """A workspace's GET answer as everyone with the reader's role there gets it: made once
    for its path and query, that role, and the versions of the results, the store and the
    state (any change to what an answer shows moves one of them on). A kept answer is given
    on the event loop; only one to make goes to a worker thread (which reads files and the
    database), since the hand-over costs more than the answer."""
    account: Account = request.state.account
    key = (request.url.path, request.url.query, account.roles.get(ws.id), ws.versions(),
           request.state.version)
    answers: Pages = request.app.state.pages
    text = answers.get(key)
    if text is None:
        text = await run_in_threadpool(make)
        answers.put(key, text)
    return text


async def kept_json(request: Request, ws: Served, adapter: TypeAdapter[T],
                    make: Callable[[], T]) -> Response:
    """An API answer, kept as JSON (see `kept`): neither checked against its model nor
    serialised again for each request."""
    text = await kept(request, ws, lambda: adapter.dump_json(make()).decode())
    return Response(text, media_type="application/json")


async def page(request: Request, ws: Served, template: str,
               context: Callable[[], dict[str, Any]]) -> HTMLResponse:
    """A workspace's page (GET, 200), rendered once and kept (see `kept`); each reader gets
    it with their own email and CSRF token put in. Under load this is most of a page's cost
    saved: templates with GOV.UK macros take milliseconds to render."""
    site = site_of(request)
    account: Account = request.state.account
    text = await kept(request, ws, lambda: site.templates.get_template(template).render(
        account=dataclasses.replace(account, email=EMAIL_MARK), csrf_token=CSRF_MARK,
        **context()))
    response = HTMLResponse("")
    token = csrf_token(site.csrf_secret, request, response)
    response.body = response.render(text.replace(EMAIL_MARK, str(escape(account.email)))
                                    .replace(CSRF_MARK, token))
    response.headers["content-length"] = str(len(response.body))
    return response


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    site = site_of(request)
    response = HTMLResponse("", status_code=status)
    token = csrf_token(site.csrf_secret, request, response)
    account = getattr(request.state, "account", None)
    body = site.templates.get_template(template).render(
        request=request, account=account, csrf_token=token, **context)
    response.body = response.render(body)
    response.headers["content-length"] = str(len(response.body))
    return response


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(API)


async def _sign_in_needed(request: Request, _exc: Exception) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": "Sign in first."}, status_code=401,
                            headers={"WWW-Authenticate": 'Cookie realm="common-outcomes"'})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/sign-in?next={quote(target, safe='')}", status_code=303)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if _wants_json(request):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
    titles = {404: "Page not found", 403: "You cannot do that", 405: "Page not found"}
    return render(request, "error.html", status=exc.status_code,
                  title=titles.get(exc.status_code, "Sorry, there is a problem"),
                  message=exc.detail)


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if _wants_json(request):
        return JSONResponse({"detail": [{"loc": e.get("loc"), "msg": e.get("msg"),
                                         "type": e.get("type")} for e in exc.errors()]},
                            status_code=422)
    return render(request, "error.html", status=404, title="Page not found",
                  message="There is no such page.")


def _too_large(request: Request) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": TOO_LARGE}, status_code=413)
    return _page_or_text(request, 413, "Sorry, there is a problem", TOO_LARGE)


def _server_error(request: Request) -> Response:
    message = "Sorry, there is a problem with the service. Try again later."
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=500)
    return _page_or_text(request, 500, "Sorry, there is a problem with the service", message)


def _page_or_text(request: Request, status: int, title: str, message: str) -> Response:
    """The error page, or the message as text if even the page cannot be made (the fault
    may be in the templates)."""
    try:
        return render(request, "error.html", status=status, title=title, message=message)
    except Exception:
        return PlainTextResponse(message, status_code=status)


async def _cannot_show(request: Request, exc: Exception) -> Response:
    """A workspace whose results cannot be shown (the disclosure guard refused them, say):
    say why, in the words the command line would use, rather than fail."""
    if _wants_json(request):
        return JSONResponse({"detail": str(exc)}, status_code=503)
    return render(request, "error.html", status=503, title="These results cannot be shown",
                  message=str(exc))
