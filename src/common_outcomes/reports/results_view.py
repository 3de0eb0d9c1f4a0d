"""What the pages and the API read from the published results table: the latest value of each
indicator for an area, an indicator's time series, and the areas compared for one period.

Pure functions over an Arrow table that has already passed the disclosure guard; they select
and order rows, and never compute a new number.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

ALL = "all"
SUFFIX = {"percent": "%", "rate_per_1000": " per 1,000", "rate_per_10000": " per 10,000",
          "rate_per_100000": " per 100,000"}
# Borough first, then its localities, then its wards (then anything wider, for London).
AREA_ORDER = {"la": 0, "locality": 1, "ward": 2, "region": 3, "england": 4}


@dataclass(frozen=True)
class Value:
    """One published row: every column of the results table (DESIGN.md), typed."""

    indicator_id: str
    indicator_name: str
    area_code: str
    area_name: str
    area_type: str
    parent_code: str | None
    period: str
    period_type: str
    period_start: date
    period_end: date
    breakdown: str
    numerator: float | None
    denominator: float | None
    value: float | None
    lower_95: float | None
    upper_95: float | None
    lower_998: float | None
    upper_998: float | None
    method: str | None
    value_note: str | None
    suppressed: bool
    benchmark_code: str | None
    compared_to_benchmark: str | None
    recent_trend: str | None
    baseline: float | None
    target: float | None
    target_status: str | None


FIELDS = tuple(f.name for f in fields(Value))


def number(value: float | None, unit: str = "percent") -> str:
    """A value as a page shows it: whole counts, one decimal place otherwise, with its unit."""
    if value is None:
        return "-"
    decimals = 0 if unit == "count" else 1
    return f"{value:,.{decimals}f}{SUFFIX.get(unit, '')}"


def values(table: pa.Table) -> list[Value]:
    return [Value(**{k: row[k] for k in FIELDS}) for row in table.select(list(FIELDS)).to_pylist()]


def _where(table: pa.Table, **equal: Any) -> pa.Table:
    mask = None
    for column, wanted in equal.items():
        if wanted is None:
            continue
        test = pc.equal(table.column(column), pa.scalar(wanted, table.schema.field(column).type))
        mask = test if mask is None else pc.and_(mask, test)
    return table if mask is None else table.filter(mask)


def select(table: pa.Table, indicator: str | None = None, area: str | None = None,
           period: str | None = None, period_type: str | None = None,
           breakdown: str | None = None) -> pa.Table:
    """The rows that match every filter given (None matches anything)."""
    return _where(table, indicator_id=indicator, area_code=area, period=period,
                  period_type=period_type, breakdown=breakdown)


def latest(table: pa.Table, area: str, usual: Mapping[str, str]) -> dict[str, Value]:
    """Each indicator's newest value for an area (all people, not a breakdown), in the
    indicator's usual period type when the results hold it."""
    rows = values(select(table, area=area, breakdown=ALL))
    best: dict[str, Value] = {}
    for row in rows:
        held = best.get(row.indicator_id)
        if held is None or _rank(row, usual) > _rank(held, usual):
            best[row.indicator_id] = row
    return best


def _rank(row: Value, usual: Mapping[str, str]) -> tuple[bool, date, int]:
    # The usual period type wins; then the newest end; then the longest period.
    return (row.period_type == usual.get(row.indicator_id), row.period_end,
            -row.period_start.toordinal())


def period_types(table: pa.Table, indicator: str) -> list[str]:
    held = select(table, indicator=indicator).column("period_type").unique().to_pylist()
    return sorted(str(p) for p in held)


def series(table: pa.Table, indicator: str, area: str, period_type: str) -> list[Value]:
    """An indicator's values for one area over time, oldest first."""
    rows = values(select(table, indicator=indicator, area=area, period_type=period_type,
                          breakdown=ALL))
    return sorted(rows, key=lambda r: r.period_start)


def compared(table: pa.Table, indicator: str, period_type: str,
             period: str | None = None, areas: Collection[str] | None = None) -> list[Value]:
    """Every area's value for one period (the newest when none is named), or only the `areas`
    named (a borough's own among London's), the borough first, then localities and wards,
    each by name."""
    chosen = select(table, indicator=indicator, period_type=period_type, breakdown=ALL)
    if areas is not None:
        chosen = chosen.filter(pc.is_in(chosen.column("area_code"),
                                        pa.array(sorted(areas), pa.string())))
    rows = values(chosen)
    if not rows:
        return []
    if period is None:
        period = max(rows, key=lambda r: r.period_end).period
    return sorted((r for r in rows if r.period == period),
                  key=lambda r: (AREA_ORDER.get(r.area_type, 9), r.area_name))
