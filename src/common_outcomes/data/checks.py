"""Cross-checks of source declarations against the rest of the workspace."""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from common_outcomes.data.builtin import templates
from common_outcomes.data.declarations import SourceDeclaration
from common_outcomes.documents import Document
from common_outcomes.errors import Issues, Location
from common_outcomes.indicators.definitions import DefinitionsDocument
from common_outcomes.indicators.expressions import ExpressionError, check_columns, parse
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


def check_definitions(workspace: Workspace, sources: Mapping[str, SourceDeclaration],
                      indicator_ids: set[str], issues: Issues) -> None:
    """Indicator definitions against the indicators and the sources' analytic columns."""
    for doc in workspace.extras:
        if not isinstance(doc.model, DefinitionsDocument):
            continue
        for i, definition in enumerate(doc.model.definitions):
            def at(*sub: str, _i: int = i, _doc: Document = doc) -> Location:
                return _doc.source.locate(("definitions", _i, *sub))

            if definition.indicator not in indicator_ids:
                issues.error("ref.unknown-indicator", f"Definition for unknown indicator "
                             f"'{definition.indicator}'.", at("indicator"),
                             "use a framework or local indicator id")
            decl = sources.get(definition.source)
            if decl is None:
                issues.error("ref.unknown-source", f"Definition of '{definition.indicator}' "
                             f"names unknown source '{definition.source}'.", at("source"),
                             f"sources: {', '.join(sorted(sources)) or 'none declared'}")
                continue
            columns = decl.analytic_columns()
            _check_expression(definition.numerator, columns, at("numerator"), issues)
            if isinstance(definition.denominator, str):
                _check_expression(definition.denominator, columns, at("denominator"), issues)
            _check_column(definition.date, "date", columns, at("date"), issues, {"date"})
            _check_column(definition.area, "area", columns, at("area"), issues, {"string"})
            if definition.person:
                _check_column(definition.person, "person", columns, at("person"), issues)
            for k, name in enumerate(definition.breakdowns):
                _check_column(name, "breakdown", columns, at("breakdowns", str(k)), issues)


def _check_expression(text: str, columns: Mapping[str, str], where: Location,
                      issues: Issues) -> None:
    try:
        tree = parse(text)
    except ExpressionError as exc:
        for p in exc.problems:
            at = f" (at character {p.column})" if p.column else ""
            issues.error(p.code, f"{p.message}{at}.", where,
                         "columns, literals, comparisons, and/or/not, in, between, is null, "
                         "arithmetic, date_diff/year/month")
        return
    for p in check_columns(tree, columns):
        issues.error(p.code, f"{p.message}.", where,
                     "columns are the store's: identifiers arrive as _pseudonym, _month, "
                     "_sector or _lsoa")


def _check_column(name: str, role: str, columns: Mapping[str, str], where: Location,
                  issues: Issues, types: set[str] | None = None) -> None:
    if name not in columns:
        close = difflib.get_close_matches(name, list(columns), n=1)
        issues.error("definition.bad-column", f"The {role} column '{name}' is not a column of "
                     "the source in the store.", where,
                     f"did you mean '{close[0]}'?" if close else None)
    elif types and columns[name] not in types:
        issues.error("definition.bad-column", f"The {role} column '{name}' is a "
                     f"{columns[name]} column, not {' or '.join(sorted(types))}.", where)
