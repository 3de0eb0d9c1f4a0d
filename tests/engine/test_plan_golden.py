"""The compiled SQL of the example's maternity pass, per engine, against golden files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from common_outcomes.engine import plan, rollup
from common_outcomes.indicators.definitions import definitions_in
from common_outcomes.project import Project

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("dialect", ["duckdb", "spark"])
def test_the_maternity_pass_compiles_to_its_golden_sql(
        dialect: str, golden: Callable[[str, str], None]) -> None:
    project = Project.open(ROOT / "examples" / "tower-hamlets")
    assert project.workspace is not None
    store = Path("/store")
    parts = {"maternity": [
        plan.Part(store / "versions/maternity/V1/data/part-00000.parquet",
                  ("2023/24", "2024/25")),
        plan.Part(store / "versions/maternity/V2/data/part-00000.parquet", ("2022/23",)),
    ]}
    passes = plan.plan_passes(definitions_in(project.workspace.extras), parts)
    births = next(p for p in passes if p.date == "baby_dob_month")
    golden(f"sql/maternity-births.{dialect}.sql", plan.explain(births, dialect, store))


@pytest.mark.parametrize("dialect", ["duckdb", "spark"])
def test_the_maternity_pass_rolls_up_in_the_engine_by_its_golden_sql(
        dialect: str, golden: Callable[[str, str], None]) -> None:
    """The roll-up over the kept counts (engine/rollup.py): levels, then periods, with the
    total and the breakdown by sex as grouping sets; the same query for both engines."""
    project = Project.open(ROOT / "examples" / "tower-hamlets")
    assert project.workspace is not None
    parts = {"maternity": [plan.Part(Path("/store/part.parquet"), ("2023/24",))]}
    passes = plan.plan_passes(definitions_in(project.workspace.extras), parts)
    births = next(p for p in passes if p.date == "baby_dob_month" and p.breakdowns)
    golden(f"sql/maternity-births-rollup.{dialect}.sql",
           rollup.rollup_query(births).sql(dialect=dialect, pretty=True) + ";\n")


@pytest.mark.parametrize("dialect", ["duckdb", "spark"])
def test_a_stock_placed_by_address_over_the_population_compiles_to_its_golden_sql(
        dialect: str, golden: Callable[[str, str], None]) -> None:
    project = Project.open(ROOT / "examples" / "tower-hamlets")
    assert project.workspace is not None
    store = Path("/store")
    parts = {source: [plan.Part(store / f"versions/{source}/V1/data/part-00000.parquet",
                                ("2023/24",))]
             for source in ("ssd-cin-episodes", "ssd-address", "population")}
    passes = plan.plan_passes(definitions_in(project.workspace.extras), parts)
    cin = next(p for p in passes
               if any(d.indicator == "children-in-need-rate" for d in p.definitions))
    golden(f"sql/children-in-need.{dialect}.sql", plan.explain(cin, dialect, store))


def test_every_definition_is_counted_in_one_pass_per_date_and_area() -> None:
    project = Project.open(ROOT / "examples" / "tower-hamlets")
    assert project.workspace is not None
    passes = plan.plan_passes(definitions_in(project.workspace.extras),
                              {"maternity": [plan.Part(Path("/x.parquet"), ("2024/25",))]})
    maternity = [(p.date, len(p.definitions)) for p in passes if p.source == "maternity"]
    # The age-standardised ratio groups by age band too: a pass of its own.
    assert maternity == [("baby_dob_month", 3), ("baby_dob_month", 1), ("booking_date", 1)]
    health = [(p.date, len(p.definitions)) for p in passes if p.source == "health-visiting"]
    # Four review indicators count children once each, by birth month: a pass of their own.
    assert health == [("child_dob_month", 4), ("contact_date", 4)]
