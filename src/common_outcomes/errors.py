"""Problems as data: every check collects `Issue`s before anything fails.

An `Issue` names where (file, line, column), how bad (severity), what (a stable
code users can search for and suppress) and how to fix it (a hint). A `UserError`
is a mistake in what the user gave us; the CLI prints it as one sentence and never
as a traceback. An `InternalError` is a fault in common-outcomes found where it happened
(a query the engine compiled wrongly, a measure with no statistics): the CLI says so, asks
for a report and prints the details to put in it. Anything else escaping is a bug too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a user's file; line and column are 1-based as editors show them."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


@dataclass(frozen=True, slots=True)
class Issue:
    code: str
    message: str
    severity: Severity = Severity.ERROR
    location: Location | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        text = f"{where}{self.severity.value} [{self.code}] {self.message}"
        return f"{text} ({self.hint})" if self.hint else text

    def at(self, location: Location | None) -> Issue:
        return replace(self, location=location)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        loc = data.pop("location") or {}
        return {
            "file": loc.get("file"),
            "line": loc.get("line"),
            "column": loc.get("column"),
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


def _sort_key(issue: Issue) -> tuple[str, int, int, str]:
    loc = issue.location
    if loc is None:
        return ("", 0, 0, issue.code)
    return (loc.file, loc.line or 0, loc.column or 0, issue.code)


class Issues:
    """An append-only collector; checks add to it and callers decide when to fail."""

    def __init__(self, items: Iterable[Issue] = ()) -> None:
        self._items: list[Issue] = list(items)

    def add(self, issue: Issue) -> None:
        self._items.append(issue)

    def extend(self, issues: Iterable[Issue]) -> None:
        self._items.extend(issues)

    def error(
        self,
        code: str,
        message: str,
        location: Location | None = None,
        hint: str | None = None,
    ) -> None:
        self.add(Issue(code, message, Severity.ERROR, location, hint))

    def warning(
        self,
        code: str,
        message: str,
        location: Location | None = None,
        hint: str | None = None,
    ) -> None:
        self.add(Issue(code, message, Severity.WARNING, location, hint))

    @property
    def has_errors(self) -> bool:
        return any(i.severity is Severity.ERROR for i in self._items)

    def sorted(self) -> list[Issue]:
        return sorted(self._items, key=_sort_key)

    def __iter__(self) -> Iterator[Issue]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


class UserError(Exception):
    """A mistake in the user's input, told in one sentence; never shown as a traceback."""

    def __init__(self, message: str, issues: Iterable[Issue] = ()) -> None:
        super().__init__(message)
        self.issues = list(issues)


class InternalError(Exception):
    """A fault in common-outcomes, not in the user's input: one sentence saying what failed,
    and `details` (e.g. the pass, its indicators and its SQL) for the report."""

    HINT = ("This is a fault in common-outcomes, not in your input: please report it with "
            "the details below.")

    def __init__(self, message: str, details: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.details: tuple[tuple[str, str], ...] = tuple((details or {}).items())


def display_path(path: Path, root: Path | None = None) -> str:
    """A path as the user would write it: relative to the working folder where possible."""
    for base in (root, Path.cwd()):
        if base is None:
            continue
        try:
            return str(path.resolve().relative_to(base.resolve()))
        except ValueError:
            continue
    return str(path)
