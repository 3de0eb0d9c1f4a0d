"""Quarterly reviews (what the data showed, kept as it was; what was learned and decided; the
strategy changes and actions they led to; sign-off), the one list of actions wherever they
arose, with its exports, and the strategy as it stood on a day with its history.

These pages show what depends on who reads them (who may write a review, whose actions are
theirs), so they are rendered for each request rather than kept per role.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from common_outcomes.data.spreadsheets import write_csv, write_xlsx
from common_outcomes.errors import UserError
from common_outcomes.state import (
    ACTION_STATUSES,
    Account,
    ActionFields,
    Invalid,
    ReviewFields,
    ReviewRecord,
    Role,
    action_problems,
)
from common_outcomes.web.deps import SignedIn, Workspace, check_csrf, site_of
from common_outcomes.web.rendering import render
from common_outcomes.web.review_checks import (
    ACTION_COLUMNS,
    action_rows,
    arose_from,
    chosen,
    quarter_errors,
    review_subject,
)
from common_outcomes.web.security import CSRF_FIELD
from common_outcomes.web.site import Served

router = APIRouter(include_in_schema=False)
EXPORTS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
SHOWS = {"all": "All actions", "overdue": "Overdue actions", "mine": "Your actions"}
Csrf = Annotated[str | None, Form(alias=CSRF_FIELD)]


def _date(day: str, month: str, year: str) -> date | None:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _writable(request: Request, ws: Served, account: Account) -> list[dict[str, Any]]:
    """The priorities this reader may write reviews of."""
    state = site_of(request).state
    return [p for p in ws.map["priorities"]
            if state.may_review(account, ws.id, "priority", p["id"])]


# Reviews --------------------------------------------------------------------------------------

@router.get("/w/{workspace}/reviews")
def reviews(request: Request, ws: Workspace, account: SignedIn) -> Response:
    return _reviews_page(request, ws, account)


def _reviews_page(request: Request, ws: Served, account: Account, status: int = 200,
                  errors: dict[str, str] | None = None, **form: str) -> Response:
    found = site_of(request).state.reviews(ws.id)
    titles = {p["id"]: p["title"] for p in ws.map["priorities"]}
    return render(request, "reviews.html", status=status, ws=ws, reviews=found,
                  titles=titles, writable=_writable(request, ws, account),
                  quarters=ws.project.quarters(), errors=errors or {}, form=form,
                  today=date.today())


@router.post("/w/{workspace}/reviews")
def open_review(request: Request, ws: Workspace, account: SignedIn,
                priority: Annotated[str, Form()] = "", quarter: Annotated[str, Form()] = "",
                day: Annotated[str, Form(alias="held-day")] = "",
                month: Annotated[str, Form(alias="held-month")] = "",
                year: Annotated[str, Form(alias="held-year")] = "",
                csrf_token: Csrf = None) -> Response:
    check_csrf(request, csrf_token)
    state = site_of(request).state
    about = review_subject(ws, priority)
    if about is not None and not state.may_review(account, ws.id, "priority", about.id):
        raise HTTPException(403, "You may not write reviews of this priority; ask an "
                            "administrator to grant it to you.")
    errors = {} if about is not None else {"priority": "Select a priority"}
    errors.update(quarter_errors(ws, quarter))
    held = _date(day, month, year)
    if held is None:
        errors["held-day"] = "Enter the day the review was held, for example 14 8 2025"
    saved = None
    if about is not None and held is not None and not errors:
        try:
            saved = state.add_review(account, ws.id, ReviewFields(
                "priority", about.id, quarter, held),
                ws.project.snapshot(about.indicators, quarter))
        except Invalid as e:
            errors[e.field if e.field != "held" else "held-day"] = str(e)
    if saved is None:
        return _reviews_page(request, ws, account, 400, errors, priority=priority,
                             quarter=quarter, day=day, month=month, year=year)
    return RedirectResponse(f"/w/{ws.id}/reviews/{saved.number}", status_code=303)


def _review(request: Request, ws: Served, number: int) -> ReviewRecord:
    found = (site_of(request).state.review(ws.id, number) if 0 < number < 2**31 else None)
    if found is None:
        raise HTTPException(404, "There is no such review.")
    return found


@router.get("/w/{workspace}/reviews/{number}")
def review(request: Request, ws: Workspace, account: SignedIn, number: int) -> Response:
    return _review_page(request, ws, account, _review(request, ws, number))


def _review_page(request: Request, ws: Served, account: Account, found: ReviewRecord,
                 status: int = 200, errors: dict[str, str] | None = None,
                 **form: Any) -> Response:
    state = site_of(request).state
    about = review_subject(ws, found.fields.subject)
    changes = [c for c in ws.project.strategy_history() if c.review == found.number]
    actions = [a for a in state.actions(ws.id)
               if a.origin == "review" and a.origin_ref == str(found.number)]
    may_write = (not found.signed and state.may_review(account, ws.id,
                                                       found.fields.subject_kind,
                                                       found.fields.subject))
    return render(request, "review_page.html", status=status, ws=ws, review=found,
                  subject=about, changes=changes, actions=actions, partners=ws.partners,
                  statuses=ACTION_STATUSES, may_write=may_write,
                  may_sign=may_write and account.may(ws.id, Role.ADMIN),
                  errors=errors or {}, form=form)


@router.post("/w/{workspace}/reviews/{number}")
def save_review(request: Request, ws: Workspace, account: SignedIn, number: int,
                learned: Annotated[str, Form()] = "", decisions: Annotated[str, Form()] = "",
                csrf_token: Csrf = None) -> Response:
    check_csrf(request, csrf_token)
    found = _review(request, ws, number)
    try:
        site_of(request).state.save_review(account, ws.id, number, learned, decisions)
    except PermissionError:
        raise HTTPException(403, "You may not write this review.") from None
    except Invalid as e:
        return _review_page(request, ws, account, found, 400, {e.field: str(e)},
                            learned=learned, decisions=decisions)
    return RedirectResponse(f"/w/{ws.id}/reviews/{number}", status_code=303)


@router.post("/w/{workspace}/reviews/{number}/sign")
def sign_review(request: Request, ws: Workspace, account: SignedIn, number: int,
                csrf_token: Csrf = None) -> Response:
    check_csrf(request, csrf_token)
    found = _review(request, ws, number)
    try:
        site_of(request).state.sign_review(account, ws.id, number)
    except PermissionError:
        raise HTTPException(403, "Only an administrator may sign a review off.") from None
    except Invalid as e:
        return _review_page(request, ws, account, found, 400, {e.field: str(e)})
    return RedirectResponse(f"/w/{ws.id}/reviews/{number}", status_code=303)


@router.post("/w/{workspace}/reviews/{number}/actions")
def review_action(request: Request, ws: Workspace, account: SignedIn, number: int,
                  description: Annotated[str, Form()] = "", owner: Annotated[str, Form()] = "",
                  partner: Annotated[str, Form()] = "",
                  day: Annotated[str, Form(alias="due-day")] = "",
                  month: Annotated[str, Form(alias="due-month")] = "",
                  year: Annotated[str, Form(alias="due-year")] = "",
                  csrf_token: Csrf = None) -> Response:
    """An action the review agreed: on the review's priority, for its quarter."""
    check_csrf(request, csrf_token)
    found = _review(request, ws, number)
    state = site_of(request).state
    if found.signed or not state.may_review(account, ws.id, found.fields.subject_kind,
                                            found.fields.subject):
        raise HTTPException(403, "Actions are added to a review while it is a draft, by "
                            "those who may write it.")
    due = _date(day, month, year)
    fields = ActionFields(found.fields.quarter, description, owner, partner or None, due,
                          "open")
    errors = {e.field: str(e) for e in action_problems(fields)}
    if partner and partner not in ws.partners:
        errors["partner"] = "Select a partner from the list"
    if due is None:
        errors["due-day"] = "Enter the date the action is due, for example 31 3 2026"
    if not errors:
        try:
            state.add_action(account, ws.id, found.fields.subject_kind, found.fields.subject,
                             fields, "review", str(number))
        except Invalid as e:
            errors[e.field] = str(e)
    if errors:
        return _review_page(request, ws, account, found, 400, errors, description=description,
                            owner=owner, partner=partner, day=day, month=month, year=year)
    return RedirectResponse(f"/w/{ws.id}/reviews/{number}#actions", status_code=303)


