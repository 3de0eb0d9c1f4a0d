"""Stage two: from counts by small area and month to the results table, on whole columns.

Counts roll up along the area hierarchy (small area -> ward -> locality -> borough -> region ->
England, whichever levels the workspace has) and into every period type (each a union of
months), as integer group-bys with numpy. Values and intervals are computed on whole columns,
each area compared with its benchmark, and disclosure control applied to every family of
cells that add up, before anything leaves this module. No Python loop runs per row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from common_outcomes.engine.measures import LIMITS, kind_of, statistics
from common_outcomes.engine.plan import (
    BAND,
    BANDS,
    CLOSED,
    NO_AREA,
    denominator_column,
    numerator_column,
    total_column,
)
from common_outcomes.errors import InternalError
from common_outcomes.indicators.definitions import Definition, OtherDenominator
from common_outcomes.indicators.evaluate import holds
from common_outcomes.periods import Period, PeriodType, period_containing
from common_outcomes.results.table import COLUMNS, empty
from common_outcomes.stats.compare import compare_to_benchmark, recent_trend
from common_outcomes.stats.disclosure import (
    Family,
    Rule,
    differenced_below,
    primary,
    rounded,
    secondary_families,
)

LEVELS = ("ward", "locality", "la", "region", "england")
# Localities and wards are compared with their borough; boroughs and regions with England.
BENCHMARK_LEVEL = {"ward": "la", "locality": "la", "la": "england", "region": "england"}
YEARLY = (PeriodType.FINANCIAL_YEAR, PeriodType.ACADEMIC_YEAR, PeriodType.CALENDAR_YEAR)
TREND_POINTS = 5
SUPPRESSED_NOTE = "suppressed: a small number, or one that would reveal one"

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Strs = npt.NDArray[np.str_]


@dataclass(frozen=True)
class Areas:
    """Each small area's code at every level above it ('' or absent where it has none), and
    every area's name. A borough's workspace has ward, locality and la; a London or England
    one adds region and england."""

    within: Mapping[str, Mapping[str, str]]
    names: Mapping[str, str] = field(default_factory=dict)

    @property
    def levels(self) -> tuple[str, ...]:
        return tuple(level for level in LEVELS if level in self.within)

    def codes(self, level: str, small: Sequence[str]) -> Strs:
        mapping = self.within.get(level, {})
        return np.array([mapping.get(a, "") for a in small], dtype=object).astype(str)


@dataclass(frozen=True)
class About:
    """What the results need to know of an indicator beyond its definition."""

    name: str
    polarity: str
    period_type: PeriodType
    rule: Rule


@dataclass(frozen=True)
class Coverage:
    """What the store holds of a source: its period type and the periods loaded."""

    period_type: PeriodType | None
    periods: frozenset[str]


@dataclass(frozen=True)
class Group:
    """One way of grouping rows: each row's label as an index into `labels`."""

    labels: Strs
    index: Ints


@dataclass(frozen=True)
class Frame:
    """What every definition of a pass shares: small areas, months, people, breakdowns
    (encoded once per pass, not once per definition)."""

    counts: pa.Table
    small: Sequence[str]
    area: Ints
    month: Ints
    person: Ints | None
    breakdowns: Mapping[str, Group]
    band: Ints | None = None


def _encode(column: pa.ChunkedArray | pa.Array) -> tuple[Strs, Ints]:
    """Distinct values (as text) and each row's index into them, by Arrow's hash encoding."""
    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
        if isinstance(encoded, pa.ChunkedArray):  # older pyarrow
            encoded = encoded.chunk(0)
    labels = np.asarray(pc.cast(encoded.dictionary, pa.string()).to_pylist(), dtype=object)
    return (labels.astype(str) if len(labels) else np.array([], dtype=str),
            np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64))


def _in_order(labels: Strs, index: Ints) -> tuple[Strs, Ints]:
    """Labels sorted (and each row's index into them): the order of the result rows, and so
    the tie-breaks of secondary suppression, must not depend on the order the engine returned
    its rows in (which a multi-threaded engine does not promise)."""
    order = np.argsort(labels, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return labels[order], rank[index]


def _frame(counts: pa.Table, breakdowns: Sequence[str]) -> Frame:
    small, area = _encode(counts.column("area_code"))
    month_col = counts.column("month")
    if pa.types.is_timestamp(month_col.type):  # DATE_TRUNC gives a timestamp in some engines
        month_col = pc.cast(month_col, pa.date32())
    months = np.asarray(month_col.to_numpy(zero_copy_only=False)).astype("datetime64[M]")
    person = _encode(counts.column("person"))[1] if "person" in counts.column_names else None
    groups = {}
    for name in breakdowns:
        # A missing value is 'unknown' (the pass writes it so); labels read "<column>: <value>".
        labels, index = _in_order(*_encode(pc.fill_null(counts.column(f"breakdown__{name}"),
                                                        "unknown")))
        groups[name] = Group(np.char.add(f"{name}: ", labels), index)
    band = (np.asarray(pc.cast(counts.column(BAND), pa.int64()).to_numpy(zero_copy_only=False),
                       dtype=np.int64) if BAND in counts.column_names else None)
    return Frame(counts, small.tolist(), area, months.astype(np.int64), person, groups, band)


@dataclass(frozen=True)
class Cells:
    """Counts at the finest grain: small area (index into `small`), month (numpy months
    since 1970), one label array per grouping ("all" first, then each breakdown), and the
    numerator and denominator of one indicator; with `person` (integer codes), 0/1 flags."""

    small: Sequence[str]
    area: Ints
    month: Ints
    groups: Sequence[Group]
    numerator: Floats
    denominator: Floats
    person: Ints | None = None
    # Per-person totals and the test that turns a person's totals into 0/1 (num, den).
    totals: Mapping[str, Floats] | None = None
    judge: Callable[[Mapping[str, Floats]], tuple[Floats, Floats]] | None = None
    sums: Mapping[str, Floats] = field(default_factory=dict)


@dataclass
class Block:
    """Result rows of one indicator and period type, as columns."""

    area_code: Strs
    area_type: Strs
    parent_code: Strs
    benchmark_code: Strs
    period: Strs
    breakdown: Strs
    numerator: Floats
    denominator: Floats
    # More sums rolled up with the counts (a mean's sum and sum of squares), or statistics a
    # measure computed itself (a standardised rate's value and limits).
    extra: dict[str, Floats] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.area_code)

    def take(self, index: Ints) -> Block:
        return Block(self.area_code[index], self.area_type[index], self.parent_code[index],
                     self.benchmark_code[index], self.period[index], self.breakdown[index],
                     self.numerator[index], self.denominator[index],
                     {k: v[index] for k, v in self.extra.items()})


