"""The HTML pages. Each handler picks rows and view-models and hands them to a template;
formatting lives in template filters (formats.py)."""

from __future__ import annotations

import tempfile
from datetime import date
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from common_outcomes.reports import diagrams
from common_outcomes.reports import results_view as rv
from common_outcomes.state import Role, SignInRefused
from common_outcomes.web import charts
from common_outcomes.web.deps import SignedIn, Workspace, check_csrf, site_of
from common_outcomes.web.formats import better
from common_outcomes.web.oidc import (
    FLOW_COOKIE,
    FLOW_LIFETIME,
    Provider,
    SignInFailed,
    seal,
    unseal,
)
from common_outcomes.web.rendering import page, render
from common_outcomes.web.round_views import conditions
from common_outcomes.web.security import (
    CSRF_FIELD,
    SESSION_COOKIE,
    client_of,
    cookie,
    session_token,
    set_cookie,
)
from common_outcomes.web.site import Served
from common_outcomes.web.views import default_view, indicator_view

router = APIRouter(include_in_schema=False)
MAX_EMAIL = 320  # RFC 3696's longest address, and the state's column
DOWNLOADS = {"csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _local(target: str | None) -> str:
    """Where to go after signing in: only a path on this site (no open redirect)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@router.get("/health")
async def health() -> PlainTextResponse:
    return PlainTextResponse("ok")


@router.get("/sign-in")
def sign_in_page(request: Request, next: str | None = None) -> Response:
    return render(request, "sign_in.html", next=_local(next), errors={}, email="")


@router.post("/sign-in")
def sign_in(request: Request, email: Annotated[str, Form()] = "",
            password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/",
            csrf_token: Annotated[str | None, Form(alias=CSRF_FIELD)] = None) -> Response:
    check_csrf(request, csrf_token)
    errors: dict[str, str] = {}
    if not email.strip():
        errors["email"] = "Enter your email address"
    elif len(email) > MAX_EMAIL:
        errors["email"] = f"Enter an email address of {MAX_EMAIL} characters or fewer"
    if not password:
        errors["password"] = "Enter your password"
    retry_after = None
    if not errors:
        try:
            token = site_of(request).state.sign_in(email, password, client_of(request))
        except SignInRefused as refused:
            errors["email"] = str(refused)
            retry_after = refused.retry_after
        else:
            response = RedirectResponse(_local(next), status_code=303)
            set_cookie(response, SESSION_COOKIE, token)
            return response
    answer = render(request, "sign_in.html", status=400 if retry_after is None else 429,
                    next=_local(next), errors=errors, email=email)
    if retry_after is not None:
        answer.headers["Retry-After"] = str(max(1, int(retry_after.total_seconds() + 0.999)))
    return answer


# OpenID Connect: included by create_app only when a provider is configured.
oidc_router = APIRouter(include_in_schema=False)


def _redirect_uri(request: Request, provider: Provider) -> str:
    return provider.settings.redirect_uri or str(request.url_for("oidc_callback"))


@oidc_router.get("/sign-in/oidc")
def oidc_start(request: Request, next: str | None = None) -> Response:
    site = site_of(request)
    assert site.oidc is not None
    try:
        url, flow = site.oidc.start(_redirect_uri(request, site.oidc), _local(next))
    except SignInFailed as failed:
        return render(request, "sign_in.html", status=502, next=_local(next),
                      errors={"oidc": str(failed)}, email="")
    response = RedirectResponse(url, status_code=303)
    set_cookie(response, FLOW_COOKIE, seal(flow, site.csrf_secret), max_age=FLOW_LIFETIME)
    return response


@oidc_router.get("/sign-in/oidc/callback")
def oidc_callback(request: Request, code: Annotated[str, Query(max_length=4000)] = "",
                  state: Annotated[str, Query(max_length=200)] = "",
                  error: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    site = site_of(request)
    assert site.oidc is not None
    next_path = "/"
    response: Response
    try:
        if error:
            raise SignInFailed(f"The identity provider did not sign you in ({error}).")
        flow = unseal(cookie(request, FLOW_COOKIE), site.csrf_secret)
        next_path = flow.next
        who = site.oidc.finish(flow, state, code, _redirect_uri(request, site.oidc))
        token = site.state.sign_in_external(who.issuer, who.subject, who.email,
                                            client_of(request))
    except (SignInFailed, SignInRefused) as failed:
        response = render(request, "sign_in.html", status=400, next=_local(next_path),
                          errors={"oidc": str(failed)}, email="")
    else:
        response = RedirectResponse(_local(next_path), status_code=303)
        set_cookie(response, SESSION_COOKIE, token)
    # A flow is used once, whatever came of it.
    response.delete_cookie(FLOW_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response


@router.post("/sign-out")
def sign_out(request: Request, account: SignedIn,
             csrf_token: Annotated[str | None, Form(alias=CSRF_FIELD)] = None) -> Response:
    check_csrf(request, csrf_token)
    site_of(request).state.sign_out(session_token(request) or "", account)
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True,
                           samesite="lax")
    return response


@router.get("/")
async def home(request: Request, account: SignedIn) -> Response:
    site = site_of(request)
    mine = [w for k, w in site.workspaces.items() if account.may(k, Role.VIEWER)]
    if len(mine) == 1:
        return RedirectResponse(f"/w/{mine[0].id}", status_code=303)
    return render(request, "home.html", workspaces=mine)


@router.get("/docs")
def api_docs(request: Request, account: SignedIn) -> Response:
    """The API's documentation: Swagger UI over /api/v1/openapi.json, for signed-in users
    (the page has its own Content Security Policy: security.DOCS_POLICY)."""
    return render(request, "api_docs.html")


def _links(ws: Served) -> diagrams.Links:
    """Where the diagrams' nodes lead: an activity to its place in the priority page's list."""
    return diagrams.Links(activity="#activity-{}", indicator=f"/w/{ws.id}/indicators/{{}}",
                          outcome=f"/w/{ws.id}#outcome-{{}}")


@router.get("/w/{workspace}")
async def overview(request: Request, ws: Workspace) -> Response:
    def context() -> dict[str, Any]:
        m = ws.mapped()
        by_partner = diagrams.partners_by_outcome(m["contribution_matrix"])
        return {"ws": ws, "m": m, "latest": ws.latest(ws.borough_code),
                "said": ws.readings(ws.borough_code),
                "by_partner": by_partner, "contribution": ws.derived(
                    "diagram", "contribution", lambda: diagrams.contribution(
                        by_partner, "contribution")),
                "conditions": conditions(ws.project.maturity,
                                         site_of(request).state.rounds(ws.id)),
                "overdue": [a for a in site_of(request).state.actions(
                    ws.id, version=request.state.version) if a.overdue(date.today())]}

    return await page(request, ws, "overview.html", context)


@router.get("/w/{workspace}/priorities/{priority}")
async def priority(request: Request, ws: Workspace, priority: str) -> Response:
    if not any(p["id"] == priority for p in ws.map["priorities"]):
        raise HTTPException(404, "There is no such priority.")

    def context() -> dict[str, Any]:
        m = ws.mapped()
        found = next(p for p in m["priorities"] if p["id"] == priority)
        written = site_of(request).state.story(ws.id, "priority", priority,
                                               request.state.version)
        thread = ws.derived("diagram", priority, lambda: diagrams.golden_thread(
            found, m["status"], _links(ws), "thread"))
        return {"ws": ws, "p": found, "status": m["status"], "thread": thread,
                "latest": ws.latest(ws.borough_code),
                "said": ws.readings(ws.borough_code),
                "partners": ws.partners, "narratives": written.narratives,
                "actions": written.actions,
                "reviews": site_of(request).state.reviews(ws.id, "priority", priority)}

    return await page(request, ws, "priority_page.html", context)


@router.get("/w/{workspace}/indicators/{indicator}")
async def indicator(request: Request, ws: Workspace, account: SignedIn, indicator: str,
              area: Annotated[str | None, Query(max_length=20)] = None,
              period_type: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    about = ws.indicators.get(indicator)
    if about is None:
        raise HTTPException(404, "There is no such indicator.")

    def context() -> dict[str, Any]:
        shown = ws.derived("indicator", f"{indicator}|{area}|{period_type}", lambda: indicator_view(
            ws, about, area or ws.borough_code, period_type))
        written = site_of(request).state.story(ws.id, "indicator", indicator,
                                               request.state.version)
        return {"ws": ws, "about": about, "partners": ws.partners, "unit": about.unit.value,
                "narratives": written.narratives,
                "may_write": account.may(ws.id, Role.CONTRIBUTOR), **shown}

    return await page(request, ws, "indicator_page.html", context)


def warm(ws: Served) -> None:
    """Make what the pages show by default (each indicator page, each area's latest values)
    before the first request, rather than for the first fifty requests at once."""
    table = ws.results()
    if table is None:
        return
    for indicator in set(table.column("indicator_id").to_pylist()) & set(ws.indicators):
        default_view(ws, indicator)
    for area in (ws.borough_code, *(x["id"] for x in ws.map["localities"])):
        ws.latest(area)


@router.get("/w/{workspace}/indicators/{indicator}/download.{fmt}")
def download(ws: Workspace, indicator: str, fmt: str) -> Response:
    if indicator not in ws.indicators or fmt not in DOWNLOADS:
        raise HTTPException(404, "There is no such download.")
    table = ws.of_shown(indicator)
    if table is None:
        raise HTTPException(404, "There are no results yet.")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{indicator}.{fmt}"
        ws.project.results_file(table, fmt, path)
        body = path.read_bytes()
    return Response(body, media_type=DOWNLOADS[fmt], headers={
        "Content-Disposition": f'attachment; filename="{ws.id}-{indicator}.{fmt}"'})


@router.get("/w/{workspace}/localities/{locality}")
async def locality(request: Request, ws: Workspace, locality: str) -> Response:
    found = next((x for x in ws.map["localities"] if x["id"] == locality), None)
    if found is None:
        raise HTTPException(404, "There is no such locality.")
    return await page(request, ws, "locality_page.html", lambda: _locality(ws, found))


# A locality's trend: its newest values of the measure's usual period type.
TREND_PERIODS = 8


def _locality(ws: Served, found: dict[str, Any]) -> dict[str, Any]:
    """A Family Hub locality for its manager: each priority's headline measures here with
    their trend, the borough's value and the locality's own target; then the activities the
    workspace says run here (activities.yaml `localities:`), with the hubs they run from."""
    here, borough = ws.latest(found["id"]), ws.latest(ws.borough_code)
    trends = ws.derived("locality", found["id"], partial(_trends, ws, found["id"]))
    groups = []
    for p in ws.map["priorities"]:
        rows = [_measure(ws, found, m, here, borough, trends) for m in p["measures"]]
        groups.append({"priority": p, "rows": rows})
    headline = {m["id"] for p in ws.map["priorities"] for m in p["measures"]}
    others = [_measure(ws, found, {"id": k, "name": v.indicator_name, "targets": []}, here,
                       borough, trends)
              for k, v in sorted(here.items(), key=lambda kv: kv[1].indicator_name)
              if k not in headline]
    chains = {c["activity"]: c for p in ws.map["priorities"] for c in p["chains"]
              if c["activity"] in found["activities"]}
    serves = {a: [p for p in ws.map["priorities"]
                  if any(c["activity"] == a for c in p["chains"])] for a in chains}
    hubs = {h["id"]: h["name"] for h in found["hubs"]}
    activities = [{"chain": c, "priorities": serves[a],
                   "hubs": [hubs[h] for h in c["hubs"] if h in hubs]}
                  for a, c in chains.items()]
    partners = sorted({d["partner_name"] for c in chains.values()
                       for d in (c["lead"], *c["with_partners"])})
    wards = {w["code"] for w in found["wards"]}
    where = charts.locator(ws.shapes, wards, found["name"], (
        f"Map of {ws.borough_name}'s wards with the {len(wards)} wards of {found['name']} "
        "filled in.")) if ws.shapes and wards else None
    return {"ws": ws, "loc": found, "groups": groups, "others": others,
            "said": ws.readings(found["id"]),
            "activities": activities, "elsewhere": len(ws.map["localities"]) > 1,
            "partners": partners,
            # base.html loads Vega for a page with this (the trends are drawn by it too).
            "charts": {"where": charts.attribute(where)}}


def _trends(ws: Served, area: str) -> dict[str, list[rv.Value]]:
    """Each indicator's newest values in an area, oldest first, in its usual period type."""
    table = ws.in_area(area)
    if table is None:
        return {}
    return {k: rv.series(table, k, area, usual)[-TREND_PERIODS:]
            for k, usual in ws.usual_periods.items()}


def _measure(ws: Served, found: dict[str, Any], measure: dict[str, Any],
             here: dict[str, rv.Value], borough: dict[str, rv.Value],
             trends: dict[str, list[rv.Value]]) -> dict[str, Any]:
    """One measure's row on a locality page."""
    key = measure["id"]
    about = ws.indicators.get(key)
    unit = about.unit.value if about else "percent"
    trend = trends.get(key, [])
    spark = charts.trend(trend, unit, (
        f"{measure['name']} in {found['name']}: the newest {len(trend)} values, oldest "
        "first.")) if trend else None
    return {"id": key, "name": measure["name"], "unit": unit, "here": here.get(key),
            "borough": borough.get(key), "trend": trend,
            "spark": charts.attribute(spark),
            "better": better(about.polarity.value) if about else "",
            "targets": [t for t in measure["targets"] if t["area"] == found["id"]]}


@router.get("/w/{workspace}/data")
async def data(request: Request, ws: Workspace, account: SignedIn) -> Response:
    if not account.may(ws.id, Role.ANALYST):
        # Record counts by source and period are not statistics that disclosure control has
        # passed: they are for the people who manage the data.
        raise HTTPException(403, "The data page is for analysts and administrators.")

    def context() -> dict[str, Any]:
        versions, quality = ws.data()
        return {"ws": ws, "versions": versions, "quality": quality,
                "has_results": ws.results() is not None}

    return await page(request, ws, "data.html", context)
