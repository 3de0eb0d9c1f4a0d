"""Rows of a return that are not this workspace's to load, found before anything is checked:
rows for other LAs (`la_filter`), and rows a multi-year extract repeats from earlier returns
(`latest_return`). Both are counted and reported at load, never loaded and never errors.

A multi-year SSDA903 extract holds each year's return whole, and a return lists every
episode open during its year, so an episode open for three years is there three times (its
end date only in the latest). Counting them all would count a child looked after three
times; for each record only the row from the latest return is kept (DfE builds its
published figures from the latest return likewise).

Councils also hold their returns as one file a year and load them one after another. A
year's file repeats the records still open from earlier years but not those that closed
before it, so a later file must not simply replace the earlier one's periods: under the rule,
a load merges the file with the source's current stored rows (`accumulate`), keeping for each
record the row from the latest return whichever was loaded first, so yearly files in any
order give the store one multi-year extract gives.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from common_outcomes.data.declarations import Identifier, LatestReturn, SourceDeclaration
from common_outcomes.data.readers import FileInfo, read_chunks
from common_outcomes.data.store import Store, StoreError
from common_outcomes.geography.reference import local_authorities


@dataclass(frozen=True)
class SetAside:
    """Which rows (data row numbers, sorted) are left out, and why."""

    rows: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    other_las: dict[str, int] = field(default_factory=dict)  # the LA as written -> rows
    rule: str | None = None  # the latest-return rule in words, if declared
    before: int = 0  # rows under the rule (the workspace's own)
    superseded: int = 0

    def in_chunk(self, first_row: int, n: int) -> npt.NDArray[np.bool_]:
        """Which of rows first_row .. first_row + n - 1 are set aside."""
        lo, hi = np.searchsorted(self.rows, [first_row, first_row + n])
        out = np.zeros(n, dtype=bool)
        out[self.rows[lo:hi] - first_row] = True
        return out

    def notes(self) -> list[str]:
        """One sentence for each reason rows were left out."""
        out: list[str] = []
        if self.other_las:
            total = sum(self.other_las.values())
            each = ", ".join(f"{la or '(empty)'}: {n:,}" for la, n in
                             sorted(self.other_las.items()))
            out.append(f"{total:,} rows for other LAs were not loaded ({each})")
        if self.rule is not None:
            out.append(f"latest return: {self.rule}; {self.before:,} rows before, "
                       f"{self.before - self.superseded:,} after ({self.superseded:,} "
                       "repeated from earlier returns not loaded)")
        return out


@cache
def la_codes_by_number() -> dict[str, str]:
    """DfE's old three-digit LA numbers to ONS codes, from the carried geography (the one
    lookup for LA filters and for columns declared with `la_code:`). Three numbers name both
    a former county (E10) and the unitary authority that replaced it under the same number
    (E06: Buckinghamshire 825, North Yorkshire 815, Somerset 933); the unitary's code is the
    one DfE's releases write now, so it is the one given."""
    out: dict[str, str] = {}
    for la in sorted(local_authorities(), key=lambda la: la.la_code, reverse=True):
        out[str(la.old_la_code)] = la.la_code  # E06 sorts before E10: it is written last
    return out


def own_la_codes(ons_code: str) -> frozenset[str]:
    """How a file may name the workspace's LA: its ONS code or DfE's old three-digit number
    (the lookup above read backwards, as DfE's own extracts write it)."""
    numbers = {number for number, code in la_codes_by_number().items() if code == ons_code}
    return frozenset({ons_code.upper(), *numbers})


def _text(table: pa.Table, name: str) -> pa.Array:
    values = pc.cast(table.column(name).combine_chunks(), pa.string())
    return pc.fill_null(pc.utf8_trim_whitespace(values), "")


def _repeats(decl: SourceDeclaration, info: FileInfo) -> bool:
    """Whether one file can hold several returns of a record: only with the rule's year
    column, and not in a file of several tables (a CIN census is one year's)."""
    rule = decl.latest_return
    return rule is not None and rule.year in info.columns and info.part is None