@dataclass
class Dated:
    """An indicator's rows of every period type, with each row's period type and dates."""

    block: Block
    period_type: Strs
    start: npt.NDArray[np.datetime64]
    end: npt.NDArray[np.datetime64]

    @staticmethod
    def of(block: Block, spans: Sequence[Period], ptype: PeriodType) -> Dated:
        by_label = {p.label: p for p in spans}
        return Dated(block, np.full(len(block), ptype.value).astype(str),
                     _map(block.period, lambda x: by_label[x].start).astype("datetime64[D]"),
                     _map(block.period, lambda x: by_label[x].end).astype("datetime64[D]"))

    def take(self, index: Ints) -> Dated:
        return Dated(self.block.take(index), self.period_type[index], self.start[index],
                     self.end[index])

    @staticmethod
    def join(parts: Sequence[Dated]) -> Dated:
        return Dated(_concat([p.block for p in parts]),
                     np.concatenate([p.period_type for p in parts]).astype(str),
                     np.concatenate([p.start for p in parts]).astype("datetime64[D]"),
                     np.concatenate([p.end for p in parts]).astype("datetime64[D]"))


def build_results(counts: pa.Table, definitions: Sequence[Definition], about: Mapping[str, About],
                  areas: Areas, coverage: Coverage | None = None,
                  denominators: Mapping[str, pa.Table] | None = None) -> pa.Table:
    """The results rows of every definition counted in one pass (`counts` is the pass's
    output: area_code, month, [person,] breakdown__<name>..., <indicator>__numerator and
    __denominator); `denominators` holds, by indicator, the counts of a denominator from
    another source (area_code, month, breakdowns, <indicator>__denominator)."""
    if counts.num_rows == 0:
        return empty()
    counts = _as_changes(counts)
    tables = []
    frame = _frame(counts, sorted({b for d in definitions for b in d.breakdowns}))
    for d in definitions:
        cells = _cells(frame, d, numerator_column(d.indicator))
        other = (denominators or {}).get(d.indicator)
        blocks = []
        for ptype in d.period_types or (about[d.indicator].period_type,):
            block, spans = roll_up(cells, areas, ptype, coverage, stock=d.open_until is not None)
            if other is not None:
                block = _divide(block, spans, _cells(_frame(other, d.breakdowns), d, None),
                                areas, ptype,
                                isinstance(d.denominator, OtherDenominator)
                                and d.denominator.snapshot)
            if d.standardise is not None:
                block = _standardise(block, d)
            blocks.append(Dated.of(block, spans, ptype))
        tables.append(_finish(Dated.join(blocks), d, about[d.indicator], areas))
    return pa.concat_tables(tables) if tables else empty()


def _as_changes(counts: pa.Table) -> pa.Table:
    """A stock's counts by the months its records open and close, as changes: + in the month
    they open, - in the month they close (a running sum is then the stock at a month's end)."""
    if CLOSED not in counts.column_names:
        return counts
    counted = [n for n in counts.column_names
               if n not in ("area_code", "month", "person", BAND, CLOSED)
               and not n.startswith("breakdown__")]
    opened = counts.drop_columns([CLOSED])
    closing = counts.filter(pc.is_valid(counts.column(CLOSED)))
    closed = closing.drop_columns(["month"]).rename_columns(
        ["month" if n == CLOSED else n for n in closing.drop_columns(["month"]).column_names])
    for name in counted:
        at = closed.schema.get_field_index(name)
        closed = closed.set_column(at, name, pc.negate(closed.column(name)))
    return pa.concat_tables([opened, closed.select(opened.column_names)])


