"""What every route depends on: the site, the signed-in account, the workspace it may read,
and the CSRF check on a form. The routers and the app import this; it imports no router.

Every route needs a signed-in user unless it is in PUBLIC; a workspace's routes also need a
role in that workspace (a user without one gets 404, as if it did not exist).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from common_outcomes.state import Account, Role
from common_outcomes.web.security import csrf_valid, seen_version, session_token
from common_outcomes.web.site import Served, Site

API = "/api/v1"
# The only routes that answer without sign-in: signing in, the assets, a liveness probe and
# the API's description (which holds no data). A test fails when a route is added without
# sign-in and without being named here.
PUBLIC = frozenset({"/sign-in", "/health", f"{API}/openapi.json", "/assets", "/static",
                    "/vega", "/swagger-ui", "/sign-in/oidc", "/sign-in/oidc/callback"})


class SignInNeeded(Exception):
    pass


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


def check_csrf(request: Request, sent: str | None) -> None:
    """A form's CSRF token, else 403: every form POST calls this first."""
    if not csrf_valid(site_of(request).csrf_secret, request, sent):
        raise HTTPException(403, "The form had expired. Go back, reload the page and try "
                            "again.")
