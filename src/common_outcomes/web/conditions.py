"""The system conditions: their maturity over self-assessment rounds (a heat map with its
table, and the exports), and the rounds themselves: opened, moderated and closed by admins,
rated by the respondents each names. The state checks every change (state/rounds.py) before
anything is written; these handlers only turn forms into calls and errors into pages."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from common_outcomes.data.spreadsheets import write_csv, write_xlsx
from common_outcomes.state import (
    Account,
    Invalid,
    RatingFields,
    Role,
    Round,
    RoundFeature,
)
from common_outcomes.web import charts
from common_outcomes.web.deps import SignedIn, Workspace, check_csrf, site_of
from common_outcomes.web.rendering import page, render
from common_outcomes.web.round_views import HEADER, conditions, export_rows, heat_map
from common_outcomes.web.security import CSRF_FIELD
from common_outcomes.web.site import Served

router = APIRouter(include_in_schema=False)
T = TypeVar("T")
DOWNLOADS = {"csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
MAX_NUMBER = 2**31 - 1


def _admin(account: Account, ws: Served) -> None:
    if not account.may(ws.id, Role.ADMIN):
        raise HTTPException(403, "Only the workspace's administrators open, moderate and "
                            "close self-assessment rounds.")


def _round(request: Request, ws: Served, number: int) -> Round:
    found = site_of(request).state.round(ws.id, number) if 0 < number <= MAX_NUMBER else None
    if found is None:
        raise HTTPException(404, "There is no such round.")
    return found


@router.get("/w/{workspace}/conditions")
async def conditions_page(request: Request, ws: Workspace) -> Response:
    def context() -> dict[str, Any]:
        rounds = site_of(request).state.rounds(ws.id)
        view = conditions(ws.project.maturity, rounds)
        drawn = charts.attribute(heat_map(view))
        # `charts` tells base.html to load Vega.
        return {"ws": ws, "view": view, "rounds": rounds, "model": ws.project.maturity,
                "heat_map": drawn, "charts": {"heat_map": drawn}}

    return await page(request, ws, "conditions_page.html", context)


@router.get("/w/{workspace}/conditions/download.{fmt}")
def download(request: Request, ws: Workspace, fmt: str) -> Response:
    if fmt not in DOWNLOADS:
        raise HTTPException(404, "There is no such download.")
    rows = export_rows(ws.project.maturity, site_of(request).state.rounds(ws.id))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"conditions.{fmt}"
        if fmt == "csv":
            write_csv(path, HEADER, rows)
        else:
            write_xlsx(path, {"System conditions": (HEADER, rows)})
        body = path.read_bytes()
    return Response(body, media_type=DOWNLOADS[fmt], headers={
        "Content-Disposition": f'attachment; filename="{ws.id}-system-conditions.{fmt}"'})


@router.get("/w/{workspace}/rounds/new")
def new_round(request: Request, ws: Workspace, account: SignedIn) -> Response:
    _admin(account, ws)
    return render(request, "round_new.html", ws=ws, errors={}, form={})


@router.post("/w/{workspace}/rounds")
async def open_round(request: Request, ws: Workspace, account: SignedIn) -> Response:
    form = await request.form()
    check_csrf(request, _text(form, CSRF_FIELD))
    _admin(account, ws)
    period = _text(form, "period")
    named = [(email.strip(), partner) for partner in sorted(ws.partners)
             for email in _text(form, f"respondents-{partner}").replace(";", ",")
             .replace("\n", ",").split(",") if email.strip()]
    state = site_of(request).state
    try:
        made = await run_in_threadpool(state.open_round, account, ws.id, period,
                                       ws.project.round_features(), named, set(ws.partners))
    except Invalid as e:
        return render(request, "round_new.html", status=400, ws=ws,
                      errors={e.field: str(e)}, form={k: _text(form, k) for k in form})
    return RedirectResponse(f"/w/{ws.id}/rounds/{made.number}", status_code=303)


@router.get("/w/{workspace}/rounds/{number}")
def round_page(request: Request, ws: Workspace, account: SignedIn, number: int) -> Response:
    # Rendered for each reader: what it offers depends on whether they are a respondent.
    return render(request, "round_page.html", **_round_context(request, ws, account, number))


def _round_context(request: Request, ws: Served, account: Account, number: int,
                   errors: dict[str, str] | None = None) -> dict[str, Any]:
    found = _round(request, ws, number)
    model = ws.project.maturity
    groups: dict[str, list[RoundFeature]] = {}
    for f in found.features:  # in the model's order, which groupby would not keep
        groups.setdefault(f.condition, []).append(f)
    return {"ws": ws, "r": found, "model": model, "errors": errors or {},
            "groups": list(groups.items()),
            "descriptors": {f.id: dict(zip((x.id for x in model.levels), f.descriptors,
                                           strict=True)) for f in model.features},
            "condition_names": {c.id: c.name for c in model.conditions},
            "level_names": {x.id: x.name for x in model.levels},
            "may_admin": account.may(ws.id, Role.ADMIN),
            "respondent": found.respondent(account.email)}


@router.get("/w/{workspace}/rounds/{number}/rate")
def rate_page(request: Request, ws: Workspace, account: SignedIn, number: int) -> Response:
    context = _rate_context(request, ws, account, number)
    return render(request, "round_rate.html", **context)


def _rate_context(request: Request, ws: Served, account: Account, number: int,
                  errors: dict[str, str] | None = None,
                  sent: dict[str, str] | None = None) -> dict[str, Any]:
    context = _round_context(request, ws, account, number, errors)
    found: Round = context["r"]
    if context["respondent"] is None:
        raise HTTPException(403, "Only the respondents named for this round rate it.")
    mine = found.rated_by(account.email)
    values = {}
    for f in found.features:
        had = mine.get(f.id)
        values[f"level-{f.id}"] = had.level if had else ""
        values[f"evidence-{f.id}"] = had.evidence if had else ""
        values[f"links-{f.id}"] = "\n".join(had.links) if had else ""
    return {**context, "values": {**values, **(sent or {})}}


@router.post("/w/{workspace}/rounds/{number}/rate")
async def rate(request: Request, ws: Workspace, account: SignedIn, number: int) -> Response:
    form = await request.form()
    check_csrf(request, _text(form, CSRF_FIELD))
    found = await run_in_threadpool(_round, request, ws, number)
    ratings = [RatingFields(f.id, _text(form, f"level-{f.id}"),
                            _text(form, f"evidence-{f.id}"),
                            tuple(_text(form, f"links-{f.id}").split()))
               for f in found.features if _text(form, f"level-{f.id}")]
    state = site_of(request).state
    try:
        await _call(state.save_ratings, account, ws.id, number, ratings)
    except Invalid as e:
        field = f"level-{e.field}" if e.field in {f.id for f in found.features} else "round"
        errors = {field: str(e)}
        sent = {k: _text(form, k) for k in form if k != CSRF_FIELD}
        return await run_in_threadpool(lambda: render(
            request, "round_rate.html", status=400,
            **_rate_context(request, ws, account, number, errors, sent)))
    return RedirectResponse(f"/w/{ws.id}/rounds/{number}/rate?saved=1", status_code=303)


@router.post("/w/{workspace}/rounds/{number}/moderate")
async def moderate(request: Request, ws: Workspace, account: SignedIn, number: int) -> Response:
    form = await request.form()
    check_csrf(request, _text(form, CSRF_FIELD))
    _admin(account, ws)
    feature = _text(form, "feature")
    state = site_of(request).state
    try:
        await _call(state.moderate, account, ws.id, number, feature,
                    _text(form, f"level-{feature}"), _text(form, f"rationale-{feature}"))
    except Invalid as e:
        field = (f"rationale-{feature}" if e.field == "rationale" else
                 "round" if e.field in ("round", "feature") else f"level-{feature}")
        errors = {field: str(e)}
        return await run_in_threadpool(lambda: render(
            request, "round_page.html", status=400,
            **_round_context(request, ws, account, number, errors)))
    return RedirectResponse(f"/w/{ws.id}/rounds/{number}#feature-{feature}", status_code=303)


@router.post("/w/{workspace}/rounds/{number}/close")
async def close(request: Request, ws: Workspace, account: SignedIn, number: int) -> Response:
    form = await request.form()
    check_csrf(request, _text(form, CSRF_FIELD))
    _admin(account, ws)
    state = site_of(request).state
    try:
        await _call(state.close_round, account, ws.id, number)
    except Invalid as e:
        errors = {"round": str(e)}
        return await run_in_threadpool(lambda: render(
            request, "round_page.html", status=400,
            **_round_context(request, ws, account, number, errors)))
    return RedirectResponse(f"/w/{ws.id}/rounds/{number}", status_code=303)


async def _call(method: Callable[..., T], *args: Any) -> T:
    """A state change, its refusals as HTTP answers: not a respondent or not an admin is
    403, no such round 404; Invalid is left to the caller, which shows the form again."""
    try:
        return await run_in_threadpool(method, *args)
    except PermissionError:
        raise HTTPException(403, "Only the respondents named for this round rate it, and "
                            "only administrators moderate and close it.") from None
    except LookupError:
        raise HTTPException(404, "There is no such round.") from None


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""
