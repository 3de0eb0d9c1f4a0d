"""The indicator expression language: what parses, what is refused, and where."""

from __future__ import annotations

import pytest
from sqlglot import exp

from common_outcomes.indicators.expressions import (
    ExpressionError,
    check_columns,
    columns_of,
    is_condition,
    parse,
)

COLUMNS = {"birth_weight_g": "integer", "gestational_age_weeks": "integer",
           "birth_outcome": "string", "baby_dob": "date", "contact_date": "date",
           "smoking_at_delivery": "string"}


@pytest.mark.parametrize("text", [
    "birth_weight_g < 2500 and gestational_age_weeks >= 37 and birth_outcome = 'live'",
    "not (smoking_at_delivery in ('Y', 'N'))",
    "gestational_age_weeks between 24 and 36",
    "birth_weight_g is not null",
    "birth_weight_g / 1000 > 2.5",
    "date_diff('day', baby_dob, contact_date) <= 14",
    "year(baby_dob) = 2024 or month(baby_dob) = 3",
    "-birth_weight_g < -2500",
])
def test_the_allowed_language_parses(text: str) -> None:
    tree = parse(text)
    assert check_columns(tree, COLUMNS) == []
    assert set(columns_of(tree)) <= set(COLUMNS)


@pytest.mark.parametrize(("text", "code", "column"), [
    ("birth_weight_g < (select max(x) from t)", "expression.forbidden", None),
    ("upper(birth_outcome) = 'LIVE'", "expression.forbidden", 1),
    ("read_csv('/etc/passwd') is not null", "expression.forbidden", 1),
    ("birth_weight_g < 2500; drop table results", "expression.syntax", None),
    ("birth_weight_g <", "expression.syntax", None),
    ("smoking_at_delivery in (select 1)", "expression.forbidden", None),
    ("date_diff('fortnight', baby_dob, contact_date) < 1", "expression.forbidden", None),
])
def test_everything_else_is_refused_with_a_reason(text: str, code: str,
                                                  column: int | None) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse(text)
    problems = caught.value.problems
    assert code in {p.code for p in problems}
    if column is not None:
        assert any(p.column == column for p in problems)


def test_unknown_columns_are_named_with_a_suggestion_and_position() -> None:
    tree = parse("birth_wieght_g < 2500 and gestational_age_weeks >= 37")
    (problem,) = check_columns(tree, COLUMNS)
    assert problem.code == "expression.unknown-column"
    assert "did you mean 'birth_weight_g'" in problem.message
    assert problem.column == 1


def test_a_qualified_column_is_not_a_loophole() -> None:
    tree = parse("other.birth_weight_g < 2500")
    assert [p.code for p in check_columns(tree, COLUMNS)] == ["expression.unknown-column"]


def test_conditions_are_told_apart_from_numbers() -> None:
    assert is_condition(parse("birth_weight_g < 2500"))
    assert not is_condition(parse("birth_weight_g / 1000"))
    assert isinstance(parse("birth_weight_g < 2500"), exp.LT)
