"""The story behind the curve, for an indicator or a priority: narratives (what the curve
shows, what contributed, the partners involved) and actions with owners and due dates, each
written by contributors as a new version (the state keeps every version and audits each).
The pages are here; the JSON API (api.py) uses the same subjects and checks
(story_checks.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from common_outcomes.state import (
    ACTION_STATUSES,
    Account,
    ActionFields,
    ActionVersion,
    Invalid,
    Role,
    action_problems,
    narrative_problems,
)
from common_outcomes.web.deps import SignedIn, Workspace, check_csrf, site_of
from common_outcomes.web.rendering import page, render
from common_outcomes.web.security import CSRF_FIELD
from common_outcomes.web.site import Served
from common_outcomes.web.story_checks import KINDS, Subject, may_write, story_errors, subject_of
from common_outcomes.web.views import curves

router = APIRouter(include_in_schema=False)


def _subject(ws: Served, kind: str, subject: str) -> Subject:
    found = subject_of(ws, KINDS.get(kind, ""), subject)
    if found is None:
        raise HTTPException(404, "There is no such page.")
    return found


def _due(day: str, month: str, year: str) -> date | None:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


@dataclass(frozen=True)
class ActionForm:
    """An action as a form sends it: the date in three boxes, the period under its own id."""

    period: str = ""
    description: str = ""
    owner: str = ""
    partner: str = ""
    day: str = ""
    month: str = ""
    year: str = ""
    status: str = "open"

    @classmethod
    def of(cls, action: ActionVersion) -> ActionForm:
        f, due = action.fields, action.fields.due
        return cls(f.period, f.description, f.owner, f.partner or "",
                   str(due.day) if due else "", str(due.month) if due else "",
                   str(due.year) if due else "", f.status)

    def checked(self, ws: Served, subject: Subject) -> tuple[ActionFields | None,
                                                             dict[str, str]]:
        errors = story_errors(ws, subject, self.period.strip(),
                              [self.partner] if self.partner else [], "action-period")
        due = _due(self.day, self.month, self.year)
        fields = ActionFields(self.period.strip(), self.description, self.owner,
                              self.partner or None, due, self.status)
        # In the order the form asks, so that the summary reads down the page.
        errors.update((e.field, str(e)) for e in action_problems(fields))
        if due is None:
            errors["due-day"] = "Enter the date the action is due, for example 31 3 2026"
        return (None if errors else fields), errors


def _action_form(period: Annotated[str, Form()] = "", description: Annotated[str, Form()] = "",
                 owner: Annotated[str, Form()] = "", partner: Annotated[str, Form()] = "",
                 day: Annotated[str, Form(alias="due-day")] = "",
                 month: Annotated[str, Form(alias="due-month")] = "",
                 year: Annotated[str, Form(alias="due-year")] = "",
                 status: Annotated[str, Form()] = "open") -> ActionForm:
    return ActionForm(period, description, owner, partner, day, month, year, status)


@router.get("/w/{workspace}/{kind}/{subject}/story")
async def story(request: Request, ws: Workspace, kind: str, subject: str) -> Response:
    found = _subject(ws, kind, subject)
    return await page(request, ws, "story_page.html", lambda: _story(request, ws, found))


def _story_page(request: Request, ws: Served, subject: Subject, status: int,
                errors: dict[str, str], **form: Any) -> Response:
    """The story page again with what was sent and what is wrong with it."""
    return render(request, "story_page.html", status=status,
                  **_story(request, ws, subject, errors, **form))


def _story(request: Request, ws: Served, subject: Subject,
           errors: dict[str, str] | None = None, **form: Any) -> dict[str, Any]:
    written = site_of(request).state.story(ws.id, subject.kind, subject.id,
                                           request.state.version)
    narratives = written.narratives
    latest = list({n.period: n for n in reversed(narratives)}.values())[::-1]
    account: Account = request.state.account
    action = form.pop("action", ActionForm())
    choices = ws.period_choices(subject.indicators, {form.get("period", ""), action.period})
    return {"ws": ws, "subject": subject, "narratives": narratives, "latest": latest,
            "actions": written.actions, "periods": ws.periods(subject.indicators),
            "period_groups": choices, **curves(ws, _drawn(ws, subject)),
            "partners": ws.partners, "statuses": ACTION_STATUSES,
            "may_write": account.may(ws.id, Role.CONTRIBUTOR), "errors": errors or {},
            "action": action, **form}


def _drawn(ws: Served, subject: Subject) -> list[str]:
    """The indicators whose curves a story page draws: an indicator's own, or a priority's
    headline measures (its other outcome measures have their own pages)."""
    if subject.kind == "indicator":
        return [subject.id]
    found = next(p for p in ws.map["priorities"] if p["id"] == subject.id)
    return [m["id"] for m in found["measures"]]


@router.post("/w/{workspace}/{kind}/{subject}/narrative")
def save_narrative(request: Request, ws: Workspace, kind: str, subject: str,
                   account: SignedIn, period: Annotated[str, Form()] = "",
                   text: Annotated[str, Form()] = "", factors: Annotated[str, Form()] = "",
                   partners: Annotated[list[str] | None, Form()] = None,
                   csrf_token: Annotated[str | None, Form(alias=CSRF_FIELD)] = None
                   ) -> Response:
    check_csrf(request, csrf_token)
    about = _subject(ws, kind, subject)
    may_write(account, ws)
    chosen = partners or []
    errors = story_errors(ws, about, period.strip(), chosen)
    errors.update((e.field, str(e)) for e in narrative_problems(text, factors))
    if not errors:
        try:
            site_of(request).state.save_narrative(account, ws.id, about.kind, about.id,
                                                  period.strip(), text, factors,
                                                  tuple(chosen))
        except Invalid as e:
            errors[e.field] = str(e)
    if errors:
        return _story_page(request, ws, about, status=400, errors=errors, period=period,
                           text=text, factors=factors, chosen=chosen)
    return RedirectResponse(f"{about.href(ws)}/story#narratives", status_code=303)


@router.post("/w/{workspace}/{kind}/{subject}/actions")
def add_action(request: Request, ws: Workspace, kind: str, subject: str, account: SignedIn,
               form: Annotated[ActionForm, Depends(_action_form)],
               csrf_token: Annotated[str | None, Form(alias=CSRF_FIELD)] = None) -> Response:
    return _save_action(request, ws, _subject(ws, kind, subject), account, form, csrf_token,
                        None)


def _save_action(request: Request, ws: Served, about: Subject, account: Account,
                 form: ActionForm, csrf_token: str | None, number: int | None) -> Response:
    check_csrf(request, csrf_token)
    may_write(account, ws)
    fields, errors = form.checked(ws, about)
    state = site_of(request).state
    saved = None
    if fields is not None:
        try:
            saved = (state.add_action(account, ws.id, about.kind, about.id, fields)
                     if number is None else state.change_action(account, ws.id, number, fields))
        except Invalid as e:
            errors[e.field] = str(e)
    if saved is None and number is None:
        return _story_page(request, ws, about, status=400, errors=errors, action=form)
    if saved is None:
        return _action_page(request, ws, number or 0, status=400, errors=errors, action=form)
    return RedirectResponse(f"{about.href(ws)}/story#action-{saved.number}", status_code=303)


@router.get("/w/{workspace}/actions/{number}")
async def action(request: Request, ws: Workspace, number: int) -> Response:
    return await page(request, ws, "action_page.html", lambda: _action(request, ws, number))


def _action_page(request: Request, ws: Served, number: int, status: int,
                 errors: dict[str, str], action: ActionForm) -> Response:
    """The action page again with what was sent and what is wrong with it."""
    return render(request, "action_page.html", status=status,
                  **_action(request, ws, number, errors, action))


def _action(request: Request, ws: Served, number: int, errors: dict[str, str] | None = None,
            action: ActionForm | None = None) -> dict[str, Any]:
    versions = site_of(request).state.action(ws.id, number) if 0 < number < 2**31 else None
    if versions is None:
        raise HTTPException(404, "There is no such action.")
    about = subject_of(ws, versions[0].subject_kind, versions[0].subject)
    if about is None:
        raise HTTPException(404, "This action's indicator or priority is no longer in the "
                            "workspace.")
    account: Account = request.state.account
    shown = action or ActionForm.of(versions[0])
    return {"ws": ws, "subject": about, "versions": versions, "current": versions[0],
            "action": shown, "periods": ws.periods(about.indicators),
            "period_groups": ws.period_choices(about.indicators, {shown.period}),
            "partners": ws.partners,
            "statuses": ACTION_STATUSES, "may_write": account.may(ws.id, Role.CONTRIBUTOR),
            "errors": errors or {}}


@router.post("/w/{workspace}/actions/{number}")
def change_action(request: Request, ws: Workspace, number: int, account: SignedIn,
                  form: Annotated[ActionForm, Depends(_action_form)],
                  csrf_token: Annotated[str | None, Form(alias=CSRF_FIELD)] = None
                  ) -> Response:
    versions = site_of(request).state.action(ws.id, number) if 0 < number < 2**31 else None
    about = versions and subject_of(ws, versions[0].subject_kind, versions[0].subject)
    if not about:
        raise HTTPException(404, "There is no such action.")
    return _save_action(request, ws, about, account, form, csrf_token, number)
