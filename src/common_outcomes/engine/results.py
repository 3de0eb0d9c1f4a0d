"""Stage two: from counts by small area and month to the results table.

Counts roll up along the area hierarchy (LSOA -> ward -> locality -> borough) and into every
period type (each a union of months), then values and intervals are computed on whole columns,
comparisons made with the borough, and disclosure control applied to every area family of
each indicator and period before anything leaves this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from common_outcomes.indicators.definitions import Definition, Measure
from common_outcomes.periods import Period, PeriodType, period_containing
from common_outcomes.stats.compare import compare_to_benchmark, recent_trend
from common_outcomes.stats.disclosure import Rule, primary, secondary_families
from common_outcomes.stats.intervals import crude_rate, wilson

COLUMNS = ("indicator_id", "indicator_name", "area_code", "area_name", "area_type",
           "parent_code", "period", "period_type", "period_start", "period_end", "breakdown",
           "numerator", "denominator", "value", "lower_95", "upper_95", "lower_998",
           "upper_998", "method", "value_note", "suppressed", "benchmark_code",
           "compared_to_benchmark", "recent_trend", "baseline", "target", "target_status")
AREA_LEVELS = ("la", "locality", "ward")
YEARLY = (PeriodType.FINANCIAL_YEAR, PeriodType.ACADEMIC_YEAR, PeriodType.CALENDAR_YEAR)
TREND_POINTS = 5


@dataclass(frozen=True)
class Areas:
    """The hierarchy: each small area's ward, locality and borough, and every area's name."""

    lsoa_ward: Mapping[str, str]
    ward_locality: Mapping[str, str]
    la_code: str
    names: Mapping[str, str]

    def parent(self, level: str, code: str) -> str | None:
        if level == "ward":
            return self.ward_locality.get(code)
        if level == "locality":
            return self.la_code
        return None


@dataclass(frozen=True)
class About:
    """What the results need to know of an indicator beyond its definition."""

    name: str
    polarity: str
    period_type: PeriodType
    rule: Rule


def _level_codes(areas: Areas, lsoa: npt.NDArray[np.str_], level: str) -> npt.NDArray[np.str_]:
    wards = np.array([areas.lsoa_ward.get(a, "") for a in lsoa.tolist()], dtype=object)
    if level == "ward":
        return wards.astype(str)
    if level == "locality":
        return np.array([areas.ward_locality.get(w, "") for w in wards.tolist()], dtype=str)
    return np.where(wards != "", areas.la_code, "").astype(str)


def _sum_by(keys: npt.NDArray[np.str_], *values: npt.NDArray[np.float64]) -> tuple[
    npt.NDArray[np.str_], list[npt.NDArray[np.float64]]
]:
    unique, inverse = np.unique(keys, return_inverse=True)
    sums = [np.bincount(inverse, weights=v, minlength=len(unique)).astype(np.float64)
            for v in values]
    return unique, sums


@dataclass(frozen=True)
class Coverage:
    """What the store holds of a source: its period type and the periods loaded."""

    period_type: PeriodType | None
    periods: frozenset[str]


def build_results(counts: pa.Table, definitions: Sequence[Definition], about: Mapping[str, About],
                  areas: Areas, coverage: Coverage | None = None) -> pa.Table:
    lsoa = np.asarray(counts.column("area_code").to_pylist(), dtype=str)
    # DATE_TRUNC gives a timestamp in some engines and a date in others.
    months = [m.date() if isinstance(m, datetime) else m
              for m in counts.column("month").to_pylist()]
    rows: list[dict[str, object]] = []
    if not months:
        return _to_table(rows)
    # Only periods the data covers from start to end: a part-year is not that year.
    first = min(months)
    last = period_containing(max(months), PeriodType.MONTH).end
    for d in definitions:
        info = about[d.indicator]
        num = np.asarray(counts.column(f"{d.indicator}__numerator").to_numpy(), dtype=float)
        den = np.asarray(counts.column(f"{d.indicator}__denominator").to_numpy(), dtype=float)
        groups = _breakdowns(counts, d)
        for ptype in d.period_types or (info.period_type,):
            if ptype is PeriodType.ROLLING_12_MONTHS:
                rows.extend(_rolling(lsoa, months, num, den, groups, d, info, areas, first,
                                     last))
                continue
            period_of = {m: period_containing(m, ptype) for m in set(months)}
            if coverage is not None and coverage.period_type is ptype:
                # The source is loaded by this very period type: a loaded period is whole.
                complete = {m: p.label in coverage.periods for m, p in period_of.items()}
            else:
                complete = {m: p.start >= first and p.end <= last for m, p in period_of.items()}
            labels = np.array([period_of[m].label if complete[m] else "" for m in months],
                              dtype=str)
            spans = {p.label: p for p in period_of.values()}
            block = [row for group in groups
                     for row in _roll_up(lsoa, labels, group, num, den, spans, d, info, areas,
                                         ptype)]
            block = _statistics(block, d, info, areas)
            if ptype in YEARLY and d.measure in (Measure.PROPORTION, Measure.CRUDE_RATE):
                _add_trends(block, d, info)
            rows.extend(block)
    return _to_table(rows)


def _breakdowns(counts: pa.Table, d: Definition) -> list[npt.NDArray[np.str_]]:
    """For each way of breaking the indicator down, every row's label: "all" first, then
    "<column>: <value>" for each declared breakdown."""
    n = counts.num_rows
    groups = [np.full(n, "all", dtype=object).astype(str)]
    for name in d.breakdowns:
        values = np.asarray(counts.column(f"breakdown__{name}").to_pylist(), dtype=str)
        groups.append(np.char.add(f"{name}: ", values))
    return groups


def _rolling(lsoa: npt.NDArray[np.str_], months: list[date], num: npt.NDArray[np.float64],
             den: npt.NDArray[np.float64], groups: list[npt.NDArray[np.str_]], d: Definition,
             info: About, areas: Areas, first: date, last: date) -> list[dict[str, object]]:
    """Rolling 12-month periods: each month counts in the twelve periods ending with it and
    the eleven months after; only periods whose twelve months the data covers are kept."""
    # Each month counts in the rolling years ending with it and in the eleven months after.
    base = np.array(months, dtype="datetime64[M]")
    shifted = np.concatenate([base + np.timedelta64(k, "M") for k in range(12)])
    counts_lsoa = np.tile(lsoa, 12)
    distinct = np.unique(shifted)
    period_of = {m: period_containing(m.astype("datetime64[D]").item(),
                                      PeriodType.ROLLING_12_MONTHS) for m in distinct}
    label_of = {m: (p.label if p.start >= first and p.end <= last else "")
                for m, p in period_of.items()}
    labels = np.array([label_of[m] for m in distinct], dtype=str)[
        np.searchsorted(distinct, shifted)]
    spans = {p.label: p for p in period_of.values()}
    block = [row for group in groups
             for row in _roll_up(counts_lsoa, labels, np.tile(group, 12), np.tile(num, 12),
                                 np.tile(den, 12), spans, d, info, areas,
                                 PeriodType.ROLLING_12_MONTHS)]
    return _statistics(block, d, info, areas)


def _roll_up(lsoa: npt.NDArray[np.str_], labels: npt.NDArray[np.str_],
             breakdown: npt.NDArray[np.str_],
             num: npt.NDArray[np.float64], den: npt.NDArray[np.float64],
             spans: Mapping[str, Period], d: Definition, info: About, areas: Areas,
             ptype: PeriodType) -> list[dict[str, object]]:
    """Counts by small area and period label summed to every area level (rows whose label is
    empty belong to no complete period and are left out)."""
    block: list[dict[str, object]] = []
    for level in AREA_LEVELS:
        codes = _level_codes(areas, lsoa, level)
        keep = (codes != "") & (labels != "")
        keys = np.char.add(np.char.add(np.char.add(np.char.add(
            codes[keep], "\x1f"), labels[keep]), "\x1f"), breakdown[keep])
        unique, (n, dn) = _sum_by(keys, num[keep], den[keep])
        for key, x, y in zip(unique.tolist(), n.tolist(), dn.tolist(), strict=True):
            code, label, group = key.split("\x1f")
            span = spans[label]
            block.append({
                "indicator_id": d.indicator, "indicator_name": info.name, "area_code": code,
                "area_name": areas.names.get(code, code), "area_type": level,
                "parent_code": areas.parent(level, code), "period": label,
                "period_type": ptype.value, "period_start": span.start,
                "period_end": span.end, "breakdown": group, "numerator": x, "denominator": y,
            })
    return block


def _statistics(block: list[dict[str, object]], d: Definition, info: About,
                areas: Areas) -> list[dict[str, object]]:
    """Values, intervals, comparison with the borough and disclosure control, per period."""
    if not block:
        return block
    x = np.array([r["numerator"] for r in block], dtype=float)
    n = np.array([r["denominator"] for r in block], dtype=float)
    if d.measure is Measure.PROPORTION:
        value = np.where(n > 0, x / np.where(n > 0, n, 1), np.nan) * d.multiplier
        lo95, up95 = (v * d.multiplier for v in wilson(x, n, 0.95))
        lo998, up998 = (v * d.multiplier for v in wilson(x, n, 0.998))
        method = "Wilson score"
    elif d.measure is Measure.CRUDE_RATE:
        value, lo95, up95 = crude_rate(x, n, d.multiplier, 0.95)
        _, lo998, up998 = crude_rate(x, n, d.multiplier, 0.998)
        method = "Byar's (exact Poisson below 10)"
    else:
        value, lo95, up95, lo998, up998 = (x, *(np.full(len(x), np.nan),) * 4)
        method = "count"
    for i, r in enumerate(block):
        r.update(value=value[i], lower_95=lo95[i], upper_95=up95[i], lower_998=lo998[i],
                 upper_998=up998[i], method=method,
                 value_note="no records in the denominator" if n[i] == 0 else None)
    by_period: dict[str, list[int]] = {}
    for i, r in enumerate(block):
        by_period.setdefault(str(r["period"]), []).append(i)
    for indices in by_period.values():
        _compare_and_protect([block[i] for i in indices], info, areas)
    return block


def _add_trends(block: list[dict[str, object]], d: Definition, info: About) -> None:
    """Fingertips' recent trend for each row: the area's five most recent yearly points up to
    and including the row's period (published values only: a suppressed point is missing)."""
    series: dict[tuple[str, str], list[dict[str, object]]] = {}
    for r in block:
        series.setdefault((str(r["area_code"]), str(r["breakdown"])), []).append(r)
    rows, windows = [], []
    for points in series.values():
        points.sort(key=lambda r: r["period_start"])  # type: ignore[arg-type, return-value]
        for k, r in enumerate(points):
            rows.append(r)
            windows.append(points[max(0, k + 1 - TREND_POINTS): k + 1])
    if not rows:
        return

    def matrix(key: str) -> npt.NDArray[np.float64]:
        out = np.full((len(rows), TREND_POINTS), np.nan)
        for i, window in enumerate(windows):
            values = [np.nan if w[key] is None else float(w[key]) for w in window]  # type: ignore[arg-type]
            out[i, TREND_POINTS - len(values):] = values
        return out

    labels = recent_trend(
        matrix("value"), matrix("numerator"), matrix("denominator"),
        "proportion" if d.measure is Measure.PROPORTION else "rate", d.multiplier,
        info.polarity, lower95=matrix("lower_95"), upper95=matrix("upper_95"))
    for r, label in zip(rows, labels.tolist(), strict=True):
        r["recent_trend"] = label


