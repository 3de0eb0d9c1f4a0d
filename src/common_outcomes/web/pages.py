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

from common_outcomes.framework.models import Indicator
from common_outcomes.reports import diagrams
from common_outcomes.reports import results_view as rv
from common_outcomes.reports.sentences import Benchmark, Reading
from common_outcomes.state import Role, SignInRefused
from common_outcomes.tracking.comparators import ENGLAND
from common_outcomes.web import charts
from common_outcomes.web.deps import SignedIn, Workspace, check_csrf, site_of
from common_outcomes.web.formats import words
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
        shown = ws.derived("indicator", f"{indicator}|{area}|{period_type}", lambda: _shown(
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
        ws.derived("indicator", f"{indicator}|None|None",
                   partial(_shown, ws, ws.indicators[indicator], ws.borough_code, None))
    for area in (ws.borough_code, *(x["id"] for x in ws.map["localities"])):
        ws.latest(area)


def _shown(ws: Served, about: Indicator, area: str, period_type: str | None
           ) -> dict[str, Any]:
    """What the indicator page shows of the results for an area and period type."""
    table = ws.of(about.id)
    types = rv.period_types(table, about.id) if table is not None else []
    usual = about.period_type.value
    chosen = period_type if period_type in types else (usual if usual in types else
                                                       (types[0] if types else usual))
    series = rv.series(table, about.id, area, chosen) if table is not None else []
    # The newest period's areas: what the area list offers and the comparison shows (the
    # borough's own and its comparators, not every London borough's wards).
    areas = rv.compared(table, about.id, chosen, areas=ws.shown) if table is not None else []
    area_name = next((a.area_name for a in areas if a.area_code == area), area)
    read = ws.read([*series, *areas])
    said = {f"{k[1]}|{k[3]}": v for k, v in read.items()}
    groups = _judged_against(areas, said)
    specs = _indicator_charts(ws, about, area_name, chosen, series, areas, groups, said)
    return {"types": types, "period_type": chosen, "area": area, "area_name": area_name,
            "areas": areas, "series": series, "compared": areas, "said": said,
            "latest": said.get(f"{area}|{series[-1].period}") if series else None,
            "groups": groups,
            "charts": {k: charts.attribute(v) for k, v in specs.items()}}


def _judged_against(areas: list[rv.Value], said: dict[str, Reading]
                    ) -> list[tuple[Benchmark, list[rv.Value]]]:
    """The areas by the benchmark they are judged against (England for the borough, its
    region and neighbours; the borough for its localities and wards), each group with its
    benchmark's own row first, the most widely used benchmark first."""
    groups: dict[str, tuple[Benchmark, list[rv.Value]]] = {}
    for r in areas:
        reading = said.get(f"{r.area_code}|{r.period}")
        bench = reading.benchmark if reading else None
        if bench is not None:
            groups.setdefault(bench.code, (bench, []))[1].append(r)
    out = []
    for code, (bench, rows) in groups.items():
        own = [r for r in areas if r.area_code == code]
        out.append((bench, own + rows))
    return sorted(out, key=lambda g: g[0].code != ENGLAND)


def _indicator_charts(ws: Served, about: Indicator, area_name: str, period_type: str,
                      series: list[rv.Value], areas: list[rv.Value],
                      groups: list[tuple[Benchmark, list[rv.Value]]],
                      said: dict[str, Reading]) -> dict[str, Any]:
    """The indicator page's charts (None for one with nothing to draw): the series, one
    chart of areas for each benchmark they are judged against, and the maps."""
    unit, name, kind = about.unit.value, about.name, words(period_type)
    period = areas[0].period if areas else ""
    out: dict[str, Any] = {
        "series": charts.series(series, unit, (
            f"{name} in {area_name} by {kind}: the value for each period with its 95% "
            "confidence interval, the baseline and the target trajectory where set.")),
        **_maps(ws, about, areas)}
    for i, (bench, rows) in enumerate(groups):
        comparisons = {r.area_code: c for r in rows
                       if (c := said[f"{r.area_code}|{r.period}"].comparison
                           if f"{r.area_code}|{r.period}" in said else None)}
        out[f"areas-{i}"] = charts.areas(rows, unit, bench, comparisons, ws.neighbours, (
            f"{name}, {period}: each area's value with its 95% confidence interval, marked by "
            f"how it compares with {bench.name}, whose value is the dashed line."))
    return out


def _maps(ws: Served, about: Indicator, areas: list[rv.Value]) -> dict[str, Any]:
    """The newest period's values by ward, and by Family Hub locality (each ward filled with
    its locality's value), on the borough's ward shapes."""
    value = {r.area_code: r.value for r in areas if not r.suppressed}
    period = areas[0].period if areas else ""
    in_locality = {ward: value.get(loc) for ward, loc in ws.locality_of_ward().items()}
    legend = words(about.unit.value).capitalize()
    return {
        "ward_map": charts.choropleth(ws.shapes, value, about.unit.value, legend, (
            f"Map of {ws.borough_name}'s wards, each shaded by its value of {about.name} in "
            f"{period}; wards without a published value are grey.")),
        "locality_map": charts.choropleth(ws.shapes, in_locality, about.unit.value, legend, (
            f"Map of {ws.borough_name}'s Family Hub localities, each locality's wards shaded "
            f"by its value of {about.name} in {period}.")) if in_locality else None,
    }


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


def _locality(ws: Served, found: dict[str, Any]) -> dict[str, Any]:
    activities = [c for p in ws.map["priorities"] for c in p["chains"]
                  if c["activity"] in found["activities"]]
    unique = list({c["activity"]: c for c in activities}.values())
    partners = sorted({d["partner_name"] for c in unique
                       for d in (c["lead"], *c["with_partners"])})
    wards = {w["code"] for w in found["wards"]}
    where = charts.locator(ws.shapes, wards, found["name"], (
        f"Map of {ws.borough_name}'s wards with the {len(wards)} wards of {found['name']} "
        "filled in.")) if ws.shapes and wards else None
    return {"ws": ws, "loc": found, "here": ws.latest(found["id"]),
            "said": ws.readings(found["id"]),
            "borough": ws.latest(ws.borough_code), "activities": unique,
            "partners": partners, "charts": {"where": charts.attribute(where)}}


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
