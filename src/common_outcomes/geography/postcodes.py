"""`outcomes geography --postcodes`: the borough's postcodes from ONS's postcode directory.

ONS publishes two national postcode directories, each a zip holding one CSV of every UK
postcode (about 2.7 million rows, live and terminated) with the areas it lies in: the
National Statistics Postcode Lookup (NSPL: best-fit areas, `laua`, `lsoa21`) and the ONS
Postcode Directory (ONSPD: `oslaua` before 2024, `lad24cd`/`lad25cd` and `lsoa21cd` since).
Columns as the ONS user guides name them (NSPL and ONSPD user guides, ONS Geography; the
layout is one header row, then one quoted row per postcode): `pcd` (7 characters), `pcd2`
(8), `pcds` (variable, one space), `doterm` (year and month of termination, empty when
live), the local authority and the 2021 LSOA.

The file is streamed in batches: only the borough's rows are kept (a few thousand), so
memory stays bounded whatever the file's size. Terminated postcodes are kept: records from
before a postcode was retired still name it, and it still lies in the same small area.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import pyarrow.parquet as pq

from common_outcomes.errors import UserError

# Where the directory is installed in a workspace (the load step reads it from there).
POSTCODES = Path("reference") / "postcodes"
INSTALLED = POSTCODES / "postcode_directory.parquet"

POSTCODE_COLUMNS = ("pcds", "pcd", "pcd2", "pcd7", "pcd8")
LA_COLUMNS = ("laua", "oslaua")
LA_PATTERN = re.compile(r"^lad\d\dcd$")  # lad24cd, lad25cd, ...: ONSPD from 2024
LSOA_COLUMNS = ("lsoa21", "lsoa21cd")
OLD_LSOA_COLUMNS = ("lsoa11", "lsoa11cd")
TERMINATED = "doterm"
BLOCK_BYTES = 16 << 20  # each batch read: about 16 MB of the CSV


@dataclass(frozen=True)
class Installed:
    """What `--postcodes` kept: the file written, rows read, the borough's postcodes kept
    (of them, terminated ones), and those without a 2021 LSOA left out."""

    path: Path
    rows_read: int
    kept: int
    terminated: int
    without_lsoa: int
    seconds: float


@dataclass(frozen=True)
class _Layout:
    postcode: str
    la: str
    lsoa: str
    terminated: str | None


def install_postcodes(workspace: Path, source: Path, la_code: str) -> Installed:
    """Stream ONS's postcode directory (`source`: the zip as published, or its CSV) and
    install the borough's postcodes as the workspace's postcode directory; nothing is
    written unless the whole file was read and some postcode is the borough's."""
    started = time.perf_counter()
    if not source.is_file():
        raise UserError(f"The postcode directory {source} does not exist; download the NSPL "
                        "or ONSPD from the ONS Open Geography Portal and give its zip or CSV.")
    kept: list[pa.Table] = []
    rows = 0
    with _csv_of(source) as (name, stream):
        layout = _layout(name, stream.readline(1 << 20))
    with _csv_of(source) as (name, stream):
        include = [c for c in (layout.postcode, layout.la, layout.lsoa, layout.terminated) if c]
        try:
            reader = pv.open_csv(
                stream, read_options=pv.ReadOptions(block_size=BLOCK_BYTES),
                convert_options=pv.ConvertOptions(
                    include_columns=include,
                    column_types={c: pa.string() for c in include}, strings_can_be_null=True))
            for batch in reader:
                rows += batch.num_rows
                mine = pc.equal(batch.column(layout.la), la_code)
                if pc.any(mine).as_py():
                    kept.append(pa.Table.from_batches([batch]).filter(mine))
        except (pa.ArrowInvalid, OSError, zipfile.BadZipFile) as exc:
            raise UserError(f"{source} cannot be read as a postcode directory after about row "
                            f"{rows + 1:,} ({_first_line(exc)}); download it again.") from None
    if not kept:
        raise UserError(f"{source} has no postcode in {la_code} (column '{layout.la}' of "
                        f"{rows:,} rows): give the national NSPL or ONSPD file, or check the "
                        "workspace's borough code.")
    table = pa.concat_tables(kept)
    lsoa = table.column(layout.lsoa)
    placed = pc.and_(pc.is_valid(lsoa), pc.invert(pc.match_substring_regex(
        pc.fill_null(lsoa, ""), r"^$|^[EWSN]99999999$")))
    # A postcode without a 2021 LSOA (ONS leaves some non-geographic ones blank or pseudo)
    # cannot place a record; it is counted and left out.
    out = table.filter(placed)
    postcode = out.column(layout.postcode)
    ended = (pc.and_(pc.is_valid(out.column(layout.terminated)),
                     pc.not_equal(pc.utf8_trim_whitespace(out.column(layout.terminated)), ""))
             if layout.terminated else pa.array([False] * out.num_rows))
    result = pa.table({
        "postcode": pc.utf8_trim_whitespace(postcode),
        "area_code": out.column(layout.lsoa),
        "terminated": pc.if_else(ended, out.column(layout.terminated) if layout.terminated
                                 else pa.nulls(out.num_rows, pa.string()),
                                 pa.scalar(None, pa.string())),
    })
    path = workspace / INSTALLED
    _write_atomically(path, result)
    return Installed(path, rows, result.num_rows, int(pc.sum(ended).as_py() or 0),
                     table.num_rows - out.num_rows, time.perf_counter() - started)