def _compare_and_protect(rows: list[dict[str, object]], info: About, areas: Areas) -> None:
    """One period of one indicator: each area compared with the borough (same breakdown), then
    disclosure control over every family the numbers add up in: a locality and its wards, the
    borough and its localities, and each area's total and its breakdown values."""
    index = {(str(r["area_code"]), str(r["breakdown"])): i for i, r in enumerate(rows)}
    value = np.array([np.nan if r["value"] is None else r["value"] for r in rows], dtype=float)
    benchmark = np.array([value[index[(areas.la_code, str(r["breakdown"]))]]
                          if (areas.la_code, str(r["breakdown"])) in index else np.nan
                          for r in rows])
    lower = np.array([r["lower_95"] for r in rows], dtype=float)
    upper = np.array([r["upper_95"] for r in rows], dtype=float)
    labels = compare_to_benchmark(lower, upper, benchmark, info.polarity, value)
    families: dict[tuple[object, ...], tuple[int, list[int]]] = {}
    for i, r in enumerate(rows):
        code, group = str(r["area_code"]), str(r["breakdown"])
        parent = index.get((str(r["parent_code"]), group))
        if parent is not None:
            families.setdefault(("area", parent), (parent, []))[1].append(i)
        if group != "all" and (code, "all") in index:
            dimension = group.split(": ")[0]
            total = index[(code, "all")]
            families.setdefault(("breakdown", total, dimension), (total, []))[1].append(i)
    counts = np.array([r["numerator"] for r in rows], dtype=float)
    hidden = secondary_families(counts, [(p, np.array(c, dtype=np.int64))
                                         for p, c in families.values()],
                                primary(counts, info.rule))
    for i, r in enumerate(rows):
        is_la = r["area_type"] == "la"
        r["benchmark_code"] = None if is_la else areas.la_code
        r["compared_to_benchmark"] = None if is_la else str(labels[i])
        r["suppressed"] = bool(hidden[i])
        if hidden[i]:
            for key in ("numerator", "value", "lower_95", "upper_95", "lower_998",
                        "upper_998", "compared_to_benchmark"):
                r[key] = None
            r["value_note"] = "suppressed: a small number, or one that would reveal one"


def _to_table(rows: list[dict[str, object]]) -> pa.Table:
    def col(name: str) -> list[object]:
        return [_clean(r.get(name)) for r in rows]

    types = {"numerator": pa.float64(), "denominator": pa.float64(), "value": pa.float64(),
             "lower_95": pa.float64(), "upper_95": pa.float64(), "lower_998": pa.float64(),
             "upper_998": pa.float64(), "baseline": pa.float64(), "target": pa.float64(),
             "period_start": pa.date32(), "period_end": pa.date32(), "suppressed": pa.bool_()}
    return pa.table({name: pa.array(col(name), types.get(name, pa.string()))
                     for name in COLUMNS})


def _clean(value: object) -> object:
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    return value
