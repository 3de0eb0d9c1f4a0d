"""The JSON API under /api/v1, described by its OpenAPI document. Same sign-in and roles as
the pages; every number comes from the published results."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict

from common_outcomes.reports import results_view as rv
from common_outcomes.state import Role
from common_outcomes.web.app import SignedIn, Workspace, site_of

MAX_ROWS = 10_000


class Problem(BaseModel):
    """Why a request was refused, in one sentence."""

    detail: str


router = APIRouter(tags=["api"], responses={
    401: {"model": Problem, "description": "Not signed in."},
    404: {"model": Problem, "description": "No such workspace, or no role in it."},
})


class WorkspaceSummary(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str
    title: str
    borough_code: str
    borough_name: str
    role: Role


class Results(BaseModel):
    model_config = ConfigDict(frozen=True)
    total: int
    offset: int
    rows: list[rv.Value]


@router.get("/workspaces")
def workspaces(request: Request, account: SignedIn) -> list[WorkspaceSummary]:
    """The workspaces the signed-in user may read, with their role in each."""
    return [WorkspaceSummary(id=w.id, title=w.title, borough_code=w.borough_code,
                             borough_name=w.borough_name, role=account.roles[k])
            for k, w in site_of(request).workspaces.items() if account.may(k, Role.VIEWER)]


@router.get("/workspaces/{workspace}")
def workspace(ws: Workspace) -> dict[str, Any]:
    """The workspace's strategy: priorities, golden threads, localities, the contribution
    matrix and gaps (the strategy map's JSON, format common-outcomes/strategy-map@1)."""
    return ws.map


@router.get("/workspaces/{workspace}/framework")
def framework(ws: Workspace) -> dict[str, Any]:
    """The framework release the workspace pins: layers, domains, outcomes, indicators."""
    assert ws.project.framework is not None
    return ws.project.framework.framework.model_dump(mode="json")


@router.get("/workspaces/{workspace}/results", responses={
    503: {"model": Problem, "description": "The results cannot be shown (disclosure control)."}})
def results(ws: Workspace,
            indicator: Annotated[str | None, Query(max_length=100)] = None,
            area: Annotated[str | None, Query(max_length=100)] = None,
            period: Annotated[str | None, Query(max_length=50)] = None,
            period_type: Annotated[str | None, Query(max_length=50)] = None,
            breakdown: Annotated[str | None, Query(max_length=200)] = None,
            offset: Annotated[int, Query(ge=0)] = 0,
            limit: Annotated[int, Query(ge=1, le=MAX_ROWS)] = 1000) -> Results:
    """Published indicator values, filtered by indicator, area code, period label, period
    type and breakdown; paged by offset and limit."""
    table = ws.results()
    if table is None:
        return Results(total=0, offset=offset, rows=[])
    chosen = rv.select(table, indicator, area, period, period_type, breakdown)
    return Results(total=chosen.num_rows, offset=offset,
                   rows=rv.values(chosen.slice(offset, limit)))
