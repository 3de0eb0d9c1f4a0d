"""Cross-checks of source declarations against the rest of the workspace."""

from __future__ import annotations

from common_outcomes.data.builtin import templates
from common_outcomes.data.declarations import SourceDeclaration
from common_outcomes.errors import Issues
from common_outcomes.strategy import Workspace


def check_sources(workspace: Workspace, issues: Issues) -> None:
    partners = {p.id for p in workspace.partners}
    seen: dict[str, str] = {}
    for doc in workspace.extras:
        decl = doc.model
        if not isinstance(decl, SourceDeclaration):
            continue
        if decl.id in seen:
            issues.error("ref.duplicate-id", f"Source id '{decl.id}' is declared twice; the "
                         f"first is in {seen[decl.id]}.", doc.source.locate(("id",)),
                         "Give each source its own id.")
        seen.setdefault(decl.id, doc.source.file)
        if decl.builtin is not None and decl.builtin not in templates():
            issues.error("ref.unknown-builtin", f"Source '{decl.id}' adopts unknown built-in "
                         f"'{decl.builtin}'.", doc.source.locate(("builtin",)),
                         f"built-ins: {', '.join(sorted(templates()))}")
        if decl.partner not in partners:
            issues.error("ref.unknown-partner", f"Source '{decl.id}' names unknown partner "
                         f"'{decl.partner}'.", doc.source.locate(("partner",)),
                         "use a partner id from the partners file")