def set_aside(decl: SourceDeclaration, info: FileInfo, borough: str | None,
              chunk_rows: int) -> SetAside:
    """Read the file once for the LA and latest-return columns (a record's latest return
    may come after it in the file). Raises ReadError as read_chunks does."""
    if decl.la_filter is None and not _repeats(decl, info):
        return SetAside()
    if decl.la_filter is not None and borough is None:
        raise ValueError(f"{decl.id} filters by LA, so the load needs the workspace's LA")
    own = own_la_codes(borough) if borough is not None else frozenset()
    other: Counter[str] = Counter()
    aside: list[npt.NDArray[np.int64]] = []
    keys: list[pa.Array] = []
    years: list[pa.Array] = []
    numbers: list[npt.NDArray[np.int64]] = []
    rule = decl.latest_return if _repeats(decl, info) else None
    key = (rule.key or decl.key) if rule else ()
    for chunk in read_chunks(info, chunk_rows):
        table = chunk.table
        rows = np.arange(chunk.first_row, chunk.first_row + table.num_rows, dtype=np.int64)
        if decl.la_filter is not None:
            la = _text(table, decl.la_filter)
            ours = np.asarray(pc.is_in(pc.utf8_upper(la), value_set=pa.array(sorted(own)))
                              .to_numpy(zero_copy_only=False), dtype=bool)
            other.update(pc.filter(la, pa.array(~ours)).to_pylist())
            aside.append(rows[~ours])
            table, rows = table.filter(pa.array(ours)), rows[ours]
        if rule is not None:
            parts = [_text(table, k) for k in key]
            keys.append(parts[0] if len(parts) == 1
                        else pc.binary_join_element_wise(*parts, "\x1f"))
            year = _text(table, rule.year)
            shaped = pc.match_substring_regex(year, r"^\d{4}$")
            # A year that is not one is left to the column's check (value.not-integer).
            years.append(pc.cast(pc.if_else(shaped, year, pa.scalar(None, pa.string())),
                                 pa.int64()))
            numbers.append(rows)
    superseded = 0
    before = 0
    if rule is not None and keys:
        t = pa.table({"k": pa.concat_arrays(keys), "y": pa.concat_arrays(years),
                      "row": np.concatenate(numbers)})
        before = t.num_rows
        latest = t.group_by("k").aggregate([("y", "max")])
        joined = t.join(latest, "k")
        older = joined.filter(pc.less(joined.column("y"), joined.column("y_max")))
        superseded = older.num_rows
        aside.append(older.column("row").to_numpy())
    found = np.unique(np.concatenate(aside)) if aside else np.zeros(0, np.int64)
    words = (f"for each {', '.join(key)} only the row from the latest {rule.year} is kept"
             if rule is not None else None)
    return SetAside(found.astype(np.int64), dict(other), words, before, superseded)


# --- yearly files: each load merges with the stored returns ------------------------------------


class NoReturnYear(ValueError):
    """A file without the year column whose name does not give the year: one sentence."""


def file_year(rule: LatestReturn | None, name: str, header: Iterable[str]) -> int | None:
    """The collection year to fill in for a file without the rule's year column (from
    `file_year`), or None when the file has the column or the rule gives no file year."""
    if rule is None or rule.file_year is None or rule.year in header:
        return None
    if isinstance(rule.file_year, int):
        return rule.file_year
    found = re.search(rule.file_year, name)
    text = found.group(1) if found else None
    if text is None or not text.isdigit() or not 1900 < int(text) < 2200:
        raise NoReturnYear(
            f"{name} has no {rule.year} column and its name does not give the collection year "
            f"(latest_return's file_year '{rule.file_year}' finds no year in it); name the "
            f"file as the pattern expects (say with _2024) or add a {rule.year} column")
    return int(text)


def stored_key(decl: SourceDeclaration) -> tuple[str, ...]:
    """The rule's key columns as the store names them: identifiers are compared as their
    pseudonyms (the same value, the same pseudonym under one key)."""
    if decl.latest_return is None:
        return ()
    names = []
    for name in decl.latest_return.key or decl.key:
        column = decl.column(name)
        kind = column.identifier if column is not None else None
        pseudonymised = kind in (Identifier.NHS_NUMBER, Identifier.UPN, Identifier.CASE_ID)
        names.append(f"{name}_pseudonym" if pseudonymised else name)
    return tuple(names)


@dataclass(frozen=True)
class Merged:
    """What a load under the latest-return rule did with the stored rows."""

    kept: int  # stored rows carried into the new version
    superseded: int  # stored rows replaced by this file's (a later or the same return)
    older: int  # this file's rows older than the stored return of the same record, dropped
    periods: tuple[str, ...]  # every period the stored rows were current for
    versions: tuple[str, ...]  # the versions they came from

    def message(self) -> str:
        return (f"; kept {self.kept:,} rows from earlier returns, {self.superseded:,} "
                "superseded by this one"
                + (f", {self.older:,} of its rows older than the stored returns not loaded"
                   if self.older else ""))


def _keys(table: pa.Table, names: tuple[str, ...]) -> pa.Array:
    parts = [pc.cast(table.column(n).combine_chunks(), pa.string()) for n in names]
    return parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "\x1f")


def _years(table: pa.Table, name: str) -> pa.Array:
    if name not in table.column_names:
        return pa.nulls(table.num_rows, pa.int64())  # stored before the rule: the oldest
    return pc.cast(table.column(name).combine_chunks(), pa.int64())


