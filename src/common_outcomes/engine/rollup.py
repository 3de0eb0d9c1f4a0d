"""Roll-up and periods in the engine: a pass's counts summed to every area level, period and
breakdown by the engine itself, so that only the results table's rows reach Python.

Stage one (engine/plan.py) counts a pass's records by small area and month. Here that table
stays in the engine (`counts__`) and is joined to two small tables: the area hierarchy (each
small area's code at every level above it, `areas__`) and the months of every whole period of
each type the definitions ask for (`months__`, from the same periods.py as the numpy roll-up;
a rolling year is the twelve months ending with it). One GROUPING SETS aggregation gives every
level x period x breakdown at once. What comes back is one row per area, period and grouping;
engine/results.py then computes values, comparisons and disclosure control on whole columns
exactly as it does after its own roll-up, with the rows in the same order.

Today this path takes the passes of plain counts (no person counted once, no stock, no
standardisation, no mean, no denominator from another source, no shifted months) on engines
that can keep a table: DuckDB from `MIN_RECORDS` records, Spark always (its driver then
receives the results' rows only). Every other pass rolls up in numpy (engine/results.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol, runtime_checkable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlglot import exp

from common_outcomes.engine.plan import (
    Pass,
    breakdown_column,
    denominator_column,
    numerator_column,
)
from common_outcomes.engine.results import (
    About,
    Areas,
    Block,
    Coverage,
    Dated,
    Floats,
    Ints,
    Strs,
    benchmark_codes,
    finish,
    month_periods,
    parent_codes,
    stack,
)
from common_outcomes.indicators.definitions import Definition
from common_outcomes.periods import Period, PeriodType
from common_outcomes.results.table import empty

COUNTS, AREAS, MONTHS = "counts__", "areas__", "months__"
SMALL, LEVEL, CODE = "small__", "level__", "code__"
MONTH, PERIOD_TYPE, PERIOD = "month__", "period_type__", "period__"
GROUPED = "grouped__"  # GROUPING() of each breakdown column: 1 where summed over it


@runtime_checkable
class Keeps(Protocol):
    """A backend that can keep a query's result and small tables of ours for later queries."""

    def keep(self, name: str, query: exp.Expr) -> None: ...

    def register(self, name: str, table: pa.Table) -> None: ...

    def run(self, query: exp.Expr) -> pa.Table: ...


# Below this many records the numpy roll-up is the faster (a borough's few thousand a year:
# the engine's extra queries cost more than they save); from London's scale up, the engine.
# Measured side by side: docs/performance.md, "Roll-up and periods in the engine".
MIN_RECORDS = 100_000


def supported(p: Pass, backend: object) -> bool:
    """Whether the pass rolls up in the engine: plain counts, enough of them, on an engine
    that keeps tables."""
    if not (isinstance(backend, Keeps) and p.person is None and p.open_until is None
            and p.age is None and not p.denominators and all(_plain(d) for d in p.definitions)):
        return False
    # An engine may say from how many records it rolls up (Spark: always; its parts may not
    # even be on this machine).
    least = getattr(backend, "min_records", MIN_RECORDS)
    return least <= 0 or _records(p) >= least


def _records(p: Pass) -> int:
    """The rows of the pass's parts, from their Parquet footers (an upper bound of what it
    counts: a part is read only for its current periods)."""
    return sum(pq.read_metadata(part.path).num_rows for part in p.parts)


def _plain(d: Definition) -> bool:
    return (isinstance(d.denominator, str) and d.value is None and d.standardise is None
            and not d.per_person and d.shift_months == 0)


def _types(p: Pass, about: Mapping[str, About]) -> list[PeriodType]:
    return sorted({t for d in p.definitions
                   for t in (d.period_types or (about[d.indicator].period_type,))},
                  key=lambda t: t.value)


def areas_table(areas: Areas) -> pa.Table:
    """Each small area's code at every level (its position in `Areas.levels`) it has one."""
    small: list[str] = []
    level: list[int] = []
    code: list[str] = []
    for i, name in enumerate(areas.levels):
        for s, c in areas.within[name].items():
            if c:
                small.append(s)
                level.append(i)
                code.append(c)
    return pa.table({SMALL: pa.array(small, pa.string()), LEVEL: pa.array(level, pa.int32()),
                     CODE: pa.array(code, pa.string())})


