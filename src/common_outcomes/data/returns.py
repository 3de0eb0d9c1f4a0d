"""Rows of a return that are not this workspace's to load, found before anything is checked:
rows for other LAs (`la_filter`), and rows a multi-year extract repeats from earlier returns
(`latest_return`). Both are counted and reported at load, never loaded and never errors.

A multi-year SSDA903 extract holds each year's return whole, and a return lists every
episode open during its year, so an episode open for three years is there three times (its
end date only in the latest). Counting them all would count a child looked after three
times; for each record only the row from the latest return is kept (DfE builds its
published figures from the latest return likewise).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from common_outcomes.data.declarations import SourceDeclaration
from common_outcomes.data.readers import FileInfo, read_chunks
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
    (from the carried geography, as DfE's own extracts write it)."""
    numbers = {str(la.old_la_code) for la in local_authorities() if la.la_code == ons_code}
    return frozenset({ons_code.upper(), *numbers})


def _text(table: pa.Table, name: str) -> pa.Array:
    values = pc.cast(table.column(name).combine_chunks(), pa.string())
    return pc.fill_null(pc.utf8_trim_whitespace(values), "")


def set_aside(decl: SourceDeclaration, info: FileInfo, borough: str | None,
              chunk_rows: int) -> SetAside:
    """Read the file once for the LA and latest-return columns (a record's latest return
    may come after it in the file). Raises ReadError as read_chunks does."""
    if decl.la_filter is None and decl.latest_return is None:
        return SetAside()
    if decl.la_filter is not None and borough is None:
        raise ValueError(f"{decl.id} filters by LA, so the load needs the workspace's LA")
    own = own_la_codes(borough) if borough is not None else frozenset()
    other: Counter[str] = Counter()
    aside: list[npt.NDArray[np.int64]] = []
    keys: list[pa.Array] = []
    years: list[pa.Array] = []
    numbers: list[npt.NDArray[np.int64]] = []
    rule = decl.latest_return
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
