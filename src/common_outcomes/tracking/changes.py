"""Change since the previous period and since the baseline, computed when asked from the
results table (never stored per comparison), for the web app, board reports and
`outcomes changes`.

Significance, and why these methods:

- Since the previous period: the two periods' 95% confidence intervals are compared by
  Fingertips' "double overlapping CIs" method (`stats.compare.compare_overlap`): intervals that
  do not overlap are a significant change, labelled by polarity (Better/Worse, or Higher/Lower
  without a judgement); intervals that overlap are "Similar". It is conservative: two values
  whose intervals overlap slightly can still differ at the 5% level, so "Similar" means "no
  clear change", not "no change".
- Since the baseline: the baseline is a value (one period's, or the mean of several) without an
  interval, so the current 95% interval is compared with it as Fingertips compares an area
  with a benchmark value (`stats.compare.compare_to_benchmark`).

"Not compared" where a value or an interval is missing (a suppressed cell, a published figure
without limits). The previous period is the one of the same type that ends the day before
this one starts (the previous year, quarter or month; for a rolling year, the rolling year
twelve months earlier, so that the two do not overlap).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from common_outcomes.periods import Period, PeriodType, period_containing
from common_outcomes.stats.compare import (
    BETTER,
    HIGHER,
    LOWER,
    WORSE,
    compare_overlap,
    compare_to_benchmark,
)

SIGNIFICANT = (BETTER, WORSE, HIGHER, LOWER)


@dataclass(frozen=True)
class Change:
    indicator_id: str
    area_code: str
    area_name: str
    area_type: str
    breakdown: str
    period_type: str
    period: str
    value: float | None
    previous_period: str
    previous_value: float | None
    change_since_previous: float | None
    previous_comparison: str  # Better/Similar/Worse (Higher/Lower), or Not compared
    baseline: float | None
    change_since_baseline: float | None
    baseline_comparison: str

    @property
    def significant_since_previous(self) -> bool:
        return self.previous_comparison in SIGNIFICANT

    @property
    def significant_since_baseline(self) -> bool:
        return self.baseline_comparison in SIGNIFICANT


def previous_period(start: date, end: date, period_type: str) -> Period:
    """The period of the same type before this one (see the module docstring)."""
    ptype = PeriodType(period_type)
    if ptype is PeriodType.ROLLING_12_MONTHS:
        return period_containing(date(end.year - 1, end.month, 1), ptype)
    return period_containing(start - timedelta(days=1), ptype)


def changes(results: pa.Table, indicator: str, polarity: str, area: str | None = None,
            period_type: str | None = None, breakdown: str = "all",
            periods: Sequence[str] = ()) -> list[Change]:
    """Every row of `indicator` (in `area`, of `period_type`, of `breakdown`, in `periods`,
    where given) with its change since the previous period and since its baseline, oldest
    first within each area."""
    rows = [r for r in results.to_pylist() if r["indicator_id"] == indicator
            and r["breakdown"] == breakdown and (area is None or r["area_code"] == area)
            and (period_type is None or r["period_type"] == period_type)]
    by_start = {(r["area_code"], r["period_type"], r["period_start"]): r for r in rows}
    chosen = sorted((r for r in rows if not periods or r["period"] in periods),
                    key=lambda r: (r["area_type"], r["area_code"], r["period_type"],
                                   r["period_start"]))
    earlier = [previous_period(r["period_start"], r["period_end"], r["period_type"])
               for r in chosen]
    before = [by_start.get((r["area_code"], r["period_type"], p.start))
              for r, p in zip(chosen, earlier, strict=True)]

    def column(source: Sequence[dict[str, object] | None], name: str) -> np.ndarray:
        return np.array([np.nan if r is None or r[name] is None else r[name] for r in source],
                        dtype=np.float64)

    value, lower, upper = (column(chosen, k) for k in ("value", "lower_95", "upper_95"))
    previous = compare_overlap(lower, upper, column(before, "lower_95"),
                               column(before, "upper_95"), polarity, value,
                               column(before, "value"))
    since_baseline = compare_to_benchmark(lower, upper, column(chosen, "baseline"), polarity,
                                          value)
    out = []
    for i, r in enumerate(chosen):
        b = before[i]
        out.append(Change(
            indicator_id=indicator, area_code=r["area_code"], area_name=r["area_name"],
            area_type=r["area_type"], breakdown=breakdown, period_type=r["period_type"],
            period=r["period"], value=r["value"],
            previous_period=earlier[i].label,
            previous_value=None if b is None else b["value"],
            change_since_previous=_difference(r["value"], None if b is None else b["value"]),
            previous_comparison=str(previous[i]), baseline=r["baseline"],
            change_since_baseline=_difference(r["value"], r["baseline"]),
            baseline_comparison=str(since_baseline[i])))
    return out


def _difference(now: float | None, then: float | None) -> float | None:
    return None if now is None or then is None else now - then
