"""The same tests on every engine, then the engines against each other: identical counts and
values equal to 1e-9 relative for every indicator, area, period and breakdown."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from common_outcomes.data.store import open_store
from common_outcomes.engine import plan
from common_outcomes.engine.backends import ENGINES
from common_outcomes.indicators.definitions import definitions_in
from common_outcomes.project import Project

KEY = ("indicator_id", "area_code", "period_type", "period", "breakdown")
CLOSE = ("value", "lower_95", "upper_95", "lower_998", "upper_998", "baseline", "target")


@pytest.mark.parametrize("engine", ENGINES)
def test_every_indicator_is_computed_for_every_area_type_and_breakdown(
        engine: str, workspace: Path, results_on: Callable[[str], pa.Table]) -> None:
    table = results_on(engine)
    assert set(table.column("indicator_id").to_pylist()) == _defined(workspace)
    assert set(table.column("area_type").to_pylist()) == {"la", "locality", "ward"}
    assert {"all", "baby_sex: F", "baby_sex: M"} <= set(table.column("breakdown").to_pylist())
    assert table.num_rows > 1000


@pytest.mark.parametrize("engine", ENGINES)
def test_the_births_pass_counts_what_the_store_holds(
        engine: str, workspace: Path, passes: list[plan.Pass],
        counts_on: Callable[[str], list[pa.Table]]) -> None:
    i = next(i for i, p in enumerate(passes) if p.date == "baby_dob_month")
    counts = counts_on(engine)[i]
    # The current rows, counted by Arrow itself: each part only for its current periods.
    rows = pa.concat_tables(
        pq.read_table(p.path).filter(pc.is_in(pc.field("period"), pa.array(p.periods)))
        for p in open_store(workspace).current_files("maternity"))
    placed = rows.filter(pc.and_(pc.is_valid(rows.column("baby_dob_month")),
                                 pc.is_valid(rows.column("residence_area_code"))))
    term_live = pc.and_(pc.and_(pc.greater_equal(placed.column("gestational_age_weeks"), 37),
                                pc.equal(placed.column("birth_outcome"), "live")),
                        pc.is_valid(placed.column("birth_weight_g")))
    low = pc.and_(term_live, pc.less(placed.column("birth_weight_g"), 2500))

    def total(column: str) -> int:
        return int(pc.sum(counts.column(column)).as_py())

    assert total("premature-births__denominator") == placed.num_rows > 1000
    assert total("low-birth-weight-term__denominator") == pc.sum(term_live).as_py()
    assert total("low-birth-weight-term__numerator") == pc.sum(low).as_py()


def test_spark_gives_stage_two_dates_and_whole_counts(
        passes: list[plan.Pass], counts_on: Callable[[str], list[pa.Table]]) -> None:
    for p, table in zip(passes, counts_on("spark"), strict=True):
        assert table.schema.field("month").type == pa.date32(), p.source
        if plan.CLOSED in table.column_names:  # a stock's month closed is a month too
            assert table.schema.field(plan.CLOSED).type == pa.date32(), p.source
        counts = [f for f in table.schema  # everything but the grouping columns
                  if f.name not in ("area_code", "month", "person", plan.CLOSED, plan.BAND)
                  and not f.name.startswith("breakdown__")]
        assert counts and {f.type for f in counts} <= {pa.int64(), pa.float64()}, p.source
    # A person's 0/1 flag is a MAX, which Spark types as a 32-bit int: made 64-bit too.
    assert any(p.person for p in passes)


def _defined(workspace: Path) -> set[str]:
    """Every indicator the example defines (at least the ten of the engine's first issue)."""
    project = Project.open(workspace)
    assert project.workspace is not None
    defined = {d.indicator for d in definitions_in(project.workspace.extras)}
    assert len(defined) >= 10
    return defined


def _plain(value: object) -> object:
    """An engine's value as Python compares it: DuckDB's timestamps and decimals included."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, Decimal):
        return int(value)
    return value


def _rows(table: pa.Table) -> list[tuple[object, ...]]:
    return sorted((tuple(_plain(v) for v in row.values()) for row in table.to_pylist()),
                  key=repr)


def test_every_pass_counts_the_same_on_both_engines(
        passes: list[plan.Pass], counts_on: Callable[[str], list[pa.Table]]) -> None:
    for p, duck, spark in zip(passes, counts_on("duckdb"), counts_on("spark"), strict=True):
        assert duck.column_names == spark.column_names, p.source
        assert duck.num_rows == spark.num_rows > 0, p.source
        assert isinstance(_rows(spark)[0][1], date)
        assert _rows(duck) == _rows(spark), p.source


def _close(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is b
    assert isinstance(a, float) and isinstance(b, float)
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=0)


def test_every_result_is_the_same_on_both_engines(
        workspace: Path, results_on: Callable[[str], pa.Table]) -> None:
    duck, spark = ({tuple(r[k] for k in KEY): r for r in results_on(e).to_pylist()}
                   for e in ("duckdb", "spark"))
    assert len(duck) == results_on("duckdb").num_rows  # the key names one row
    assert duck.keys() == spark.keys()
    assert {k[0] for k in duck} == _defined(workspace)
    for key, d in duck.items():
        s = spark[key]
        assert d.keys() == s.keys()
        for column in d:
            if column in CLOSE:
                assert _close(d[column], s[column]), (key, column, d[column], s[column])
            else:  # counts are exact, and so is everything else (labels, notes, flags)
                assert d[column] == s[column], (key, column, d[column], s[column])
    assert any(r["numerator"] for r in duck.values())
