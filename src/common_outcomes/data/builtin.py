"""Built-in source families shipped with the product (today: the Standard Safeguarding
Dataset's tables). A workspace adopts one with `builtin: <family>/<id>` and keeps only what is
its own: partner, agreement, retention, policy and where the files arrive."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from common_outcomes.data.declarations import TEMPLATE_KINDS, SourceDeclaration, SourceTemplate
from common_outcomes.documents import read_document
from common_outcomes.errors import Issues
from common_outcomes.strategy import Workspace

BUILTIN = Path(__file__).parent / "builtin"
INHERITED = ("period", "schedule", "key", "columns")


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
    """The declaration with its built-in's shape filled in (what it sets itself wins)."""
    if decl.builtin is None:
        return decl
    template = templates()[decl.builtin]
    update = {name: getattr(template, name) for name in INHERITED
              if name not in decl.model_fields_set}
    return decl.model_copy(update=update)


def resolved_sources(workspace: Workspace) -> dict[str, SourceDeclaration]:
    """The workspace's source declarations, by id, with built-ins filled in (one naming an
    unknown built-in is left out: the check reports it)."""
    return {d.model.id: resolve(d.model) for d in workspace.extras
            if isinstance(d.model, SourceDeclaration)
            and (d.model.builtin is None or d.model.builtin in templates())}
