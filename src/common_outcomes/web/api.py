"""The JSON API under /api/v1, described by its OpenAPI document. Same sign-in and roles as
the pages; every number comes from the published results."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as ApiPath
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from common_outcomes.reports import results_view as rv
from common_outcomes.reports.sentences import key_of
from common_outcomes.state import (
    Account,
    ActionFields,
    ActionStatus,
    ActionVersion,
    NarrativeVersion,
    Role,
    action_problems,
    narrative_problems,
)
from common_outcomes.state.store import MAX_ACTION, MAX_FACTORS, MAX_NARRATIVE
from common_outcomes.web.deps import SignedIn, Workspace, site_of
from common_outcomes.web.rendering import kept_json
from common_outcomes.web.site import Served
from common_outcomes.web.story_checks import Subject, may_write, story_errors, subject_of

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


@dataclass(frozen=True)
class Result(rv.Value):
    """A published row, with its benchmark named, its comparison in words ("Similar to
    England") and its sentence (reports/sentences.py); None for an indicator the
    workspace no longer defines."""

    benchmark_name: str | None
    comparison: str | None
    sentence: str | None


class Results(BaseModel):
    model_config = ConfigDict(frozen=True)
    total: int
    offset: int
    rows: list[Result]


# How the kept answers are written as JSON (web.rendering.kept_json).
RESULTS = TypeAdapter(Results)
NARRATIVES = TypeAdapter(list[NarrativeVersion])
ACTIONS = TypeAdapter(list[ActionVersion])
MAP: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])


@router.get("/workspaces")
async def workspaces(request: Request, account: SignedIn) -> list[WorkspaceSummary]:
    """The workspaces the signed-in user may read, with their role in each."""
    return [WorkspaceSummary(id=w.id, title=w.title, borough_code=w.borough_code,
                             borough_name=w.borough_name, role=account.roles[k])
            for k, w in site_of(request).workspaces.items() if account.may(k, Role.VIEWER)]


@router.get("/workspaces/{workspace}", response_model=dict[str, Any])
async def workspace(request: Request, ws: Workspace) -> Response:
    """The workspace's strategy: priorities, golden threads, localities, the contribution
    matrix and gaps (the strategy map's JSON, format common-outcomes/strategy-map@1)."""
    return await kept_json(request, ws, MAP, lambda: ws.map)


@router.get("/workspaces/{workspace}/framework", response_model=dict[str, Any])
async def framework(request: Request, ws: Workspace) -> Response:
    """The framework release the workspace pins: layers, domains, outcomes, indicators."""
    pinned = ws.project.framework
    assert pinned is not None
    return await kept_json(request, ws, MAP, lambda: pinned.framework.model_dump(mode="json"))


@router.get("/workspaces/{workspace}/results", response_model=Results, responses={
    503: {"model": Problem, "description": "The results cannot be shown (disclosure control)."}})
async def results(request: Request, ws: Workspace,
            indicator: Annotated[str | None, Query(max_length=100)] = None,
            area: Annotated[str | None, Query(max_length=100)] = None,
            period: Annotated[str | None, Query(max_length=50)] = None,
            period_type: Annotated[str | None, Query(max_length=50)] = None,
            breakdown: Annotated[str | None, Query(max_length=200)] = None,
            offset: Annotated[int, Query(ge=0)] = 0,
            limit: Annotated[int, Query(ge=1, le=MAX_ROWS)] = 1000) -> Response:
    """Published indicator values, filtered by indicator, area code, period label, period
    type and breakdown; paged by offset and limit."""
    def pick() -> Results:
        # An indicator's or an area's rows, split once per results version: a query filters
        # those rather than the whole table (London's holds every borough's wards).
        table = (ws.of(indicator) if indicator is not None else
                 ws.in_area(area) if area is not None else ws.results())
        if table is None:
            return Results(total=0, offset=offset, rows=[])
        chosen = rv.select(table, indicator, area, period, period_type, breakdown)
        return Results(total=chosen.num_rows, offset=offset,
                       rows=_worded(ws, rv.values(chosen.slice(offset, limit))))

    return await kept_json(request, ws, RESULTS, pick)


def _worded(ws: Served, rows: list[rv.Value]) -> list[Result]:
    read = ws.read(rows)
    out = []
    for row in rows:
        said = read.get(key_of(row))
        bench = said.benchmark if said else None
        out.append(Result(**asdict(row), benchmark_name=bench.name if bench else None,
                          comparison=said.comparison if said else None,
                          sentence=said.sentence if said else None))
    return out


# The story behind the curve: narratives and actions (stories.py holds the pages). ----------

SubjectKind = Literal["indicator", "priority"]
Text = Annotated[str, Field(max_length=MAX_NARRATIVE)]
Short = Annotated[str, Field(max_length=200)]
Id = Annotated[str, Field(max_length=100)]
Period = Annotated[str, Field(max_length=50)]
ActionNumber = Annotated[int, ApiPath(ge=1, le=2**31 - 1)]
WRITES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "A value cannot be saved (the reason names it)."},
    403: {"model": Problem, "description": "The user's role does not allow writing."},
    415: {"model": Problem, "description": "The body is not application/json."},
}


