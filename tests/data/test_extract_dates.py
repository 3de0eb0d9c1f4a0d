"""Date columns as database extracts write them: SQL Server, PostgreSQL and Oracle each have
their own way of writing a date or datetime, and an extract that follows the SSD
specification's scripts writes whatever its database does."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pytest

from common_outcomes.data.declarations import Column, ColumnType
from common_outcomes.data.validate import Checked, check_column

DATE = Column(name="clae_cla_episode_start_date", type=ColumnType.DATE)


def parse(values: list[str | None], col: Column = DATE) -> Checked:
    checked = Checked({}, np.zeros(len(values), dtype=bool))
    check_column(checked, col, pa.array(values, pa.string()), 1)
    return checked


@pytest.mark.parametrize(("written", "by"), [
    ("2017-09-11 00:00:00.000", "SQL Server datetime (CONVERT style 121, bcp, SSMS export)"),
    ("2017-09-11 00:00:00.0000000", "SQL Server datetime2 (seven decimals)"),
    ("2017-09-11 14:05:09.5", "SQL Server datetime, a time of day"),
    ("2017-09-11T00:00:00", "ISO 8601 (SQL Server style 126, JSON, pandas)"),
    ("2017-09-11 00:00:00", "PostgreSQL timestamp (COPY ... CSV)"),
    ("2017-09-11 23:59:59.123456", "PostgreSQL timestamp with microseconds"),
    ("2017-09-11 00:00", "a datetime without seconds (spreadsheets)"),
    ("11-SEP-2017", "Oracle DD-MON-YYYY"),
    ("11-Sep-2017", "Oracle DD-MON-YYYY, mixed case"),
    ("11/09/2017 00:00:00", "a British date with a time (Excel, SQL Server style 103)"),
])
def test_a_date_as_a_database_extract_writes_it_is_that_date(written: str, by: str) -> None:
    checked = parse([written])
    assert not checked.bad.any(), (by, checked.problems)
    assert checked.columns[DATE.name].to_pylist() == [date(2017, 9, 11)], by


@pytest.mark.parametrize(("written", "why"), [
    ("11-SEP-17", "Oracle's two-digit year (DD-MON-RR): 1917 or 2017 cannot be told apart"),
    ("2017-09-11 00:00:00+01", "a time zone: a date kept as UTC midnight is a day out"),
    ("2017-09-11T00:00:00Z", "a time zone (Z)"),
    ("2017-09-11 24:00:00", "no hour 24"),
    ("2017-09-11 00:60:00", "no minute 60"),
    ("2017-09-11 00:00:00.00000000", "eight decimals: no database writes that"),
    ("2017-02-31 00:00:00.000", "31 February, with a time"),
    ("00:00:00", "a time without a date"),
])
def test_what_cannot_be_read_unambiguously_is_refused_with_the_formats(written: str,
                                                                      why: str) -> None:
    checked = parse([written])
    assert checked.bad.tolist() == [True], why
    [problem] = checked.problems
    assert problem.code == "value.bad-date" and problem.column == DATE.name
    assert "%d-%b-%Y" in problem.message and "time of day" in problem.message
    assert checked.columns[DATE.name].to_pylist() == [None]


def test_a_declaration_with_its_own_formats_also_takes_a_time_after_them() -> None:
    col = Column(name="d", type=ColumnType.DATE, date_formats=("%Y%m%d",))
    checked = parse(["20170911 00:00:00.000", "20170911", "2017-09-11"], col)
    assert checked.columns["d"].to_pylist() == [date(2017, 9, 11), date(2017, 9, 11), None]
    assert checked.bad.tolist() == [False, False, True]
