"""Read a partner's data return (CSV, XLSX or Parquet) as Arrow tables, never losing a row.

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

import atexit
import codecs
import hashlib
import io
import os
import re
import secrets
import weakref
import zipfile
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import openpyxl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from openpyxl.utils import get_column_letter

Format = Literal["csv", "xlsx", "parquet"]

FORMATS: dict[str, Format] = {".csv": "csv", ".xlsx": "xlsx", ".parquet": "parquet"}

# CSV: the encoding is decided on this much of the file; all of it is then checked to decode.
ENCODING_SNIFF_BYTES = 4 << 20
# CSV: pyarrow parses blocks of this size and reads a few dozen ahead, so this bounds memory;
# no single row may be longer than about one block.
CSV_BLOCK_BYTES = 1 << 20
# XLSX: limits checked on the zip's directory before openpyxl opens it (zip bombs).
XLSX_MAX_UNCOMPRESSED_BYTES = 200 << 20
XLSX_MAX_COMPRESSION_RATIO = 100
# Small members (styles, a short sheet of blanks) compress far better than 100:1 and are
# harmless, so the ratio is only checked on members that would expand beyond this.
XLSX_RATIO_CHECK_FROM_BYTES = 1 << 20

_HASH_BLOCK = 1 << 20
_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# Bytes that Windows-1252 leaves undefined (Python's codec refuses them).
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                    *(f"LPT{i}" for i in range(1, 10))}


class ReadError(Exception):
    """A file that cannot be read: a stable `code`, one plain sentence, the row if known."""

    def __init__(self, code: str, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.row = row


@dataclass(frozen=True)
class FileInfo:
    """What `inspect` found; `read_chunks` refuses the file if its bytes have changed since."""

    path: Path
    name: str
    format: Format
    encoding: str | None  # CSV only: "utf-8", "utf-8-sig" or "windows-1252"
    sha256: str
    size_bytes: int
    columns: tuple[str, ...]


@dataclass(frozen=True)
class BadRow:
    """A row set aside rather than read (its values are never repeated: they may be personal)."""

    row: int
    code: str
    message: str


@dataclass(frozen=True)
class Chunk:
    """Consecutive rows: `table` row i is data row `first_row + i` (row 1 follows the header).

    `bad_rows` are the rows set aside since the previous chunk; they are not in any table. The
    last chunk may have an empty table and only bad rows.
    """

    table: pa.Table
    first_row: int
    bad_rows: tuple[BadRow, ...] = ()


# --- names -------------------------------------------------------------------------------------


def safe_name(name: str) -> bool:
    """True for a plain file name: no folders, no '..', no drive or device, no control codes."""
    if not name or name.strip(". ") == "":
        return False
    if any(c in name for c in "/\\:") or any(ord(c) < 32 or ord(c) == 127 for c in name):
        return False
    return name.split(".", 1)[0].strip().upper() not in _WINDOWS_DEVICES


# --- inspect -----------------------------------------------------------------------------------


def inspect(path: Path) -> FileInfo:
    """Check that `path` is a file we can read and return what it is; raise `ReadError` if not."""
    name = path.name
    if not safe_name(name):
        raise ReadError("file.unsafe-name", f"'{name}' is not a safe file name: give a plain "
                        "name without folders, '..', a drive or control characters.")
    fmt = _format_of(path)
    if not path.is_file():
        raise ReadError("file.missing", f"{name} does not exist or is not a file.")
    try:
        with path.open("rb") as fh:
            if fmt == "csv":
                encoding, sha, size = _scan_csv(fh, name)
                columns = _csv_header(path, encoding, name)
                _require_csv_rows(path, encoding, columns, name)
                return FileInfo(path, name, fmt, encoding, sha, size, columns)
            sha, size = _hash(fh, name)
            fh.seek(0)
            inspect_format = _xlsx_inspect if fmt == "xlsx" else _parquet_inspect
            columns = inspect_format(fh, name)
            return FileInfo(path, name, fmt, None, sha, size, columns)
    except OSError as exc:
        raise ReadError("file.missing", f"{name} could not be opened "
                        f"({exc.strerror or exc}).") from exc


def _format_of(path: Path) -> Format:
    suffix = path.suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    hint = " (save it from Excel as .xlsx)" if suffix in {".xls", ".xlsm", ".xlsb", ".ods"} \
        else ""
    raise ReadError("file.unsupported-format", f"{path.name} is not a file type common-outcomes "
                    f"reads: use .csv, .xlsx or .parquet{hint}.")


def _hash(fh: IO[bytes], name: str) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    while block := fh.read(_HASH_BLOCK):
        sha.update(block)
        size += len(block)
    if size == 0:
        raise ReadError("file.empty", f"{name} is empty.")
    return sha.hexdigest(), size


def _check_columns(names: list[str], name: str) -> tuple[str, ...]:
    """Header names stripped; blank or duplicate names (ignoring case) refuse the file."""
    columns = [n.strip() for n in names]
    if not any(columns):
        raise ReadError("file.bad-header", f"The first row of {name} is empty; it must hold the "
                        "column names.")
    for i, column in enumerate(columns, start=1):
        if not column:
            raise ReadError("file.bad-header", f"Column {i} of {name} has no name in the header.")
    seen: dict[str, str] = {}
    for column in columns:
        # Case-insensitive: stores and spreadsheets often treat 'ID' and 'id' as one column.
        key = column.casefold()
        if key in seen:
            raise ReadError("file.bad-header", f"The header of {name} names the column "
                            f"'{column}' twice" + ("." if seen[key] == column else
                                                   f" (as '{seen[key]}' and '{column}')."))
        seen[key] = column
    return tuple(columns)


# --- CSV: encoding -----------------------------------------------------------------------------


def _scan_csv(fh: IO[bytes], name: str) -> tuple[str, str, int]:
    """One streaming pass: decide the encoding, check every byte decodes, hash the file."""
    head = fh.read(ENCODING_SNIFF_BYTES)
    if not head:
        raise ReadError("file.empty", f"{name} is empty.")
    encoding = _detect_encoding(head, len(head) < ENCODING_SNIFF_BYTES, name)
    sha = hashlib.sha256(head)
    check = _DecodeCheck(encoding, name)
    check.feed(head)
    size = len(head)
    while block := fh.read(_HASH_BLOCK):
        sha.update(block)
        check.feed(block)
        size += len(block)
    check.finish()
    return encoding, sha.hexdigest(), size


def _detect_encoding(head: bytes, whole: bool, name: str) -> str:
    if head.startswith(_UTF8_BOM):
        return "utf-8-sig"
    # "þÿ" is a UTF-16 mark too, in Windows-1252; real UTF-16 text is full of NUL bytes.
    if head.startswith(_UTF16_BOMS) and b"\x00" in head[:256]:
        raise ReadError("file.encoding", f"{name} is saved as UTF-16; save it again as "
                        "'CSV UTF-8'.", row=None)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=whole)
    except UnicodeDecodeError:
        return "windows-1252"
    return "utf-8"


class _DecodeCheck:
    """Feeds the file through the chosen codec and names the line of the first bad byte."""

    def __init__(self, encoding: str, name: str) -> None:
        self.encoding = encoding
        self.name = name
        self.lines = 0  # newlines seen in earlier blocks
        self.utf8 = codecs.getincrementaldecoder("utf-8")() if encoding != "windows-1252" \
            else None

    def feed(self, block: bytes) -> None:
        if self.utf8 is None:
            bad = _CP1252_UNDEFINED.search(block)
            if bad:
                line = self.lines + block.count(b"\n", 0, bad.start()) + 1
                self._fail(f"line {line} has the byte 0x{block[bad.start()]:02X}, which neither "
                           "uses")
        else:
            pending = self.utf8.getstate()[0]
            try:
                self.utf8.decode(block)
            except UnicodeDecodeError as exc:
                # The decoder's offsets count its few pending bytes from the previous block.
                data = pending + block
                line = self.lines + data.count(b"\n", 0, exc.start) + 1
                self._fail(f"line {line} has bytes that are not UTF-8")
        self.lines += block.count(b"\n")

    def finish(self) -> None:
        if self.utf8 is not None:
            try:
                self.utf8.decode(b"", final=True)
            except UnicodeDecodeError:
                self._fail(f"line {self.lines + 1} ends in a character cut short")

    def _fail(self, problem: str) -> None:
        start = "is neither UTF-8 nor Windows-1252" if self.encoding == "windows-1252" \
            else "reads as UTF-8 but"
        raise ReadError("file.encoding", f"{self.name} {start}: {problem}; save it again as "
                        "'CSV UTF-8'.")


# --- CSV: parsing ------------------------------------------------------------------------------


class _Source(io.RawIOBase):
    """What pyarrow reads: the file as UTF-8, then one extra line, the end marker.

    It hashes the bytes it reads, so the rows come from the very bytes that were checked. It
    also decodes Windows-1252 itself: pyarrow would call Python's codec from its own reading
    thread, which can hang the interpreter at exit if a read is abandoned part-way; this class
    can be stopped instead (see `_csv_reader`).

    The marker shows where the file really ended: if it comes back as its own row, every
    quote was closed; if it comes back inside a value, a quote opened in that row never closed
    (pyarrow would otherwise read the rest of the file into that value without complaint).
    """

    def __init__(self, fh: IO[bytes], encoding: str, marker: str) -> None:
        super().__init__()
        self._fh = fh
        self._cp1252 = encoding == "windows-1252"
        self._pending = b""
        self._tail = b"\n" + marker.encode("ascii")
        self._stopped = False
        self.sha = hashlib.sha256()
        self.reader: Any = None  # the pyarrow reader reading this source

    def readable(self) -> bool:
        return True

    def stop(self) -> None:
        """From now on, read as the end of the file."""
        self._stopped = True

    def readinto(self, buffer: Any) -> int:
        if self._stopped:
            return 0
        # Fill the buffer: pyarrow reads the header from the first read alone, so a short
        # read (the file's last bytes without the marker) would look like a file without rows.
        view = memoryview(buffer).cast("B")
        while len(self._pending) < len(view) and self._tail:
            raw = self._fh.read(len(view))
            self.sha.update(raw)
            if not raw:
                raw, self._tail = self._tail, b""
            elif self._cp1252:
                raw = raw.decode("cp1252").encode("utf-8")
            self._pending += raw
        data, self._pending = self._pending[:len(view)], self._pending[len(view):]
        view[:len(data)] = data
        return len(data)


@dataclass(frozen=True)
class _Run:
    """Rows numbered first_row, first_row + 1, ... (data row numbers)."""

    first_row: int
    table: pa.Table


def _csv_options(width: int | None, handler: Any) -> tuple[Any, Any, Any]:
    read = pa_csv.ReadOptions(
        # _Source hands pyarrow UTF-8 (pyarrow skips a UTF-8 BOM itself).
        encoding="utf8",
        block_size=CSV_BLOCK_BYTES,
        # The header is read as a row, so it is parsed exactly like the data.
        autogenerate_column_names=True,
        # Serial parsing is what gives the invalid-row handler the row's number.
        use_threads=False,
    )
    parse = pa_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False,
                                invalid_row_handler=handler)
    types = {} if width is None else {f"f{i}": pa.string() for i in range(width)}
    # Only an empty field is null: "NA", "NULL" and the like are values the partner wrote.
    convert = pa_csv.ConvertOptions(column_types=types, strings_can_be_null=True,
                                    null_values=[""], quoted_strings_can_be_null=True)
    return read, parse, convert


def _arrow_failure(exc: BaseException, name: str, after_row: int) -> ReadError:
    text = str(exc)
    if "straddling" in text:
        return ReadError("csv.row-too-long", f"{name} has a row longer than "
                         f"{CSV_BLOCK_BYTES >> 20} MiB after row {after_row}; the usual cause "
                         "is a quote that is never closed.")
    if isinstance(exc, UnicodeDecodeError):
        return ReadError("file.encoding", f"{name} has bytes after row {after_row} that are not "
                         "in its encoding; save it again as 'CSV UTF-8'.")
    return ReadError("csv.malformed", f"{name} could not be read as CSV after row {after_row}.")


_ARROW_ERRORS = (pa.ArrowException, UnicodeDecodeError, OSError, ValueError)


@contextmanager
def _csv_reader(fh: IO[bytes], encoding: str, width: int | None, handler: Any, marker: str,
                name: str) -> Iterator[tuple[Any, _Source]]:
    """pyarrow's streaming reader over `fh`; stopped and drained however the caller leaves.

    pyarrow reads ahead on a thread of its own, calling back into `_Source`; if the
    interpreter exits during such a call it crashes or hangs. Stopping the source and draining
    the reader ends that thread's work; readers still open at exit are drained then.
    """
    source = _Source(fh, encoding, marker)
    _OPEN_SOURCES.add(source)
    try:
        try:
            source.reader = pa_csv.open_csv(source, *_csv_options(width, handler))
        except _ARROW_ERRORS as exc:
            raise _arrow_failure(exc, name, 0) from exc
        yield source.reader, source
    finally:
        _drain(source)


def _drain(source: _Source) -> None:
    source.stop()
    _OPEN_SOURCES.discard(source)
    while source.reader is not None:
        try:
            source.reader.read_next_batch()
        except (StopIteration, *_ARROW_ERRORS):
            source.reader = None  # after an error pyarrow's reader is finished too


_OPEN_SOURCES: weakref.WeakSet[_Source] = weakref.WeakSet()


@atexit.register
def _drain_open_sources() -> None:
    # A read_chunks generator left suspended (say, in a traceback) is only closed during
    # interpreter shutdown, too late for pyarrow's thread: drain it while Python still runs.
    for source in list(_OPEN_SOURCES):
        _drain(source)


def _csv_header(path: Path, encoding: str, name: str) -> tuple[str, ...]:
    # Twice: once for the number of columns, then with every column typed as text (pyarrow
    # would otherwise guess types from the first block, and a header "007" would become 7).
    width = None
    marker = _marker()
    for _ in range(2):
        with path.open("rb") as fh, \
                _csv_reader(fh, encoding, width, _skip, marker, name) as (reader, _):
            width = len(reader.schema)
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                raise ReadError("file.empty", f"{name} has no rows.") from None
            except _ARROW_ERRORS as exc:
                raise _arrow_failure(exc, name, 0) from exc
    names = [batch.column(i)[0].as_py() or "" for i in range(batch.num_columns)]
    if names == [marker]:
        raise ReadError("file.empty", f"{name} has no rows.")
    return _check_columns(names, name)


def _skip(row: Any) -> str:
    return "skip"


def _require_csv_rows(path: Path, encoding: str, columns: tuple[str, ...], name: str) -> None:
    with path.open("rb") as fh:
        for event in _csv_events(fh, encoding, columns, name):
            if isinstance(event, BadRow) or event.table.num_rows:
                return
    raise ReadError("file.empty", f"{name} has a header but no rows of data.")


class _CsvNumbering:
    """Gives pyarrow's good rows their numbers, from the rows its handler set aside.

    pyarrow numbers rows from 1 at the header and reports each row it skips with its number;
    because blocks are parsed in order, every skipped row up to the end of a batch has been
    reported by the time the batch arrives, so the good rows are the numbers in between.
    """

    def __init__(self, width: int, marker: str, name: str) -> None:
        self.width = width
        self.marker = marker
        self.name = name
        self.next = 1  # pyarrow's number for the next good row
        self.skipped: deque[tuple[int, BadRow | None]] = deque()

    def handler(self, row: Any) -> str:
        number = int(row.number or 0)
        text = row.text or ""
        if text == self.marker or not text.strip():
            self.skipped.append((number, None))  # the end marker, or a line of spaces
        elif self.marker in text:
            self.skipped.append((number, self._unclosed(number)))
        else:
            self.skipped.append((number, BadRow(
                number - 1, "csv.ragged-row",
                f"Row {number - 1} of {self.name} has {row.actual_columns} fields where the "
                f"header has {row.expected_columns}; it was set aside.")))
        return "skip"

    def _unclosed(self, number: int) -> BadRow:
        return BadRow(number - 1, "csv.unclosed-quote",
                      f"Row {number - 1} of {self.name} opens a quoted value that never closes, "
                      "so everything from there to the end of the file was set aside; the file "
                      "may be cut short or have a stray quote.")

    def batch(self, table: pa.Table) -> list[_Run | BadRow]:
        events: list[_Run | BadRow] = []
        offset = 0
        while True:
            while self.skipped and self.skipped[0][0] <= self.next:
                _, bad = self.skipped.popleft()
                if bad is not None:
                    events.append(bad)
                self.next += 1
            if offset >= table.num_rows:
                break
            room = table.num_rows - offset
            if self.skipped:
                room = min(room, self.skipped[0][0] - self.next)
            events.append(_Run(self.next - 1, table.slice(offset, room)))
            offset += room
            self.next += room
        return self._end_marker(events)

    def _end_marker(self, events: list[_Run | BadRow]) -> list[_Run | BadRow]:
        """Take the end marker (or a value that swallowed it) off the batch's last row."""
        runs = [e for e in events if isinstance(e, _Run)]
        if not runs:
            return events
        last = runs[-1]
        row = last.table.num_rows - 1
        values = [last.table.column(i)[row].as_py() for i in range(self.width)]
        if not any(isinstance(v, str) and self.marker in v for v in values):
            return events
        trimmed = _Run(last.first_row, last.table.slice(0, row))
        events[events.index(last)] = trimmed
        if values != [self.marker]:  # a one-column file's marker comes back as a good row
            events.append(self._unclosed(last.first_row + row + 1))
        return events

    def finish(self) -> list[BadRow]:
        return [bad for _, bad in self.skipped if bad is not None]