def _cells(frame: Frame, d: Definition, numerator: str | None) -> Cells:
    """A pass's (or a denominator's) counts as arrays for one definition."""
    counts = frame.counts
    zeros = np.zeros(counts.num_rows)
    den = denominator_column(d.indicator)
    totals = {name: _floats(counts, total_column(d.indicator, name))
              for name in d.per_person} if d.per_person and numerator else None
    everyone = Group(np.array(["all"]), np.zeros(counts.num_rows, dtype=np.int64))
    groups = [everyone, *(frame.breakdowns[b] for b in d.breakdowns)]
    if d.standardise is not None and frame.band is not None:
        # Each grouping by age band too: "<label>\x1e<band>", folded back by _standardise.
        band = frame.band
        groups = [Group(np.char.add(np.repeat(g.labels, BANDS),
                                    np.tile(np.char.add(SEP, np.arange(BANDS).astype(str)),
                                            len(g.labels))), g.index * BANDS + band)
                  for g in groups]
    sums = {name: _floats(counts, total_column(d.indicator, name)) for name in ("sum", "squares")
            if total_column(d.indicator, name) in counts.column_names}
    return Cells(frame.small, frame.area, frame.month + d.shift_months, groups,
                 _floats(counts, numerator) if numerator and totals is None else zeros,
                 _floats(counts, den) if den in counts.column_names else zeros, frame.person,
                 totals, _judge(d) if totals is not None else None, sums)


def _judge(d: Definition) -> Callable[[Mapping[str, Floats]], tuple[Floats, Floats]]:
    """A person is in the denominator if their totals pass its test, and in the numerator if
    they pass both."""
    def judge(totals: Mapping[str, Floats]) -> tuple[Floats, Floats]:
        table = pa.table(dict(totals))
        assert isinstance(d.denominator, str)
        den = np.asarray(holds(d.denominator, table), dtype=np.float64)
        num = np.asarray(holds(d.numerator, table), dtype=np.float64) * den
        return num, den

    return judge


def _floats(counts: pa.Table, name: str) -> Floats:
    # Cast in Arrow: engines sum integers into decimals, which numpy would hold as objects.
    column = pc.cast(counts.column(name), pa.float64()).combine_chunks()
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def _periods(month: Ints, ptype: PeriodType, coverage: Coverage | None
             ) -> tuple[Ints, Ints, list[Period]]:
    """Rows and their periods (index into the list, -1 when the period is not whole in the
    data). For rolling years rows repeat: each month counts in the twelve rolling years
    ending with it and the eleven months after."""
    first, last_month = int(month.min()), int(month.max())
    last = period_containing(_day(last_month), PeriodType.MONTH).end
    rows = np.arange(len(month), dtype=np.int64)
    shifted = month
    if ptype is PeriodType.ROLLING_12_MONTHS:
        shifted = np.tile(month, 12) + np.repeat(np.arange(12, dtype=np.int64), len(month))
        rows = np.tile(rows, 12)
    distinct, inverse = np.unique(shifted, return_inverse=True)
    of_month = [period_containing(_day(int(m)), ptype) for m in distinct]
    if coverage is not None and coverage.period_type is ptype:
        # The source is loaded by this very period type: a loaded period is whole.
        whole = [p.label in coverage.periods for p in of_month]
    else:
        whole = [p.start >= _day(first) and p.end <= last for p in of_month]
    spans = sorted({p for p, ok in zip(of_month, whole, strict=True) if ok})
    position = {p: i for i, p in enumerate(spans)}
    index = np.array([position[p] if ok else -1 for p, ok in zip(of_month, whole, strict=True)],
                     dtype=np.int64)
    return rows, index[inverse.ravel()], spans


def _day(month: int) -> date:
    return np.datetime64(month, "M").astype("datetime64[D]").astype(date)  # type: ignore[no-any-return]


def roll_up(cells: Cells, areas: Areas, ptype: PeriodType, coverage: Coverage | None = None,
            stock: bool = False) -> tuple[Block, list[Period]]:
    """Counts summed to every area level, period of the type and grouping (rows in no whole
    period are left out); with people, each person counts once per period; a stock (counts
    are +1/-1 as records open and close) is its running sum at each period's end."""
    rows, period, spans = _periods(cells.month, ptype, coverage)
    if stock:
        rows, period, num, den = _at_period_ends(cells, spans)
        return _aggregate(cells, rows, period, num, den, spans, areas), spans
    keep = period >= 0
    rows, period = rows[keep], period[keep]
    num, den = cells.numerator[rows], cells.denominator[rows]
    if cells.person is not None:
        unplaced = np.asarray([a == NO_AREA for a in cells.small], dtype=bool)
        if unplaced.any():
            # A person's records without a small area count at the levels such records
            # reach (the borough); below it the person is placed by their other records
            # alone, as if those without one were not there.
            placed = ~unplaced[cells.area[rows]]
            below, above = _levels_reached(areas)
            return _concat([_per_person(cells, rows[placed], period[placed], spans, areas,
                                        below),
                            _per_person(cells, rows, period, spans, areas, above)]), spans
        return _per_person(cells, rows, period, spans, areas, areas.levels), spans
    extra = {name: values[rows] for name, values in cells.sums.items()}
    return _aggregate(cells, rows, period, num, den, spans, areas, extra), spans


def _per_person(cells: Cells, rows: Ints, period: Ints, spans: Sequence[Period], areas: Areas,
                levels: Sequence[str]) -> Block:
    rows, period, num, den = _once_per_person(cells, rows, period)
    extra = {name: values[rows] for name, values in cells.sums.items()}
    return _aggregate(cells, rows, period, num, den, spans, areas, extra, levels)


