"""Baselines, linear trajectories and target status from the confidence interval."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from common_outcomes.results.table import to_table
from common_outcomes.strategy.models import Baseline, Target
from common_outcomes.tracking.targets import apply_tracking


def series(values: list[tuple[str, int, float | None, float | None, float | None]]
           ) -> pa.Table:
    rows = [{"indicator_id": "early-booking", "area_code": "E09000030", "area_type": "la",
             "period": label, "period_type": "financial_year",
             "period_start": date(year, 4, 1), "period_end": date(year + 1, 3, 31),
             "value": v, "lower_95": lo, "upper_95": up}
            for label, year, v, lo, up in values]
    return to_table(rows)


TARGET = Target(indicator="early-booking", area="E09000030", period="2024/25", value=70,
                trajectory="linear", set_by="board", rationale="test")
BASELINE = Baseline(indicator="early-booking", area="E09000030", period="2020/21")


def test_a_linear_trajectory_runs_from_the_baseline_to_the_target() -> None:
    table = series([("2020/21", 2020, 60, 58, 62), ("2021/22", 2021, 63, 61, 65),
                    ("2022/23", 2022, 63, 61, 65), ("2023/24", 2023, 66, 65, 68),
                    ("2024/25", 2024, 73, 71, 75)])
    rows = apply_tracking(table, [BASELINE], [TARGET], {"early-booking": "high_is_good"})
    out = rows.to_pylist()
    assert [r["baseline"] for r in out] == [60.0] * 5
    targets = [r["target"] for r in out]
    assert targets[0] is None and targets[-1] == 70
    assert [round(t, 1) for t in targets[1:4]] == [62.5, 65.0, 67.5]
    # 2021/22: 61-65 holds 62.5, on track; 2022/23: 61-65 holds 65.0, on track;
    # 2023/24: 65-68 holds 67.5, on track; 2024/25: 71-75 entirely above 70, met.
    assert [r["target_status"] for r in out] == [None, "on track", "on track", "on track", "met"]


def test_status_uses_the_interval_not_the_point() -> None:
    table = series([("2020/21", 2020, 60, 58, 62), ("2024/25", 2024, 69.5, 68, 71)])
    out = apply_tracking(table, [BASELINE], [TARGET],
                         {"early-booking": "high_is_good"}).to_pylist()
    assert out[-1]["target_status"] == "on track"  # 69.5 misses 70, but 70 is inside 68-71
    table = series([("2020/21", 2020, 60, 58, 62), ("2024/25", 2024, 64, 62, 66)])
    out = apply_tracking(table, [BASELINE], [TARGET],
                         {"early-booking": "high_is_good"}).to_pylist()
    assert out[-1]["target_status"] == "off track"


def test_low_is_good_and_no_judgement() -> None:
    target = TARGET.model_copy(update={"value": 50})
    table = series([("2020/21", 2020, 60, 58, 62), ("2024/25", 2024, 45, 43, 48)])
    out = apply_tracking(table, [BASELINE], [target], {"early-booking": "low_is_good"})
    assert out.to_pylist()[-1]["target_status"] == "met"
    table = series([("2020/21", 2020, 60, 58, 62), ("2024/25", 2024, 45, 43, 48)])
    out = apply_tracking(table, [BASELINE], [target], {"early-booking": "no_judgement"})
    assert out.to_pylist()[-1]["target_status"] == "not assessable"


def test_a_missing_value_or_interval_is_not_assessable() -> None:
    """The same 2024/25 row that is "met" with its interval (above) cannot be judged without
    one limit, both, or its value (a suppressed row)."""
    target = TARGET.model_copy(update={"value": 50})
    for value, lower, upper in ((45, None, 48), (45, 43, None), (45, None, None),
                                (None, None, None)):
        table = series([("2020/21", 2020, 60, 58, 62), ("2024/25", 2024, value, lower, upper)])
        out = apply_tracking(table, [BASELINE], [target],
                             {"early-booking": "low_is_good"}).to_pylist()
        assert out[-1]["target"] == 50, (value, lower, upper)
        assert out[-1]["target_status"] == "not assessable", (value, lower, upper)


def test_only_the_series_with_a_baseline_or_target_change() -> None:
    """Another area's series keeps its columns as they are; with no baseline or target for
    any series the table comes back unchanged."""
    table = series([("2020/21", 2020, 60, 58, 62), ("2024/25", 2024, 73, 71, 75)])
    other = to_table([{**r, "area_code": "E09000001", "baseline": 1.5}
                      for r in table.to_pylist()])
    both = pa.concat_tables([table, other])
    out = apply_tracking(both, [BASELINE], [TARGET], {"early-booking": "high_is_good"})
    mine = [r for r in out.to_pylist() if r["area_code"] == "E09000030"]
    theirs = [r for r in out.to_pylist() if r["area_code"] == "E09000001"]
    assert [r["baseline"] for r in mine] == [60.0, 60.0]
    assert [r["target_status"] for r in mine] == [None, "met"]
    assert [(r["baseline"], r["target"], r["target_status"]) for r in theirs] == [
        (1.5, None, None)] * 2
    assert apply_tracking(both, [], [], {}).equals(both)
