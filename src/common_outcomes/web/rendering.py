"""How routes answer with a page or kept JSON: a workspace's GET answers are made once per
what they depend on and kept (`kept`, `page`, `kept_json`); `render` makes a page afresh
(forms sent back with their errors, the error pages)."""

from __future__ import annotations

import dataclasses
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import date
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import escape
from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from common_outcomes.state import Account
from common_outcomes.web.deps import site_of
from common_outcomes.web.security import csrf_token
from common_outcomes.web.site import Served

T = TypeVar("T")

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
    # The day too: a page says in print which day it was made on.
    key = (request.url.path, request.url.query, account.roles.get(ws.id), ws.versions(),
           request.state.version, date.today())
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
        # A router may give its own `today` (the reviews page does).
        **({"today": date.today()} | context())))
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
        request=request, account=account, csrf_token=token,
        **({"today": date.today()} | context))
    response.body = response.render(body)
    response.headers["content-length"] = str(len(response.body))
    return response
