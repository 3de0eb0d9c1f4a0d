"""What a story behind the curve is about (an indicator, or a priority through its measures)
and the checks on writing one that the workspace makes (its periods and partners; the state
checks the text). The story pages (stories.py) and the JSON API (api.py) share them."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException

from common_outcomes.state import Account, Role
from common_outcomes.web.site import Served

# The URL's word for each kind of subject.
KINDS = {"indicators": "indicator", "priorities": "priority"}
PATHS = {kind: path for path, kind in KINDS.items()}


@dataclass(frozen=True)
class Subject:
    """What a story is about: an indicator, or a priority (through its measures)."""

    kind: str
    id: str
    name: str
    indicators: frozenset[str]

    def href(self, ws: Served) -> str:
        return f"/w/{ws.id}/{PATHS[self.kind]}/{self.id}"


def subject_of(ws: Served, kind: str, subject: str) -> Subject | None:
    """The subject of this kind ("indicator" or "priority") and id, if there is one."""
    if kind == "indicator" and subject in ws.indicators:
        return Subject(kind, subject, ws.indicators[subject].name, frozenset({subject}))
    found = next((p for p in ws.map["priorities"] if p["id"] == subject), None)
    if kind == "priority" and found is not None:
        measures = {m["id"] for m in found["measures"]} | {
            om["indicator"] for c in found["chains"] for om in c["outcome_measures"]}
        return Subject(kind, subject, found["title"], frozenset(measures))
    return None


def story_errors(ws: Served, subject: Subject, period: str, partners: list[str],
                 period_field: str = "period") -> dict[str, str]:
    """What is wrong with a story's period and partners (the state checks the text)."""
    errors: dict[str, str] = {}
    if period not in ws.periods(subject.indicators):
        errors[period_field] = "Select a period that has published values"
    if any(p not in ws.partners for p in partners):
        errors["partners" if period_field == "period" else "partner"] = (
            "Select partners from the list")
    return errors


def may_write(account: Account, ws: Served) -> None:
    if not account.may(ws.id, Role.CONTRIBUTOR):
        raise HTTPException(403, "Your role lets you read this workspace, not write in it.")
