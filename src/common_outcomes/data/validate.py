"""Checking a chunk of a partner's file against its source declaration, lazily.

Every failing cell is reported with its row number, column, (masked) value and a stable
reason code; nothing stops at the first problem. The checks are vectorised over Arrow arrays:
a return can hold millions of rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from common_outcomes.data.declarations import Column, ColumnType, Identifier, SourceDeclaration
from common_outcomes.data.protect import mask
from common_outcomes.data.returns import la_codes_by_number
from common_outcomes.identifiers import UPN_UNKNOWN, is_valid_upn

ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    ColumnType.STRING: pa.string(), ColumnType.INTEGER: pa.int64(),
    ColumnType.NUMBER: pa.float64(), ColumnType.DATE: pa.date32()}
_INTEGER = r"^-?\d+$"
_NUMBER = r"^-?(\d+\.?\d*|\.\d+)$"
# Text that a spreadsheet would run as a formula (OWASP CSV injection).
_FORMULA = r"^[=@]|^[+\-][^\d.\s]"
# A time of day after a date, as database extracts write a datetime: SQL Server
# "2017-09-11 00:00:00.000" (datetime2: up to seven decimals), PostgreSQL "2017-09-11 00:00:00",
# ISO "2017-09-11T00:00:00". The column holds a date, so the time is dropped. A time zone is
# refused: a date kept as UTC midnight would be a day out once shifted.
_TIME = re.compile(r"^(?P<date>\S.*?)[ T](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,7})?)?$")


@dataclass(frozen=True)
class Problem:
    """One failing cell (or row, when `column` is None)."""

    row: int
    column: str | None
    value: str
    code: str
    message: str


@dataclass
class Checked:
    """A chunk after checking: typed values, which rows fail, and why."""

    columns: dict[str, pa.Array]
    bad: npt.NDArray[np.bool_]
    problems: list[Problem] = field(default_factory=list)


def as_text(values: pa.Array) -> pa.Array:
    """A column as text, as a CSV would have written it (dates as ISO dates)."""
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return values
    if pa.types.is_date(values.type) or pa.types.is_timestamp(values.type):
        return pc.strftime(values, format="%Y-%m-%d")
    return pc.cast(values, pa.string())


def _flag(checked: Checked, where: npt.NDArray[np.bool_], raw: pa.Array, first_row: int,
          col: Column, code: str, message: str) -> None:
    rows = np.flatnonzero(where)
    if len(rows) == 0:
        return
    checked.bad[rows] = True
    identifier = col.identifier.value if col.identifier else None
    values = pc.take(raw, pa.array(rows)).to_pylist()
    checked.problems.extend(
        Problem(int(first_row + r), col.name, mask(None if v is None else str(v), identifier),
                code, message)
        for r, v in zip(rows, values, strict=True)
    )


def _mask(array: pa.Array) -> npt.NDArray[np.bool_]:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def parse_date(value: str, formats: Iterable[str]) -> tuple[date, str] | None:
    """The date a value holds and the format that read it (a time of day after the date is
    dropped), or None; `outcomes declare` reports the formats a file uses from this too."""
    timed = _TIME.match(value)
    if timed is not None:
        value = timed.group("date")
    for fmt in formats:
        try:
            return datetime.strptime(value, fmt).date(), fmt
        except ValueError:
            continue
    return None


def _parse_dates(text: pa.Array, formats: Iterable[str]) -> pa.Array:
    """Dates parsed strictly, once per distinct value (Arrow's strptime would quietly turn
    31 February into 2 March; Python's refuses it)."""
    formats = tuple(formats)
    distinct = pc.unique(text).drop_null()
    read = (parse_date(v, formats) for v in distinct.to_pylist())
    parsed = pa.array([None if r is None else r[0] for r in read], pa.date32())
    return pc.take(parsed, pc.index_in(text, value_set=distinct))


def _nhs_valid(text: pa.Array) -> npt.NDArray[np.bool_]:
    """Ten digits with a correct Modulus 11 check digit, vectorised."""
    clean = pc.replace_substring_regex(text, pattern=r"[\s-]", replacement="")
    shape = _mask(pc.match_substring_regex(clean, r"^\d{10}$"))
    digits = np.zeros((len(text), 10), dtype=np.int64)
    ok = np.flatnonzero(shape)
    if len(ok):
        raw = np.array(pc.take(clean, pa.array(ok)).to_pylist(), dtype="U10")
        digits[ok] = raw.view(np.uint32).reshape(len(ok), 10).astype(np.int64) - ord("0")
    check = 11 - (digits[:, :9] @ np.arange(10, 1, -1)) % 11
    check = np.where(check == 11, 0, check)
    valid: npt.NDArray[np.bool_] = shape & (check != 10) & (check == digits[:, 9])
    return valid


def _upn_valid(text: pa.Array) -> npt.NDArray[np.bool_]:
    distinct = pc.unique(text).drop_null()
    good = pa.array([v for v in distinct.to_pylist() if is_valid_upn(v)], pa.string())
    return _mask(pc.is_in(text, value_set=good))


def check_column(checked: Checked, col: Column, raw: pa.Array, first_row: int) -> None:
    """Check one declared column of a chunk; record the typed values."""
    text = pc.utf8_trim_whitespace(as_text(raw))
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    if col.values:
        # Raw codes to declared ones, before anything is checked.
        found = pc.index_in(text, value_set=pa.array(list(col.values), pa.string()))
        mapped = pc.take(pa.array(list(col.values.values()), pa.string()), found)
        text = pc.if_else(pc.is_valid(found), mapped, text)
    if col.markers:
        # A published marker is a reason, not a value: keep the reason, null the value.
        codes = pa.array(list(col.markers), pa.string())
        reasons = pa.array(list(col.markers.values()), pa.string())
        checked.columns[f"{col.name}_note"] = pc.take(reasons, pc.index_in(text, codes))
        text = pc.if_else(pc.is_in(text, value_set=codes), pa.scalar(None, pa.string()), text)
    present = _mask(pc.is_valid(text))
    if col.required:
        _flag(checked, ~present, text, first_row, col, "value.missing",
              f"{col.name} is required")
    typed: pa.Array = text
    if col.type is ColumnType.INTEGER or col.type is ColumnType.NUMBER:
        pattern = _INTEGER if col.type is ColumnType.INTEGER else _NUMBER
        native = pa.types.is_integer(raw.type) or pa.types.is_floating(raw.type)
        shaped = present if native else _mask(pc.match_substring_regex(text, pattern))
        code = "value.not-integer" if col.type is ColumnType.INTEGER else "value.not-number"
        _flag(checked, present & ~shaped, text, first_row, col, code,
              f"{col.name} must be {'a whole number' if code.endswith('integer') else 'a number'}")
        keep = pc.if_else(pa.array(shaped), text, pa.scalar(None, pa.string()))
        typed = pc.cast(keep, pa.int64() if col.type is ColumnType.INTEGER else pa.float64())
        number = np.asarray(pc.fill_null(pc.cast(typed, pa.float64()), np.nan).to_numpy(
            zero_copy_only=False))
        with np.errstate(invalid="ignore"):
            low = (number < col.minimum) if col.minimum is not None else np.zeros(len(text), bool)
            high = (number > col.maximum) if col.maximum is not None else np.zeros(len(text), bool)
        _flag(checked, low | high, text, first_row, col, "value.out-of-range",
              f"{col.name} must be between {col.minimum:g} and {col.maximum:g}"
              if col.minimum is not None and col.maximum is not None
              else f"{col.name} is out of range")
    elif col.type is ColumnType.DATE:
        typed = (pc.cast(raw, pa.date32()) if pa.types.is_date(raw.type)
                 else _parse_dates(text, col.date_formats))
        _flag(checked, present & ~_mask(pc.is_valid(typed)), text, first_row, col,
              "value.bad-date", f"{col.name} is not a date in a known format "
                                f"({', '.join(col.date_formats)}; a time of day after the "
                                "date is allowed, without a time zone)")
    if col.codes:
        allowed = _mask(pc.is_in(text, value_set=pa.array(col.codes, pa.string())))
        _flag(checked, present & ~allowed, text, first_row, col, "value.not-in-code-list",
              f"{col.name} must be one of {', '.join(col.codes)}")
    if col.identifier is Identifier.NHS_NUMBER:
        _flag(checked, present & ~_nhs_valid(text), text, first_row, col,
              "value.invalid-nhs-number", f"{col.name} is not a valid NHS number")
    elif col.identifier is Identifier.UPN:
        # A "UPN unknown" code is an answer, not an error: the child's UPN is missing.
        unknown = _mask(pc.is_in(text, value_set=pa.array(sorted(UPN_UNKNOWN), pa.string())))
        _flag(checked, present & ~unknown & ~_upn_valid(text), text, first_row, col,
              "value.invalid-upn", f"{col.name} is not a valid UPN")
        typed = pc.if_else(pa.array(unknown), pa.scalar(None, pa.string()), typed)
    elif col.type is ColumnType.STRING and col.identifier is None:
        _flag(checked, _mask(pc.match_substring_regex(text, _FORMULA)), text, first_row, col,
              "value.formula-like", f"{col.name} starts like a spreadsheet formula")
    if col.la_code:
        numbers = la_codes_by_number()
        codes = pc.take(pa.array(list(numbers.values()), pa.string()),
                        pc.index_in(text, value_set=pa.array(list(numbers), pa.string())))
        _flag(checked, present & ~_mask(pc.is_valid(codes)), text, first_row, col,
              "value.unknown-la-number", f"{col.name} is not one of DfE's three-digit LA "
              "numbers (geography/las.csv); correct it, or declare the column without la_code")
        checked.columns[col.la_code] = codes
    checked.columns[col.name] = typed


class SeenKeys:
    """The keys of every row so far, as sorted runs of 64-bit hashes.

    Compact (8 bytes a row: 400 MB for 50 million rows, where a Python set would take several
    GB) and fast: runs double in size as they merge (as in a log-structured merge tree), so a
    file of n rows costs O(n log n) in all, not a re-sort of everything per chunk. Two
    different keys share a 64-bit hash with odds of about 1 in 10,000 in a 50-million-row
    file; such a row would be reported as a duplicate, never lost silently.
    """

    def __init__(self) -> None:
        self._runs: list[npt.NDArray[np.int64]] = []

    def add(self, keys: list[str]) -> npt.NDArray[np.bool_]:
        """Which of these keys were seen before (earlier in this chunk or in earlier ones)."""
        hashes = np.fromiter(map(hash, keys), dtype=np.int64, count=len(keys))
        # Look up sorted needles: memory is then walked in order, many times faster.
        order = np.argsort(hashes, kind="stable")
        needles = hashes[order]
        found = np.zeros(len(keys), dtype=bool)
        for run in self._runs:
            at = np.minimum(np.searchsorted(run, needles), len(run) - 1)
            found |= run[at] == needles
        before = np.empty(len(keys), dtype=bool)
        before[order] = found
        distinct, first = np.unique(hashes, return_index=True)
        repeated = np.ones(len(keys), dtype=bool)
        repeated[first] = False
        run = distinct
        while self._runs and len(self._runs[-1]) <= 2 * len(run):
            run = np.concatenate([self._runs.pop(), run])
            run.sort(kind="stable")  # two sorted runs: timsort merges them in linear time
        self._runs.append(run)
        result: npt.NDArray[np.bool_] = before | repeated
        return result


def check_chunk(decl: SourceDeclaration, table: pa.Table, first_row: int,
                seen_keys: SeenKeys) -> Checked:
    """Every declared column, then uniqueness of the key across the whole file so far."""
    checked = Checked({}, np.zeros(table.num_rows, dtype=bool))
    for col in decl.columns:
        if col.name in table.column_names:
            check_column(checked, col, table.column(col.name).combine_chunks(), first_row)
        else:
            # An optional column the file does not have (the header check let it through).
            checked.columns[col.name] = pa.nulls(table.num_rows, ARROW_TYPES[col.type])
            if col.markers:
                checked.columns[f"{col.name}_note"] = pa.nulls(table.num_rows, pa.string())
            if col.la_code:
                checked.columns[col.la_code] = pa.nulls(table.num_rows, pa.string())
    if decl.key and all(k in table.column_names for k in decl.key):
        parts = [pc.fill_null(as_text(table.column(k).combine_chunks()), "") for k in decl.key]
        joined = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "\x1f")
        for i in np.flatnonzero(seen_keys.add(joined.to_pylist())):
            checked.bad[i] = True
            checked.problems.append(Problem(first_row + int(i), None, "", "row.duplicate-key",
                                            f"a row with the same {', '.join(decl.key)} "
                                            "came earlier in the file"))
    return checked