def months_table(first: int, last: int, types: Sequence[PeriodType],
                 coverage: Coverage | None) -> tuple[pa.Table, dict[PeriodType, list[Period]]]:
    """Every month from `first` to `last` (numpy months since 1970, the extent of the counts)
    with each whole period of each type that holds it, as `results.month_periods` decides."""
    months = np.arange(first, last + 1, dtype=np.int64)
    parts: list[pa.Table] = []
    spans: dict[PeriodType, list[Period]] = {}
    for i, ptype in enumerate(types):
        rows, period, spans[ptype] = month_periods(months, ptype, coverage)
        keep = period >= 0
        parts.append(pa.table({
            MONTH: pa.array(months[rows[keep]].astype("datetime64[M]").astype("datetime64[D]"),
                            pa.date32()),
            PERIOD_TYPE: pa.array(np.full(int(keep.sum()), i, dtype=np.int32), pa.int32()),
            PERIOD: pa.array(period[keep].astype(np.int32), pa.int32())}))
    return pa.concat_tables(parts), spans


def extent_query() -> exp.Select:
    """The first and last month of the kept counts, and how many rows they have."""
    month = exp.column("month")
    return exp.select(exp.func("MIN", month).as_("first"), exp.func("MAX", month).as_("last"),
                      exp.func("COUNT", exp.Star()).as_("rows")).from_(COUNTS)


def rollup_query(p: Pass) -> exp.Select:
    """Every definition's counts summed by level, area, period type, period and each grouping
    (the total, and each breakdown), over the kept counts joined to the two tables: first to
    each level's areas by month (far fewer rows than small areas), then to the periods that
    hold each month (a rolling year repeats each month twelve times)."""
    def col(name: str, table: str) -> exp.Column:
        return exp.column(name, table=table)

    counted = [name for d in p.definitions
               for name in (numerator_column(d.indicator), denominator_column(d.indicator))]
    breakdowns = [breakdown_column(b) for b in p.breakdowns]
    by_month = (exp.select(col(LEVEL, "a"), col(CODE, "a"),
                           exp.cast(col("month", "c"), "date").as_(MONTH),
                           *(col(b, "c") for b in breakdowns),
                           *(exp.func("SUM", exp.cast(col(n, "c"), "double")).as_(n)
                             for n in counted))
                .from_(exp.alias_(exp.to_table(COUNTS), "c", table=True))
                .join(exp.alias_(exp.to_table(AREAS), "a", table=True),
                      on=col("area_code", "c").eq(col(SMALL, "a")))
                .group_by(col(LEVEL, "a"), col(CODE, "a"),
                          exp.cast(col("month", "c"), "date"), *(col(b, "c") for b in breakdowns)))
    base = [col(LEVEL, "b"), col(CODE, "b"), col(PERIOD_TYPE, "m"), col(PERIOD, "m")]
    by = [col(b, "b") for b in breakdowns]
    flags = [exp.func("GROUPING", b.copy()).as_(f"{GROUPED}{name}")
             for b, name in zip(by, p.breakdowns, strict=True)]
    sets = exp.GroupingSets(expressions=[
        exp.Tuple(expressions=[c.copy() for c in base]),
        *(exp.Tuple(expressions=[*(c.copy() for c in base), b.copy()]) for b in by)])
    return (exp.select(*base, *by, *flags,
                       *(exp.func("SUM", col(n, "b")).as_(n) for n in counted))
            .from_(by_month.subquery("b"))
            .join(exp.alias_(exp.to_table(MONTHS), "m", table=True),
                  on=col(MONTH, "b").eq(col(MONTH, "m")))
            .group_by(sets))


@dataclass(frozen=True)
class Rolled:
    """What the engine returned for a pass, and the periods its positions refer to."""

    table: pa.Table
    types: list[PeriodType]
    spans: Mapping[PeriodType, list[Period]]