@contextmanager
def _csv_of(source: Path) -> Iterator[tuple[str, IO[bytes]]]:
    """The directory's CSV as a stream: the file itself, or the national CSV in the zip
    (ONS's zips also hold one CSV per area under Data/multi_csv, and the user guide)."""
    if not zipfile.is_zipfile(source):
        with source.open("rb") as f:
            yield source.name, f
        return
    try:
        archive = zipfile.ZipFile(source)
    except zipfile.BadZipFile:
        raise UserError(f"{source} is not a readable zip; download it again.") from None
    with archive:
        csvs = [i for i in archive.infolist() if i.filename.lower().endswith(".csv")
                and "multi_csv" not in i.filename.lower()]
        if not csvs:
            raise UserError(f"{source} is not an ONS postcode directory: the zip holds no "
                            "CSV of postcodes (as Data/NSPL_MAY_2025_UK.csv); give the NSPL "
                            "or ONSPD zip as published.")
        main = max(csvs, key=lambda i: i.file_size)  # the national file, not a lookup
        with archive.open(main) as f:
            yield f"{source.name}:{main.filename}", f


def _layout(name: str, first: bytes) -> _Layout:
    """The columns to read, found in the header line (any case)."""
    line = first.decode("utf-8-sig", errors="replace").strip()
    header = {h.strip().strip('"').lower(): h.strip().strip('"') for h in line.split(",")}

    def found(names: tuple[str, ...]) -> str | None:
        return next((header[n] for n in names if n in header), None)

    postcode = found(POSTCODE_COLUMNS)
    if postcode is None:
        raise UserError(f"{name} is not an ONS postcode directory: its first line has no "
                        f"postcode column ({', '.join(POSTCODE_COLUMNS[:3])}); give the NSPL or "
                        "ONSPD CSV (or its zip) as published.")
    la = found(LA_COLUMNS) or next((header[h] for h in header if LA_PATTERN.match(h)), None)
    if la is None:
        raise UserError(f"{name} has no local authority column (laua in the NSPL, oslaua or "
                        "ladYYcd in the ONSPD), so the borough's postcodes cannot be found; "
                        "give the full NSPL or ONSPD file.")
    lsoa = found(LSOA_COLUMNS)
    if lsoa is None:
        old = found(OLD_LSOA_COLUMNS)
        raise UserError(f"{name} has no 2021 LSOA column (lsoa21 or lsoa21cd)"
                        + (f", only '{old}' (2011 LSOAs, which the workspace's geography does "
                           "not use)" if old else "")
                        + "; use a release from 2022 or later.")
    return _Layout(postcode, la, lsoa, found((TERMINATED,)))


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _write_atomically(path: Path, table: pa.Table) -> None:
    """Beside the target, then renamed: the directory is the old one or the new, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
