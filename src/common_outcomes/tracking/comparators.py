"""Published comparators in the results: England, the region, the borough's DfE statistical
neighbours and the borough's own published figure, from the sources that map published files
to indicators (`comparators:` in a source declaration), and every borough and region compared
with England.

Published rows are added only for an indicator, area and period the engine has not
computed, so a computed figure is never shadowed by a published one; the borough's own
published figure therefore appears for indicators it does not compute (such as Fingertips
90284, which has no record-level source) and for the periods it does not compute (years
before its records begin). Periods are labelled by the indicator's period type, exactly as computed
rows are, so that the two line up. Published values are used as published; where a file
gives a count and a denominator but no interval, the interval is computed from them by the
method the engine uses (Wilson for percentages, Byar's or exact Poisson for rates), and the
method column says so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from common_outcomes import __version__
from common_outcomes.data.checks import MULTIPLIERS
from common_outcomes.data.declarations import (
    Comparator,
    ComparatorDenominator,
    PeriodFormat,
    SourceDeclaration,
)
from common_outcomes.data.store import Store, open_store
from common_outcomes.errors import UserError
from common_outcomes.framework.models import Indicator, Unit
from common_outcomes.geography.reference import local_authorities, statistical_neighbours
from common_outcomes.periods import Period, PeriodType, parse_period, period_containing
from common_outcomes.results.table import write
from common_outcomes.stats.compare import compare_to_benchmark
from common_outcomes.stats.intervals import crude_rate, wilson

ENGLAND = "E92000001"
COMPARATORS = Path(".outcomes") / "results" / "comparators"
# Areas compared with England; localities and wards stay compared with their borough.
COMPARED_WITH_ENGLAND = ("la", "region")
Floats = npt.NDArray[np.float64]
Row = dict[str, object]


@dataclass(frozen=True)
class ComparatorAreas:
    """The areas a borough is compared with: code -> (area type, name, parent code)."""

    la_code: str
    areas: Mapping[str, tuple[str, str, str | None]]
    neighbours: tuple[str, ...]


def comparator_areas(la_code: str) -> ComparatorAreas:
    """England, the borough's region, the borough and its DfE statistical neighbours."""
    las = {la.la_code: la for la in local_authorities()}
    areas: dict[str, tuple[str, str, str | None]] = {ENGLAND: ("england", "England", None)}
    home = las.get(la_code)
    if home is not None:
        areas[home.region_code] = ("region", home.region_name, ENGLAND)
        areas[la_code] = ("la", home.la_name, home.region_code)
    neighbours = tuple(n.la.la_code for n in statistical_neighbours(la_code))
    for code in neighbours:
        areas[code] = ("la", las[code].la_name, las[code].region_code)
    return ComparatorAreas(la_code, areas, neighbours)


def add_comparators(results: pa.Table, folder: Path, sources: Mapping[str, SourceDeclaration],
                    indicators: Mapping[str, Indicator], la_code: str) -> pa.Table:
    """The results with published comparator rows appended and every borough and region
    compared with England (the finish step of `outcomes run`, before tracking)."""
    shadows = ("indicator_id", "area_code", "period_type", "period")
    computed = set(zip(*(results.column(c).to_pylist() for c in shadows), strict=True))
    published = published_table(folder, sources, indicators, la_code, results.schema)
    keep = [key not in computed for key in zip(
        *(published.column(c).to_pylist() for c in shadows), strict=True)]
    table = pa.concat_tables([results, published.filter(pa.array(keep, pa.bool_()))])
    polarity = {i.id: i.polarity.value for i in indicators.values()}
    return compare_with_england(table, polarity)


def published_table(folder: Path, sources: Mapping[str, SourceDeclaration],
                    indicators: Mapping[str, Indicator], la_code: str, schema: pa.Schema
                    ) -> pa.Table:
    """`published_rows` as a table, kept in .outcomes/results/comparators between runs:
    reading published files and computing their intervals is most of an unchanged run's
    time. Keyed by everything the rows depend on (the current parts of every source they
    read, the mappings, the indicators, the borough, the schema and the release), so a load,
    a rollback or an edited mapping computes them again."""
    store = open_store(folder)
    mapped = {d.id: d.comparators for d in sources.values() if d.comparators}
    read = {*mapped, *(m.denominator.source for ms in mapped.values() for m in ms
                       if isinstance(m.denominator, ComparatorDenominator))}
    parts = {s: [(str(p.path), p.periods) for p in store.current_files(s)] for s in sorted(read)}
    used = sorted({m.indicator for ms in mapped.values() for m in ms})
    key = hashlib.sha256(repr((__version__, parts, mapped, [indicators[i] for i in used],
                               la_code, schema.to_string())).encode()).hexdigest()[:32]
    cache = folder / COMPARATORS
    cached = cache / f"{key}.parquet"
    if cached.is_file():
        return pq.read_table(cached)
    rows = published_rows(store, sources, indicators, comparator_areas(la_code))
    table = pa.Table.from_pylist(rows, schema=schema)
    for stale in cache.glob("*.parquet") if cache.is_dir() else []:
        stale.unlink()  # rows of inputs that no longer exist
    write(cached, table)
    return table