def _conform(table: pa.Table, schema: pa.Schema, source: str) -> pa.Table:
    """Stored rows in this load's columns: a column the declaration no longer has is left
    out, one it added is empty."""
    columns = []
    for f in schema:
        if f.name not in table.column_names:
            columns.append(pa.nulls(table.num_rows, f.type))
            continue
        try:
            columns.append(pc.cast(table.column(f.name), f.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise StoreError(
                f"The stored rows of {source} hold {f.name} as {table.schema.field(f.name).type}"
                f", which the declaration now makes {f.type}, so they cannot be merged with "
                "this file; restore the column's type, or roll the source back and load every "
                "year's file again") from None
    return pa.Table.from_arrays(columns, schema=schema)


def accumulate(decl: SourceDeclaration, store: Store, data_dir: Path,
               linkage_dir: Path) -> Merged | None:
    """Merge the staged parts of a load (data_dir, linkage_dir: part-NNNNN.parquet, their
    rows aligned) with the source's current stored rows: for each record (the rule's key, as
    stored) the row from the latest return is kept, this file's on a tie (a resubmission).
    Stored rows kept are copied into the staged version (carried-NNNNN.parquet), this file's
    rows that lose are dropped from its parts (and their linkage). The raw identifiers of the
    rows carried stay in the linkage of the version they came in, deleted on its schedule:
    copying them would keep them longer than agreed. None when nothing is stored. Raises
    StoreError when the stored rows cannot take this load's columns."""
    rule = decl.latest_return
    current = store.current_files(decl.id)
    if rule is None or not current:
        return None
    names = stored_key(decl)
    new_parts = sorted(data_dir.glob("part-*.parquet"))
    schema = pq.read_schema(new_parts[0])
    frames: list[pa.Table] = []
    for src, parts in ((1, [(p, None) for p in new_parts]),
                       (0, [(c.path, c) for c in current])):
        for number, (path, part) in enumerate(parts):
            present = set(pq.read_schema(path).names)
            t = pq.read_table(path, columns=[n for n in (*names, rule.year, "period")
                                             if n in present])
            if part is not None:
                here = pc.is_in(t.column("period"), value_set=pa.array(part.periods, pa.string()))
            else:
                here = pa.array(np.ones(t.num_rows, bool))
            if all(n in t.column_names for n in names):
                keys = _keys(t, names)
            else:  # stored under another key: such a row matches nothing, and is kept
                keys = pa.nulls(t.num_rows, pa.string())
            rows = np.arange(t.num_rows)
            if keys.null_count:  # each its own record
                keys = pc.if_else(pc.is_null(keys), pa.array(
                    [f"\x00{src}.{number}.{r}" for r in rows], pa.string()), keys)
            frames.append(pa.table({"k": keys, "y": _years(t, rule.year),
                                    "src": pa.array(np.full(t.num_rows, src, np.int8)),
                                    "part": pa.array(np.full(t.num_rows, number, np.int64)),
                                    "row": pa.array(rows, pa.int64())}).filter(here))
    rows = pa.concat_tables(frames)
    # A row without a year (stored before the rule) is older than any return.
    rows = rows.set_column(1, "y", pc.fill_null(rows.column("y"), -1))
    ranked = rows.take(pc.sort_indices(rows, [("k", "ascending"), ("y", "descending"),
                                              ("src", "descending")]))
    keys = ranked.column("k").to_numpy(zero_copy_only=False)
    first = np.ones(len(keys), bool)
    first[1:] = keys[1:] != keys[:-1]
    src = ranked.column("src").to_numpy()
    part = ranked.column("part").to_numpy()
    row = ranked.column("row").to_numpy()
    new, old = src == 1, src == 0
    _rewrite(new_parts, part[new & first], row[new & first], data_dir, linkage_dir)
    carried = 0
    for number, c in enumerate(current):
        wins = row[old & first & (part == number)]
        if not len(wins):
            continue
        mask = np.zeros(pq.read_metadata(c.path).num_rows, bool)
        mask[wins] = True
        kept = _conform(pq.read_table(c.path).filter(pa.array(mask)), schema, decl.id)
        pq.write_table(kept, data_dir / f"carried-{number:05d}.parquet", compression="zstd")
        carried += len(wins)
    periods = sorted({p for c in current for p in c.periods})
    return Merged(carried, int((old & ~first).sum()), int((new & ~first).sum()),
                  tuple(periods), tuple(sorted({c.version_id for c in current})))


def _rewrite(parts: list[Path], part: npt.NDArray[np.int64], row: npt.NDArray[np.int64],
             data_dir: Path, linkage_dir: Path) -> None:
    """Keep in each staged part (and its linkage) only the rows listed."""
    for number, path in enumerate(parts):
        keep = row[part == number]
        n = pq.read_metadata(path).num_rows
        if len(keep) == n:
            continue
        mask = np.zeros(n, bool)
        mask[keep] = True
        for folder in (data_dir, linkage_dir):
            target = folder / path.name
            if target.exists():
                pq.write_table(pq.read_table(target).filter(pa.array(mask)), target,
                               compression="zstd")
