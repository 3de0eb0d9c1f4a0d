"""From indicator definitions to one query per pass over a source.

Definitions on the same source that place records by the same date and area column share a
pass: one scan counts every numerator and denominator at once (SUM of CASE WHEN ...), grouped
by small area and month. The SQL is a sqlglot tree; each engine renders it in its dialect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlglot import exp

from common_outcomes.indicators.definitions import Definition
from common_outcomes.indicators.expressions import parse


@dataclass(frozen=True)
class Part:
    """A Parquet part of the store and the periods for which its rows are current."""

    path: Path
    periods: tuple[str, ...]


@dataclass(frozen=True)
class Pass:
    source: str
    date: str
    area: str
    breakdowns: tuple[str, ...]
    definitions: tuple[Definition, ...]
    parts: tuple[Part, ...]


def plan_passes(definitions: Sequence[Definition], parts: dict[str, list[Part]]) -> list[Pass]:
    groups: dict[tuple[str, str, str], list[Definition]] = {}
    for d in definitions:
        groups.setdefault((d.source, d.date, d.area), []).append(d)
    # One scan serves every definition: grouped by every breakdown any of them asks for;
    # a definition without one simply sums over them.
    return [Pass(source, date, area, tuple(sorted({b for d in defs for b in d.breakdowns})),
                 tuple(defs), tuple(parts.get(source, [])))
            for (source, date, area), defs in sorted(groups.items())]


def breakdown_column(name: str) -> str:
    return f"breakdown__{name}"


def numerator_column(indicator: str) -> str:
    return f"{indicator}__numerator"


def denominator_column(indicator: str) -> str:
    return f"{indicator}__denominator"


def _count_where(condition: exp.Expr) -> exp.Expr:
    return exp.func("SUM", exp.Case(ifs=[exp.If(this=condition, true=exp.Literal.number(1))],
                                     default=exp.Literal.number(0)))


def _scan(parts: Sequence[Part], root: Path | None = None) -> exp.Expr:
    """The current rows of a source: each part, only for the periods it is current for.

    With `root`, paths are shown relative to it (for `explain` and golden files)."""
    def shown(path: Path) -> str:
        return str(path.relative_to(root)) if root is not None else str(path)

    selects = [
        exp.select(exp.Star()).from_(exp.func("read_parquet", exp.Literal.string(shown(p.path))))
        .where(exp.column("period").isin(*(exp.Literal.string(x) for x in p.periods)))
        for p in parts
    ]
    union: exp.Expr = selects[0]
    for more in selects[1:]:
        union = exp.union(union, more, distinct=False)
    return exp.Subquery(this=union, alias=exp.TableAlias(this=exp.to_identifier("rows")))


def pass_query(p: Pass, root: Path | None = None) -> exp.Select:
    """Counts of every definition in the pass by small area and month."""
    month = exp.func("DATE_TRUNC", exp.Literal.string("month"), exp.column(p.date))
    columns: list[exp.Expr] = [exp.column(p.area).as_("area_code"), month.as_("month")]
    # Breakdowns as text, a missing value as 'unknown': one more grouping column each.
    for name in p.breakdowns:
        columns.append(exp.func("COALESCE", exp.cast(exp.column(name), "text"),
                                exp.Literal.string("unknown")).as_(breakdown_column(name)))
    for d in p.definitions:
        if not isinstance(d.denominator, str):
            raise NotImplementedError("denominators from another source are not run yet")
        den = exp.Paren(this=parse(d.denominator))
        num = exp.Paren(this=parse(d.numerator))
        columns.append(_count_where(exp.and_(den, num)).as_(numerator_column(d.indicator)))
        columns.append(_count_where(den).as_(denominator_column(d.indicator)))
    return (exp.select(*columns).from_(_scan(p.parts, root))
            .where(exp.and_(exp.column(p.date).is_(exp.null()).not_(),
                            exp.column(p.area).is_(exp.null()).not_()))
            .group_by(exp.column("area_code"), exp.column("month"),
                      *(exp.column(breakdown_column(b)) for b in p.breakdowns)))


def explain(p: Pass, dialect: str, root: Path | None = None) -> str:
    """The SQL of a pass, with a comment saying what each part does."""
    names = ", ".join(d.indicator for d in p.definitions)
    by = "".join(f", {b}" for b in p.breakdowns)
    return (f"-- Pass over source '{p.source}': counts {names}\n"
            f"-- by small area ({p.area}) and month ({p.date}){by}, in one scan of the\n"
            f"-- current Parquet parts of the store (each only for the periods it is current).\n"
            f"-- Roll-up to wards, localities and the borough, periods, intervals,\n"
            f"-- comparisons and disclosure control follow in Arrow (engine/results.py).\n"
            + pass_query(p, root).sql(dialect=dialect, pretty=True) + ";\n")