def _csv_events(fh: IO[bytes], encoding: str, columns: tuple[str, ...], name: str,
                sha256: str | None = None) -> Iterator[_Run | BadRow]:
    """The file's rows as numbered runs (the header dropped) and the rows set aside.

    With `sha256`, raises `ReadError` at the end if the bytes streamed were not those bytes.
    """
    marker = _marker()
    numbering = _CsvNumbering(len(columns), marker, name)
    with _csv_reader(fh, encoding, len(columns), numbering.handler, marker,
                     name) as (reader, source):
        if len(reader.schema) != len(columns):
            raise ReadError("file.changed", f"The header of {name} changed after it was "
                            "checked; load it again.")
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except _ARROW_ERRORS as exc:
                raise _arrow_failure(exc, name, max(numbering.next - 2, 0)) from exc
            table = pa.Table.from_batches([batch]).rename_columns(list(columns))
            for event in numbering.batch(table):
                if isinstance(event, BadRow):
                    yield event
                    continue
                if event.first_row == 0:  # pyarrow's row 1 is the header
                    event = _Run(1, event.table.slice(1))
                yield from _drop_blank(_Run(event.first_row, _tidy(event.table)))
        yield from numbering.finish()
        if sha256 is not None and source.sha.hexdigest() != sha256:
            raise ReadError("file.changed", f"{name} changed after it was checked; load it "
                            "again.")