def _levels_reached(areas: Areas) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The levels records without a small area do not reach (wards, localities) and those
    they do (the borough and above, where the areas place them)."""
    reached = tuple(level for level in areas.levels
                    if areas.codes(level, [NO_AREA])[0] != "")
    return tuple(level for level in areas.levels if level not in reached), reached


def _at_period_ends(cells: Cells, spans: Sequence[Period]) -> tuple[Ints, Ints, Floats, Floats]:
    """For each period, the running sum of the +1/-1 counts up to its last month, for every
    small area and combination of groups (a representative row carries those)."""
    series = cells.area.copy()
    for g in cells.groups[1:]:
        series = series * len(g.labels) + g.index
    _, series = np.unique(series, return_inverse=True)
    order = np.lexsort((cells.month, series))
    in_series, months = series[order], cells.month[order]
    first = np.searchsorted(in_series, in_series)  # each row's series' first sorted row

    def running(values: Floats) -> Floats:
        total = np.cumsum(values[order])
        return np.asarray(total - np.concatenate([[0.0], total])[first], dtype=np.float64)

    num, den = running(cells.numerator), running(cells.denominator)
    count = int(in_series.max()) + 1 if len(in_series) else 0
    span = int(months.max() - months.min()) + 2 if len(months) else 1
    key = in_series * span + (months - (months.min() if len(months) else 0))
    out: list[tuple[Ints, Ints]] = []
    for i, period in enumerate(spans):
        end = np.datetime64(period.end, "M").astype(np.int64) - (months.min() if len(months)
                                                                 else 0)
        at = np.searchsorted(key, np.arange(count) * span + min(end, span - 1), side="right") - 1
        ok = (at >= 0) & (in_series[np.maximum(at, 0)] == np.arange(count))
        out.append((at[ok], np.full(int(ok.sum()), i, dtype=np.int64)))
    at = np.concatenate([a for a, _ in out]) if out else np.array([], dtype=np.int64)
    period_of = np.concatenate([p for _, p in out]) if out else np.array([], dtype=np.int64)
    return order[at], period_of, num[at], den[at]


def _once_per_person(cells: Cells, rows: Ints, period: Ints
                     ) -> tuple[Ints, Ints, Floats, Floats]:
    """One row per person and period: in the denominator (numerator) if any of their records
    in the period is, placed in the area and groups of their first record in the
    denominator (else in the numerator, else their first record)."""
    assert cells.person is not None
    if not len(rows):  # no whole period (or, below the borough, no record with an area)
        return rows, period, np.zeros(0), np.zeros(0)
    person, den = cells.person[rows], cells.denominator[rows]
    # Ties (same month) go to the first small area and groups by code, not to the engine's
    # row order.
    order = np.lexsort((*(_rank(g.labels)[g.index[rows]] for g in reversed(cells.groups[1:])),
                        _rank(np.asarray(cells.small, dtype=str))[cells.area[rows]],
                        cells.month[rows], -(2 * den + cells.numerator[rows]), period, person))
    person, per = person[order], period[order]
    first = np.flatnonzero(np.concatenate([[True], (person[1:] != person[:-1])
                                           | (per[1:] != per[:-1])]))
    if cells.totals is not None and cells.judge is not None:
        # Each person's totals over the period, then the definition's tests on them.
        totals = {name: np.add.reduceat(values[rows][order], first) if len(first) else den[:0]
                  for name, values in cells.totals.items()}
        num, anyden = cells.judge(totals)
    else:
        num = np.maximum.reduceat(cells.numerator[rows][order], first) if len(first) else den[:0]
        anyden = np.maximum.reduceat(den[order], first) if len(first) else den[:0]
    return rows[order][first], per[first], num, anyden


def _rank(labels: Strs) -> Ints:
    """Each label's position in sorted order: sorting by it sorts by the label."""
    rank = np.empty(len(labels), dtype=np.int64)
    rank[np.argsort(labels, kind="stable")] = np.arange(len(labels))
    return rank


