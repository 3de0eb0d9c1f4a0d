"""Everything common-outcomes writes for people to open in Excel: CSV and XLSX, made safe.

A cell whose text begins with "=", "+", "-", "@", a tab or a carriage return can run as a
formula when a spreadsheet program opens the file (CSV or formula injection). Following the
OWASP guidance (https://owasp.org/www-community/attacks/CSV_Injection), every such text cell
is prefixed with an apostrophe so it shows as text, and every CSV field is quoted. Numbers stay
numbers: a negative number is not text and is written as it is.

Both writers are atomic: they write a temporary file beside the target and move it into place,
so a reader never sees half a file and a failure leaves the old file as it was.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import IO, TYPE_CHECKING

# openpyxl is imported only when a workbook is written: it takes a tenth of a second to import,
# which `outcomes run` and `check` (which write none) would pay for nothing.
if TYPE_CHECKING:
    import re

    from openpyxl import Workbook
    from openpyxl.cell import Cell
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

# OWASP: the characters that make a spreadsheet program treat a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Excel's limits for one worksheet.
XLSX_MAX_ROWS = 1_048_576
XLSX_SHEET_NAME_MAX = 31
_SHEET_NAME_FORBIDDEN = set("[]:*?/\\")
_XLSX_TYPES = (int, float, Decimal, datetime, date, time, timedelta)


def neutralise(value: object) -> object:
    """A string that a spreadsheet would run as a formula, prefixed with "'"; else unchanged.

    OWASP CSV injection guidance: "=1+1" becomes "'=1+1", "-2" (text) becomes "'-2"; the
    number -2, None, dates and other non-strings are returned as they are.
    """
    return _neutral_text(value) if isinstance(value, str) else value


def _neutral_text(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Write a CSV for Excel: UTF-8 with a BOM (so accents survive), every field quoted."""
    with _atomic(path, ".csv") as fh, open(fh.fileno(), "w", encoding="utf-8-sig", newline="",
                                          closefd=False) as text:
        # QUOTE_ALL: a field that a semicolon-separated locale would split cannot start a
        # formula either (OWASP recommends quoting every field).
        writer = csv.writer(text, quoting=csv.QUOTE_ALL)
        writer.writerow([neutralise(h) for h in header])
        for row in rows:
            writer.writerow([neutralise(v) for v in row])


def write_xlsx(path: Path,
               sheets: Mapping[str, tuple[Sequence[str], Iterable[Sequence[object]]]]) -> None:
    """Write a workbook, one sheet per entry: header bold and frozen, text cells neutralised.

    Rows are streamed (openpyxl's write-only mode), so a large sheet is not held in memory.
    """
    from openpyxl import Workbook
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

    if not sheets:
        raise ValueError("a workbook needs at least one sheet")
    book = Workbook(write_only=True)
    try:
        for title, (header, rows) in sheets.items():
            sheet = book.create_sheet(_sheet_title(title))
            assert isinstance(sheet, WriteOnlyWorksheet)
            sheet.freeze_panes = "A2"
            sheet.append(list(_header_cells(sheet, header)))
            for count, row in enumerate(rows, start=2):
                if count > XLSX_MAX_ROWS:
                    raise ValueError(f"sheet {title!r} has more rows than Excel can open "
                                     f"({XLSX_MAX_ROWS:,})")
                sheet.append([_xlsx_value(v) for v in row])
    except BaseException:
        _discard(book)
        raise
    with _atomic(path, ".xlsx") as fh:
        book.save(fh)


def _discard(book: Workbook) -> None:
    """Close a write-only workbook that will not be saved, removing its spooled rows now.

    openpyxl spools each sheet's rows to a temporary file; left alone, the file stays until
    exit and its half-written stream complains when it is garbage-collected.
    """
    for sheet in book.worksheets:
        writer = getattr(sheet, "_writer", None)
        if writer is None:
            continue
        with suppress(Exception):
            sheet.close()
        with suppress(Exception):
            writer.cleanup()


def _header_cells(sheet: WriteOnlyWorksheet, header: Sequence[str]) -> Iterator[Cell]:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    bold = Font(bold=True)
    for name in header:
        cell = WriteOnlyCell(sheet, value=_xlsx_text(str(name)))
        cell.font = bold
        yield cell


def _xlsx_value(value: object) -> object:
    """A value openpyxl stores as data, never as a formula."""
    if value is None or isinstance(value, _XLSX_TYPES):  # bool is an int
        return value
    return _xlsx_text(str(value))


def _xlsx_text(text: str) -> str:
    # XML cannot hold most control characters; openpyxl would refuse the whole workbook.
    text = _illegal_characters().sub("\ufffd", text)
    return _neutral_text(text)


@cache
def _illegal_characters() -> re.Pattern[str]:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE


def _sheet_title(title: str) -> str:
    if not title or len(title) > XLSX_SHEET_NAME_MAX or set(title) & _SHEET_NAME_FORBIDDEN \
            or title.startswith("'") or title.endswith("'"):
        raise ValueError(f"{title!r} cannot be an Excel sheet name (1 to 31 characters, none "
                         "of []:*?/\\, not starting or ending with an apostrophe)")
    return title


@contextmanager
def _atomic(path: Path, suffix: str) -> Iterator[IO[bytes]]:
    """A temporary file beside `path`, flushed to disk and moved over it when all went well."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
