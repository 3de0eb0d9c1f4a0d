"""Built-in source families shipped with the product (the Standard Safeguarding Dataset's
tables, SSDA903's and the CIN census's). A workspace adopts one with `builtin: <family>/<id>`
and keeps only what is its own: partner, agreement, retention, policy and where the files
arrive."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from common_outcomes.data.declarations import (
    TEMPLATE_KINDS,
    Column,
    ColumnType,
    SourceDeclaration,
    SourceTemplate,
)
from common_outcomes.data.readers.base import Part
from common_outcomes.documents import read_document
from common_outcomes.errors import Issues
from common_outcomes.strategy import Workspace

BUILTIN = Path(__file__).parent / "builtin"
INHERITED = ("period", "schedule", "key", "release", "latest_return")
NUMBERS = (ColumnType.INTEGER, ColumnType.NUMBER)


@cache
def templates() -> dict[str, SourceTemplate]:
    """Every built-in source, as '<family>/<id>'."""
    found: dict[str, SourceTemplate] = {}
    for path in sorted(BUILTIN.glob("*/*.yaml")):
        issues = Issues()
        doc = read_document(path, TEMPLATE_KINDS, issues)
        if doc is None or not isinstance(doc.model, SourceTemplate):
            raise RuntimeError(f"built-in source {path} does not load: {list(issues)}")
        found[f"{path.parent.name}/{doc.model.id}"] = doc.model
    return found


def resolve(decl: SourceDeclaration) -> SourceDeclaration:
    """The declaration with its built-in's shape filled in (what it sets itself wins), and
    the columns its latest-return rule and LA filter read. Its own `columns` extend the
    built-in's: one with a built-in column's name replaces that column in place, others are
    added after them, so the key and period columns stay."""
    if decl.builtin is not None:
        template = templates()[decl.builtin]
        update: dict[str, object] = {name: getattr(template, name) for name in INHERITED
                                     if name not in decl.model_fields_set}
        own = tuple(c.model_copy(update={"markers": template.markers})
                    if template.markers and not c.markers and c.type in NUMBERS else c
                    for c in decl.columns)
        update["columns"] = merged(template.columns, own)
        if decl.release is not None and template.release is not None:
            # A publication named beside a built-in keeps the built-in's release column.
            update["release"] = template.release.model_copy(
                update=decl.release.model_dump(exclude_unset=True))
        decl = decl.model_copy(update=update)
    return with_return_columns(decl)


def part_of(decl: SourceDeclaration) -> Part | None:
    """The table a source takes from a file holding several (its built-in's `table`, as
    cin-census/cin-episodes takes cin-episodes), with the source's columns."""
    template = templates().get(decl.builtin) if decl.builtin else None
    if template is None or template.table is None:
        return None
    return Part(template.table, decl.columns)


def with_return_columns(decl: SourceDeclaration) -> SourceDeclaration:
    """A multi-year extract's year column and an LA column are part of the file whichever
    built-in table it is, so declaring the rule declares the column (required: a row
    without one cannot be placed)."""
    implied = ([Column(name=decl.latest_return.year, type=ColumnType.INTEGER, required=True,
                       description="The collection year of the return the row is from.")]
               if decl.latest_return else [])
    if decl.la_filter:
        implied.append(Column(name=decl.la_filter, required=True,
                              description="The row's LA; only the workspace's own are loaded."))
    added = tuple(c for c in implied if decl.column(c.name) is None)
    return decl.model_copy(update={"columns": decl.columns + added}) if added else decl


def merged(base: tuple[Column, ...], own: tuple[Column, ...]) -> tuple[Column, ...]:
    """`base` with each of `own` replacing the column of its name, or added at the end."""
    by_name = {c.name: c for c in own}
    return (*(by_name.pop(c.name, c) for c in base), *by_name.values())


def resolved_sources(workspace: Workspace) -> dict[str, SourceDeclaration]:
    """The workspace's source declarations, by id, with built-ins filled in (one naming an
    unknown built-in is left out: the check reports it)."""
    return {d.model.id: resolve(d.model) for d in workspace.extras
            if isinstance(d.model, SourceDeclaration)
            and (d.model.builtin is None or d.model.builtin in templates())}
