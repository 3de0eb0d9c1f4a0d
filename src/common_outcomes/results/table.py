"""The results table's one home: its columns and types, where it lives, how it is read and
written, and the disclosure rules it carries.

The engine builds it, tracking adds baselines, targets and comparators to it, the façade
writes it through the disclosure guard, and exports, reports and the web read it back: each
takes the column names, the schema and the path from here, so they cannot drift apart.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from common_outcomes.data.declarations import SourceDeclaration
from common_outcomes.indicators.definitions import Definition
from common_outcomes.stats.disclosure import Rule

RESULTS = Path(".outcomes") / "results" / "indicator_values.parquet"

INDICATOR_ID = "indicator_id"
PERIOD_START = "period_start"
PERIOD_END = "period_end"
SUPPRESSED = "suppressed"
COLUMNS = (INDICATOR_ID, "indicator_name", "area_code", "area_name", "area_type",
           "parent_code", "period", "period_type", PERIOD_START, PERIOD_END, "breakdown",
           "numerator", "denominator", "value", "lower_95", "upper_95", "lower_998",
           "upper_998", "method", "value_note", SUPPRESSED, "benchmark_code",
           "compared_to_benchmark", "recent_trend", "baseline", "target", "target_status")
FLOATS = ("numerator", "denominator", "value", "lower_95", "upper_95", "lower_998",
          "upper_998", "baseline", "target")
# Every other column is text.
TYPES: Mapping[str, pa.DataType] = {name: pa.float64() for name in FLOATS} | {
    PERIOD_START: pa.date32(), PERIOD_END: pa.date32(), SUPPRESSED: pa.bool_()}
SCHEMA = pa.schema([(name, TYPES.get(name, pa.string())) for name in COLUMNS])


@dataclass(frozen=True)
class Disclosure:
    """What the disclosure guard needs of a workspace: each indicator's rule (its source's),
    and the indicators that are stocks (counted at each period's end, so their periods do
    not add up)."""

    rules: Mapping[str, Rule]
    stocks: frozenset[str]


def disclosure_of(definitions: Sequence[Definition],
                  sources: Mapping[str, SourceDeclaration]) -> Disclosure:
    """The one place the rules and stocks are worked out, for the engine, exports and pages."""
    rules = {}
    for d in definitions:
        rule = sources[d.source].disclosure
        rules[d.indicator] = Rule(rule.suppress_below, rule.round_to)
    return Disclosure(rules, frozenset(d.indicator for d in definitions if d.open_until))


def empty() -> pa.Table:
    """A results table without rows."""
    return SCHEMA.empty_table()


def to_table(rows: Sequence[Mapping[str, object]]) -> pa.Table:
    """A results table from row dicts (for tests and small tables built by hand)."""
    return pa.table({name: pa.array([r.get(name) for r in rows], SCHEMA.field(name).type)
                     for name in COLUMNS})


def indicators_in(table: pa.Table) -> list[str]:
    """The indicators a results table holds, sorted."""
    return sorted(set(table.column(INDICATOR_ID).to_pylist()))


def of_indicators(table: pa.Table, indicators: Sequence[str]) -> pa.Table:
    """The rows of these indicators."""
    return table.filter(pc.is_in(table.column(INDICATOR_ID),
                                 value_set=pa.array(list(indicators), pa.string())))


def within(table: pa.Table, first: date | None, last: date | None) -> pa.Table:
    """Rows of periods that lie wholly from `first` to `last` (`outcomes run --from/--to`).
    Wholly, so that no family of cells that add up is cut in two (a year kept without one of
    its quarters would give away the sum of the quarters cut). Trends were computed before
    the cut, so they still look back before `first`."""
    if first is None and last is None:
        return table
    keep = pc.scalar(True)
    if first is not None:
        keep = keep & (pc.field(PERIOD_START) >= pc.scalar(first))
    if last is not None:
        keep = keep & (pc.field(PERIOD_END) <= pc.scalar(last))
    return table.filter(keep)


def path_in(folder: Path) -> Path:
    """Where a workspace's results table is written."""
    return folder / RESULTS


def read(path: Path) -> pa.Table | None:
    """The results table at `path`, or None before the first `outcomes run`."""
    return pq.read_table(path) if path.is_file() else None


def write(path: Path, table: pa.Table) -> None:
    """Write a table whole or not at all: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
