"""The FastAPI app, assembled: the routers (pages.py, stories.py, conditions.py, api.py), the
middleware (middleware.py), the exception handlers (handlers.py) and what is made before the first
request. Pages and the JSON API read through `Project` (project.py) and change nothing but the
app's state (`common_outcomes.state`), which audits every change. What the routes share is
below them (deps.py, rendering.py, story_checks.py): nothing imports this module but the CLI.
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from common_outcomes.errors import UserError
from common_outcomes.web import api, conditions, handlers, pages, reviews, stories
from common_outcomes.web.deps import API, SignInNeeded
from common_outcomes.web.middleware import BodyLimit, Headers, body_limit_from_environment
from common_outcomes.web.oidc import OidcSettings
from common_outcomes.web.rendering import Pages
from common_outcomes.web.site import (
    GOVUK_ASSETS,
    OWN_ASSETS,
    SWAGGER_ASSETS,
    VEGA_ASSETS,
    Site,
)


def create_app(folders: Sequence[Path], database: str | None = None,
               oidc: OidcSettings | None = None, max_body: int | None = None) -> FastAPI:
    """The app serving these workspaces, its state in `database` (else DATABASE_URL, else
    SQLite in the first workspace's .outcomes folder), with sign-in through the OpenID
    Connect provider `oidc` (else the one OUTCOMES_OIDC_* name, if any) beside local
    accounts, refusing request bodies over `max_body` bytes (else OUTCOMES_MAX_BODY, else
    1 MB)."""
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
    app.mount("/swagger-ui", StaticFiles(directory=SWAGGER_ASSETS), name="swagger-ui")
    app.include_router(pages.router)
    app.include_router(stories.router)
    app.include_router(conditions.router)
    app.include_router(reviews.router)
    if site.oidc is not None:
        app.include_router(pages.oidc_router)
    app.include_router(api.router, prefix=API)
    app.add_middleware(BodyLimit, limit=max_body or body_limit_from_environment())
    app.add_middleware(Headers, committed=site.state.committed)
    app.add_exception_handler(SignInNeeded, handlers.sign_in_needed)
    app.add_exception_handler(HTTPException, handlers.http_error)
    app.add_exception_handler(RequestValidationError, handlers.invalid_request)
    app.add_exception_handler(UserError, handlers.cannot_show)
    return app


FOLDERS = "OUTCOMES_SERVE_FOLDERS"


def from_environment() -> FastAPI:
    """The app for the workspaces OUTCOMES_SERVE_FOLDERS names (separated as in PATH): the
    factory each worker process of `outcomes serve --workers N` calls."""
    return create_app([Path(f) for f in os.environ[FOLDERS].split(os.pathsep) if f])


def _page_or_macro(name: str) -> bool:
    return name.endswith(".html")
