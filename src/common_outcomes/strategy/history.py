"""The strategy's history: every change made through the app or `outcomes strategy change`,
one file each in the workspace's `history/` folder (kept in git beside the strategy): what
changed and why, who made it, when it took effect, the review that decided it, and each
file's YAML before and after.

The strategy as it stood on a day is the workspace with the changes that took effect after
that day undone, newest first (`files_as_of`), and the activities running that day.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import ConfigDict, ValidationError

from common_outcomes.documents import DocumentModel, Model
from common_outcomes.errors import UserError, display_path
from common_outcomes.reference import write_atomically
from common_outcomes.strategy.load import HISTORY


class FileVersion(Model):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)  # exact
    path: str  # relative to the workspace, with forward slashes
    before: str
    after: str


class StrategyChange(DocumentModel):
    """One change to the strategy: `history/0001.yaml`, `history/0002.yaml`, ..."""

    KIND: ClassVar[str] = "strategy-change"
    kind: Literal["strategy-change"]
    number: int
    recorded: datetime
    effective: date
    by: str
    why: str
    review: int | None = None
    what: tuple[str, ...]
    files: tuple[FileVersion, ...]


def _literal(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    # The files' YAML kept as block text, so the history reads (and diffs) as the files did.
    style = "|" if "\n" in text and not any(line != line.rstrip() for line in
                                            text.splitlines()) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(str, _literal)


def changes(folder: Path) -> list[StrategyChange]:
    """Every recorded change, oldest first."""
    found = []
    for path in sorted((folder / HISTORY).glob("[0-9][0-9][0-9][0-9].yaml")):
        try:
            data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
            found.append(StrategyChange.model_validate(data))
        except (yaml.YAMLError, ValidationError) as e:
            raise UserError(f"{display_path(path)} is not a strategy change the history can "
                            f"read ({str(e).splitlines()[0]}); restore it from git.") from e
    return found


def record(folder: Path, *, recorded: datetime, effective: date, by: str, why: str,
           review: int | None, what: tuple[str, ...],
           files: dict[Path, tuple[str, str]]) -> StrategyChange:
    """Write the next change's file (whole or not at all) and return it."""
    before = changes(folder)
    if before and effective < before[-1].effective:
        raise UserError(f"This change would take effect on {effective.isoformat()}, before "
                        f"the last recorded change (number {before[-1].number}, on "
                        f"{before[-1].effective.isoformat()}); changes are recorded in the "
                        "order they take effect.")
    change = StrategyChange(
        kind="strategy-change", version=1, number=(before[-1].number + 1 if before else 1),
        recorded=recorded, effective=effective, by=by, why=why.strip(), review=review,
        what=what, files=tuple(FileVersion(path=p.relative_to(folder).as_posix(), before=b,
                                           after=a) for p, (b, a) in sorted(files.items())))
    text = yaml.dump(change.model_dump(mode="json"), Dumper=_Dumper, sort_keys=False,
                     allow_unicode=True, width=100)
    write_atomically(folder / HISTORY / f"{change.number:04d}.yaml", text.encode())
    return change


def files_as_of(folder: Path, day: date) -> dict[str, str]:
    """The text of each file that has changed since `day`, as it was on `day`: the changes
    that took effect after it undone, newest first."""
    texts: dict[str, str] = {}
    for change in reversed(changes(folder)):
        if change.effective <= day:
            break
        for f in change.files:
            texts[f.path] = f.before
    return texts

