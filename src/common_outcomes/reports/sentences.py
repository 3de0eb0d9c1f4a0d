"""Each result in one plain-English sentence, and each comparison with its benchmark named.

The sentence is made from the published results table alone: the row itself (value, 95%
interval, comparison, recent trend, target and its status) and the row of the benchmark it
was compared with (the same indicator, period and breakdown), whose name and value it says.
Every number in a sentence is one of those rows' numbers, formatted as the pages format it;
nothing is computed here. The web pages, the API and (later) board reports share it.

What the words mean follows the comparison's source (stats/compare.py, Fingertips' labels):
"better"/"worse" only when the indicator says which way is better, "higher"/"lower" when it
makes no judgement; "similar" when the benchmark's value lies within the area's interval.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from common_outcomes.framework.models import Indicator
from common_outcomes.reports import results_view as rv
from common_outcomes.reports.results_view import SUFFIX, Value, number
from common_outcomes.tracking.comparators import COMPARED_WITH_ENGLAND, ENGLAND

# How a value of each unit without a suffix reads: "a mean of 3.2".
UNIT_WORDS = {"mean": "a mean of {}", "score": "a score of {}", "level": "level {}",
              "ratio": "a ratio of {}"}
# The trend looks back over five periods of the same type (engine.results.TREND_POINTS).
TREND_SPAN = {"financial_year": "financial years", "academic_year": "academic years",
              "calendar_year": "years", "quarter": "quarters", "month": "months",
              "rolling_12_months": "rolling years"}
TRENDS = {
    "Increasing and getting better": "increasing and getting better",
    "Increasing and getting worse": "increasing and getting worse",
    "Decreasing and getting better": "decreasing and getting better",
    "Decreasing and getting worse": "decreasing and getting worse",
    "Increasing": "increasing", "Decreasing": "decreasing",
    "No significant change": "no significant change",
}
WITHHELD = "withheld to protect privacy (a small number, or one that would reveal one)"


def _amount(value: float, unit: str) -> str:
    return UNIT_WORDS.get(unit, "{}").format(number(value, unit))


def provisional(row: Value) -> str | None:
    """Why a row's period is provisional (incomplete data), or None when it is whole.

    The hook for honest periods (issue 17 item 1): a `provisional` column on the row when
    the results table has one, else a value note that says so. A provisional value is
    never compared with a benchmark or a target in words."""
    flag = getattr(row, "provisional", None)
    if isinstance(flag, str) and flag:
        return flag
    if flag is True:
        return "provisional"
    note = row.value_note or ""
    return note if "provisional" in note.lower() else None


@dataclass(frozen=True)
class Benchmark:
    """What a row was compared with: the benchmark area's name, and its row for the same
    indicator, period and breakdown (None when the results hold none)."""

    code: str
    name: str
    row: Value | None


def comparison(row: Value, benchmark: Benchmark | None) -> str | None:
    """The comparison in a few words with its benchmark named ("Similar to England",
    "Better than Tower Hamlets"), for tags and tables; None when the row has no benchmark."""
    if benchmark is None:
        return None
    label = row.compared_to_benchmark
    if provisional(row):
        return f"Provisional, not compared with {benchmark.name}"
    if label == "Similar":
        return f"Similar to {benchmark.name}"
    if label in ("Better", "Worse", "Higher", "Lower"):
        return f"{label} than {benchmark.name}"
    if label in ("Best", "Worst"):
        return f"{'Much better' if label == 'Best' else 'Much worse'} than {benchmark.name}"
    return f"Not compared with {benchmark.name}"


def _direction(label: str, polarity: str) -> str:
    """Which side of the benchmark a "Better"/"Worse" area lies, by polarity."""
    good = label in ("Better", "Best")
    return "higher" if good == (polarity == "high_is_good") else "lower"


def _compared(row: Value, benchmark: Benchmark | None, unit: str, polarity: str
              ) -> str | None:
    """The comparison clause of the sentence, naming the benchmark and its value."""
    if benchmark is None:
        if row.area_type == "england":
            return None
        # Boroughs and regions are compared with England (tracking/comparators.py).
        return ("no England figure for this period" if row.area_type in COMPARED_WITH_ENGLAND
                else "no benchmark to compare with")
    other = benchmark.row
    if other is None or (other.value is None and not other.suppressed):
        return f"no {benchmark.name} figure for this period"
    if other.suppressed or other.value is None:
        return f"not compared with {benchmark.name}, whose value is withheld"
    named = f"{benchmark.name} ({number(other.value, unit)})"
    label = row.compared_to_benchmark
    if label == "Similar":
        return f"similar to {named}"
    if label in ("Better", "Worse", "Best", "Worst"):
        judged = {"Better": "better", "Worse": "worse", "Best": "much better",
                  "Worst": "much worse"}[label]
        return f"{_direction(label, polarity)} than {named}, which is {judged}"
    if label in ("Higher", "Lower"):
        return (f"{label.lower()} than {named}, which is neither better nor worse for this "
                "measure")
    if row.lower_95 is None or row.upper_95 is None:
        return f"not compared with {named}, as there is no confidence interval"
    return f"not compared with {named}"


def _trend(row: Value) -> str | None:
    span = TREND_SPAN.get(row.period_type, "periods")
    if row.recent_trend in TRENDS:
        return f"{TRENDS[row.recent_trend]} over the last five {span}"
    if row.recent_trend == "Cannot be calculated":
        return f"no trend can be calculated yet (it needs five {span} with usable values)"
    return None


def trend_words(row: Value) -> str:
    """The recent trend in a few words for a table cell: "No significant change (5
    financial years)"; "-" for a period type without one."""
    span = TREND_SPAN.get(row.period_type, "periods")
    if row.recent_trend in TRENDS:
        return f"{row.recent_trend} (last 5 {span})"
    if row.recent_trend == "Cannot be calculated":
        return f"No trend yet (needs 5 {span} of values)"
    return "-"