# One list of actions --------------------------------------------------------------------------

@router.get("/w/{workspace}/actions")
def actions(request: Request, ws: Workspace, account: SignedIn,
            show: Annotated[str, Query(max_length=20)] = "all") -> Response:
    if show not in SHOWS:
        raise HTTPException(404, "There is no such list.")
    every = site_of(request).state.actions(ws.id)
    today = date.today()
    return render(request, "actions_list.html", ws=ws, show=show, shows=SHOWS,
                  actions=chosen(every, show, today, (account.email, account.name)),
                  overdue=sum(a.overdue(today) for a in every), today=today,
                  partners=ws.partners, arose_from=arose_from)


@router.get("/w/{workspace}/actions.{fmt}")
async def actions_export(request: Request, ws: Workspace, fmt: str) -> Response:
    if fmt not in EXPORTS:
        raise HTTPException(404, "There is no such download.")
    every = site_of(request).state.actions(ws.id)

    def write() -> bytes:
        rows = action_rows(every, ws.partners, date.today())
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"actions.{fmt}"
            if fmt == "csv":
                write_csv(path, ACTION_COLUMNS, rows)
            else:
                write_xlsx(path, {"Actions": (ACTION_COLUMNS, rows)})
            return path.read_bytes()

    body = await run_in_threadpool(write)
    return Response(body, media_type=EXPORTS[fmt], headers={
        "Content-Disposition": f'attachment; filename="{ws.id}-actions.{fmt}"'})


# The strategy as it stood on a day ------------------------------------------------------------

@router.get("/w/{workspace}/strategy")
def strategy(request: Request, ws: Workspace,
             as_of: Annotated[str | None, Query(alias="as-of", max_length=20)] = None
             ) -> Response:
    errors: dict[str, str] = {}
    day = date.today()
    if as_of:
        try:
            day = date.fromisoformat(as_of.strip())
        except ValueError:
            errors["as-of"] = "Enter a date as YYYY-MM-DD, for example 2025-07-31"
    try:
        then = ws.project.as_of(day)
    except UserError as e:
        raise HTTPException(404, str(e)) from None
    history = ws.project.strategy_history()
    return render(request, "strategy_page.html", status=400 if errors else 200, ws=ws,
                  day=day, asked=as_of or "", m=then.map(), history=history,
                  later=[c for c in history if c.effective > day], errors=errors)
