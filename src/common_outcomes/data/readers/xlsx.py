"""XLSX: the first worksheet of a workbook, each cell as the analyst sees it.

A row is the worksheet row, so data row N is what Excel shows as row N + 1. The zip's
directory is checked before openpyxl opens it (a zip bomb is refused unopened).
"""

from __future__ import annotations

import zipfile
from collections.abc import Generator, Iterator, Mapping
from contextlib import closing
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import IO, Any

import pyarrow as pa

from common_outcomes.data.readers.base import (
    BadRow,
    FileInfo,
    ReadError,
    Run,
    SeekableFormat,
    check_columns,
    drop_blank,
    tidy,
)

# XLSX: limits checked on the zip's directory before openpyxl opens it (zip bombs).
XLSX_MAX_UNCOMPRESSED_BYTES = 200 << 20
XLSX_MAX_COMPRESSION_RATIO = 100
# Small members (styles, a short sheet of blanks) compress far better than 100:1 and are
# harmless, so the ratio is only checked on members that would expand beyond this.
XLSX_RATIO_CHECK_FROM_BYTES = 1 << 20



class XlsxFormat(SeekableFormat):
    """An Excel workbook (.xlsx); older and look-alike formats are named with what to do."""

    name: str = "xlsx"
    suffixes: tuple[str, ...] = (".xlsx",)
    near: Mapping[str, str] = MappingProxyType(dict.fromkeys(
        (".xls", ".xlsm", ".xlsb", ".ods"), "save it from Excel as .xlsx"))
    tables: Mapping[str, tuple[str, ...]] = MappingProxyType({})

    def header(self, fh: IO[bytes], name: str) -> tuple[str, ...]:
        return _xlsx_inspect(fh, name)

    def rows(self, fh: IO[bytes], info: FileInfo, chunk_rows: int) -> Iterator[Run | BadRow]:
        return _xlsx_events(fh, info, chunk_rows)


def _xlsx_guard(fh: IO[bytes], name: str) -> None:
    """Refuse a zip that is not one, or that would expand too far (a zip bomb)."""
    try:
        with zipfile.ZipFile(fh) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise ReadError("xlsx.corrupt", f"{name} is not a valid .xlsx workbook (it may be "
                        "password-protected, or an older .xls renamed).") from exc
    total = sum(m.file_size for m in members)
    if total > XLSX_MAX_UNCOMPRESSED_BYTES:
        raise ReadError("xlsx.too-large", f"{name} would expand to {total >> 20} MiB, more than "
                        f"the {XLSX_MAX_UNCOMPRESSED_BYTES >> 20} MiB allowed; save it as CSV.")
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > XLSX_RATIO_CHECK_FROM_BYTES and ratio > XLSX_MAX_COMPRESSION_RATIO:
            raise ReadError("xlsx.too-large", f"{name} holds a part compressed {ratio:.0f} to 1, "
                            "more than a real workbook; it was not opened.")
    fh.seek(0)


def _xlsx_rows(fh: IO[bytes], name: str) -> Generator[tuple[Any, ...], None, None]:
    """The first worksheet's rows as values, every worksheet row (blank ones as ())."""
    import openpyxl  # here: a tenth of a second to import, for XLSX returns only

    _xlsx_guard(fh, name)
    try:
        # data_only: a formula's cached value, which is what the analyst sees.
        book = openpyxl.load_workbook(fh, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise _xlsx_corrupt(name, None) from exc
    try:
        if not book.worksheets:
            raise ReadError("file.empty", f"{name} has no worksheet.")
        sheet = book.worksheets[0]
        # The stored dimensions can be wrong; without them rows come back as long as they are.
        sheet.reset_dimensions()
        rows = sheet.iter_rows(values_only=True)
        number = 0
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except Exception as exc:
                raise _xlsx_corrupt(name, number) from exc
            number += 1
            yield row
    finally:
        book.close()


def _xlsx_corrupt(name: str, after_row: int | None) -> ReadError:
    where = "" if after_row is None else f" after worksheet row {after_row}"
    return ReadError("xlsx.corrupt", f"{name} is damaged{where} and could not be read as a "
                     "workbook.")


def _xlsx_inspect(fh: IO[bytes], name: str) -> tuple[str, ...]:
    rows = _xlsx_rows(fh, name)
    with closing(rows):
        header = next(rows, None)
        if header is None:
            raise ReadError("file.empty", f"{name} has nothing in its first worksheet.")
        columns = _xlsx_header(header, name)
        for row in rows:
            if any(_cell_text(v) is not None for v in row):
                return columns
    raise ReadError("file.empty", f"{name} has a header but no rows of data.")


def _xlsx_header(row: tuple[Any, ...], name: str) -> tuple[str, ...]:
    names = [_cell_text(v) or "" for v in row]
    while names and not names[-1]:
        names.pop()
    return check_columns(names, name)


def _xlsx_events(fh: IO[bytes], info: FileInfo, chunk_rows: int) -> Iterator[Run | BadRow]:
    rows = _xlsx_rows(fh, info.name)
    width = len(info.columns)
    with closing(rows):
        header = next(rows, None)
        if header is None or _xlsx_header(header, info.name) != info.columns:
            raise ReadError("file.changed", f"The header of {info.name} changed after it was "
                            "checked; load it again.")
        values: list[list[str | None]] = [[] for _ in range(width)]
        first = 1
        for number, row in enumerate(rows, start=1):
            texts = [_cell_text(v) for v in row]
            while texts and texts[-1] is None:
                texts.pop()
            if len(texts) > width:
                from openpyxl.utils import get_column_letter  # see _xlsx_rows

                yield from _xlsx_run(values, first, info.columns)
                values, first = [[] for _ in range(width)], number + 1
                yield BadRow(number, "xlsx.ragged-row",
                             f"Row {number} of {info.name} has a value in column "
                             f"{get_column_letter(len(texts))}, which has no header; it was set "
                             "aside.")
                continue
            texts.extend([None] * (width - len(texts)))
            for column, text in zip(values, texts, strict=True):
                column.append(text)
            if len(values[0]) == chunk_rows:
                yield from _xlsx_run(values, first, info.columns)
                values, first = [[] for _ in range(width)], number + 1
        yield from _xlsx_run(values, first, info.columns)


def _xlsx_run(values: list[list[str | None]], first: int,
              columns: tuple[str, ...]) -> Iterator[Run]:
    if values and values[0]:
        arrays = [pa.array(v, type=pa.string()) for v in values]
        yield from drop_blank(Run(first, tidy(pa.Table.from_arrays(arrays,
                                                                       names=list(columns)))))


def _cell_text(value: object) -> str | None:
    """A cell as the analyst sees it: 12 not 12.0, dates as yyyy-mm-dd, TRUE/FALSE."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    text = str(value).strip()
    return text or None


def _number_text(value: float) -> str:
    """Excel shows at most 15 significant digits, in plain notation for ordinary numbers."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if value == 0:
        return "0"
    return format(Decimal(f"{value:.15g}"), "f")
