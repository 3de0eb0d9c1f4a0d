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

from common_outcomes.framework.maturity import MaturityModel
from common_outcomes.reports import results_view as rv
from common_outcomes.reports.sentences import key_of
from common_outcomes.state import (
    Account,
    ActionFields,
    ActionStatus,
    ActionVersion,
    Invalid,
    NarrativeVersion,
    ReviewFields,
    ReviewRecord,
    Role,
    Round,
    action_problems,
    narrative_problems,
)
from common_outcomes.state.store import MAX_ACTION, MAX_FACTORS, MAX_NARRATIVE
from common_outcomes.web.deps import SignedIn, Workspace, site_of
from common_outcomes.web.rendering import kept_json
from common_outcomes.web.review_checks import chosen, quarter_errors, review_subject
from common_outcomes.web.round_views import Conditions, conditions
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
                  subject: Annotated[str | None, Query(max_length=100)] = None,
                  overdue: bool = False,
                  origin: Literal["story", "review", "assessment"] | None = None) -> Response:
    """The current version of every action, by number, wherever it arose (`origin`, with
    `origin_ref`: the review's number); filtered by subject, by origin, or to those overdue
    (not done by their due date)."""
    def pick() -> list[ActionVersion]:
        found = site_of(request).state.actions(ws.id, subject_kind, subject)
        found = chosen(found, "overdue" if overdue else "all", date.today())
        return [a for a in found if origin in (None, a.origin)]

    # Overdue changes with the day, so that list is not kept.
    if overdue:
        return Response(ACTIONS.dump_json(pick()), media_type="application/json")
    return await kept_json(request, ws, ACTIONS, pick)


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


# The system conditions: the maturity model, the rounds, and where each condition stands
# (web/conditions.py holds the pages). ---------------------------------------------------

MATURITY = TypeAdapter(MaturityModel)
ROUNDS = TypeAdapter(list[Round])
ROUND = TypeAdapter(Round)
CONDITIONS = TypeAdapter(Conditions)
RoundNumber = Annotated[int, ApiPath(ge=1, le=2**31 - 1)]


@router.get("/workspaces/{workspace}/maturity-model", response_model=MaturityModel)
async def maturity_model(request: Request, ws: Workspace) -> Response:
    """The system conditions' maturity model: the levels, and each condition's features
    with a descriptor per level and the indicators that evidence them (the framework's and
    the workspace's own)."""
    return await kept_json(request, ws, MATURITY, lambda: ws.project.maturity)


@router.get("/workspaces/{workspace}/rounds", response_model=list[Round])
async def rounds(request: Request, ws: Workspace) -> Response:
    """Every self-assessment round, oldest first: its features, respondents, ratings with
    their evidence, and moderated levels; `closed_at` is null while it is open."""
    return await kept_json(request, ws, ROUNDS,
                           lambda: site_of(request).state.rounds(ws.id))


@router.get("/workspaces/{workspace}/rounds/{number}", response_model=Round)
async def assessment_round(request: Request, ws: Workspace, number: RoundNumber) -> Response:
    """One self-assessment round."""
    def one() -> Round:
        found = site_of(request).state.round(ws.id, number)
        if found is None:
            raise HTTPException(404, "There is no such round.")
        return found

    return await kept_json(request, ws, ROUND, one)


@router.get("/workspaces/{workspace}/conditions", response_model=Conditions)
async def system_conditions(request: Request, ws: Workspace) -> Response:
    """Each feature's moderated level in every closed round and its movement (levels moved
    between the last two rounds that rated it), and each condition's level in the latest
    closed round (that of its least mature feature) and its movement."""
    return await kept_json(request, ws, CONDITIONS, lambda: conditions(
        ws.project.maturity, site_of(request).state.rounds(ws.id)))


# Quarterly reviews and the strategy's history (reviews.py holds the pages). -----------------

REVIEWS = TypeAdapter(list[ReviewRecord])
Quarter = Annotated[str, Field(max_length=50)]
ReviewNumber = Annotated[int, ApiPath(ge=1, le=2**31 - 1)]


