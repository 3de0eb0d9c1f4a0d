"""What every file format shares: the file's description, its rows and the errors it raises.

A format (readers/csv.py, xlsx.py, parquet.py) turns a file into `Run`s of numbered rows and
`BadRow`s; readers/__init__.py regroups them into `Chunk`s. Nothing here prints, and a bad file
only ever raises `ReadError`, so the caller can report it as one sentence.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from common_outcomes.data.declarations import Column

HASH_BLOCK = 1 << 20
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
class Part:
    """Which table to take from a file that holds several (a CIN census XML), and the
    columns the source declares for it, whose codes and required flags the format checks
    where it can still say the XML path and line."""

    table: str
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class FileInfo:
    """What `inspect` found; `read_chunks` refuses the file if its bytes have changed since."""

    path: Path
    name: str
    format: str  # the name of its format in readers.FORMATS ("csv")
    encoding: str | None  # CSV only: "utf-8", "utf-8-sig" or "windows-1252"
    sha256: str
    size_bytes: int
    columns: tuple[str, ...]
    part: Part | None = None  # the table taken from a file holding several


@dataclass(frozen=True)
class BadRow:
    """A row set aside rather than read (its values are never repeated: they may be personal).
    A row can be set aside for several reasons, one BadRow each; `column` names the field
    when the format knows it (an XML path)."""

    row: int
    code: str
    message: str
    column: str | None = None


@dataclass(frozen=True)
class Chunk:
    """Consecutive rows: `table` row i is data row `first_row + i` (row 1 follows the header).

    `bad_rows` are the rows set aside since the previous chunk; they are not in any table. The
    last chunk may have an empty table and only bad rows.
    """

    table: pa.Table
    first_row: int
    bad_rows: tuple[BadRow, ...] = ()




@dataclass(frozen=True)
class Inspected:
    """What a format found when it looked at a file once (see `FileFormat.inspect`)."""

    encoding: str | None
    sha256: str
    size_bytes: int
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Run:
    """Rows numbered first_row, first_row + 1, ... (data row numbers)."""

    first_row: int
    table: pa.Table


class FileFormat(Protocol):
    """One format a partner's return can come in. Adding a format is a module with a class
    like this and one line in readers/__init__.py's `FORMATS`."""

    name: str  # as the store records it ("csv")
    suffixes: tuple[str, ...]  # the file names it reads (".csv")
    # Suffixes of look-alike formats it does not read, with what to do instead.
    near: Mapping[str, str]
    # A format whose files hold several tables (CIN census XML): each table's columns; a
    # source says which it takes (`Part`). Empty for a file that is one table.
    tables: Mapping[str, tuple[str, ...]]

    def inspect(self, fh: IO[bytes], path: Path, name: str) -> Inspected:
        """Look at the whole file once: its hash and size, its header; refuse it with a
        `ReadError` if it cannot be read or has no rows."""
        ...

    def events(self, fh: IO[bytes], info: FileInfo, chunk_rows: int) -> Iterator[Run | BadRow]:
        """The file's rows as numbered runs (the header dropped) and the rows set aside;
        `ReadError` if its bytes are not those inspected."""
        ...

    def schema(self, fh: IO[bytes], info: FileInfo) -> pa.Schema:
        """The columns every chunk has (text, unless the format carries types)."""
        ...


def text_schema(info: FileInfo) -> pa.Schema:
    """Every column as text: what CSV and XLSX give."""
    return pa.schema([(c, pa.string()) for c in info.columns])


class SeekableFormat:
    """A format read by seeking about the file (XLSX, Parquet): hashed whole first, then read
    from the same handle. A subclass gives `header` and `rows`."""

    def inspect(self, fh: IO[bytes], path: Path, name: str) -> Inspected:
        sha, size = hash_file(fh, name)
        fh.seek(0)
        return Inspected(None, sha, size, self.header(fh, name))

    def events(self, fh: IO[bytes], info: FileInfo, chunk_rows: int) -> Iterator[Run | BadRow]:
        same_bytes(fh, info)
        return self.rows(fh, info, chunk_rows)

    def schema(self, fh: IO[bytes], info: FileInfo) -> pa.Schema:
        return text_schema(info)

    def header(self, fh: IO[bytes], name: str) -> tuple[str, ...]:
        """The checked column names; `ReadError` if the file has no rows."""
        raise NotImplementedError

    def rows(self, fh: IO[bytes], info: FileInfo, chunk_rows: int) -> Iterator[Run | BadRow]:
        raise NotImplementedError


# --- names -------------------------------------------------------------------------------------


def safe_name(name: str) -> bool:
    """True for a plain file name: no folders, no '..', no drive or device, no control codes."""
    if not name or name.strip(". ") == "":
        return False
    if any(c in name for c in "/\\:") or any(ord(c) < 32 or ord(c) == 127 for c in name):
        return False
    return name.split(".", 1)[0].strip().upper() not in _WINDOWS_DEVICES


def hash_file(fh: IO[bytes], name: str) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    while block := fh.read(HASH_BLOCK):
        sha.update(block)
        size += len(block)
    if size == 0:
        raise ReadError("file.empty", f"{name} is empty.")
    return sha.hexdigest(), size


def check_columns(names: list[str], name: str) -> tuple[str, ...]:
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


ARROW_ERRORS = (pa.ArrowException, UnicodeDecodeError, OSError, ValueError)


# --- shared row handling -----------------------------------------------------------------------


def tidy(table: pa.Table) -> pa.Table:
    """Strings stripped of surrounding whitespace; an empty string becomes null."""
    columns = []
    for column in table.columns:
        trimmed = pc.utf8_trim_whitespace(column)
        columns.append(pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed))
    return pa.Table.from_arrays(columns, names=table.column_names)


def drop_blank(run: Run) -> Iterator[Run]:
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
        yield Run(run.first_row + start, table.slice(start, end - start))



def same_bytes(fh: IO[bytes], info: FileInfo) -> None:
    """The bytes about to be read must be the bytes inspected (the store records the
    inspected hash): for random-access formats, hash the very file handle then read."""
    if hash_file(fh, info.name)[0] != info.sha256:
        raise ReadError("file.changed", f"{info.name} changed after it was checked; load it "
                        "again.")
    fh.seek(0)
