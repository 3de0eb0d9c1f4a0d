"""Indicator definitions are checked against the sources' columns as the store holds them."""

from __future__ import annotations

from pathlib import Path

from common_outcomes.project import Project


def test_the_store_columns_of_a_source_reflect_pseudonymisation(example_copy: Path) -> None:
    maternity = Project.open(example_copy).sources["maternity"]
    columns = maternity.analytic_columns()
    assert columns["baby_dob_month"] == "date"
    assert columns["mother_nhs_number_pseudonym"] == "string"
    assert {"mother_postcode_sector", "mother_postcode_lsoa", "period"} <= set(columns)
    assert "mother_forename" not in columns and "baby_dob" not in columns


def test_a_date_column_that_is_not_a_date_is_reported(example_copy: Path) -> None:
    path = example_copy / "definitions" / "maternity.yaml"
    text = path.read_text()
    path.write_text(text.replace("    date: booking_date\n", "    date: birth_outcome\n", 1))
    issues = [i for i in Project.check(example_copy).issues if i.code == "definition.bad-column"]
    assert len(issues) == 1 and "not date" in issues[0].message
    assert issues[0].location is not None
    lines = path.read_text().splitlines()
    assert lines[issues[0].location.line - 1].strip() == "date: birth_outcome"


def test_the_raw_name_of_a_protected_column_is_refused(example_copy: Path) -> None:
    path = example_copy / "definitions" / "maternity.yaml"
    path.write_text(path.read_text().replace("date: baby_dob_month", "date: baby_dob", 1))
    issues = [i for i in Project.check(example_copy).issues if i.code == "definition.bad-column"]
    assert issues and "did you mean 'baby_dob_month'" in (issues[0].hint or "")


def test_a_derived_column_must_be_a_test_and_is_reported_at_its_line(example_copy: Path) -> None:
    path = example_copy / "sources" / "health_visiting.yaml"
    path.write_text(path.read_text().replace(
        "test: date_diff('day', child_dob, contact_date) <= 14",
        "test: date_diff('day', child_dob, contact_date)", 1))
    issues = [i for i in Project.check(example_copy).issues if i.code == "derived.not-a-test"]
    assert len(issues) == 1 and issues[0].location is not None
    line = path.read_text().splitlines()[issues[0].location.line - 1]
    assert line.strip() == "test: date_diff('day', child_dob, contact_date)"


def test_a_derived_test_names_raw_columns_only(example_copy: Path) -> None:
    path = example_copy / "sources" / "health_visiting.yaml"
    path.write_text(path.read_text().replace("date_diff('day', child_dob, contact_date) <= 56",
                                             "date_diff('day', child_dob_month, contact_date)"
                                             " <= 56", 1))
    codes = [i.code for i in Project.check(example_copy).issues]
    assert "expression.unknown-column" in codes


def test_a_measure_without_what_it_needs_is_refused_not_miscomputed(example_copy: Path) -> None:
    path = example_copy / "definitions" / "maternity.yaml"
    path.write_text(path.read_text().replace("measure: crude_rate", "measure: dsr", 1))
    issues = [i for i in Project.check(example_copy).issues
              if i.code == "definition.measure-incomplete"]
    assert len(issues) == 1 and issues[0].location is not None
    assert path.read_text().splitlines()[issues[0].location.line - 1].strip() == "measure: dsr"
