"""Baselines and targets from the workspace, onto the results table.

A baseline is the value of one period, or the mean of named periods (or a value the workspace
states). A target is a value for an area and period; a linear trajectory runs from the
baseline to it, one step per period of the same type. Target status uses the confidence
interval, not the point value alone:

- met: at the target period, the whole 95% interval is on the good side of the target;
- on track: before it, the interval is on the good side of the trajectory, or contains it;
- off track: the whole interval is on the bad side of the trajectory or target;
- not assessable: no value or interval, no judgement on direction, or no trajectory here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pyarrow as pa

from common_outcomes.periods import PeriodType, parse_period
from common_outcomes.strategy.models import Baseline, Target

Row = dict[str, object]


def _key(r: Row) -> tuple[str, str, str]:
    return (str(r["indicator_id"]), str(r["area_code"]), str(r["period_type"]))


TRACKED = ("baseline", "target", "target_status")


def apply_tracking(results: pa.Table, baselines: Sequence[Baseline], targets: Sequence[Target],
                   polarity: dict[str, str]) -> pa.Table:
    # Only the series of an indicator and area with a baseline or target become Python rows
    # (a few hundred of the thousands): the others keep their columns as they are.
    wanted = {(b.indicator, b.area) for b in baselines} | {(t.indicator, t.area) for t in targets}
    picked = [i for i, key in enumerate(zip(results.column("indicator_id").to_pylist(),
                                            results.column("area_code").to_pylist(),
                                            strict=True)) if key in wanted]
    rows = _tracked_rows(results.take(pa.array(picked, pa.int64())).to_pylist(), baselines,
                         targets, polarity)
    for name in TRACKED:
        values = results.column(name).to_pylist()
        for i, r in zip(picked, rows, strict=True):
            values[i] = r[name]
        index = results.schema.get_field_index(name)
        results = results.set_column(index, results.schema.field(index),
                                     pa.array(values, results.schema.field(index).type))
    return results


def _tracked_rows(rows: list[Row], baselines: Sequence[Baseline], targets: Sequence[Target],
                  polarity: dict[str, str]) -> list[Row]:
    series: dict[tuple[str, str, str], list[Row]] = {}
    for r in rows:
        series.setdefault(_key(r), []).append(r)
    for points in series.values():
        points.sort(key=lambda r: str(r["period_start"]))
    for b in baselines:
        for key, points in series.items():
            if key[0] != b.indicator or key[1] != b.area:
                continue
            wanted = [b.period] if b.period else list(b.periods)
            values = [float(p["value"]) for p in points  # type: ignore[arg-type]
                      if p["period"] in wanted and p["value"] is not None]
            value = b.value if b.value is not None else (
                sum(values) / len(values) if len(values) == len(wanted) else None)
            for p in points:
                p["baseline"] = value
    for t in targets:
        for key, points in series.items():
            if key[0] != t.indicator or key[1] != t.area:
                continue
            try:
                goal_start = parse_period(t.period, PeriodType(key[2])).start
            except ValueError:
                continue  # a target set for another period type than this series
            base = next((p for p in points if p["baseline"] is not None
                         and _is_baseline_period(p, baselines, t)), None)
            for p in points:
                start = p["period_start"]
                assert isinstance(start, date)
                if p["period"] == t.period:
                    p["target"] = t.value
                elif (t.trajectory == "linear" and base is not None
                      and base["period_start"] < start < goal_start):  # type: ignore[operator]
                    b0 = float(base["baseline"])  # type: ignore[arg-type]
                    span = (goal_start - base["period_start"]).days  # type: ignore[operator]
                    done = (start - base["period_start"]).days  # type: ignore[operator]
                    p["target"] = b0 + (t.value - b0) * done / span
                if p.get("target") is not None:
                    p["target_status"] = _status(p, polarity.get(t.indicator, "no_judgement"),
                                                 at_target=p["period"] == t.period)
    return rows


def _is_baseline_period(p: Row, baselines: Sequence[Baseline], t: Target) -> bool:
    """The row is (the last of) the baseline period(s) for this target's indicator and area."""
    for b in baselines:
        if b.indicator == t.indicator and b.area == t.area:
            last = b.period or (b.periods[-1] if b.periods else None)
            return p["period"] == last
    return False


def _status(r: Row, polarity: str, at_target: bool) -> str | None:
    if r.get("target") is None:
        return None
    if r["lower_95"] is None or r["upper_95"] is None or polarity == "no_judgement":
        return "not assessable"
    lower, upper = float(r["lower_95"]), float(r["upper_95"])  # type: ignore[arg-type]
    goal = float(r["target"])  # type: ignore[arg-type]
    good = lower >= goal if polarity == "high_is_good" else upper <= goal
    bad = upper < goal if polarity == "high_is_good" else lower > goal
    if good:
        return "met" if at_target else "on track"
    if bad:
        return "off track"
    return "on track"
