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
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from itertools import pairwise
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
from common_outcomes.data.load import RELEASE, period_order
from common_outcomes.data.store import CurrentPart, Store, open_store
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


@dataclass(frozen=True)
class Revision:
    """A published figure a newer release of the same publication revised."""

    indicator: str
    area_code: str
    area_name: str
    period: str
    old_value: float | None
    old_release: str
    new_value: float | None
    new_release: str

    def sentence(self) -> str:
        """E.g. "children-looked-after-rate, England 2022/23: 69 (release 2024 of
        dfe-cla-2024, cla_2024.csv) revised to 70 (release 2025 of dfe-cla, cla_2025.csv)"."""
        return (f"{self.indicator}, {self.area_name} {self.period}: "
                f"{_shown(self.old_value)} ({self.old_release}) revised to "
                f"{_shown(self.new_value)} ({self.new_release})")


@dataclass(frozen=True)
class Comparators:
    """The results with published comparator rows, and the revisions newer releases made."""

    table: pa.Table
    revisions: tuple[Revision, ...]


def add_comparators(results: pa.Table, folder: Path, sources: Mapping[str, SourceDeclaration],
                    indicators: Mapping[str, Indicator], la_code: str) -> pa.Table:
    """The results with published comparator rows appended and every borough and region
    compared with England (the finish step of `outcomes run`, before tracking)."""
    return with_comparators(results, folder, sources, indicators, la_code).table


def with_comparators(results: pa.Table, folder: Path,
                     sources: Mapping[str, SourceDeclaration],
                     indicators: Mapping[str, Indicator], la_code: str) -> Comparators:
    """As add_comparators, with the revisions newer releases made to older ones' figures."""
    shadows = ("indicator_id", "area_code", "period_type", "period")
    computed = set(zip(*(results.column(c).to_pylist() for c in shadows), strict=True))
    published, revisions = published_table(folder, sources, indicators, la_code,
                                           results.schema)
    keep = [key not in computed for key in zip(
        *(published.column(c).to_pylist() for c in shadows), strict=True)]
    table = pa.concat_tables([results, published.filter(pa.array(keep, pa.bool_()))])
    polarity = {i.id: i.polarity.value for i in indicators.values()}
    return Comparators(compare_with_england(table, polarity), tuple(revisions))


@dataclass(frozen=True)
class _Release:
    """One stored file of a comparator source: a release of its publication."""

    publication: str
    source: str
    file: str
    label: str  # the store period: "release 2025", or "all" for a source without releases
    order: tuple[object, ...]

    def named(self) -> str:
        what = self.label if self.label.startswith(RELEASE) else "the file"
        return f"{what} of {self.source}, {self.file}"


def _releases(store: Store, decl: SourceDeclaration, columns: Sequence[str]
              ) -> list[tuple[_Release, pa.Table]]:
    """Each current file of a source with its rows (the columns named), oldest release
    first: by the latest period it covers, then its declared publication date, then when
    it was loaded."""
    out = []
    by_version: dict[str, list[CurrentPart]] = {}
    for part in store.current_files(decl.id):
        by_version.setdefault(part.version_id, []).append(part)
    for version_id, parts in by_version.items():
        manifest = store.version(version_id).manifest
        label = parts[0].periods[0] if parts[0].periods else "all"
        latest = label[len(RELEASE):] if label.startswith(RELEASE) else ""
        published = decl.release.published if decl.release and decl.release.published else None
        release = _Release(
            (decl.release.publication if decl.release else None) or decl.id, decl.id,
            manifest.file_name, label,
            (period_order(latest), published.isoformat() if published else "",
             manifest.loaded_at, version_id))
        out.append((release, _read_parts(parts, columns)))
    return sorted(out, key=lambda found: found[0].order)


def published_table(folder: Path, sources: Mapping[str, SourceDeclaration],
                    indicators: Mapping[str, Indicator], la_code: str, schema: pa.Schema
                    ) -> tuple[pa.Table, tuple[Revision, ...]]:
    """`published_rows` as a table, with the revisions newer releases made, kept in
    .outcomes/results/comparators between runs: reading published files and computing their
    intervals is most of an unchanged run's time. Keyed by everything they depend on (the
    current parts of every source they read, which name their versions, and those sources'
    declarations; the indicators, the borough, the schema and the release), so a load, a
    rollback or an edited declaration computes them again."""
    store = open_store(folder)
    mapped = [d.id for d in sources.values() if d.comparators]
    read = sorted({*mapped, *(m.denominator.source for s in mapped
                              for m in sources[s].comparators
                              if isinstance(m.denominator, ComparatorDenominator))})
    parts = {s: [(str(p.path), p.periods) for p in store.current_files(s)] for s in read}
    used = sorted({m.indicator for s in mapped for m in sources[s].comparators})
    key = hashlib.sha256(repr((__version__, parts, [sources[s] for s in read],
                               [indicators[i] for i in used], la_code, schema.to_string())
                              ).encode()).hexdigest()[:32]
    cache = folder / COMPARATORS
    rows_file, revisions_file = cache / f"{key}.parquet", cache / f"{key}.json"
    if rows_file.is_file() and revisions_file.is_file():
        said = json.loads(revisions_file.read_text(encoding="utf-8"))
        return pq.read_table(rows_file), tuple(Revision(**r) for r in said)
    revisions: list[Revision] = []
    rows = published_rows(store, sources, indicators, comparator_areas(la_code), revisions)
    table = pa.Table.from_pylist(rows, schema=schema)
    for stale in [*cache.glob("*.parquet"), *cache.glob("*.json")] if cache.is_dir() else []:
        stale.unlink()  # what inputs that no longer exist gave
    write(rows_file, table)
    _write_text(revisions_file, json.dumps([asdict(r) for r in revisions]))
    return table, tuple(revisions)