def _marker() -> str:
    # Random, so that no partner's data can contain it; NULs keep it off any real line.
    return f"\x00common-outcomes:end-of-file:{secrets.token_hex(8)}\x00"


# --- shared row handling -----------------------------------------------------------------------


def _tidy(table: pa.Table) -> pa.Table:
    """Strings stripped of surrounding whitespace; an empty string becomes null."""
    columns = []
    for column in table.columns:
        trimmed = pc.utf8_trim_whitespace(column)
        columns.append(pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed))
    return pa.Table.from_arrays(columns, names=table.column_names)


def _drop_blank(run: _Run) -> Iterator[_Run]:
    """The run without rows that have no value at all, split where those rows were."""
    table = run.table
    if table.num_rows == 0:
        return
    filled = pc.is_valid(table.column(0))
    for column in table.columns[1:]:
        filled = pc.or_(filled, pc.is_valid(column))
    keep = np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.int8)
    if keep.all():
        yield run
        return
    edges = np.flatnonzero(np.diff(np.concatenate(([0], keep, [0]))))
    for start, end in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        yield _Run(run.first_row + start, table.slice(start, end - start))


def _chunks(events: Iterable[_Run | BadRow], chunk_rows: int,
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


def _same_bytes(sha: str, info: FileInfo) -> None:
    """The bytes read must be the bytes inspected: the store records the inspected hash."""
    if sha != info.sha256:
        raise ReadError("file.changed", f"{info.name} changed after it was checked; load it "
                        "again.")


# --- XLSX --------------------------------------------------------------------------------------


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
    return _check_columns(names, name)


def _xlsx_events(fh: IO[bytes], info: FileInfo, chunk_rows: int) -> Iterator[_Run | BadRow]:
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
              columns: tuple[str, ...]) -> Iterator[_Run]:
    if values and values[0]:
        arrays = [pa.array(v, type=pa.string()) for v in values]
        yield from _drop_blank(_Run(first, _tidy(pa.Table.from_arrays(arrays,
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


# --- Parquet -----------------------------------------------------------------------------------


def _parquet_inspect(fh: IO[bytes], name: str) -> tuple[str, ...]:
    try:
        parquet = pq.ParquetFile(fh)
        names = list(parquet.schema_arrow.names)
        rows = int(parquet.metadata.num_rows)
    except _ARROW_ERRORS as exc:
        raise ReadError("parquet.corrupt", f"{name} is not a readable Parquet file.") from exc
    if rows == 0 or not names:
        raise ReadError("file.empty", f"{name} has no rows of data.")
    return _check_columns(names, name)


def _parquet_events(fh: IO[bytes], info: FileInfo, chunk_rows: int) -> Iterator[_Run]:
    first = 1
    try:
        parquet = pq.ParquetFile(fh)
        batches = parquet.iter_batches(batch_size=chunk_rows)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            table = pa.Table.from_batches([batch]).rename_columns(list(info.columns))
            yield _Run(first, table)
            first += table.num_rows
    except _ARROW_ERRORS as exc:
        raise ReadError("parquet.corrupt", f"{info.name} is damaged after row {first - 1} and "
                        "could not be read.", row=first) from exc


def _schema(info: FileInfo, fh: IO[bytes]) -> pa.Schema:
    if info.format != "parquet":
        return pa.schema([(c, pa.string()) for c in info.columns])
    try:
        schema = pq.ParquetFile(fh).schema_arrow
    except _ARROW_ERRORS as exc:
        raise ReadError("parquet.corrupt", f"{info.name} is not a readable Parquet file.") \
            from exc
    fh.seek(0)
    return pa.schema([field.with_name(c) for field, c in zip(schema, info.columns, strict=True)])


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
        if info.format == "csv":
            events = _csv_events(fh, info.encoding or "utf-8", info.columns, info.name,
                                 info.sha256)
        else:
            # Random-access formats: hash the very file handle that is then read.
            _same_bytes(_hash(fh, info.name)[0], info)
            fh.seek(0)
            events = (_xlsx_events(fh, info, chunk_rows) if info.format == "xlsx"
                      else _parquet_events(fh, info, chunk_rows))
        yield from _chunks(events, chunk_rows, _schema(info, fh))
