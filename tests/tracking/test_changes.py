"""Change since the previous period and since the baseline, computed when asked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from common_outcomes.errors import UserError
from common_outcomes.periods import PeriodType, parse_period
from common_outcomes.project import Project
from common_outcomes.results.table import to_table
from common_outcomes.tracking.changes import changes, previous_period

Row = dict[str, object]


def row(period: str, value: float | None, lower: float | None, upper: float | None,
        ptype: PeriodType = PeriodType.FINANCIAL_YEAR, area: str = "E09000030",
        baseline: float | None = None) -> Row:
    span = parse_period(period, ptype)
    return {"indicator_id": "early-booking", "area_code": area, "area_name": area,
            "area_type": "la", "breakdown": "all", "period": period, "period_type": ptype.value,
            "period_start": span.start, "period_end": span.end, "value": value,
            "lower_95": lower, "upper_95": upper, "baseline": baseline}


def test_change_since_the_previous_period_by_overlapping_intervals() -> None:
    table = to_table([row("2021/22", 60, 58, 62), row("2022/23", 61, 59, 63),
                      row("2023/24", 66, 64, 68), row("2024/25", 62, 60, 64)])
    out = changes(table, "early-booking", "high_is_good")
    assert [c.period for c in out] == ["2021/22", "2022/23", "2023/24", "2024/25"]
    assert [c.previous_period for c in out] == ["2020/21", "2021/22", "2022/23", "2023/24"]
    assert [c.change_since_previous for c in out] == [None, 1, 5, -4]
    # 59-63 overlaps 58-62; 64-68 clears 59-63 (up, high is good); 60-64 touches 64-68.
    assert [c.previous_comparison for c in out] == ["Not compared", "Similar", "Better",
                                                    "Similar"]
    assert [c.significant_since_previous for c in out] == [False, False, True, False]
    out = changes(table, "early-booking", "low_is_good", periods=["2023/24"])
    assert [(c.period, c.previous_comparison) for c in out] == [("2023/24", "Worse")]
    out = changes(table, "early-booking", "no_judgement", periods=["2023/24"])
    assert out[0].previous_comparison == "Higher"


def test_a_missing_or_suppressed_previous_period_is_not_compared() -> None:
    table = to_table([row("2020/21", 60, 58, 62), row("2022/23", 70, 68, 72),
                      row("2023/24", None, None, None), row("2024/25", 75, 73, 77)])
    out = {c.period: c for c in changes(table, "early-booking", "high_is_good")}
    assert out["2022/23"].previous_value is None  # 2021/22 is missing, not 2020/21
    assert out["2022/23"].previous_comparison == "Not compared"
    assert out["2024/25"].previous_value is None and out["2024/25"].change_since_previous is None
    assert out["2024/25"].previous_comparison == "Not compared"


def test_change_since_the_baseline_compares_the_interval_with_the_baseline_value() -> None:
    table = to_table([row("2023/24", 63, 61, 65, baseline=60),
                      row("2024/25", 61, 59, 63, baseline=60)])
    out = changes(table, "early-booking", "high_is_good")
    assert [c.change_since_baseline for c in out] == [3, 1]
    assert [c.baseline_comparison for c in out] == ["Better", "Similar"]
    assert [c.significant_since_baseline for c in out] == [True, False]


def test_the_previous_period_of_each_type() -> None:
    def before(label: str, ptype: PeriodType) -> str:
        p = parse_period(label, ptype)
        return previous_period(p.start, p.end, ptype.value).label

    assert before("2024/25", PeriodType.ACADEMIC_YEAR) == "2023/24"
    assert before("2024", PeriodType.CALENDAR_YEAR) == "2023"
    assert before("2024/25 Q1", PeriodType.QUARTER) == "2023/24 Q4"
    assert before("Jan 2025", PeriodType.MONTH) == "Dec 2024"
    # A rolling year is compared with the one twelve months earlier, which it does not overlap.
    assert before("12 months to Mar 2025", PeriodType.ROLLING_12_MONTHS) == (
        "12 months to Mar 2024")


def test_rows_are_chosen_by_area_and_period_type() -> None:
    table = to_table([row("2023/24", 60, 58, 62), row("2024/25", 61, 59, 63),
                      row("2024/25", 50, 45, 55, area="north-west"),
                      row("2024/25 Q1", 62, 57, 67, PeriodType.QUARTER),
                      row("2024/25 Q2", 64, 59, 69, PeriodType.QUARTER)])
    out = changes(table, "early-booking", "high_is_good", area="E09000030",
                  period_type="quarter")
    assert [(c.period, c.previous_period, c.change_since_previous) for c in out] == [
        ("2024/25 Q1", "2023/24 Q4", None), ("2024/25 Q2", "2024/25 Q1", 2)]
    assert {c.area_code for c in changes(table, "early-booking", "high_is_good")} == {
        "E09000030", "north-west"}


def test_the_boroughs_published_children_in_need_rate_changes(published_ws: Path) -> None:
    """From the real DfE files through `outcomes run`: 2,648 children in need per 64,542 in
    2022/23, 2,908 per 63,462 in 2023/24 (rates per 10,000, Byar's intervals)."""
    project = Project.open(published_ws)
    project.run()
    out = {c.period: c for c in project.changes("children-in-need-rate",
                                                  area="E09000030")}
    latest = out["2023/24"]
    assert latest.value == pytest.approx(2908 / 63462 * 1e4)
    assert latest.previous_value == pytest.approx(2648 / 64542 * 1e4)
    assert latest.change_since_previous == pytest.approx(2908 / 63462 * 1e4
                                                         - 2648 / 64542 * 1e4)
    assert latest.previous_comparison == "Higher"  # no judgement on the polarity
    assert out["2024/25"].previous_comparison == "Similar"  # 450.0 after 458.2
    with pytest.raises(UserError, match="Unknown indicator 'no-such-thing'"):
        project.changes("no-such-thing")
    with pytest.raises(UserError, match="no rows for 'children-in-need-rate' in area X"):
        project.changes("children-in-need-rate", area="X")


def test_outcomes_changes_prints_the_table(published_ws: Path) -> None:
    Project.open(published_ws).run()
    exe = Path(sys.executable).with_name("outcomes")
    done = subprocess.run([str(exe), "changes", str(published_ws), "good-level-of-development",
                           "--area", "E09000030"], capture_output=True, text=True, timeout=120,
                          env={"COLUMNS": "200", "PATH": ""}, check=False)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if "2014/15" in line]
    # EYFSP good level of development 55.0% -> 61.6%, against the example's baseline of 69.9.
    assert len(lines) == 1 and "61.6" in lines[0] and "+6.6 (better)" in lines[0]
    assert "-8.3 (worse)" in lines[0]


def test_without_results_the_command_says_to_run_first(example_copy: Path) -> None:
    with pytest.raises(UserError, match="run 'outcomes run' first"):
        Project.open(example_copy).changes("early-booking")

