"""Changes to a borough's strategy, made to its YAML as a person would make them: an activity
started or stopped, a target revised, a ward moved from one locality to another.

Each change is edited with ruamel.yaml's round trip, so the file keeps its comments, order
and layout; `edit` gives every file's text before and after and writes nothing. The façade
(`Project.change_strategy`) checks the changed workspace as `outcomes check` does before
anything is written, and records it in the workspace's history (`history.py`).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from common_outcomes.errors import UserError, display_path
from common_outcomes.strategy.load import workspace_files


@dataclass(frozen=True)
class StartActivity:
    """An activity (already described in the YAML) starts on the day the change takes effect;
    a stopped one starts again."""

    activity: str


@dataclass(frozen=True)
class StopActivity:
    """An activity stops on the day the change takes effect: it ran until the day before."""

    activity: str


@dataclass(frozen=True)
class ChangeActivity:
    """An activity's description or cohort rewritten."""

    activity: str
    description: str | None = None
    cohort: str | None = None


@dataclass(frozen=True)
class ReviseTarget:
    """A target's value revised (the target is its indicator, area and period)."""

    indicator: str
    area: str
    period: str
    value: float


@dataclass(frozen=True)
class MoveWard:
    """A ward moved to another locality: the localities' boundary moved."""

    ward: str
    to: str


Change = StartActivity | StopActivity | ChangeActivity | ReviseTarget | MoveWard


def describe(change: Change, effective: date) -> str:
    """The change in one sentence, as the history shows it."""
    match change:
        case StartActivity(activity):
            return f"Activity '{activity}' started on {effective.isoformat()}."
        case StopActivity(activity):
            return f"Activity '{activity}' stopped on {effective.isoformat()}."
        case ChangeActivity(activity, description, cohort):
            what = " and ".join(w for w, v in (("description", description),
                                               ("cohort", cohort)) if v is not None)
            return f"Activity '{activity}' changed its {what}."
        case ReviseTarget(indicator, area, period, value):
            return (f"The target for '{indicator}' in {area} for {period} was revised to "
                    f"{value:g}.")
        case MoveWard(ward, to):
            return f"Ward {ward} moved to locality '{to}'."


def _yaml() -> YAML:
    yaml = YAML()  # round trip: comments, key order and flow style are kept
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long line the author wrote
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


@dataclass
class _File:
    path: Path
    before: str
    data: Any


def _files_of_kind(folder: Path, kind: str) -> list[_File]:
    pattern = re.compile(rf"^kind:\s*['\"]?{re.escape(kind)}['\"]?\s*$", re.MULTILINE)
    found = []
    for path in workspace_files(folder):
        text = path.read_text(encoding="utf-8")
        if pattern.search(text):
            found.append(_File(path, text, _yaml().load(text)))
    return found


def _items(files: list[_File], key: str) -> list[tuple[_File, CommentedMap]]:
    return [(f, item) for f in files if isinstance(f.data, CommentedMap)
            and isinstance(f.data.get(key), CommentedSeq)
            for item in f.data[key] if isinstance(item, CommentedMap)]


def _set_after(item: CommentedMap, key: str, value: Any, after: str) -> None:
    """Set `key`, keeping its place if it is there, else putting it after `after`."""
    if key in item:
        item[key] = value
        return
    keys = list(item.keys())
    item.insert(keys.index(after) + 1 if after in keys else len(keys), key, value)


def _activity(folder: Path, activity: str) -> tuple[_File, CommentedMap]:
    found = [(f, a) for f, a in _items(_files_of_kind(folder, "activities"), "activities")
             if a.get("id") == activity]
    if not found:
        raise UserError(f"There is no activity '{activity}' in {display_path(folder)}; "
                        "name one its activities files declare.")
    return found[0]


def _edit_activity(folder: Path, change: StartActivity | StopActivity | ChangeActivity,
                   effective: date) -> _File:
    file, item = _activity(folder, change.activity)
    if isinstance(change, StartActivity):
        _set_after(item, "start", effective, "name")
        item.pop("end", None)
    elif isinstance(change, StopActivity):
        if item.get("end") is not None:
            raise UserError(f"Activity '{change.activity}' already stopped on "
                            f"{item['end']}; start it again before stopping it.")
        _set_after(item, "end", effective, "start" if "start" in item else "name")
    else:
        for key, value in (("description", change.description), ("cohort", change.cohort)):
            if value is not None:
                _set_after(item, key, value.strip(), "name")
    return file


def _edit_target(folder: Path, change: ReviseTarget) -> _File:
    for file, item in _items(_files_of_kind(folder, "targets"), "targets"):
        if (item.get("indicator"), str(item.get("area")), str(item.get("period"))) == (
                change.indicator, change.area, change.period):
            value = change.value
            item["value"] = int(value) if value == int(value) else value
            return file
    raise UserError(f"There is no target for '{change.indicator}' in {change.area} for "
                    f"{change.period}; name one the targets file declares.")


def _edit_localities(folder: Path, change: MoveWard) -> list[_File]:
    localities = _items(_files_of_kind(folder, "localities"), "localities")
    target = next((loc for _, loc in localities if loc.get("id") == change.to), None)
    if target is None:
        raise UserError(f"There is no locality '{change.to}'; name one the localities file "
                        "declares.")
    source = next(((f, loc) for f, loc in localities
                   if change.ward in (loc.get("wards") or [])), None)
    if source is None:
        raise UserError(f"Ward {change.ward} is in no locality built from wards; name a ward "
                        "one of them lists.")
    if source[1] is target:
        raise UserError(f"Ward {change.ward} is already in locality '{change.to}'.")
    source[1]["wards"].remove(change.ward)
    if "wards" not in target:
        raise UserError(f"Locality '{change.to}' is built from LSOAs, not wards.")
    target["wards"].append(change.ward)
    return [f for f, loc in localities if loc is source[1] or loc is target]


def _dump(data: Any) -> str:
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()


def edit(folder: Path, change: Change, effective: date) -> dict[Path, tuple[str, str]]:
    """Each file the change touches, with its text before and after; nothing is written."""
    match change:
        case StartActivity() | StopActivity() | ChangeActivity():
            files = [_edit_activity(folder, change, effective)]
        case ReviseTarget():
            files = [_edit_target(folder, change)]
        case MoveWard():
            files = _edit_localities(folder, change)
    edited = {f.path: (f.before, _dump(f.data)) for f in files}
    return {path: texts for path, texts in edited.items() if texts[0] != texts[1]}