class NarrativeIn(BaseModel):
    """A new version of the story for an indicator or priority and a period."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    subject_kind: SubjectKind
    subject: Id
    period: Period
    text: Text
    factors: Annotated[str, Field(max_length=MAX_FACTORS)] = ""
    partners: Annotated[list[Id], Field(max_length=100)] = []


class ActionChange(BaseModel):
    """An action's fields; each change saves them all as a new version."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    period: Period
    description: Annotated[str, Field(max_length=MAX_ACTION)]
    owner: Short
    partner: Id | None = None
    due: date
    status: ActionStatus = "open"


class ActionIn(ActionChange):
    """A new action for an indicator or priority."""

    subject_kind: SubjectKind
    subject: Id


def json_body(request: Request, _account: SignedIn) -> None:
    """Writes take JSON only: a browser cannot send it across sites without a CORS
    pre-flight, which this app never grants, so a cookie alone cannot be used to forge one."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise HTTPException(415, "Send the body as application/json.")


def _writer(ws: Served, account: Account, kind: str, subject: str) -> Subject:
    may_write(account, ws)
    found = subject_of(ws, kind, subject)
    if found is None:
        raise HTTPException(400, f"There is no {kind} '{subject}' in this workspace.")
    return found


def _refuse(errors: dict[str, str]) -> None:
    if errors:
        raise HTTPException(400, "; ".join(f"{field}: {message}"
                                           for field, message in errors.items()) + ".")


@router.get("/workspaces/{workspace}/narratives", response_model=list[NarrativeVersion])
async def narratives(request: Request, ws: Workspace,
               subject_kind: SubjectKind | None = None,
               subject: Annotated[str | None, Query(max_length=100)] = None,
               period: Annotated[str | None, Query(max_length=50)] = None) -> Response:
    """Every version of the story behind the curve, newest first; filtered by subject and
    period."""
    return await kept_json(request, ws, NARRATIVES, lambda: site_of(request).state.narratives(
        ws.id, subject_kind, subject, period))


@router.post("/workspaces/{workspace}/narratives", status_code=201, responses=WRITES,
             dependencies=[Depends(json_body)])
def add_narrative(request: Request, ws: Workspace, account: SignedIn,
                  story: NarrativeIn) -> NarrativeVersion:
    """Save a new version of the story for a subject and period (contributors and above)."""
    about = _writer(ws, account, story.subject_kind, story.subject)
    errors = story_errors(ws, about, story.period, story.partners)
    errors.update((e.field, str(e)) for e in narrative_problems(story.text, story.factors))
    _refuse(errors)
    return site_of(request).state.save_narrative(
        account, ws.id, about.kind, about.id, story.period, story.text, story.factors,
        tuple(story.partners))


@router.get("/workspaces/{workspace}/actions", response_model=list[ActionVersion])
async def actions(request: Request, ws: Workspace, subject_kind: SubjectKind | None = None,
                  subject: Annotated[str | None, Query(max_length=100)] = None) -> Response:
    """The current version of every action, by number; filtered by subject."""
    return await kept_json(request, ws, ACTIONS, lambda: site_of(request).state.actions(
        ws.id, subject_kind, subject))


@router.post("/workspaces/{workspace}/actions", status_code=201, responses=WRITES,
             dependencies=[Depends(json_body)])
def add_action(request: Request, ws: Workspace, account: SignedIn,
               action: ActionIn) -> ActionVersion:
    """Add an action with its owner and due date (contributors and above)."""
    about = _writer(ws, account, action.subject_kind, action.subject)
    fields = _checked_action(ws, about, action)
    return site_of(request).state.add_action(account, ws.id, about.kind, about.id, fields)


@router.get("/workspaces/{workspace}/actions/{number}")
def action_versions(request: Request, ws: Workspace,
                    number: ActionNumber) -> list[ActionVersion]:
    """Every version of one action, newest first."""
    found = site_of(request).state.action(ws.id, number)
    if found is None:
        raise HTTPException(404, "There is no such action.")
    return found


@router.put("/workspaces/{workspace}/actions/{number}", responses=WRITES,
            dependencies=[Depends(json_body)])
def change_action(request: Request, ws: Workspace, account: SignedIn, number: ActionNumber,
                  change: ActionChange) -> ActionVersion:
    """Save a new version of an action (contributors and above)."""
    state = site_of(request).state
    found = state.action(ws.id, number)
    if found is None:
        raise HTTPException(404, "There is no such action.")
    about = _writer(ws, account, found[0].subject_kind, found[0].subject)
    return state.change_action(account, ws.id, number, _checked_action(ws, about, change))


def _checked_action(ws: Served, about: Subject, action: ActionChange) -> ActionFields:
    fields = ActionFields(action.period, action.description, action.owner, action.partner,
                          action.due, action.status)
    errors = story_errors(ws, about, action.period,
                          [action.partner] if action.partner else [], "period")
    errors.update((e.field, str(e)) for e in action_problems(fields))
    _refuse(errors)
    return fields
