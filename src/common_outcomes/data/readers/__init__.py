"""Read a partner's data return (CSV, XLSX, Parquet or a CIN census XML) as Arrow tables,
never losing a row.

One module per file format (csv.py, xlsx.py, parquet.py, cin_census.py), each registered in
`FORMATS` below; base.py holds what they share. Adding a format is one module and one line
there. A file holding several tables (the CIN census) is read one table at a time: the
source's `Part` says which.

`inspect` looks at a file once (its format, encoding, hash and header) and refuses a file it
cannot read with a `ReadError`; `read_chunks` then streams its rows as `Chunk`s of a bounded
size. A CSV row with the wrong number of fields does not stop the read: it is set aside as a
`BadRow`, with its row number, and every other row still comes through.

Row numbers are *data row numbers*: row 1 is the first row after the header, whatever the
format. In a CSV a row is a record (a quoted value may span lines, and an empty line counts as
a row); in an XLSX it is the worksheet row, so data row N is what Excel shows as row N + 1.
Rows with no value at all are skipped, but they keep their number, so the rows of one chunk are
numbered `first_row`, `first_row + 1`, ... with no gaps; a chunk ends where a row was skipped
or set aside.

Nothing here prints, and a bad file only ever raises `ReadError` (pyarrow, openpyxl, zipfile and
codec errors are translated), so the caller can report it as one sentence.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa

from common_outcomes.data.readers.base import (
    BadRow,
    Chunk,
    FileFormat,
    FileInfo,
    Part,
    ReadError,
    Run,
    safe_name,
)
from common_outcomes.data.readers.cin_census import CinCensusFormat
from common_outcomes.data.readers.csv import CSV_BLOCK_BYTES, ENCODING_SNIFF_BYTES, CsvFormat
from common_outcomes.data.readers.parquet import ParquetFormat
from common_outcomes.data.readers.xlsx import XlsxFormat

__all__ = ["CSV_BLOCK_BYTES", "ENCODING_SNIFF_BYTES", "FORMATS", "BadRow", "Chunk", "FileFormat",
           "FileInfo", "Part", "ReadError", "inspect", "read_chunks", "safe_name"]

# The registry: every format a return can come in, in the order error messages list them.
FORMATS: tuple[FileFormat, ...] = (CsvFormat(), XlsxFormat(), ParquetFormat(),
                                   CinCensusFormat())

_BY_SUFFIX = {suffix: f for f in FORMATS for suffix in f.suffixes}
_BY_NAME = {f.name: f for f in FORMATS}
_NEAR = {suffix: hint for f in FORMATS for suffix, hint in f.near.items()}

log = logging.getLogger(__name__)


# --- inspect -----------------------------------------------------------------------------------


def inspect(path: Path, part: Part | None = None) -> FileInfo:
    """Check that `path` is a file we can read and return what it is; raise `ReadError` if not.
    `part` is the table a source takes from a file holding several (ignored for others)."""
    name = path.name
    if not safe_name(name):
        raise ReadError("file.unsafe-name", f"'{name}' is not a safe file name: give a plain "
                        "name without folders, '..', a drive or control characters.")
    fmt = _format_of(path)
    if not path.is_file():
        raise ReadError("file.missing", f"{name} does not exist or is not a file.")
    try:
        with path.open("rb") as fh:
            found = fmt.inspect(fh, path, name)
    except OSError as exc:
        raise ReadError("file.missing", f"{name} could not be opened "
                        f"({exc.strerror or exc}).") from exc
    columns = found.columns
    if fmt.tables:
        if part is None or part.table not in fmt.tables:
            raise ReadError("file.unsupported-format", f"{name} is a {fmt.name} file, which "
                            "holds several tables: load it for a source that adopts one of "
                            f"them (builtin: {fmt.name}/<table>, one of "
                            f"{', '.join(fmt.tables)}).")
        columns = fmt.tables[part.table]
    log.debug("inspected %s: %s, %d bytes, %d columns", name, fmt.name, found.size_bytes,
              len(columns))
    return FileInfo(path, name, fmt.name, found.encoding, found.sha256, found.size_bytes,
                    columns, part if fmt.tables else None)


def _format_of(path: Path) -> FileFormat:
    suffix = path.suffix.lower()
    if suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix]
    hint = f" ({_NEAR[suffix]})" if suffix in _NEAR else ""
    known = [s for f in FORMATS for s in f.suffixes]
    raise ReadError("file.unsupported-format", f"{path.name} is not a file type common-outcomes "
                    f"reads: use {', '.join(known[:-1])} or {known[-1]}{hint}.")


def _chunks(events: Iterable[Run | BadRow], chunk_rows: int,
            schema: pa.Schema) -> Iterator[Chunk]:
    """Runs regrouped into chunks of at most chunk_rows consecutive rows."""
    parts: list[pa.Table] = []
    first = next_row = 1
    size = 0
    bad: list[BadRow] = []

    def chunk() -> Chunk:
        table = pa.concat_tables(parts) if parts else schema.empty_table()
        return Chunk(table, first if parts else next_row, tuple(bad))

    for event in events:
        if isinstance(event, BadRow):
            bad.append(event)
            next_row = max(next_row, event.row + 1)
            continue
        if parts and event.first_row != first + size:
            yield chunk()
            parts, size, bad = [], 0, []
        offset = 0
        while offset < event.table.num_rows:
            if not parts:
                first = event.first_row + offset
            take = min(chunk_rows - size, event.table.num_rows - offset)
            parts.append(event.table.slice(offset, take))
            size += take
            offset += take
            next_row = max(next_row, first + size)
            if size == chunk_rows:
                yield chunk()
                parts, size, bad = [], 0, []
    if parts or bad:
        yield chunk()


# --- read_chunks -------------------------------------------------------------------------------


def read_chunks(info: FileInfo, chunk_rows: int = 100_000) -> Iterator[Chunk]:
    """Stream the file's rows in chunks of at most `chunk_rows` consecutive data rows.

    CSV and XLSX columns are strings (stripped; empty means null); Parquet keeps its types.
    Raises `ReadError` if the file cannot be read, or has changed since `inspect`.
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    try:
        fh = info.path.open("rb")
    except OSError as exc:
        raise ReadError("file.missing", f"{info.name} could not be opened "
                        f"({exc.strerror or exc}).") from exc
    with fh:
        if os.fstat(fh.fileno()).st_size != info.size_bytes:
            raise ReadError("file.changed", f"{info.name} changed after it was checked; load it "
                            "again.")
        fmt = _BY_NAME[info.format]
        # The format checks the bytes are those inspected (eagerly, or as it streams).
        events = fmt.events(fh, info, chunk_rows)
        yield from _chunks(events, chunk_rows, fmt.schema(fh, info))