def _write_text(path: Path, text: str) -> None:
    """Written whole or not at all (the rows are read back only beside their revisions)."""
    fd, temp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def published_rows(store: Store, sources: Mapping[str, SourceDeclaration],
                   indicators: Mapping[str, Indicator], areas: ComparatorAreas,
                   revisions: list[Revision] | None = None) -> list[Row]:
    """Result rows for the comparator areas from every mapped source in the store. Where
    releases of one publication give a figure for the same area and period, the newest
    release's is used and the others are added to `revisions` when they differ."""
    found: dict[tuple[str, str, str, str], list[tuple[_Release, Row]]] = {}
    for decl in sources.values():
        for mapping in decl.comparators:
            indicator = indicators[mapping.indicator]  # outcomes check guarantees it
            releases = _releases(store, decl, [c for _, c in mapping.named_columns()])
            if not releases:
                break  # declared, not loaded yet
            denominators = _other_denominators(store, mapping, indicator, areas)
            for release, table in releases:
                for row in _mapped_rows(table, decl.id, mapping, indicator, areas,
                                        denominators):
                    key = (mapping.indicator, str(row["area_code"]), str(row["period_type"]),
                           str(row["period"]))
                    found.setdefault(key, []).append((release, row))
    return [_newest(given, revisions) for given in found.values()]


def _newest(given: list[tuple[_Release, Row]], revisions: list[Revision] | None) -> Row:
    """The figure of the newest release among those given for one indicator, area and
    period; two differing figures from one release, or from two publications, stop."""
    first = given[0][1]
    what = (f"'{first['indicator_id']}' for {first['area_name']} ({first['area_code']}) in "
            f"{first['period']}")
    for release, row in given[1:]:
        earlier = next(((r, w) for r, w in given if r.publication != release.publication),
                       None)
        if earlier is not None and earlier[1]["value"] != row["value"]:
            raise UserError(
                f"Two publications give {what} different values: {_shown(earlier[1]['value'])}"
                f" from {earlier[0].named()}, and {_shown(row['value'])} from "
                f"{release.named()}; if they are releases of one publication, give both "
                f"sources 'release: {{publication: {earlier[0].publication}}}' so that the "
                "newer supersedes the older, otherwise map the indicator in only one of them.")
    for (one, a), (two, b) in pairwise(given):
        if one == two and a["value"] != b["value"]:
            raise UserError(
                f"The comparator of source '{one.source}' gives {what} two values in one "
                f"release ({one.file}: {_shown(a['value'])} and {_shown(b['value'])}): it "
                "matches two rows of the file; narrow it with 'where' or 'exclude' (on the "
                "column that tells the rows apart, such as a breakdown).")
    newest, row = max(given, key=lambda found: found[0].order)
    if revisions is not None:
        seen: set[object] = set()
        for release, older in given:
            if release != newest and older["value"] != row["value"] and release not in seen:
                seen.add(release)
                revisions.append(Revision(
                    str(row["indicator_id"]), str(row["area_code"]), str(row["area_name"]),
                    str(row["period"]), _value(older), release.named(), _value(row),
                    newest.named()))
    return row


def _value(row: Row) -> float | None:
    value = row["value"]
    return float(value) if isinstance(value, int | float) else None


def _shown(value: object) -> str:
    return "no value" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _read_parts(parts: Sequence[CurrentPart], columns: Sequence[str]) -> pa.Table:
    tables = []
    for part in parts:
        present = set(pq.read_schema(part.path).names)
        wanted = {*columns, *(f"{c}_note" for c in columns), "period"} & present
        table = pq.read_table(part.path, columns=sorted(wanted))
        tables.append(table.filter(pc.is_in(table.column("period"),
                                            pa.array(part.periods, pa.string()))))
    return pa.concat_tables(tables, promote_options="default")


def current_rows(store: Store, source: str, columns: Sequence[str]) -> pa.Table | None:
    """The rows of a source that are current in the store (each part only for its periods):
    the columns named, with the notes of those that have published markers; releases in
    order, oldest first, so that a lookup built from them keeps the newest."""
    parts = sorted(store.current_files(source), key=lambda p: (
        period_order(p.periods[0][len(RELEASE):]) if p.periods and p.periods[0].startswith(
            RELEASE) else (0, 0.0, ""), store.version(p.version_id).manifest.loaded_at))
    return _read_parts(parts, columns) if parts else None


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