class ReviewIn(BaseModel):
    """A new review of a priority for a quarter, held on a day; it keeps the priority's
    published figures for the quarter as they are now."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    priority: Id
    quarter: Quarter
    held: date


class ReviewText(BaseModel):
    """What was learned and decided; each save replaces both while the review is a draft."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    learned: Text = ""
    decisions: Text = ""


class SignOff(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    sign_off: Literal[True]


class StrategyChangeOut(BaseModel):
    """A change to the strategy, from the workspace's history."""

    model_config = ConfigDict(frozen=True)
    number: int
    effective: date
    what: list[str]
    why: str
    by: str
    review: int | None


@router.get("/workspaces/{workspace}/reviews", response_model=list[ReviewRecord])
def reviews(request: Request, ws: Workspace) -> Response:
    """Every quarterly review, newest first, with the figures each kept."""
    return Response(REVIEWS.dump_json(site_of(request).state.reviews(ws.id)),
                    media_type="application/json")


def _found_review(request: Request, ws: Served, number: int) -> ReviewRecord:
    found = site_of(request).state.review(ws.id, number)
    if found is None:
        raise HTTPException(404, "There is no such review.")
    return found


@router.get("/workspaces/{workspace}/reviews/{number}")
def review(request: Request, ws: Workspace, number: ReviewNumber) -> ReviewRecord:
    """One review."""
    return _found_review(request, ws, number)


def _review_write(request: Request, make: Any) -> ReviewRecord:
    try:
        made: ReviewRecord = make()
    except PermissionError:
        raise HTTPException(403, "Your role does not let you write this review.") from None
    except Invalid as e:
        raise HTTPException(400, f"{e.field}: {e}.") from None
    return made


@router.post("/workspaces/{workspace}/reviews", status_code=201, responses=WRITES,
             dependencies=[Depends(json_body)])
def add_review(request: Request, ws: Workspace, account: SignedIn,
               review: ReviewIn) -> ReviewRecord:
    """Open a review of a priority (admins, and contributors granted the priority)."""
    state = site_of(request).state
    about = review_subject(ws, review.priority)
    if about is None:
        raise HTTPException(400, f"There is no priority '{review.priority}' in this "
                            "workspace.")
    if not state.may_review(account, ws.id, "priority", about.id):
        raise HTTPException(403, "Your role does not let you write reviews of this "
                            "priority.")
    _refuse(quarter_errors(ws, review.quarter))
    return _review_write(request, lambda: state.add_review(
        account, ws.id, ReviewFields("priority", about.id, review.quarter, review.held),
        ws.project.snapshot(about.indicators, review.quarter)))


@router.put("/workspaces/{workspace}/reviews/{number}", responses=WRITES,
            dependencies=[Depends(json_body)])
def save_review(request: Request, ws: Workspace, account: SignedIn, number: ReviewNumber,
                text: ReviewText) -> ReviewRecord:
    """Save what was learned and decided; refused once the review is signed off."""
    _found_review(request, ws, number)
    return _review_write(request, lambda: site_of(request).state.save_review(
        account, ws.id, number, text.learned, text.decisions))


@router.post("/workspaces/{workspace}/reviews/{number}/sign-off", responses=WRITES,
             dependencies=[Depends(json_body)])
def sign_review(request: Request, ws: Workspace, account: SignedIn,
                number: ReviewNumber, _sign: SignOff) -> ReviewRecord:
    """Sign a review off (admins): from then on it is read-only. The body is
    `{"sign_off": true}`: a JSON body, so that a cross-site form cannot send it."""
    _found_review(request, ws, number)
    return _review_write(request, lambda: site_of(request).state.sign_review(
        account, ws.id, number))


@router.get("/workspaces/{workspace}/strategy/history")
def strategy_history(ws: Workspace) -> list[StrategyChangeOut]:
    """Every change to the strategy, oldest first: when it took effect, what, why, by whom
    and the review that decided it."""
    return [StrategyChangeOut(number=c.number, effective=c.effective, what=list(c.what),
                              why=c.why, by=c.by, review=c.review)
            for c in ws.project.strategy_history()]