def published_rows(store: Store, sources: Mapping[str, SourceDeclaration],
                   indicators: Mapping[str, Indicator], areas: ComparatorAreas) -> list[Row]:
    """Result rows for the comparator areas from every mapped source in the store."""
    rows: dict[tuple[str, str, str, str], Row] = {}
    for decl in sources.values():
        if not decl.comparators:
            continue
        for mapping in decl.comparators:
            table = current_rows(store, decl.id, [c for _, c in mapping.named_columns()])
            if table is None:
                break  # declared, not loaded yet
            indicator = indicators[mapping.indicator]  # outcomes check guarantees it
            denominators = _other_denominators(store, mapping, indicator, areas)
            for row in _mapped_rows(table, decl.id, mapping, indicator, areas, denominators):
                key = (mapping.indicator, str(row["area_code"]), str(row["period_type"]),
                       str(row["period"]))
                earlier = rows.setdefault(key, row)
                if earlier is not row and earlier["value"] != row["value"]:
                    raise UserError(
                        f"Source '{decl.id}' gives '{mapping.indicator}' two values for "
                        f"{row['area_code']} in {row['period']} ({earlier['value']} and "
                        f"{row['value']}); narrow its comparator with 'where' or 'exclude'.")
    return list(rows.values())


def current_rows(store: Store, source: str, columns: Sequence[str]) -> pa.Table | None:
    """The rows of a source that are current in the store (each part only for its periods):
    the columns named, with the notes of those that have published markers."""
    tables = []
    for part in store.current_files(source):
        present = set(pq.read_schema(part.path).names)
        wanted = {*columns, *(f"{c}_note" for c in columns), "period"} & present
        table = pq.read_table(part.path, columns=sorted(wanted))
        tables.append(table.filter(pc.is_in(table.column("period"),
                                            pa.array(part.periods, pa.string()))))
    return pa.concat_tables(tables, promote_options="default") if tables else None


def _text(table: pa.Table, column: str) -> npt.NDArray[np.str_]:
    """A column as stripped text, '' for empty cells (DfE files pad some with a space)."""
    values = table.column(column)
    if not pa.types.is_string(values.type):
        values = pc.cast(values, pa.string())
    values = pc.fill_null(pc.utf8_trim_whitespace(values), "")
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=str)


def _floats(table: pa.Table, column: str | None) -> Floats:
    if column is None:
        return np.full(table.num_rows, np.nan)
    return np.asarray(pc.cast(table.column(column), pa.float64()).to_numpy(
        zero_copy_only=False), dtype=np.float64)


def _selected(table: pa.Table, mapping: Comparator) -> npt.NDArray[np.bool_]:
    """Which rows the mapping's `where` and `exclude` keep."""
    keep = np.ones(table.num_rows, dtype=bool)
    for rules, wanted in ((mapping.where, True), (mapping.exclude, False)):
        for column, allowed in rules.items():
            values = (allowed,) if isinstance(allowed, str) else allowed
            keep &= np.isin(_text(table, column), [v.strip() for v in values]) == wanted
    return keep


def _area_codes(table: pa.Table, mapping: Comparator) -> npt.NDArray[np.str_]:
    """Each row's area: the first of the area columns that is not empty."""
    codes = np.full(table.num_rows, "", dtype=object)
    for column in reversed(mapping.areas):
        values = _text(table, column)
        codes = np.where(values != "", values, codes)
    return codes.astype(str)


def period_of(raw: object, fmt: PeriodFormat, ptype: PeriodType) -> Period:
    """The period a published file's period value names (ValueError when it names none)."""
    text = str(raw).strip()
    if fmt is PeriodFormat.YEAR_PAIR:
        if len(text) != 6 or not text.isdigit():
            raise ValueError(f"'{text}' is not written like 202324")
        text = f"{text[:4]}/{text[4:]}"
    elif fmt is PeriodFormat.YEAR_ENDING:
        if len(text) != 4 or not text.isdigit():
            raise ValueError(f"'{text}' is not a year")
        text = f"{int(text) - 1}/{int(text) % 100:02d}"
    return parse_period(text, ptype)