def roll_up_in_engine(backend: Keeps, p: Pass, query: exp.Expr, about: Mapping[str, About],
                      areas: Areas, coverage: Coverage | None) -> Rolled | None:
    """Stage one kept in the engine, then rolled up there; None when it counted nothing."""
    backend.keep(COUNTS, query)
    extent = backend.run(extent_query()).to_pylist()[0]
    if not extent["rows"]:
        return None
    first, last = (_month_number(extent[k]) for k in ("first", "last"))
    types = _types(p, about)
    months, spans = months_table(first, last, types, coverage)
    backend.register(AREAS, areas_table(areas))
    backend.register(MONTHS, months)
    return Rolled(backend.run(rollup_query(p)), types, spans)


def _month_number(value: date) -> int:
    return int(np.datetime64(value, "M").astype(np.int64))


def build_rolled(rolled: Rolled | None, p: Pass, about: Mapping[str, About],
                 areas: Areas) -> pa.Table:
    """The results rows of every definition of the pass, from the engine's roll-up: the same
    blocks, in the same order, as engine/results.py builds from stage one's counts."""
    if rolled is None:
        return empty()
    t = rolled.table
    level = _ints(t, LEVEL)
    ptype = _ints(t, PERIOD_TYPE)
    period = _ints(t, PERIOD)
    code = _texts(t, CODE)
    flags = {b: _ints(t, f"{GROUPED}{b}") for b in p.breakdowns}
    labels = {b: _texts(t, breakdown_column(b)) for b in p.breakdowns}
    parents = [_by_code(areas, name, parent_codes) for name in areas.levels]
    benchmarks = [_by_code(areas, name, benchmark_codes) for name in areas.levels]
    tables = []
    for d in p.definitions:
        num = _floats(t, numerator_column(d.indicator))
        den = _floats(t, denominator_column(d.indicator))
        blocks = []
        for pt in d.period_types or (about[d.indicator].period_type,):
            i = rolled.types.index(pt)
            spans = rolled.spans[pt]
            period_labels = np.array([s.label for s in spans] or [""], dtype=str)
            parts = []
            # Each level, then the total and each breakdown, rows by area, period and label:
            # the order of results._aggregate, which secondary suppression's tie-breaks see.
            for lv, name in enumerate(areas.levels):
                for group in (None, *d.breakdowns):
                    mine = (level == lv) & (ptype == i)
                    for b in p.breakdowns:
                        mine &= flags[b] == (0 if b == group else 1)
                    at = np.flatnonzero(mine)
                    label = (np.char.add(f"{group}: ", labels[group][at]) if group is not None
                             else np.full(len(at), "all").astype(str))
                    order = np.lexsort((label, period[at], code[at]))
                    at, label = at[order], label[order]
                    parts.append(Block(
                        area_code=code[at], area_type=np.full(len(at), name).astype(str),
                        parent_code=_mapped(parents[lv], code[at]),
                        benchmark_code=_mapped(benchmarks[lv], code[at]),
                        period=period_labels[period[at]], breakdown=label,
                        numerator=num[at], denominator=den[at]))
            blocks.append(Dated.of(stack(parts), spans, pt))
        tables.append(finish(Dated.join(blocks), d, about[d.indicator], areas))
    return pa.concat_tables(tables) if tables else empty()


def _by_code(areas: Areas, level: str,
             codes_of: Callable[[Areas, str, Sequence[str]], Strs]) -> dict[str, str]:
    """Each area's code at `level` -> its parent (or benchmark) code; areas nest, so any of
    its small areas says."""
    small = list(areas.within[level])
    out: dict[str, str] = {}
    for code, theirs in zip(areas.codes(level, small).tolist(),
                            codes_of(areas, level, small).tolist(), strict=True):
        if not out.get(code):  # a small area the levels above do not list says nothing
            out[code] = theirs
    return out


def _mapped(mapping: Mapping[str, str], codes: Strs) -> Strs:
    return np.array([mapping.get(c, "") for c in codes.tolist()], dtype=object).astype(str)


def _ints(t: pa.Table, name: str) -> Ints:
    return np.asarray(pc.cast(t.column(name), pa.int64()).to_numpy(zero_copy_only=False))


def _floats(t: pa.Table, name: str) -> Floats:
    column = pc.cast(t.column(name), pa.float64()).combine_chunks()
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def _texts(t: pa.Table, name: str) -> Strs:
    values = pc.fill_null(t.column(name), "").to_pylist()
    return np.array(values, dtype=object).astype(str)
