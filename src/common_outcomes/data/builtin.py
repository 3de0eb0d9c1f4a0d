"""Built-in source families shipped with the product (today: the Standard Safeguarding
Dataset's tables). A workspace adopts one with `builtin: <family>/<id>` and keeps only what is
its own: partner, agreement, retention, policy and where the files arrive."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from common_outcomes.data.declarations import (
    TEMPLATE_KINDS,
    Column,
    SourceDeclaration,
    SourceTemplate,
)
from common_outcomes.documents import read_document
from common_outcomes.errors import Issues
from common_outcomes.strategy import Workspace

BUILTIN = Path(__file__).parent / "builtin"
INHERITED = ("period", "schedule", "key")


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
    """The declaration with its built-in's shape filled in (what it sets itself wins). Its
    own `columns` extend the built-in's: one with a built-in column's name replaces that
    column in place, others are added after them, so the key and period columns stay."""
    if decl.builtin is None:
        return decl
    template = templates()[decl.builtin]
    update: dict[str, object] = {name: getattr(template, name) for name in INHERITED
                                 if name not in decl.model_fields_set}
    update["columns"] = merged(template.columns, decl.columns)
    return decl.model_copy(update=update)


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
