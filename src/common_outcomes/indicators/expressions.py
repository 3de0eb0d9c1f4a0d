"""The expression language of indicator definitions.

Numerators and denominators are filters over a source's columns, written like SQL:
`birth_weight_g < 2500 and gestational_age_weeks >= 37 and birth_outcome = 'live'`. They are
parsed with sqlglot and then allowed only a small, safe subset: columns, literals, comparisons,
and/or/not, in (a list of literals), between, is [not] null, arithmetic and a whitelist of date
functions. Nothing else parses: no subqueries, no other functions, no statements. The checked
expression is a sqlglot tree, which the engine renders for each SQL dialect (never by
concatenating strings).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

# Node types an expression may contain. Everything else is refused by name.
_ALLOWED: tuple[type[exp.Expr], ...] = (
    exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Neg,
    exp.And, exp.Or, exp.Not, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE,
    exp.In, exp.Between, exp.Is, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod,
    exp.DateDiff, exp.Year, exp.Month, exp.Var, exp.Tuple,
)
DATE_UNITS = frozenset({"day", "week", "month", "year"})
_BOOLEAN_ROOTS = (exp.And, exp.Or, exp.Not, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE,
                  exp.In, exp.Between, exp.Is, exp.Boolean, exp.Paren, exp.Column)


@dataclass(frozen=True)
class ExpressionProblem:
    """Why an expression was refused; column is 1-based within the expression text."""

    code: str
    message: str
    column: int | None = None


class ExpressionError(Exception):
    def __init__(self, problems: list[ExpressionProblem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def _where(node: exp.Expr) -> int | None:
    for candidate in (node, node.this if isinstance(node.this, exp.Expr) else None):
        if candidate is not None and "col" in candidate.meta:
            start = candidate.meta.get("start")
            return int(start) + 1 if start is not None else int(candidate.meta["col"])
    return None


def parse(text: str) -> exp.Expr:
    """Parse and vet an expression; ExpressionError lists every reason it is refused."""
    try:
        statements = sqlglot.parse(text, read="duckdb")
    except (ParseError, TokenError) as exc:
        detail = exc.errors[0] if isinstance(exc, ParseError) and exc.errors else {}
        column = detail.get("col") if isinstance(detail, dict) else None
        raise ExpressionError([ExpressionProblem(
            "expression.syntax", f"'{text}' does not parse as an expression", column)]) from None
    if len(statements) != 1 or statements[0] is None:
        raise ExpressionError([ExpressionProblem(
            "expression.syntax", f"'{text}' must be exactly one expression")])
    tree = statements[0]
    problems = [
        ExpressionProblem("expression.forbidden",
                          f"{_describe(node)} is not allowed in an indicator expression",
                          _where(node))
        for node in tree.walk() if not isinstance(node, _ALLOWED)
    ]
    for node in tree.find_all(exp.Var):
        if not isinstance(node.parent, exp.DateDiff) or node.name.lower() not in DATE_UNITS:
            problems.append(ExpressionProblem(
                "expression.forbidden", f"'{node.name}' is not a column or a date unit "
                f"({', '.join(sorted(DATE_UNITS))})", _where(node)))
    for member in tree.find_all(exp.In):
        if member.args.get("query") or not all(isinstance(v, exp.Literal | exp.Null | exp.Neg)
                                               for v in member.expressions):
            problems.append(ExpressionProblem(
                "expression.forbidden", "in (...) takes a list of literal values",
                _where(member)))
    if problems:
        raise ExpressionError(problems)
    return tree


def _describe(node: exp.Expr) -> str:
    if isinstance(node, exp.Select | exp.Subquery):
        return "a subquery"
    if isinstance(node, exp.Func):
        name = node.sql_name() if not isinstance(node, exp.Anonymous) else node.name
        return f"the function {name.lower()}()"
    if isinstance(node, exp.Star):
        return "*"
    return f"'{node.sql(dialect='duckdb')}'"


def columns_of(tree: exp.Expr) -> list[str]:
    return [c.name for c in tree.find_all(exp.Column)]


def check_columns(tree: exp.Expr, columns: Mapping[str, str]) -> list[ExpressionProblem]:
    """Every column the expression names must be one the source declares."""
    problems = []
    for node in tree.find_all(exp.Column):
        if node.table or node.name not in columns:
            close = difflib.get_close_matches(node.name, list(columns), n=1)
            problems.append(ExpressionProblem(
                "expression.unknown-column",
                f"'{node.sql(dialect='duckdb')}' is not a column of the source"
                + (f"; did you mean '{close[0]}'?" if close else ""), _where(node)))
    return problems


def is_condition(tree: exp.Expr) -> bool:
    """Whether the expression is a true/false test (a filter), not a number."""
    return isinstance(tree, _BOOLEAN_ROOTS)