def _periods(table: pa.Table, source: str, mapping: Comparator, ptype: PeriodType
             ) -> list[Period | None]:
    column = mapping.period.column
    out: dict[object, Period | None] = {}
    for raw in set(table.column(column).to_pylist()):
        try:
            out[raw] = None if raw is None else period_of(raw, mapping.period.format, ptype)
        except ValueError as exc:
            raise UserError(f"Source '{source}': the period {raw!r} in column '{column}' does "
                            f"not fit its comparator's format '{mapping.period.format.value}' "
                            f"for a {ptype.value.replace('_', ' ')} ({exc}).") from None
    return [out[raw] for raw in table.column(column).to_pylist()]


def _shifted(period: Period, years: int) -> Period:
    start = period.start
    return period_containing(date(start.year + years, start.month, 1), period.type)


def _other_denominators(store: Store, mapping: Comparator, indicator: Indicator,
                        areas: ComparatorAreas) -> Mapping[tuple[str, str], float] | None:
    """(area, period label) -> the denominator another source publishes, shifted by the
    mapping's offset so that each row finds the one it divides by."""
    other = mapping.denominator
    if not isinstance(other, ComparatorDenominator):
        return None
    table = current_rows(store, other.source, [*mapping.areas, mapping.period.column,
                                               other.column])
    if table is None:
        raise UserError(f"The comparator of '{mapping.indicator}' divides by source "
                        f"'{other.source}', which has no data in the store; load it first.")
    table, codes = _in_areas(table, mapping, areas)
    ptype = mapping.period.type or indicator.period_type
    periods = _periods(table, other.source, mapping, ptype)
    shifted = {p: _shifted(p, -other.offset).label for p in set(periods) if p is not None}
    return {(code, shifted[period]): value for code, period, value in zip(
        codes.tolist(), periods, _floats(table, other.column).tolist(), strict=True)
        if period is not None}


def _in_areas(table: pa.Table, mapping: Comparator, areas: ComparatorAreas
              ) -> tuple[pa.Table, npt.NDArray[np.str_]]:
    """The rows for the comparator areas, and their area codes."""
    codes = _area_codes(table, mapping)
    wanted = np.isin(codes, list(areas.areas))
    return table.filter(pa.array(wanted)), codes[wanted]


def _mapped_rows(table: pa.Table, source: str, mapping: Comparator, indicator: Indicator,
                 areas: ComparatorAreas,
                 denominators: Mapping[tuple[str, str], float] | None) -> list[Row]:
    table, codes = _in_areas(table, mapping, areas)
    keep = _selected(table, mapping)
    table, codes = table.filter(pa.array(keep)), codes[keep]
    ptype = mapping.period.type or indicator.period_type
    periods = _periods(table, source, mapping, ptype)
    count = _floats(table, mapping.count)
    if denominators is None:
        denominator = _floats(table, mapping.denominator if isinstance(mapping.denominator, str)
                              else None)
    else:
        denominator = np.array([denominators.get((c, p.label), np.nan) if p else np.nan
                                for c, p in zip(codes.tolist(), periods, strict=True)])
    value, limits, how = _values(table, mapping, indicator, count, denominator)
    named = [source] + ([mapping.denominator.source] if isinstance(
        mapping.denominator, ComparatorDenominator) else [])
    method = f"published ({', '.join(named)}){how}"
    notes = _notes(table, mapping)
    rows: list[Row] = []
    for i, (code, period) in enumerate(zip(codes.tolist(), periods, strict=True)):
        if period is None:
            continue
        area_type, name, parent = areas.areas[code]
        rows.append({
            "indicator_id": indicator.id, "indicator_name": indicator.name, "area_code": code,
            "area_name": name, "area_type": area_type, "parent_code": parent,
            "period": period.label, "period_type": ptype.value, "period_start": period.start,
            "period_end": period.end, "breakdown": "all", "numerator": _number(count[i]),
            "denominator": _number(denominator[i]), "value": _number(value[i]),
            **{k: _number(v[i]) for k, v in limits.items()}, "method": method,
            "value_note": notes[i] or None, "suppressed": False,
        })
    return rows