def _aggregate(cells: Cells, rows: Ints, period: Ints, num: Floats, den: Floats,
               spans: Sequence[Period], areas: Areas,
               extra: Mapping[str, Floats] | None = None,
               levels: Sequence[str] | None = None) -> Block:
    """One integer group-by per level (every level of the areas, or `levels`) and grouping:
    (area at the level, period, label)."""
    parts: list[Block] = []
    for level in areas.levels if levels is None else levels:
        level_codes, level_index = np.unique(areas.codes(level, cells.small), return_inverse=True)
        parent_codes = _parents(areas, level, cells.small)
        bench_codes = _benchmarks(areas, level, cells.small)
        code_of_row = level_index[cells.area[rows]]
        valid = level_codes[code_of_row] != ""
        for group in cells.groups:
            label_codes, label_index = group.labels, group.index
            key = ((code_of_row * len(spans) + period) * len(label_codes)
                   + label_index[rows])[valid]
            unique, inverse = _dense_unique(key, len(level_codes) * len(spans)
                                            * len(label_codes))
            code = unique // (len(spans) * len(label_codes))
            # Any small area of the cell gives its parent and benchmark: areas nest.
            first_small = np.zeros(len(unique), dtype=np.int64)
            first_small[inverse[::-1]] = cells.area[rows][valid][::-1]
            parts.append(Block(
                area_code=level_codes[code], area_type=np.full(len(unique), level),
                parent_code=parent_codes[first_small], benchmark_code=bench_codes[first_small],
                period=np.asarray((unique // len(label_codes)) % len(spans), dtype=str),
                breakdown=label_codes[unique % len(label_codes)],
                numerator=_sum(inverse, num[valid], len(unique)),
                denominator=_sum(inverse, den[valid], len(unique)),
                extra={k: _sum(inverse, v[valid], len(unique))
                       for k, v in (extra or {}).items()}))
    block = _concat(parts)
    # Period positions -> labels, once for the whole block.
    labels = np.array([p.label for p in spans] or [""], dtype=str)
    block.period = labels[block.period.astype(np.int64)] if len(block) else block.period
    return block


def _divide(block: Block, spans: Sequence[Period], other: Cells, areas: Areas,
            ptype: PeriodType, snapshot: bool) -> Block:
    """Give the numerator's rows a denominator from another source, for the same periods: a
    snapshot's latest value on or before each period's end (within the year before it), or
    its sum over the period. Areas with a denominator and no events get a count of 0."""
    if snapshot:
        rows, period = _snapshots(other.month, spans)
    else:
        rows, period, theirs = _periods(other.month, ptype, None)
        mine = {p.label: i for i, p in enumerate(spans)}
        period = np.array([mine.get(p.label, -1) for p in theirs] + [-1], dtype=np.int64)[period]
        keep = period >= 0
        rows, period = rows[keep], period[keep]
    den = _aggregate(other, rows, period, np.zeros(len(rows)), other.denominator[rows], spans,
                     areas)
    keys_num = _keys(block.area_code, block.period, block.breakdown)
    keys_den = _keys(den.area_code, den.period, den.breakdown)
    both = _concat([block, den])
    _, first = np.unique(np.concatenate([keys_num, keys_den]), return_index=True)
    out = both.take(np.sort(first))
    keys = _keys(out.area_code, out.period, out.breakdown)
    at_num = _lookup(keys_num, np.argsort(keys_num), keys)
    at_den = _lookup(keys_den, np.argsort(keys_den), keys)
    out.numerator = _take(block.numerator, at_num, 0.0)
    out.denominator = _take(den.denominator, at_den, np.nan)
    # A period the other source has nothing for at all is not a result (yet).
    return out.take(np.flatnonzero(np.isin(out.period, np.unique(den.period))))


def _take(values: Floats, at: Ints, missing: float) -> Floats:
    """values[at], with `missing` where `at` is -1."""
    padded = np.append(values, missing)
    return padded[np.where(at >= 0, at, len(values))]


# The European Standard Population 2013 in five-year bands, 0-4 to 85-89 and 90 and over.
ESP2013 = np.array([5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000, 7000, 6500,
                    6000, 5500, 5000, 4000, 2500, 1500, 1000], dtype=np.float64)
SEP = "\x1e"


def _standardise(block: Block, d: Definition) -> Block:
    """Fold the age bands back: one row per area, period and grouping, with counts by band
    standardised (stats/intervals.py: Dobson's DSR; ISR against the benchmark area's, i.e.
    the borough's, age-specific rates). Only the bands the denominator has anywhere count."""
    if not len(block):
        return block
    label, _, band_text = np.char.partition(block.breakdown, SEP).T
    band = band_text.astype(np.int64)
    keys = _keys(block.area_code, block.period, label)
    distinct, first, row = np.unique(keys, return_index=True, return_inverse=True)
    x, n = np.zeros((len(distinct), BANDS)), np.zeros((len(distinct), BANDS))
    np.add.at(x, (row, band), block.numerator)
    np.add.at(n, (row, band), np.nan_to_num(block.denominator))
    used = n.sum(axis=0) > 0
    x, n = x[:, used], n[:, used]
    out = block.take(first)
    out.breakdown = label[first]
    out.numerator = x.sum(axis=1)
    out.extra = {}
    # The reference: the benchmark area's rows (the borough's for wards and localities);
    # a borough without one is its own reference (indirect standardisation uses it).
    reference = np.where(out.benchmark_code != "", out.benchmark_code, out.area_code)
    at = _lookup(distinct, np.arange(len(distinct)),
                 _keys(reference, out.period, out.breakdown))
    at = np.where(at >= 0, at, np.arange(len(distinct)))
    # A band the reference has no one in adds nothing (its rate is 0/0, not NaN).
    known = n[at] > 0
    standardise = kind_of(d.measure).standardise
    if standardise is None:
        raise InternalError(f"{d.indicator} asks for standardisation, which its measure "
                            f"'{d.measure}' has no way to do.")
    out.denominator, stats = standardise(x, n, np.where(known, x[at], 0.0),
                                         np.where(known, n[at], 1.0), ESP2013[used],
                                         d.multiplier)
    out.extra = dict(zip(("value", *LIMITS), stats, strict=True))
    return out


def _snapshots(month: Ints, spans: Sequence[Period]) -> tuple[Ints, Ints]:
    """For each period, the rows of the latest snapshot month on or before its end month and
    after the same month a year earlier."""
    distinct = np.unique(month)
    rows, period = [], []
    for i, span in enumerate(spans):
        end = np.datetime64(span.end, "M").astype(np.int64)
        at = np.searchsorted(distinct, end, side="right") - 1
        if at >= 0 and distinct[at] > end - 12:
            chosen = np.flatnonzero(month == distinct[at])
            rows.append(chosen)
            period.append(np.full(len(chosen), i, dtype=np.int64))
    if not rows:
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    return np.concatenate(rows), np.concatenate(period)


def _dense_unique(key: Ints, size: int) -> tuple[Ints, Ints]:
    """np.unique(key, return_inverse=True) for keys from 0 to size - 1, without sorting: a
    count per possible key says which occur, and a running count numbers them."""
    seen = np.bincount(key, minlength=size) > 0
    return np.flatnonzero(seen), (np.cumsum(seen) - 1)[key]


def _sum(group: Ints, values: Floats, groups: int) -> Floats:
    return np.asarray(np.bincount(group, weights=values, minlength=groups), dtype=np.float64)


def _parents(areas: Areas, level: str, small: Sequence[str]) -> Strs:
    """Each small area's parent at `level`: the next level up it belongs to."""
    out = np.full(len(small), "", dtype=object).astype(str)
    for up in reversed(areas.levels[areas.levels.index(level) + 1:]):
        codes = areas.codes(up, small)
        out = np.where(codes != "", codes, out)
    return out


def _benchmarks(areas: Areas, level: str, small: Sequence[str]) -> Strs:
    target = BENCHMARK_LEVEL.get(level)
    if target is None or target not in areas.within:
        return np.full(len(small), "").astype(str)
    return areas.codes(target, small)


def _concat(parts: Sequence[Block]) -> Block:
    def text(name: str) -> Strs:
        arrays = [getattr(p, name) for p in parts]
        return np.concatenate(arrays).astype(str) if arrays else np.array([], dtype=str)

    def number(name: str) -> Floats:
        arrays = [getattr(p, name) for p in parts]
        return np.concatenate(arrays).astype(np.float64) if arrays else np.array([])

    names = sorted({k for p in parts for k in p.extra})
    extra = {k: np.concatenate([p.extra.get(k, np.zeros(len(p))) for p in parts])
             .astype(np.float64) for k in names}
    return Block(area_code=text("area_code"), area_type=text("area_type"),
                 parent_code=text("parent_code"), benchmark_code=text("benchmark_code"),
                 period=text("period"), breakdown=text("breakdown"),
                 numerator=number("numerator"), denominator=number("denominator"), extra=extra)


def _finish(rows: Dated, d: Definition, info: About, areas: Areas) -> pa.Table:
    """Statistics, comparison, disclosure control (across every period type at once: a year
    and its quarters add up) and trends on an indicator's rows; then a table."""
    block = rows.block
    if not len(block):
        return empty()
    stats = _statistics(block, d)
    keys = _keys(block.area_code, rows.period_type, block.period, block.breakdown)
    order = np.argsort(keys, kind="stable")
    value = stats["value"]
    bench_at = _lookup(keys, order, _keys(block.benchmark_code, rows.period_type, block.period,
                                          block.breakdown))
    kind = kind_of(d.measure)
    hidden, hidden_denominator = _protect(rows, keys, order, info.rule,
                                          d.open_until is not None, kind.bounded)
    # Only against a published benchmark ("Not compared" otherwise): a label against a hidden
    # value would say which side of an area's interval it lies.
    shown_at = (bench_at >= 0) & ~hidden[np.maximum(bench_at, 0)]
    benchmark = np.where(shown_at, value[np.maximum(bench_at, 0)], np.nan)
    compared = compare_to_benchmark(stats["lower_95"], stats["upper_95"], benchmark,
                                    info.polarity, value).astype(object)
    compared[block.benchmark_code == ""] = None
    for name in ("value", "lower_95", "upper_95", "lower_998", "upper_998"):
        stats[name] = np.where(hidden, np.nan, stats[name])
    compared[hidden] = None
    notes = _notes(block, d, hidden)
    trend = np.full(len(block), None, dtype=object)
    if kind.trend is not None:
        for ptype in YEARLY:
            at = np.flatnonzero(rows.period_type == ptype.value)
            if len(at):
                trend[at] = _trends(block.take(at), rows.start[at],
                                    {k: v[at] for k, v in stats.items()}, d, info, hidden[at])
    n = len(block)
    columns: dict[str, pa.Array] = {
        "indicator_id": pa.array(np.full(n, d.indicator)),
        "indicator_name": pa.array(np.full(n, info.name)),
        "area_code": pa.array(block.area_code),
        "area_name": pa.array(_map(block.area_code, lambda c: areas.names.get(c, c)),
                              pa.string()),
        "area_type": pa.array(block.area_type),
        "parent_code": _text(block.parent_code),
        "period": pa.array(block.period), "period_type": pa.array(rows.period_type),
        "period_start": pa.array(rows.start, pa.date32()),
        "period_end": pa.array(rows.end, pa.date32()),
        "breakdown": pa.array(block.breakdown),
        # Published counts are rounded when the source's rule asks; values and intervals
        # come from the exact counts, as ONS and OHID publish them.
        "numerator": _float(np.where(hidden, np.nan, rounded(block.numerator, info.rule))),
        "denominator": _float(np.where(hidden_denominator, np.nan, block.denominator)),
        **{name: _float(stats[name]) for name in ("value", "lower_95", "upper_95",
                                                  "lower_998", "upper_998")},
        "method": pa.array(np.full(n, kind.method)),
        "value_note": pa.array(notes, pa.string()),
        "suppressed": pa.array(hidden, pa.bool_()),
        "benchmark_code": _text(block.benchmark_code),
        "compared_to_benchmark": pa.array(compared, pa.string()),
        "recent_trend": pa.array(trend, pa.string()),
    }
    for name in ("baseline", "target"):
        columns[name] = pa.nulls(n, pa.float64())
    columns["target_status"] = pa.nulls(n, pa.string())
    return pa.table({name: columns[name] for name in COLUMNS})


def _statistics(block: Block, d: Definition) -> dict[str, Floats]:
    """The measure's value and limits for each row (engine/measures.py): from the counts and
    the sums rolled up with them, or what a standardisation computed."""
    return statistics(block.numerator, block.denominator, d.measure, d.multiplier, block.extra)


def _notes(block: Block, d: Definition, hidden: npt.NDArray[np.bool_]
           ) -> npt.NDArray[np.object_]:
    notes = np.full(len(block), None, dtype=object)
    kind = kind_of(d.measure)
    if kind.has_denominator:
        notes[block.denominator == 0] = "no records in the denominator"
        notes[np.isnan(block.denominator)] = "no denominator for this area and period"
    if kind.bounded:
        notes[block.numerator > block.denominator] = (
            "numerator larger than the denominator: not calculated")
    notes[hidden] = SUPPRESSED_NOTE
    return notes


def _map(values: Strs, function: Callable[[str], object]) -> npt.NDArray[np.object_]:
    """`function` of each value, called once per distinct value."""
    distinct, inverse = np.unique(values, return_inverse=True)
    return np.array([function(v) for v in distinct.tolist()], dtype=object)[inverse]


def _keys(*columns: Strs) -> Strs:
    out = columns[0]
    for more in columns[1:]:
        out = np.char.add(np.char.add(out, "\x1f"), more)
    return out


def _lookup(keys: Strs, order: Ints, wanted: Strs) -> Ints:
    """Row index of each wanted key in `keys` (sorted by `order`), -1 where absent."""
    if not len(keys):
        return np.full(len(wanted), -1, dtype=np.int64)
    sorted_keys = keys[order]
    at = np.searchsorted(sorted_keys, wanted)
    at = np.minimum(at, len(keys) - 1)
    found = sorted_keys[at] == wanted
    return np.where(found, order[at], -1)


def _protect(rows: Dated, keys: Strs, order: Ints, rule: Rule, stock: bool,
             proportion: bool) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """The rows to hide, and among them those whose denominator is hidden too.

    A small denominator is hidden as a small numerator is (0 of 1 says something about one
    person), with secondary suppression of denominators over the same families; a row whose
    denominator is hidden hides its numerator and value. For a proportion, a small complement
    (denominator minus numerator: 4 of 5 booked early says one did not) hides the numerator.
    Then secondary suppression of numerators over every family whose cells add up, so that no
    hidden count can be worked out from the published ones:
    - a parent area and its children, and an area's total and its values of one breakdown
      dimension (each within a period);
    - a period and the shorter periods that exactly tile it (a year and its quarters, a rolling
      year ending on a quarter's end and those quarters; not for a stock, which does not add
      up over time);
    - rows that cover the same dates under two period types (a financial year and the rolling
      year ending in March; for a stock, any two periods ending on the same day).
    In the families that add up, a published head minus its published members (numerators,
    denominators and, for a proportion, complements) is never a small count either: it is
    the hidden members' total plus what no member covers, such as the borough's records with
    no small area, which count in no ward or locality (stats/disclosure.py).

    The rows are taken in key order (area code, period type, period, breakdown) first, so that
    every choice below (which of equally small cells to hide, which of two copies heads their
    family, the order families are visited in) follows the keys, never the order the rows
    arrived in: the same cells give the same suppression on every run."""
    hidden, hidden_denominator = _protect_sorted(rows.take(order), keys[order], rule, stock,
                                                 proportion)
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    return hidden[back], hidden_denominator[back]


def _protect_sorted(rows: Dated, keys: Strs, rule: Rule, stock: bool, proportion: bool
                    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """`_protect` on rows sorted by key: a row's position is its key's rank."""
    block, n = rows.block, len(rows.block)
    order = np.arange(n, dtype=np.int64)
    every = np.arange(n, dtype=np.int64)
    edges: list[tuple[Ints, Ints, Strs]] = []  # (head, member, family kind) for each link

    def link(head: Ints, member: Ints, kind: str | Strs) -> None:
        keep = head >= 0
        kinds = np.broadcast_to(np.asarray(kind, dtype=str), head.shape)
        edges.append((head[keep], member[keep], kinds[keep]))

    parent = _lookup(keys, order, _keys(block.parent_code, rows.period_type, block.period,
                                        block.breakdown))
    link(parent, every, "area")
    link(*_below(parent, block.area_type))
    dimension = np.char.partition(block.breakdown, ": ")[:, 0]
    total = _lookup(keys, order, _keys(block.area_code, rows.period_type, block.period,
                                       np.full(n, "all").astype(str)))
    link(np.where(block.breakdown == "all", -1, total), every,
         np.char.add("dimension ", dimension))
    if not stock:
        for short_type, short, long_type, long in _tilings(rows):
            members = np.flatnonzero((rows.period_type == short_type) & (block.period == short))
            head = _lookup(keys, order, _keys(block.area_code[members],
                                              np.full(len(members), long_type).astype(str),
                                              np.full(len(members), long).astype(str),
                                              block.breakdown[members]))
            link(head, members, f"tile {short_type}")
    same = (_keys(block.area_code, block.breakdown, rows.end.astype(str)) if stock else
            _keys(block.area_code, block.breakdown, rows.start.astype(str), rows.end.astype(str)))
    _, first, inverse = np.unique(same, return_index=True, return_inverse=True)
    head = first[inverse]
    link(np.where(head != every, head, -1), every, "same")
    families = _families(edges)
    numerator, denominator = block.numerator, block.denominator
    below = differenced_below(rule)
    hidden_denominator = secondary_families(denominator, families, primary(denominator, rule),
                                            below)
    small = primary(numerator, rule) | hidden_denominator
    complement = [denominator - numerator] if proportion else []
    for also in complement:
        small |= primary(also, rule)
    return (secondary_families(numerator, families, small, below, complement),
            hidden_denominator)


def _below(parent: Ints, area_type: Strs) -> tuple[Ints, Ints, Strs]:
    """(ancestor, row, "below <row's area type>") for every area above a row: a borough's
    wards add up to it as its localities do (both but for the records with no small area).
    Only for an ancestor and type reached through an area between them (else the family is
    the parent's own)."""
    rows = np.arange(len(parent), dtype=np.int64)
    heads, members, depths = [], [], []
    up = parent
    for depth in range(1, len(parent) + 1):  # a hierarchy is shallower than it has rows
        at = np.flatnonzero(up >= 0)
        if not len(at):
            break
        heads.append(up[at])
        members.append(rows[at])
        depths.append(np.full(len(at), depth))
        up = np.where(up >= 0, parent[np.maximum(up, 0)], -1)
    if not heads:
        return rows[:0], rows[:0], area_type[:0]
    head, member, depth_of = (np.concatenate(x) for x in (heads, members, depths))
    kind = np.char.add("below ", area_type[member])
    family = _keys(head.astype(str), kind)
    keep = np.isin(family, family[depth_of >= 2])
    return head[keep], member[keep], kind[keep]


def _families(edges: Sequence[tuple[Ints, Ints, Strs]]) -> list[Family]:
    """Links (head, member, kind) grouped into families: one per head and kind, in order of
    head, then kind (rows are in key order, so families are visited in their head's key
    order; those of areas further down, "below", after all the others), each family's
    members in row order. All but copies of one cell ("same") add up
    to their head, but for what no member covers (records with no small area, say)."""
    if not edges:
        return []
    head = np.concatenate([e[0] for e in edges])
    member = np.concatenate([e[1] for e in edges])
    kind = np.concatenate([e[2] for e in edges])
    if not len(head):
        return []
    # Sorted once, sliced per family; families of an area and its areas two levels or more
    # below come last, so that a hidden ward takes a sibling before a ward of another locality
    # (which would leave that ward's own locality a lone hidden member to protect in turn).
    sort = np.lexsort((member, kind, head, np.char.startswith(kind, "below ")))
    head, member, kind = head[sort], member[sort], kind[sort]
    starts = np.flatnonzero(np.concatenate([[True], (head[1:] != head[:-1])
                                            | (kind[1:] != kind[:-1])]))
    bounds = np.append(starts, len(head)).tolist()
    return [(int(head[s]), member[s:e], str(kind[s]) != "same") for s, e in pairwise(bounds)]


def _tilings(rows: Dated) -> list[tuple[str, str, str, str]]:
    """(short type, short label, long type, long label) for every period of a type whose
    periods exactly tile a longer period present (a year's four quarters, even when a quarter
    has no row: no row is a count of 0, which a reader can assume)."""
    longs = np.unique(_keys(rows.period_type, rows.block.period, rows.start.astype(str),
                            rows.end.astype(str)))
    types = {PeriodType(t) for t in np.unique(rows.period_type).tolist()}
    out = []
    for text in longs.tolist():
        long_type, long, start, end = text.split("\x1f")
        first, last = date.fromisoformat(start), date.fromisoformat(end)
        for short_type in types - {PeriodType(long_type), PeriodType.ROLLING_12_MONTHS}:
            tiles = [period_containing(first, short_type)]
            while tiles[-1].end < last:
                tiles.append(period_containing(tiles[-1].end + timedelta(days=1), short_type))
            if len(tiles) > 1 and tiles[0].start == first and tiles[-1].end == last:
                out += [(short_type.value, t.label, long_type, long) for t in tiles]
    return out


def _trends(block: Block, starts: npt.NDArray[np.datetime64], stats: Mapping[str, Floats],
            d: Definition, info: About, hidden: npt.NDArray[np.bool_]
            ) -> npt.NDArray[np.object_]:
    """Fingertips' recent trend for each row: the area's five most recent yearly points up to
    and including the row's period (published values only: a suppressed point is missing)."""
    series = _keys(block.area_code, block.breakdown)
    order = np.lexsort((starts, series))
    same = np.concatenate([[False], series[order][1:] == series[order][:-1]])
    # Position of each row within its series (rows sorted), to look back k points.
    run_start = np.maximum.accumulate(np.where(~same, np.arange(len(order)), 0))
    position = np.arange(len(order)) - run_start

    def matrix(values: Floats) -> Floats:
        out = np.full((len(order), TREND_POINTS), np.nan)
        shown = np.where(hidden, np.nan, values)[order]
        for k in range(TREND_POINTS):
            back = TREND_POINTS - 1 - k
            ok = position >= back
            out[ok, k] = shown[np.arange(len(order))[ok] - back]
        return out

    value_type = kind_of(d.measure).trend
    assert value_type is not None, "asked only for a kind with a trend"
    labels = recent_trend(
        matrix(stats["value"]), matrix(block.numerator), matrix(block.denominator),
        value_type, d.multiplier,
        info.polarity, lower95=matrix(stats["lower_95"]), upper95=matrix(stats["upper_95"]))
    out = np.empty(len(order), dtype=object)
    out[order] = labels
    return out


def _text(values: Strs) -> pa.Array:
    out = values.astype(object)
    out[values == ""] = None
    return pa.array(out, pa.string())


def _float(values: Floats) -> pa.Array:
    return pa.array(values, pa.float64(), from_pandas=True)  # NaN -> null


# What engine/rollup.py shares with the roll-up here, so that the rows it builds from the
# engine's roll-up are these functions' rows.
month_periods = _periods
parent_codes = _parents
benchmark_codes = _benchmarks
stack = _concat
finish = _finish