def _target(row: Value, unit: str) -> str:
    if row.target is None:
        return "no target set"
    goal = number(row.target, unit)
    status = row.target_status
    if status == "met":
        return f"target of {goal} met"
    if status == "on track":
        return f"on track for the target ({goal} for this period)"
    if status == "off track":
        side = "below" if row.value is not None and row.value < row.target else "above"
        return f"off track: {side} the target of {goal} for this period"
    return f"target of {goal} for this period (progress cannot be judged without an interval)"


def sentence(row: Value, about: Indicator, benchmark: Benchmark | None) -> str:
    """The result in one sentence, e.g. "Early booking in Tower Hamlets, 2024/25: 58.4%
    (55.8% to 60.9%), lower than England (61.2%), which is worse; no significant change over
    the last five financial years; off track: below the target of 62.0% for this period."
    Every number is the row's or its benchmark row's."""
    unit = about.unit.value
    who = "" if row.breakdown == rv.ALL else f" ({row.breakdown})"
    head = f"{about.name}{who} in {row.area_name}, {row.period}"
    if row.suppressed:
        return f"{head}: {WITHHELD}."
    if row.value is None:
        return f"{head}: cannot be calculated ({row.value_note or 'no value'})."
    shown = _amount(row.value, unit)
    if row.lower_95 is not None and row.upper_95 is not None:
        # The unit once, after both limits: "(75.6 to 97.6 per 1,000)"; "(55.8% to 60.9%)".
        low = number(row.lower_95, unit)
        low = low if unit == "percent" else low.removesuffix(SUFFIX.get(unit, ""))
        shown += f" ({low} to {number(row.upper_95, unit)})"
    held_back = provisional(row)
    if held_back:
        # The note already says "provisional: n months of 12"; the benchmark is named even
        # when it is not compared with.
        said = held_back if held_back.startswith("provisional") else (
            f"provisional ({held_back})")
        if benchmark is not None:
            return (f"{head}: {shown}, {said}, so not compared with {benchmark.name} or a "
                    "target until the period's data are complete.")
        missing = _compared(row, None, unit, about.polarity.value)
        return (f"{head}: {shown}, {said}, so not judged against a target until the "
                "period's data are complete" + (f"; {missing}." if missing else "."))
    clauses = [_compared(row, benchmark, unit, about.polarity.value), _trend(row),
               _target(row, unit)]
    return f"{head}: {shown}, " + "; ".join(c for c in clauses if c) + "."


@dataclass(frozen=True)
class Reading:
    """A result as people read it: the row, its benchmark named, the region's and
    England's values for the same period beside it, the comparison in words and the
    sentence."""

    row: Value
    benchmark: Benchmark | None
    region: Value | None
    england: Value | None
    comparison: str | None
    sentence: str



def benchmark_of(row: Value, peers: Mapping[str, Value], names: Mapping[str, str]
                 ) -> Benchmark | None:
    """The benchmark a row was compared with, from the rows of its indicator, period and
    breakdown by area (`peers`) and the workspace's area names."""
    code = row.benchmark_code
    if not code:
        return None
    other = peers.get(code)
    name = other.area_name if other is not None else names.get(code, code)
    return Benchmark(code, name, other)


def read(table: pa.Table, rows: Sequence[Value], indicators: Mapping[str, Indicator],
         names: Mapping[str, str], region: str | None) -> dict[Key, Reading]:
    """Each row read, keyed by `key_of`: its benchmark, region and England rows found in
    `table` (published rows of the rows' indicators)."""
    wanted = {code for r in rows for code in (r.benchmark_code, region, ENGLAND) if code}
    peers: dict[tuple[str, str, str, str], dict[str, Value]] = {}
    for other in _rows_of_areas(table, {r.indicator_id for r in rows}, wanted):
        peers.setdefault(_key(other), {})[other.area_code] = other
    out: dict[Key, Reading] = {}
    for r in rows:
        about = indicators.get(r.indicator_id)
        if about is None:
            continue
        same = peers.get(_key(r), {})
        bench = benchmark_of(r, same, names)
        out[key_of(r)] = Reading(
            r, bench, same.get(region) if region else None, same.get(ENGLAND),
            comparison(r, bench), sentence(r, about, bench))
    return out


def _key(row: Value) -> tuple[str, str, str, str]:
    return (row.indicator_id, row.period_type, row.period, row.breakdown)


Key = tuple[str, str, str, str, str]


def key_of(row: Value) -> Key:
    """A row's place in the results table: indicator, area, period type, period, breakdown."""
    return (row.indicator_id, row.area_code, row.period_type, row.period, row.breakdown)


def _rows_of_areas(table: pa.Table, indicators: Collection[str], areas: Collection[str]
                   ) -> list[Value]:
    keep = pc.and_(pc.is_in(table.column("indicator_id"),
                            pa.array(sorted(indicators), pa.string())),
                   pc.is_in(table.column("area_code"), pa.array(sorted(areas), pa.string())))
    return rv.values(table.filter(keep))