def _values(table: pa.Table, mapping: Comparator, indicator: Indicator, count: Floats,
            denominator: Floats) -> tuple[Floats, dict[str, Floats], str]:
    """The published value and limits (scaled to the indicator's unit), or else those the
    engine would compute from count and denominator; and what the method column should add."""
    multiplier = MULTIPLIERS.get(indicator.unit)
    value = _floats(table, mapping.value) * mapping.scale
    names = ("lower_95", "upper_95", "lower_998", "upper_998")
    limits = {k: _floats(table, getattr(mapping, k)) * mapping.scale for k in names}
    how = ""
    if mapping.value is None and multiplier is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(denominator > 0, count / denominator * multiplier, np.nan)
        how = f"; value from count and denominator x {multiplier:g}"
    if mapping.lower_95 is None and multiplier is not None and mapping.count is not None:
        computed, method = _intervals(indicator.unit, count, denominator, multiplier)
        limits.update(computed)
        how += f"; intervals computed ({method})"
    return value, limits, how


def _intervals(unit: Unit, count: Floats, denominator: Floats, multiplier: float
               ) -> tuple[dict[str, Floats], str]:
    """95% and 99.8% limits from count and denominator on whole columns."""
    # A published count above its denominator (rounding) has no Wilson interval.
    with np.errstate(invalid="ignore"):
        usable = (count >= 0) & (denominator > 0) & (
            (unit is not Unit.PERCENT) | (count <= denominator))
    x, n = np.where(usable, count, np.nan), np.where(usable, denominator, np.nan)
    out: dict[str, Floats] = {}
    for level, suffix in ((0.95, "95"), (0.998, "998")):
        if unit is Unit.PERCENT:
            lower, upper = (v * multiplier for v in wilson(x, n, level))
        else:
            _, lower, upper = crude_rate(x, n, multiplier, level)
        out[f"lower_{suffix}"], out[f"upper_{suffix}"] = lower, upper
    return out, "Wilson score" if unit is Unit.PERCENT else "Byar's, exact Poisson below 10"


def _notes(table: pa.Table, mapping: Comparator) -> list[str]:
    """The published note, and why a published value is missing (its marker's reason)."""
    published = _text(table, mapping.note) if mapping.note is not None else None
    marker = next((f"{c}_note" for c in (mapping.value, mapping.count)
                   if c is not None and f"{c}_note" in table.column_names), None)
    reasons = _text(table, marker) if marker is not None else None
    notes: list[str] = []
    for i in range(table.num_rows):
        texts = [published[i]] if published is not None and published[i] else []
        if reasons is not None and reasons[i]:
            texts.append(f"published as {reasons[i]}")
        notes.append("; ".join(texts))
    return notes


def _number(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def compare_with_england(table: pa.Table, polarity: Mapping[str, str]) -> pa.Table:
    """Every borough and region row compared with England's value for the same indicator,
    period and breakdown (Fingertips' 95% interval method, by the indicator's polarity);
    localities and wards keep their comparison with the borough."""
    key = _keys(table)
    kind = np.asarray(table.column("area_type").to_pylist(), dtype=object)
    value = _floats(table, "value")
    england = {k: v for k, v, t in zip(key.tolist(), value.tolist(), kind.tolist(), strict=True)
               if t == "england"}
    rows = np.flatnonzero(np.isin(kind, COMPARED_WITH_ENGLAND)
                          & np.isin(key, list(england)))
    if not len(rows):
        return table
    benchmark = np.array([england[k] for k in key[rows].tolist()], dtype=np.float64)
    lower, upper = _floats(table, "lower_95")[rows], _floats(table, "upper_95")[rows]
    ids = np.asarray(table.column("indicator_id").to_pylist(), dtype=object)[rows]
    labels = np.empty(len(rows), dtype=object)
    for name in set(ids.tolist()):
        mine = ids == name
        labels[mine] = compare_to_benchmark(lower[mine], upper[mine], benchmark[mine],
                                            polarity.get(name, "no_judgement"), value[rows][mine])
    codes = np.asarray(table.column("benchmark_code").to_pylist(), dtype=object)
    compared = np.asarray(table.column("compared_to_benchmark").to_pylist(), dtype=object)
    codes[rows], compared[rows] = ENGLAND, labels
    table = _replace(table, "benchmark_code", codes)
    return _replace(table, "compared_to_benchmark", compared)


def _keys(table: pa.Table) -> npt.NDArray[np.str_]:
    parts: Sequence[str] = ("indicator_id", "period_type", "period", "breakdown")
    columns = [np.asarray(table.column(c).to_pylist(), dtype=object).astype(str) for c in parts]
    out = columns[0]
    for c in columns[1:]:
        out = np.char.add(np.char.add(out, "\x1f"), c)
    return out


def _replace(table: pa.Table, name: str, values: npt.NDArray[np.object_]) -> pa.Table:
    index = table.column_names.index(name)
    return table.set_column(index, name, pa.array(values.tolist(), table.schema.field(name).type))
