"""CSV: the encoding decided and checked, rows parsed by pyarrow, a ragged row set aside.

In a CSV a row is a record (a quoted value may span lines, and an empty line counts as a row).
A row with the wrong number of fields does not stop the read: it is set aside as a `BadRow`,
with its row number, and every other row still comes through.
"""

from __future__ import annotations

import atexit
import codecs
import hashlib
import io
import re
import secrets
import weakref
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pa_csv

from common_outcomes.data.readers.base import (
    ARROW_ERRORS,
    HASH_BLOCK,
    BadRow,
    FileInfo,
    Inspected,
    ReadError,
    Run,
    check_columns,
    drop_blank,
    text_schema,
    tidy,
)

# CSV: the encoding is decided on this much of the file; all of it is then checked to decode.
ENCODING_SNIFF_BYTES = 4 << 20
# CSV: pyarrow parses blocks of this size and reads a few dozen ahead, so this bounds memory;
# no single row may be longer than about one block.
CSV_BLOCK_BYTES = 1 << 20

_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# Bytes that Windows-1252 leaves undefined (Python's codec refuses them).
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")


class CsvFormat:
    """Comma-separated text, UTF-8 (with or without a BOM) or Windows-1252."""

    name: str = "csv"
    suffixes: tuple[str, ...] = (".csv",)
    near: Mapping[str, str] = MappingProxyType({})
    tables: Mapping[str, tuple[str, ...]] = MappingProxyType({})

    def inspect(self, fh: IO[bytes], path: Path, name: str) -> Inspected:
        encoding, sha, size = _scan_csv(fh, name)
        columns = _csv_header(path, encoding, name)
        _require_csv_rows(path, encoding, columns, name)
        return Inspected(encoding, sha, size, columns)

    def events(self, fh: IO[bytes], info: FileInfo, chunk_rows: int) -> Iterator[Run | BadRow]:
        # Hashed as it streams: the rows come from the very bytes that were checked.
        return _csv_events(fh, info.encoding or "utf-8", info.columns, info.name, info.sha256)

    def schema(self, fh: IO[bytes], info: FileInfo) -> pa.Schema:
        return text_schema(info)


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
    while block := fh.read(HASH_BLOCK):
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
        except ARROW_ERRORS as exc:
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
        except (StopIteration, *ARROW_ERRORS):
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
            except ARROW_ERRORS as exc:
                raise _arrow_failure(exc, name, 0) from exc
    names = [batch.column(i)[0].as_py() or "" for i in range(batch.num_columns)]
    if names == [marker]:
        raise ReadError("file.empty", f"{name} has no rows.")
    return check_columns(names, name)


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

    def batch(self, table: pa.Table) -> list[Run | BadRow]:
        events: list[Run | BadRow] = []
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
            events.append(Run(self.next - 1, table.slice(offset, room)))
            offset += room
            self.next += room
        return self._end_marker(events)

    def _end_marker(self, events: list[Run | BadRow]) -> list[Run | BadRow]:
        """Take the end marker (or a value that swallowed it) off the batch's last row."""
        runs = [e for e in events if isinstance(e, Run)]
        if not runs:
            return events
        last = runs[-1]
        row = last.table.num_rows - 1
        values = [last.table.column(i)[row].as_py() for i in range(self.width)]
        if not any(isinstance(v, str) and self.marker in v for v in values):
            return events
        trimmed = Run(last.first_row, last.table.slice(0, row))
        events[events.index(last)] = trimmed
        if values != [self.marker]:  # a one-column file's marker comes back as a good row
            events.append(self._unclosed(last.first_row + row + 1))
        return events

    def finish(self) -> list[BadRow]:
        return [bad for _, bad in self.skipped if bad is not None]


def _csv_events(fh: IO[bytes], encoding: str, columns: tuple[str, ...], name: str,
                sha256: str | None = None) -> Iterator[Run | BadRow]:
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
            except ARROW_ERRORS as exc:
                raise _arrow_failure(exc, name, max(numbering.next - 2, 0)) from exc
            table = pa.Table.from_batches([batch]).rename_columns(list(columns))
            for event in numbering.batch(table):
                if isinstance(event, BadRow):
                    yield event
                    continue
                if event.first_row == 0:  # pyarrow's row 1 is the header
                    event = Run(1, event.table.slice(1))
                yield from drop_blank(Run(event.first_row, tidy(event.table)))
        yield from numbering.finish()
        if sha256 is not None and source.sha.hexdigest() != sha256:
            raise ReadError("file.changed", f"{name} changed after it was checked; load it "
                            "again.")


def _marker() -> str:
    # Random, so that no partner's data can contain it; NULs keep it off any real line.
    return f"\x00common-outcomes:end-of-file:{secrets.token_hex(8)}\x00"
