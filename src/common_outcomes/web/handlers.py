"""How the app answers a request it cannot serve: as JSON under the API, else as the error
page. The app registers the exception handlers; the middleware gives the 413 and the 500."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response

from common_outcomes.web.deps import API
from common_outcomes.web.rendering import render

TOO_LARGE = "The request is too large for this service."


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(API)


async def sign_in_needed(request: Request, _exc: Exception) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": "Sign in first."}, status_code=401,
                            headers={"WWW-Authenticate": 'Cookie realm="common-outcomes"'})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/sign-in?next={quote(target, safe='')}", status_code=303)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if _wants_json(request):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
    titles = {404: "Page not found", 403: "You cannot do that", 405: "Page not found"}
    return render(request, "error.html", status=exc.status_code,
                  title=titles.get(exc.status_code, "Sorry, there is a problem"),
                  message=exc.detail)


async def invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if _wants_json(request):
        return JSONResponse({"detail": [{"loc": e.get("loc"), "msg": e.get("msg"),
                                         "type": e.get("type")} for e in exc.errors()]},
                            status_code=422)
    return render(request, "error.html", status=404, title="Page not found",
                  message="There is no such page.")


def too_large(request: Request) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": TOO_LARGE}, status_code=413)
    return _page_or_text(request, 413, "Sorry, there is a problem", TOO_LARGE)


def server_error(request: Request) -> Response:
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


async def cannot_show(request: Request, exc: Exception) -> Response:
    """A workspace whose results cannot be shown (the disclosure guard refused them, say):
    say why, in the words the command line would use, rather than fail."""
    if _wants_json(request):
        return JSONResponse({"detail": str(exc)}, status_code=503)
    return render(request, "error.html", status=503, title="These results cannot be shown",
                  message=str(exc))
