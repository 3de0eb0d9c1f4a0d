"""What the review pages (reviews.py) and the JSON API (api.py) share: the one list of actions
with where each arose and whether it is overdue (and its rows for CSV and XLSX), and the
checks on opening a review that the workspace makes (its quarters and priorities)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from common_outcomes.state import ActionVersion
from common_outcomes.web.site import Served
from common_outcomes.web.story_checks import Subject, subject_of

ACTION_COLUMNS = ("number", "description", "owner", "partner", "due", "status", "overdue",
                  "arose_from", "about_kind", "about", "period", "version", "changed_by",
                  "changed_at")


def arose_from(action: ActionVersion) -> str:
    """Where an action arose, in words: "Review 2", "Story behind the curve", ..."""
    if action.origin == "review":
        return f"Review {action.origin_ref}"
    if action.origin == "assessment":
        return f"Self-assessment {action.origin_ref or ''}".strip()
    return "Story behind the curve"


def action_rows(actions: Sequence[ActionVersion], partners: dict[str, str],
                today: date) -> list[tuple[object, ...]]:
    """The actions as the exports' rows, in ACTION_COLUMNS' order."""
    return [(a.number, a.fields.description, a.fields.owner,
             partners.get(a.fields.partner, a.fields.partner) if a.fields.partner else "",
             a.fields.due, a.fields.status, "yes" if a.overdue(today) else "no",
             arose_from(a), a.subject_kind, a.subject, a.fields.period, a.version, a.author,
             a.created_at.isoformat(timespec="seconds")) for a in actions]


def chosen(actions: Sequence[ActionVersion], show: str, today: date,
           names: Sequence[str] = ()) -> list[ActionVersion]:
    """The actions a list shows: all, the overdue ones, or those owned by someone called one
    of `names` (their email or name, as the owner was written)."""
    if show == "overdue":
        return [a for a in actions if a.overdue(today)]
    if show == "mine":
        known = {n.strip().lower() for n in names if n.strip()}
        return [a for a in actions if a.fields.owner.strip().lower() in known]
    return list(actions)


def review_subject(ws: Served, priority: str) -> Subject | None:
    """The priority a review is of (reviews in the app are of priorities)."""
    return subject_of(ws, "priority", priority)


def quarter_errors(ws: Served, quarter: str) -> dict[str, str]:
    if quarter not in ws.project.quarters():
        return {"quarter": "Select a quarter that has published values"}
    return {}
