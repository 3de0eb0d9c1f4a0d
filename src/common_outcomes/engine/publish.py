"""The one choke point before results leave the system: nothing small, nothing recoverable.

`publishable(table, rules, stocks)` is called by every output path (the results table,
exports, and later the API, pages and reports) just before it writes. It does not trust the
suppression code in `engine/results.py`: it re-derives from the table's own rows, with a
different and simpler algorithm (integer keys sorted and searched over whole columns, never a
loop per row), that

- every published numerator is 0 or above its source's threshold (and a multiple of the
  rule's rounding base, when it has one), and so is every published denominator, and, for
  a proportion, the denominator minus the numerator (4 of 5 says one did not);
- every suppressed row shows no numerator, value or limit;
- no hidden cell can be worked out by subtraction. The cells that add up, within one
  indicator, are *families*: a parent area and its children (same period and breakdown); an
  area's "all" row and its rows for one breakdown dimension; a period and the shorter periods
  of one type that tile it (a financial year and its quarters; a year and its months); and
  copies of one cell (same area, breakdown, start and end: a rolling year ending in March is
  the financial year). A family with exactly one hidden member gives it away, as the parent
  minus the published children or the sum of the published children; copies of a cell must
  be all hidden or all shown. A stock (counted on each period's last day) does not add up
  over periods; its rows that end on the same day are copies instead. Denominators add up
  over the same families: a hidden denominator (a suppressed row without one, in an
  indicator that has them) must not be the only one of its family.
- no small count can be worked out by subtraction either: in a family that adds up (areas,
  breakdowns, periods), a published parent minus its published children is the hidden
  children's total plus what no child covers (a borough's records with no small area count
  in no ward); it must not be from 1 up to the threshold, for numerators, denominators and
  a proportion's complements (unless counts are published rounded).

Rows whose method starts with "published" are comparators that others have published: they
are exempt from the small-count rule but still count as published members of their families.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from common_outcomes.data.spreadsheets import XLSX_MAX_ROWS, write_csv, write_xlsx
from common_outcomes.errors import Issue, UserError
from common_outcomes.periods import PeriodType, period_containing
from common_outcomes.stats.disclosure import Rule

CELL = ("indicator_id", "area_code", "area_type", "parent_code", "period", "period_type",
        "period_start", "period_end", "breakdown", "numerator", "denominator", "suppressed",
        "method")
# Wilson score is the method of proportions: the numerator counts people in the denominator.
PROPORTION = "Wilson score"
SHOWN_ON_HIDDEN = ("numerator", "value", "lower_95", "upper_95", "lower_998", "upper_998")
COUNTS = ("numerator", "denominator")
SHEET = "indicator_values"
EXPORTS = Path(".outcomes") / "exports"
SHOWN_IN_ERROR = 20

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


class DisclosureError(UserError):
    """A table that would publish a small number, or one that could be worked out from the
    rest; nothing has been written."""


@dataclass(frozen=True)
class Leaks:
    """Rows that would leak, in order, each with its kind of leak: `kinds[k]` is a stable
    code and a phrase (a row leaking in two ways appears twice)."""

    rows: Ints
    kind: Ints
    kinds: Sequence[tuple[str, str]]

    def __len__(self) -> int:
        return len(np.unique(self.rows))


def publishable(table: pa.Table, rules: Mapping[str, Rule],
                stocks: Collection[str] = frozenset()) -> pa.Table:
    """`table` unchanged if publishing it discloses no small number; else DisclosureError
    naming the first cells that would (indicator, area, period and breakdown).

    `stocks` are the indicators counted at each period's end (children looked after at 31
    March): their periods do not add up, but periods that end on the same day are the same
    count."""
    leaks = find_leaks(table, rules, stocks)
    if len(leaks):
        raise _error(table, leaks)
    return table


def find_leaks(table: pa.Table, rules: Mapping[str, Rule],
               stocks: Collection[str] = frozenset()) -> Leaks:
    missing = [c for c in (*CELL, *SHOWN_ON_HIDDEN) if c not in table.column_names]
    if missing:
        raise DisclosureError(f"Cannot check the table for disclosure: it has no "
                              f"{', '.join(missing)} column.")
    hidden = pc.fill_null(table.column("suppressed"), False).to_numpy(zero_copy_only=False)
    ours = _ours(table)
    below, base = _thresholds(table, ours, rules)
    found: list[tuple[Ints, str, str]] = []
    found += _small_counts(table, hidden, ours, below, base)
    found += [(np.flatnonzero(hidden & _shows_anything(table)), "disclosure.shown-when-hidden",
               "is suppressed but still shows its numerator, value or limits")]
    no_denominator = _hidden_denominators(table, hidden)
    # Families never cross indicators: checking a batch of indicators at a time bounds the
    # memory (about 400 bytes a row while a batch is checked).
    by_kind: dict[tuple[str, str], list[Ints]] = {kind: [] for kind in
                                                  (*FAMILY_LEAKS, DENOMINATOR_LEAK,
                                                   DIFFERENCE_LEAK)}
    counts = _differenced(table, hidden)
    # Heads that are ours and exact: a difference of rounded counts is no count.
    checks = ours & (base == 0)
    for batch in _batches(table.column("indicator_id")):
        part = table.select(list(CELL)).take(pa.array(batch))
        cells = _cells(part, stocks)
        for family, leaking in zip(FAMILY_LEAKS, _family_leaks(cells, hidden[batch]),
                                   strict=True):
            by_kind[family].append(batch[leaking])
        by_kind[DENOMINATOR_LEAK].append(batch[np.unique(np.concatenate(
            _family_leaks(cells, no_denominator[batch])))])
        by_kind[DIFFERENCE_LEAK].append(batch[_small_differences(
            cells, [(v[batch], s[batch]) for v, s in counts], checks[batch], below[batch])])
    found += [(np.concatenate(r) if r else np.empty(0, np.int64), *family)
              for family, r in by_kind.items()]
    rows = np.concatenate([r for r, _, _ in found]).astype(np.int64)
    kind = np.repeat(np.arange(len(found)), [len(r) for r, _, _ in found])
    order = np.argsort(rows, kind="stable")
    return Leaks(rows[order], kind[order], [(code, why) for _, code, why in found])


FAMILY_LEAKS = (
    ("disclosure.recoverable-area", "is the only hidden cell of its parent area and that "
     "area's parts, so it can be worked out from the others"),
    ("disclosure.recoverable-breakdown", "is the only hidden cell among its area's total and "
     "the other values of its breakdown, so it can be worked out from the others"),
    ("disclosure.recoverable-period", "is the only hidden cell among a period and the shorter "
     "periods that make it up, so it can be worked out from the others"),
    ("disclosure.shown-elsewhere", "is hidden, but the same count (same area, breakdown and "
     "dates, or the same end for a stock) is shown in another row"),
)
DENOMINATOR_LEAK = ("disclosure.recoverable-denominator", "is the only hidden denominator "
                    "of a family that adds up (areas, breakdowns, periods or copies of one "
                    "cell), so it can be worked out from the others")
DIFFERENCE_LEAK = ("disclosure.small-difference", "is published, and its count, denominator "
                   "or complement minus its published parts' (areas, breakdown values or "
                   "shorter periods) is from 1 up to its source's threshold (hidden parts, or "
                   "records in no part such as those with no small area), so a small count "
                   "can be worked out by subtraction")
BATCH_ROWS = 250_000


def _hidden_denominators(table: pa.Table, hidden: Bools) -> Bools:
    """Suppressed rows without a denominator, in indicators that publish denominators (a
    count has none anywhere, and hides nothing by not showing one)."""
    absent = np.isnan(_floats(table, "denominator"))
    ids = _codes(table.column("indicator_id"))[0]
    with_denominators = np.bincount(ids, weights=~absent, minlength=int(ids.max(initial=-1)) + 1)
    has = with_denominators[ids] > 0 if len(ids) else np.zeros(0, bool)
    result: Bools = hidden & absent & has
    return result


def _batches(indicator: pa.ChunkedArray) -> Iterator[Ints]:
    """Row numbers of whole indicators, about BATCH_ROWS at a time (one large indicator is a
    batch of its own)."""
    codes = _codes(indicator)[0]
    order = np.argsort(codes, kind="stable")
    starts = [*np.flatnonzero(np.diff(codes[order], prepend=-2)).tolist(), len(codes)]
    first = 0
    for end in starts[1:]:
        if end - first >= BATCH_ROWS or end == len(codes):
            yield np.sort(order[first:end])
            first = end


def _family_leaks(cells: Cells, hidden: Bools) -> list[Ints]:
    """The hidden cells that a family gives away, in the order of FAMILY_LEAKS."""
    return [_lone_hidden(hidden, _area_families(cells)),
            _lone_hidden(hidden, _breakdown_families(cells)),
            _lone_hidden(hidden, _period_families(cells)),
            _shown_elsewhere(cells, hidden)]


def _floats(table: pa.Table, name: str) -> npt.NDArray[np.float64]:
    column = pc.cast(table.column(name), pa.float64())
    values: npt.NDArray[np.float64] = pc.fill_null(column, np.nan).to_numpy(zero_copy_only=False)
    return values


def _ours(table: pa.Table) -> Bools:
    """Rows this product computed (comparators that others have published are theirs to
    protect, and need no rule here)."""
    method = pc.fill_null(table.column("method"), "")
    ours: Bools = ~pc.starts_with(method, "published").to_numpy(zero_copy_only=False)
    return ours


def _thresholds(table: pa.Table, ours: Bools, rules: Mapping[str, Rule]
                ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Each row's threshold (counts 1..below are small) and rounding base (0 for none)."""
    ids = table.column("indicator_id")
    known = sorted(rules)
    where = pc.index_in(ids, value_set=pa.array(known, pa.string()))
    without = ours & pc.is_null(where).to_numpy(zero_copy_only=False)
    if without.any():
        absent = sorted({str(v) for v in ids.take(pa.array(np.flatnonzero(without))).unique()
                         .to_pylist()})
        raise DisclosureError(f"Cannot check the table for disclosure: no rule for indicator "
                              f"{', '.join(absent)} (is its definition gone? run 'outcomes "
                              "run' again).")
    at = pc.fill_null(where, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    below = np.array([rules[k].suppress_below for k in known] or [0], dtype=np.float64)[at]
    base = np.array([rules[k].round_to or 0 for k in known] or [0], dtype=np.float64)[at]
    return below, base


def _small_counts(table: pa.Table, hidden: Bools, ours: Bools, below: npt.NDArray[np.float64],
                  base: npt.NDArray[np.float64]) -> list[tuple[Ints, str, str]]:
    """Published numerators from 1 up to the threshold, or off the rounding base; published
    denominators (on any row: a suppressed row may show a large one) and complements from 1
    up to the threshold."""
    method = pc.fill_null(table.column("method"), "")
    checked = ~hidden & ours
    x, n = _floats(table, "numerator"), _floats(table, "denominator")
    small = checked & (x >= 1) & (x <= below)
    unrounded = checked & (base > 0) & ~np.isnan(x) & (np.fmod(x, np.maximum(base, 1)) != 0)
    proportion = pc.equal(method, PROPORTION).to_numpy(zero_copy_only=False)
    complement = n - x
    return [(np.flatnonzero(small), "disclosure.small-count",
             "shows a count from 1 up to its source's threshold"),
            (np.flatnonzero(unrounded), "disclosure.not-rounded",
             "shows a count that is not rounded as its source's rule asks"),
            (np.flatnonzero(ours & (n >= 1) & (n <= below)), "disclosure.small-denominator",
             "shows a denominator from 1 up to its source's threshold"),
            (np.flatnonzero(checked & proportion & (complement >= 1) & (complement <= below)),
             "disclosure.small-complement", "shows a numerator that falls short of its "
             "denominator by 1 up to its source's threshold")]


def _shows_anything(table: pa.Table) -> Bools:
    shown = np.zeros(table.num_rows, dtype=bool)
    for name in SHOWN_ON_HIDDEN:
        shown |= pc.is_valid(table.column(name)).to_numpy(zero_copy_only=False)
    return shown


@dataclass(frozen=True)
class Cells:
    """Every row's cell as integer codes (strings dictionary-encoded, -1 where missing), so
    that families are found by sorting and searching integers."""

    indicator: Ints
    period_type: Ints
    period: Ints
    breakdown: Ints
    area: Ints
    area_type: Ints
    parent: Ints  # coded as areas are
    start: Ints  # days since 1970
    end: Ints
    stock: Bools  # counted at the period's end
    types: list[str]  # period type by code
    breakdowns: list[str]  # breakdown by code


def _cells(table: pa.Table, stocks: Collection[str]) -> Cells:
    n = table.num_rows
    # Parents are coded as areas are, so that a child's parent code finds the parent's row.
    areas, _ = _codes(pa.chunked_array([
        *pc.cast(table.column("area_code"), pa.string()).chunks,
        *pc.cast(table.column("parent_code"), pa.string()).chunks], pa.string()))
    period_type, types = _codes(table.column("period_type"))
    breakdown, breakdowns = _codes(pc.fill_null(table.column("breakdown"), "all"))
    return Cells(_codes(table.column("indicator_id"))[0], period_type,
                 _codes(table.column("period"))[0], breakdown, areas[:n],
                 _codes(pc.fill_null(table.column("area_type"), ""))[0], areas[n:],
                 _days(table.column("period_start")), _days(table.column("period_end")),
                 pc.is_in(table.column("indicator_id"), value_set=pa.array(
                     sorted(stocks), pa.string())).to_numpy(zero_copy_only=False),
                 types, breakdowns)


def _codes(column: pa.ChunkedArray) -> tuple[Ints, list[str]]:
    encoded = pc.dictionary_encode(pc.cast(column, pa.string()).combine_chunks())
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    return np.asarray(codes, dtype=np.int64), [str(v) for v in encoded.dictionary.to_pylist()]


def _days(column: pa.ChunkedArray) -> Ints:
    days = pc.fill_null(pc.cast(pc.cast(column, pa.date32()), pa.int32()), -(2**31))
    return np.asarray(days.to_numpy(zero_copy_only=False), dtype=np.int64)


def _keys(*columns: Ints) -> Ints:
    """0, 1, 2, ... numbering the distinct combinations of the columns in sorted order
    (mixed-radix integers, made dense again before they could overflow)."""
    key = np.zeros(len(columns[0]), np.int64)
    bound = 1
    for column in columns:
        low = int(column.min()) if len(column) else 0
        size = (int(column.max()) - low + 1) if len(column) else 1
        if bound * size >= 2**62:
            key = _dense(key)
            bound = int(key.max()) + 1
        key = key * size + (column - low)
        bound *= size
    return _dense(key)


def _dense(key: Ints) -> Ints:
    inverse = np.unique(key, return_inverse=True)[1]
    return np.asarray(inverse, dtype=np.int64).reshape(-1)


def _find(cells: Cells, wanted: tuple[Ints, Ints, Ints, Ints, Ints]) -> Ints:
    """The row whose (indicator, period type, period, breakdown, area) is each wanted one,
    or -1."""
    mine = (cells.indicator, cells.period_type, cells.period, cells.breakdown, cells.area)
    n, m = len(cells.area), len(wanted[0])
    if not n or not m:
        return np.full(m, -1, np.int64)
    keys = _keys(*(np.concatenate([a, b]) for a, b in zip(mine, wanted, strict=True)))
    own, sought = keys[:n], keys[n:]
    order = np.argsort(own, kind="stable")
    at = np.minimum(np.searchsorted(own[order], sought), n - 1)
    return np.where(own[order][at] == sought, order[at], -1)


Edges = tuple[Ints, Ints, Ints]  # parent row, child row, which family of that parent


def _area_families(cells: Cells) -> Edges:
    """A parent area and its children, in the same period and breakdown; and an area with
    all the areas of one type below it, through others (a borough and all its wards)."""
    rows = np.flatnonzero(cells.parent >= 0)
    parent = np.full(len(cells.area), -1, np.int64)
    parent[rows] = _find(cells, (cells.indicator[rows], cells.period_type[rows],
                                 cells.period[rows], cells.breakdown[rows], cells.parent[rows]))
    own = _kept(parent[rows], rows, np.zeros(len(rows), np.int64))
    # Every ancestor of each row (a hierarchy is shallower than it has rows).
    heads, members, depths = [], [], []
    up, everyone = parent, np.arange(len(parent), dtype=np.int64)
    for depth in range(1, len(parent) + 1):
        at = np.flatnonzero(up >= 0)
        if not len(at):
            break
        heads.append(up[at])
        members.append(everyone[at])
        depths.append(np.full(len(at), depth))
        up = np.where(up >= 0, parent[np.maximum(up, 0)], -1)
    if not heads:
        return own
    head, member, depth_of = (np.concatenate(x) for x in (heads, members, depths))
    which = 1 + cells.area_type[member]  # 0 is the parent's own family
    family = _keys(head, which)
    keep = np.isin(family, family[depth_of >= 2])
    return (np.concatenate([own[0], head[keep]]), np.concatenate([own[1], member[keep]]),
            np.concatenate([own[2], which[keep]]))


def _kept(parent: Ints, child: Ints, which: Ints) -> Edges:
    keep = parent >= 0
    return parent[keep], child[keep], which[keep]


def _breakdown_families(cells: Cells) -> Edges:
    """An area's "all" row and its rows for one breakdown dimension ("sex: F", "sex: M")."""
    if "all" not in cells.breakdowns:
        return _kept(*(np.empty(0, np.int64),) * 3)
    total = cells.breakdowns.index("all")
    names: dict[str, int] = {}
    dimension = np.array([names.setdefault(b.split(": ", 1)[0], len(names))
                          for b in cells.breakdowns], dtype=np.int64)
    rows = np.flatnonzero((cells.breakdown >= 0) & (cells.breakdown != total))
    parent = _find(cells, (cells.indicator[rows], cells.period_type[rows], cells.period[rows],
                           np.full(len(rows), total), cells.area[rows]))
    return _kept(parent, rows, dimension[cells.breakdown[rows]])


def _period_families(cells: Cells) -> Edges:
    """A period and the shorter periods of one type that tile it, for the same indicator,
    area and breakdown (counts of events or people, not stocks). Which periods tile which is
    decided once per distinct period."""
    span = _keys(cells.period_type, cells.period)
    _, first = np.unique(span, return_index=True)
    distinct = [(int(cells.period_type[i]), int(cells.period[i]), int(cells.start[i]),
                 int(cells.end[i])) for i in first.tolist()]
    pairs = _tiling(distinct, cells.types)
    if not pairs:
        return _kept(*(np.empty(0, np.int64),) * 3)
    # `span` numbers the distinct periods in the order of `distinct`.
    number = {(t, p): k for k, (t, p, _, _) in enumerate(distinct)}
    by_child = np.array([number[c] for c, _ in pairs], dtype=np.int64)
    parents = np.array([parent for _, parent in pairs], dtype=np.int64).reshape(-1, 2)
    order = np.argsort(by_child, kind="stable")
    by_child, parents = by_child[order], parents[order]
    # One edge per row and parent period of the row's period.
    lo = np.searchsorted(by_child, span, side="left")
    # A stock's periods do not add up (the year's count at 31 March is the fourth quarter's).
    many = np.where(cells.stock, 0, np.searchsorted(by_child, span, side="right") - lo)
    rows = np.repeat(np.arange(len(span)), many)
    step = np.arange(len(rows)) - np.repeat(np.cumsum(many) - many, many)
    pick = np.repeat(lo, many) + step
    parent = _find(cells, (cells.indicator[rows], parents[pick, 0], parents[pick, 1],
                           cells.breakdown[rows], cells.area[rows]))
    return _kept(parent, rows, cells.period_type[rows])


def _tiling(distinct: list[tuple[int, int, int, int]],
            types: list[str]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """((child type, period), (parent type, period)) for every period that lies in a longer
    one which periods of its type tile exactly (quarters in a financial year, a calendar year
    or a rolling year ending with a quarter; months in anything). Rolling years overlap each
    other, so they are parents only."""
    kinds = {code: PeriodType(name) for code, name in enumerate(types)
             if name in {t.value for t in PeriodType}}
    dated = [d for d in distinct if d[0] in kinds and d[2] > -(2**31) and d[3] > -(2**31)]
    tiles = {d[0] for d in dated} - {c for c, k in kinds.items()
                                     if k is PeriodType.ROLLING_12_MONTHS}
    epoch = date(1970, 1, 1).toordinal()
    out: list[tuple[tuple[int, int], tuple[int, int]]] = []
    for ptype, period, start, end in dated:
        first, last = date.fromordinal(epoch + start), date.fromordinal(epoch + end)
        for ctype in tiles - {ptype}:
            if (period_containing(first, kinds[ctype]).start != first
                    or period_containing(last, kinds[ctype]).end != last):
                continue  # this type's periods do not tile the parent exactly
            out.extend(((t, p), (ptype, period)) for t, p, s, e in dated
                       if t == ctype and start <= s and e <= end and (s, e) != (start, end))
    return out


def _lone_hidden(hidden: Bools, edges: Edges) -> Ints:
    """The hidden member of every family (a parent and its children of one kind) in which it
    is the only hidden one."""
    parent, child, which = edges
    if not len(child):
        return np.empty(0, np.int64)
    at = _keys(parent, which)
    heads = np.zeros(at.max() + 1, np.int64)
    heads[at] = parent
    count = np.bincount(at, weights=hidden[child]) + hidden[heads]
    lone = count == 1
    leaking = np.concatenate([heads[lone & hidden[heads]], child[lone[at] & hidden[child]]])
    return np.unique(leaking)


def _differenced(table: pa.Table, hidden: Bools
                 ) -> list[tuple[npt.NDArray[np.float64], Bools]]:
    """The counts a reader can subtract, each with the rows that show it: numerators on
    published rows, denominators wherever given (a suppressed row without one hides it), and
    for a proportion the complement (denominator minus numerator) on published rows. NaN
    where a published row has no such count: then no difference over it is known."""
    x, n = _floats(table, "numerator"), _floats(table, "denominator")
    proportion = pc.equal(pc.fill_null(table.column("method"), ""),
                          PROPORTION).to_numpy(zero_copy_only=False)
    return [(x, ~hidden), (n, ~(hidden & np.isnan(n))),
            (np.where(proportion, n - x, np.nan), ~hidden)]


def _small_differences(cells: Cells, counts: Sequence[tuple[npt.NDArray[np.float64], Bools]],
                       checks: Bools, below: npt.NDArray[np.float64]) -> Ints:
    """Published heads of families that add up (areas, breakdowns, periods) whose count
    minus their published members' is from 1 up to the threshold: the hidden members'
    total, plus the residual no member covers, can then be worked out."""
    leaking: list[Ints] = []
    for parent, child, which in (_area_families(cells), _breakdown_families(cells),
                                 _period_families(cells)):
        if not len(child):
            continue
        at = _keys(parent, which)
        heads = np.zeros(at.max() + 1, np.int64)
        heads[at] = parent
        for values, shown in counts:
            # NaN on a published member propagates: the difference is then unknown.
            parts = np.bincount(at, weights=np.where(shown[child], values[child], 0.0),
                                minlength=len(heads))
            left = values[heads] - parts
            small = checks[heads] & shown[heads] & (left >= 1) & (left <= below[heads])
            leaking.append(heads[small])
    return np.unique(np.concatenate(leaking)) if leaking else np.empty(0, np.int64)


def _shown_elsewhere(cells: Cells, hidden: Bools) -> Ints:
    """Hidden rows whose very cell (indicator, area, breakdown, start and end) another row
    shows: a rolling year ending in March is the financial year."""
    if not len(hidden):
        return np.empty(0, np.int64)
    start = np.where(cells.stock, 0, cells.start)  # a stock is the count on its last day
    same = _keys(cells.indicator, cells.area, cells.breakdown, start, cells.end)
    hidden_count = np.bincount(same, weights=hidden)
    size = np.bincount(same)
    mixed = (hidden_count > 0) & (hidden_count < size)
    return np.flatnonzero(hidden & mixed[same])


def _error(table: pa.Table, leaks: Leaks) -> DisclosureError:
    first = leaks.rows[:SHOWN_IN_ERROR]
    shown = table.take(pa.array(first)).to_pylist()
    issues = [Issue(leaks.kinds[k][0], f"{_cell(row)} {leaks.kinds[k][1]}")
              for row, k in zip(shown, leaks.kind[:SHOWN_IN_ERROR].tolist(), strict=True)]
    n = len(leaks)
    return DisclosureError(
        f"Refusing to publish: {n} cell{'s' * (n != 1)} would disclose a small number; the "
        f"first, {_cell(shown[0])}, {leaks.kinds[int(leaks.kind[0])][1]}.", issues)


def _cell(row: Mapping[str, object]) -> str:
    count = "" if row["numerator"] is None else f" (numerator {row['numerator']:g})"
    return (f"indicator {row['indicator_id']}, area {row['area_code']}, period "
            f"{row['period']} ({row['period_type']}), breakdown {row['breakdown']}{count}")


class ExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


@dataclass(frozen=True)
class Exported:
    path: Path
    rows: int
    indicators: list[str]


def write_results(table: pa.Table, rules: Mapping[str, Rule], path: Path, fmt: ExportFormat,
                  stocks: Collection[str] = frozenset()) -> int:
    """Write the results table as CSV or XLSX through the guard; returns the rows written.
    A table that would leak raises DisclosureError before any file is made."""
    checked = _whole_counts(publishable(table, rules, stocks))
    if fmt is ExportFormat.xlsx and checked.num_rows >= XLSX_MAX_ROWS:
        raise UserError(f"{checked.num_rows:,} rows are more than one Excel sheet holds; "
                        "export as csv, or choose indicators with --indicator.")
    path.parent.mkdir(parents=True, exist_ok=True)
    header = checked.column_names
    if fmt is ExportFormat.csv:
        write_csv(path, header, _rows(checked))
    else:
        write_xlsx(path, {SHEET: (header, _rows(checked))})
    return int(checked.num_rows)


def _whole_counts(table: pa.Table) -> pa.Table:
    """Counts as integers where they are whole (12, not 12.0), for people reading them."""
    for name in COUNTS:
        if name not in table.column_names:
            continue
        column = table.column(name)
        values = _floats(table, name)
        finite = values[~np.isnan(values)]
        if pa.types.is_floating(column.type) and np.array_equal(finite, np.round(finite)):
            table = table.set_column(table.column_names.index(name), name,
                                     pc.cast(column, pa.int64()))
    return table


def _rows(table: pa.Table) -> Iterator[tuple[object, ...]]:
    for batch in table.to_batches(max_chunksize=20_000):
        yield from zip(*(column.to_pylist() for column in batch.columns), strict=True)
