"""Honest periods: a result is kept only for a period the data cover.

The engine rolls counts into every period it can; this step, run on its table before the
comparators and targets (`Project.run`), keeps a period only where every source an indicator
reads covers it, and flags the latest one `provisional` where it is partly covered and its
figure is still a fair one. docs/methods.md, "Periods: complete, provisional, not yet due",
is the user's view; the rules, briefly:

- A source covers the months from its first record's to its last's (in its period column)
  that lie in periods it has loaded (`SourceSpan`).
- A definition dates a record by its own column, which may not be the source's period
  column (a booking is in the maternity return only once the baby is born): the lags seen in
  the data between the two say which of the source's months a month of bookings needs
  (`Needs`). A cohort counted when it falls due (`shift_months`) needs the source to reach the
  due date; a record compared with the same person's previous one (`previous`) needs the year
  before it too; a stock, and a place taken from another source (`area_from`), need the data
  only to reach the period's end.
- A period with every month covered is complete. One covered from its start up to the data's
  end is provisional only if no record of it can lie beyond that end (the definition's own
  date is its sources' period column, nothing is shifted) and its figure is a ratio of the
  same months' counts: otherwise its figure would be a biased part (only the bookings whose
  babies are already born) or an undercount (half a year of events over a year's
  population), and it is left out. Every other period (before the data, after it, or with a
  gap) is left out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from common_outcomes.data.declarations import Identifier, SourceDeclaration
from common_outcomes.indicators.definitions import Definition, Measure, OtherDenominator
from common_outcomes.indicators.evaluate import holds
from common_outcomes.indicators.expressions import columns_of, parse
from common_outcomes.periods import Period, PeriodType, period_containing
from common_outcomes.results.table import INDICATOR_ID, PERIOD_END, PERIOD_START
from common_outcomes.stats.compare import CANNOT_CALCULATE

PROVISIONAL = "provisional"
NOT_ASSESSED = "not assessed: provisional"
RARE = 0.005  # lags fewer than 1 in 200 counted records show, at either end, are errors
LOOK_BACK = 12  # months before a record in which `previous` finds the person's record before
TREND_POINTS = 5  # Fingertips' recent trend: the five most recent yearly points
YEARLY = frozenset({PeriodType.FINANCIAL_YEAR.value, PeriodType.ACADEMIC_YEAR.value,
                    PeriodType.CALENDAR_YEAR.value})
# Measures whose value is a ratio of counts over the same months: a part of a period still
# estimates the whole. A count, and a rate over a population, would only be smaller.
RATIOS = frozenset({Measure.PROPORTION, Measure.MEAN, Measure.CRUDE_RATE,
                    Measure.DIRECTLY_STANDARDISED_RATE, Measure.INDIRECTLY_STANDARDISED_RATIO})

Month = int  # months since year 0: year * 12 + month - 1


class Part(Protocol):
    """A Parquet part of the store and the periods its rows are current for (the store's
    `CurrentPart`, or a run scope's part); its path a file or a URI pyarrow reads."""

    @property
    def path(self) -> Path | str: ...

    @property
    def periods(self) -> tuple[str, ...]: ...


def month_of(day: date) -> Month:
    return day.year * 12 + day.month - 1


def day_of(month: Month) -> date:
    return date(month // 12, month % 12 + 1, 1)


@dataclass(frozen=True)
class SourceSpan:
    """The months a source's current data cover: from the month of its first record to that
    of its last (in its period column), where they lie in a period it has loaded."""

    months: frozenset[Month]
    first: Month
    last: Month


@dataclass(frozen=True)
class Need:
    """What a definition needs of one source for a month of its records (before any shift):
    the source's months from `lo` to `hi` after it (the lags between the definition's date
    and the source's period column), or only that the source reaches `hi` (`end_only`)."""

    source: str
    lo: int
    hi: int
    end_only: bool = False
    also: tuple[str, ...] = ()  # columns whose dates show how far the data reach too


@dataclass(frozen=True)
class Needs:
    """Everything a definition needs of its sources, and whether a partly covered period of it
    can be shown as provisional."""

    indicator: str
    shift: int
    needs: tuple[Need, ...]
    provisional_ok: bool


def stored_period_column(decl: SourceDeclaration) -> str | None:
    """The column of the analytic store that dates a source's rows for its periods (a date of
    birth is kept as its month)."""
    if decl.period is None:
        return None
    column = next((c for c in decl.columns if c.name == decl.period.column), None)
    if column is not None and column.identifier is Identifier.DATE_OF_BIRTH:
        return f"{column.name}_month"
    return decl.period.column


def _months(values: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.int64]:
    """Each value's month index (nulls as -1)."""
    years = pc.fill_null(pc.year(values), -1).to_numpy(zero_copy_only=False)
    months = pc.fill_null(pc.month(values), 1).to_numpy(zero_copy_only=False)
    out = np.asarray(years, dtype=np.int64) * 12 + np.asarray(months, dtype=np.int64) - 1
    return np.where(np.asarray(years) < 0, -1, out)


@dataclass(frozen=True)
class Located:
    """A store part read at another data location (Spark's --data: a copy of the store)."""

    path: str
    periods: tuple[str, ...]


def located(parts: Sequence[Part], store: Path, data: str) -> list[Located]:
    """The parts as found under `data`, which holds a copy of the store at `store`: the
    engine reads them there (engine/backends/spark.py `relocated`), and so does this step."""
    base = data.rstrip("/")
    return [Located(f"{base}/{Path(p.path).relative_to(store).as_posix()}", p.periods)
            for p in parts]


def _current(part: Part, columns: Sequence[str]) -> pa.Table | None:
    """A part's rows of the periods it is current for, in the columns asked (None when it
    lacks one of them)."""
    names = pq.read_schema(part.path).names
    if any(c not in names for c in columns):
        return None
    table = pq.read_table(part.path, columns=sorted({*columns, "period"}))
    return table.filter(pc.is_in(table.column("period"),
                                 value_set=pa.array(list(part.periods), pa.string())))


def source_span(decl: SourceDeclaration, parts: Sequence[Part], also: Sequence[str] = ()
                ) -> SourceSpan | None:
    """What a source's current data cover, or None when it has no period rule (a published
    release) or no dated rows: it then limits nothing.

    Every loaded period is covered, but for the first and the last: a source whose other
    periods have records earlier in the period than the first one's first record (later than
    the last one's last) began (ended) part way through it, and covers it from that record
    (up to the month before the next one its other periods have). A source that records at
    fixed points (a June assessment, a term's start) is not cut short by them. The dates in
    the columns `also` count as records too (a stock's closing dates: its openings are few and
    far between, its data reach its last closing)."""
    column = stored_period_column(decl)
    if column is None or decl.period is None:
        return None
    found: list[npt.NDArray[np.int64]] = []
    labels: set[str] = set()
    for part in parts:
        names = [column, *also]
        rows = _current(part, names)
        if rows is None:  # an older version without the other columns
            names = [column]
            rows = _current(part, names)
        if rows is None:
            continue
        labels.update(part.periods)
        for name in names:
            months = _months(rows.column(name))
            found.append(months[months >= 0])
    every = np.unique(np.concatenate(found)) if found else np.array([], dtype=np.int64)
    ptype = decl.period.type
    at: dict[Period, set[int]] = {}  # each loaded period's months with records, from its start
    for m in every.tolist():
        period = period_containing(day_of(m), ptype)
        if period.label in labels:
            at.setdefault(period, set()).add(m - month_of(period.start))
    if not at:
        return None
    order = sorted(at)
    covered: set[Month] = set()
    for period in order:
        begin = month_of(period.start)
        first, last = begin, month_of(period.end)
        others = set().union(*(at[p] for p in order if p != period))
        mine = at[period]
        if period == order[0] and others and min(others) < min(mine):
            first = begin + min(mine)
        later = [x for x in others if x > max(mine)]
        if period == order[-1] and later:
            last = begin + min(later) - 1
        covered.update(range(first, last + 1))
    return SourceSpan(frozenset(covered), min(covered), max(covered))


def _lags(decl: SourceDeclaration, parts: Sequence[Part], date_column: str,
          condition: str) -> tuple[int, int] | None:
    """The fewest and most months from a record's date to its month in the source's period
    column, over the records the condition counts (all of them where it needs a column the
    store does not hold, such as previous_date), leaving out the rarest lags at either end
    (`RARE`: a contact dated before the birth is a recording error, not a reason to wait);
    (0, 0) when the two are one column; None when no record says."""
    period = stored_period_column(decl)
    if period is None or date_column == period:
        return (0, 0)
    tree = parse(condition)
    found = []
    for part in parts:
        rows = _current(part, [date_column, period, *columns_of(tree)])
        if rows is None:
            rows = _current(part, [date_column, period])
            if rows is None:
                continue
        elif columns_of(tree) or condition.strip() != "true":
            rows = rows.filter(holds(condition, rows))
        dated, placed = _months(rows.column(date_column)), _months(rows.column(period))
        both = (dated >= 0) & (placed >= 0)
        found.append(placed[both] - dated[both])
    lags = np.concatenate(found) if found else np.array([], dtype=np.int64)
    if not len(lags):
        return None
    return (int(np.quantile(lags, RARE, method="lower")),
            int(np.quantile(lags, 1 - RARE, method="higher")))


def needs_of(d: Definition, sources: Mapping[str, SourceDeclaration],
             parts: Mapping[str, Sequence[Part]]) -> Needs:
    """What a definition needs of the sources it reads (see the module's rules)."""
    counted = d.numerator if isinstance(d.denominator, OtherDenominator) else (
        f"({d.numerator}) or ({d.denominator})")
    lo, hi = _lags(sources[d.source], parts.get(d.source, ()), d.date, counted) or (0, 0)
    # A cohort counts when it falls due: the data must reach the due date.
    hi = max(hi, d.shift_months)
    if d.previous is not None:
        lo -= LOOK_BACK
    # A stock needs the data to reach each period's end (what was open then), not its
    # records' lags: an episode opened years before still counts.
    needs = [Need(d.source, lo, hi) if d.open_until is None else
             Need(d.source, 0, d.shift_months, end_only=True, also=(d.open_until,))]
    exact = lo == hi == 0 and d.shift_months == 0 and d.open_until is None
    other = d.denominator
    if isinstance(other, OtherDenominator):
        if other.snapshot:
            exact = False  # a year's population over part of a year's events
        else:
            olo, ohi = _lags(sources[other.source], parts.get(other.source, ()), other.date,
                             other.filter) or (0, 0)
            needs.append(Need(other.source, olo, ohi))
            exact = exact and olo == ohi == 0
    if d.area_from is not None:
        needs.append(Need(d.area_from.source, 0, 0, end_only=True))
    return Needs(d.indicator, d.shift_months, tuple(needs),
                 exact and d.measure in RATIOS)


Spans = Mapping[tuple[str, tuple[str, ...]], SourceSpan | None]


def sources_of(d: Definition) -> list[str]:
    """The sources a definition reads (as the engine's plan finds them)."""
    other = [d.denominator.source] if isinstance(d.denominator, OtherDenominator) else []
    return [d.source, *other, *([d.area_from.source] if d.area_from else [])]


def covers(needs: Needs, spans: Spans) -> Callable[[Month], bool]:
    """Whether the data cover a month of the definition's periods (after its shift)."""
    def ok(month: Month) -> bool:
        dated = month - needs.shift
        for need in needs.needs:
            span = spans.get((need.source, need.also))
            if span is None:
                continue
            if need.end_only:
                if dated + need.hi > span.last:
                    return False
            elif any(m not in span.months
                     for m in range(dated + need.lo, dated + need.hi + 1)):
                return False
        return True
    return ok


@dataclass(frozen=True)
class Honest:
    """The table with only the periods the data cover, and what was left out or flagged."""

    table: pa.Table
    dropped: int
    provisional: int


def honest_periods(table: pa.Table, definitions: Sequence[Definition],
                   sources: Mapping[str, SourceDeclaration],
                   parts: Mapping[str, Sequence[Part]]) -> Honest:
    """Rows of covered periods only; the latest, partly covered period flagged provisional
    where its figure is fair (see the module's rules), over each source's current `parts`.
    Indicators no definition computes (published figures only) are kept as they are."""
    if table.num_rows == 0:
        return Honest(table, 0, 0)
    needs = {d.indicator: needs_of(d, sources, parts) for d in definitions
             if all(s in sources for s in sources_of(d))}
    spans: dict[tuple[str, tuple[str, ...]], SourceSpan | None] = {}
    for need in (n for each in needs.values() for n in each.needs):
        if (need.source, need.also) not in spans:
            spans[need.source, need.also] = source_span(
                sources[need.source], parts.get(need.source, ()), need.also)
    ids = table.column(INDICATOR_ID).to_pylist()
    starts = table.column(PERIOD_START).to_pylist()
    ends = table.column(PERIOD_END).to_pylist()
    decided: dict[tuple[str, date, date], str | None] = {}
    checks = {k: covers(n, spans) for k, n in needs.items()}
    keep = np.ones(table.num_rows, dtype=bool)
    notes: list[str | None] = list(table.column("value_note").to_pylist())
    flagged = np.zeros(table.num_rows, dtype=bool)
    for i, (indicator, start, end) in enumerate(zip(ids, starts, ends, strict=True)):
        if indicator not in needs:
            continue
        key = (indicator, start, end)
        if key not in decided:
            decided[key] = _decide(checks[indicator], needs[indicator], start, end)
        verdict = decided[key]
        if verdict == "drop":
            keep[i] = False
        elif verdict is not None:
            flagged[i] = True
            notes[i] = verdict if not notes[i] else f"{verdict}; {notes[i]}"
    out = table.set_column(table.schema.get_field_index("value_note"), "value_note",
                           pa.array(notes, pa.string()))
    out = _trends_without(out, keep)
    kept = out.filter(pa.array(keep))
    return Honest(kept, int((~keep).sum()), int((flagged & keep).sum()))


def _decide(ok: Callable[[Month], bool], needs: Needs, start: date, end: date) -> str | None:
    """None (complete), "drop", or the provisional note."""
    months = range(month_of(start), month_of(end) + 1)
    covered = [ok(m) for m in months]
    if all(covered):
        return None
    n = sum(covered)
    prefix = n > 0 and all(covered[:n]) and not any(covered[n:])
    if prefix and needs.provisional_ok:
        return f"{PROVISIONAL}: {n} months of {len(covered)}"
    return "drop"


def _trends_without(table: pa.Table, keep: npt.NDArray[np.bool_]) -> pa.Table:
    """Recent trends that looked back over a period now left out cannot stand: each such
    kept row's trend becomes "Cannot be calculated" (a series that lost a point has, at that
    row, fewer than five points the data cover)."""
    if keep.all():
        return table
    trend = table.column("recent_trend").to_pylist()
    ptype = table.column("period_type").to_pylist()
    series = list(zip(table.column(INDICATOR_ID).to_pylist(),
                      table.column("area_code").to_pylist(),
                      table.column("breakdown").to_pylist(), ptype, strict=True))
    starts = table.column(PERIOD_START).to_pylist()
    by_series: dict[tuple[object, ...], list[int]] = {}
    for i, s in enumerate(series):
        if s[3] in YEARLY:
            by_series.setdefault(s, []).append(i)
    for rows in by_series.values():
        rows.sort(key=lambda i: starts[i])
        for k, i in enumerate(rows):
            window = rows[max(0, k - TREND_POINTS + 1):k + 1]
            if keep[i] and trend[i] is not None and not keep[window].all():
                trend[i] = CANNOT_CALCULATE
    return table.set_column(table.schema.get_field_index("recent_trend"), "recent_trend",
                            pa.array(trend, pa.string()))


def is_provisional(note: str | None) -> bool:
    return bool(note) and str(note).startswith(PROVISIONAL)


def unjudged(table: pa.Table) -> pa.Table:
    """A provisional row is never compared with a benchmark or a target, nor a trend's end
    point: after the comparators and targets, its judgements are taken off."""
    if table.num_rows == 0:
        return table
    flagged = pa.array([is_provisional(n) for n in table.column("value_note").to_pylist()],
                       pa.bool_())
    if not pc.any(flagged).as_py():
        return table
    # "Not assessed" where there is a target to assess against; nothing where there is none.
    status = pc.if_else(pc.is_valid(table.column("target")),
                        pa.scalar(NOT_ASSESSED, pa.string()), pa.scalar(None, pa.string()))
    out = table
    for name, value in (("compared_to_benchmark", pa.scalar(None, pa.string())),
                        ("recent_trend", pa.scalar(None, pa.string())),
                        ("target_status", status)):
        replaced = pc.if_else(flagged, value, out.column(name))
        out = out.set_column(out.schema.get_field_index(name), name, replaced)
    return out
