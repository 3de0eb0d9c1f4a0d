"""The file readers: every reason code on a real file, encodings, row numbers, bounded memory."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common_outcomes.data import readers
from common_outcomes.data.readers import BadRow, Chunk, FileInfo, ReadError, inspect, read_chunks


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def read(path: Path, chunk_rows: int = 100_000) -> tuple[FileInfo, list[Chunk]]:
    info = inspect(path)
    return info, list(read_chunks(info, chunk_rows))


def numbered(chunks: list[Chunk]) -> list[tuple[int, dict[str, object]]]:
    """Every row with its data row number, as the CLI would report it."""
    return [(c.first_row + i, row) for c in chunks for i, row in enumerate(c.table.to_pylist())]


def bad(chunks: list[Chunk]) -> list[BadRow]:
    return [b for c in chunks for b in c.bad_rows]


def refused(path: Path, code: str) -> ReadError:
    """The ReadError with this code, from inspect or, failing that, from reading."""
    with pytest.raises(ReadError) as caught:
        read(path)
    assert caught.value.code == code, caught.value.message
    assert caught.value.message.endswith(".")
    return caught.value


def xlsx_bytes(rows: Sequence[Sequence[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def parquet_bytes(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


# --- names and files ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["returns.csv", "Q1 2024 returns (final).xlsx", ".hidden.csv",
                                  "café.parquet", "a..b.csv"])
def test_plain_names_are_safe(name: str) -> None:
    assert readers.safe_name(name)


@pytest.mark.parametrize("name", ["", ".", "..", "...", "../returns.csv", "a/b.csv", "/etc/passwd",
                                  "..\\returns.csv", "C:returns.csv", "C:\\x.csv", "x.csv:stream",
                                  "bad\x00.csv", "new\nline.csv", "CON.csv", "nul", "lpt1.txt"])
def test_traversal_absolute_and_device_names_are_unsafe(name: str) -> None:
    assert not readers.safe_name(name)


def test_an_unsafe_name_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "..\\returns.csv", b"a\n1\n")  # a plain file on POSIX, not on Windows
    refused(path, "file.unsafe-name")
    refused(tmp_path / "sub" / "..", "file.unsafe-name")


def test_a_missing_file_or_a_folder_is_refused(tmp_path: Path) -> None:
    error = refused(tmp_path / "returns.csv", "file.missing")
    assert "returns.csv" in error.message
    (tmp_path / "folder.csv").mkdir()
    refused(tmp_path / "folder.csv", "file.missing")


def test_an_unknown_extension_is_refused(tmp_path: Path) -> None:
    refused(write(tmp_path, "returns.txt", b"a\n1\n"), "file.unsupported-format")
    error = refused(write(tmp_path, "returns.xls", b"a\n1\n"), "file.unsupported-format")
    assert ".xlsx" in error.message


@pytest.mark.parametrize("name", ["x.csv", "x.xlsx", "x.parquet"])
def test_an_empty_file_is_refused(tmp_path: Path, name: str) -> None:
    refused(write(tmp_path, name, b""), "file.empty")


@pytest.mark.parametrize("data", [b"a,b\n", b"a,b", b"a,b\r\n\r\n\r\n", b"a,b\n , \n,\n"])
def test_a_csv_with_a_header_but_no_rows_is_empty(tmp_path: Path, data: bytes) -> None:
    refused(write(tmp_path, "x.csv", data), "file.empty")


def test_an_xlsx_or_parquet_with_a_header_but_no_rows_is_empty(tmp_path: Path) -> None:
    refused(write(tmp_path, "x.xlsx", xlsx_bytes([["a", "b"], [], [None, "  "]])), "file.empty")
    refused(write(tmp_path, "y.xlsx", xlsx_bytes([])), "file.empty")
    empty = pa.table({"a": pa.array([], pa.int64())})
    refused(write(tmp_path, "x.parquet", parquet_bytes(empty)), "file.empty")


def test_the_hash_and_size_are_of_the_file_bytes(tmp_path: Path) -> None:
    import hashlib

    data = b"a,b\n1,2\n" * 300_000  # several hash blocks
    info = inspect(write(tmp_path, "x.csv", data))
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.size_bytes == len(data)
    assert (info.name, info.format, info.columns) == ("x.csv", "csv", ("a", "b"))


# --- headers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [b"a,b,a", b"a,,c", b"a, ,c", b"ID,Name,id", b"", b" , "])
def test_duplicate_or_blank_csv_header_names_are_refused(tmp_path: Path, header: bytes) -> None:
    refused(write(tmp_path, "x.csv", header + b"\n1,2,3\n"), "file.bad-header")


def test_header_names_are_stripped_and_may_be_quoted(tmp_path: Path) -> None:
    info = inspect(write(tmp_path, "x.csv", b' id ,"Name, full","two\nlines"\n1,2,3\n'))
    assert info.columns == ("id", "Name, full", "two\nlines")


def test_duplicate_or_blank_xlsx_and_parquet_header_names_are_refused(tmp_path: Path) -> None:
    refused(write(tmp_path, "a.xlsx", xlsx_bytes([["a", None, "c"], [1, 2, 3]])),
            "file.bad-header")
    refused(write(tmp_path, "b.xlsx", xlsx_bytes([["a", "a "], [1, 2]])), "file.bad-header")
    twice = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    refused(write(tmp_path, "c.parquet", parquet_bytes(twice)), "file.bad-header")


# --- encodings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("encoding", "data", "expected"), [
    ("utf-8", "Café,Amount\n£5,é\n".encode(), "utf-8"),
    ("utf-8-sig", "Café,Amount\n£5,é\n".encode("utf-8-sig"), "utf-8-sig"),
    ("windows-1252", "Café,Amount\n£5,é\n".encode("cp1252"), "windows-1252"),
])
def test_csv_encodings_are_detected_and_decoded(tmp_path: Path, encoding: str, data: bytes,
                                                expected: str) -> None:
    info, chunks = read(write(tmp_path, f"{encoding}.csv", data))
    assert info.encoding == expected
    assert info.columns == ("Café", "Amount")
    assert numbered(chunks) == [(1, {"Café": "£5", "Amount": "é"})]


def test_plain_ascii_is_utf8(tmp_path: Path) -> None:
    assert inspect(write(tmp_path, "x.csv", b"a\n1\n")).encoding == "utf-8"


def test_bytes_neither_utf8_nor_windows_1252_are_refused_with_the_line(tmp_path: Path) -> None:
    error = refused(write(tmp_path, "x.csv", b"a,b\n1,2\n\x81,3\n"), "file.encoding")
    assert "line 3" in error.message and "x.csv" in error.message


def test_utf16_is_refused(tmp_path: Path) -> None:
    refused(write(tmp_path, "x.csv", "a,b\n1,2\n".encode("utf-16")), "file.encoding")


def test_a_late_non_utf8_byte_is_refused_with_its_line(tmp_path: Path) -> None:
    lines = readers.ENCODING_SNIFF_BYTES // 8 + 10  # past the part the encoding is decided on
    data = b"a,b\n" + b"123,456\n" * lines + "é,x\n".encode("cp1252")
    error = refused(write(tmp_path, "x.csv", data), "file.encoding")
    assert f"line {lines + 2}" in error.message


def test_a_utf8_character_split_across_read_blocks_is_fine(tmp_path: Path) -> None:
    # Put a two-byte character across the end of the part the encoding is decided on.
    lines, rest = divmod(readers.ENCODING_SNIFF_BYTES - len(b"a\n") - 1, 10)
    data = b"a\n" + b"123456789\n" * lines + b"x" * rest + "é\n".encode()
    assert data[readers.ENCODING_SNIFF_BYTES - 1:][:2] == "é".encode()
    info = inspect(write(tmp_path, "x.csv", data))
    assert info.encoding == "utf-8"


def test_a_utf8_file_cut_inside_a_character_is_refused(tmp_path: Path) -> None:
    body = b"x\n" * (readers.ENCODING_SNIFF_BYTES // 2)
    error = refused(write(tmp_path, "x.csv", "a\né\n".encode() + body + "é".encode()[:1]),
                    "file.encoding")
    assert f"line {len(body) // 2 + 3}" in error.message


# --- XLSX --------------------------------------------------------------------------------------


def test_xlsx_numbers_and_dates_read_as_the_analyst_sees_them(tmp_path: Path) -> None:
    rows: list[list[object]] = [
        ["ID", "Amount", "Date", "When", "Flag", "Note", "Ratio"],
        [9434765919, 12.0, date(2024, 3, 1), datetime(2024, 3, 1, 10, 30), True, "  spaced ",
         0.1 + 0.2],
        [7, -2.5, datetime(2023, 12, 31), None, False, "-not a formula", 1e-7],
    ]
    info, chunks = read(write(tmp_path, "x.xlsx", xlsx_bytes(rows)))
    assert (info.format, info.encoding) == ("xlsx", None)
    assert info.columns == ("ID", "Amount", "Date", "When", "Flag", "Note", "Ratio")
    assert chunks[0].table.schema == pa.schema([(c, pa.string()) for c in info.columns])
    assert numbered(chunks) == [
        (1, {"ID": "9434765919", "Amount": "12", "Date": "2024-03-01",
             "When": "2024-03-01 10:30:00", "Flag": "TRUE", "Note": "spaced", "Ratio": "0.3"}),
        (2, {"ID": "7", "Amount": "-2.5", "Date": "2023-12-31", "When": None, "Flag": "FALSE",
             "Note": "-not a formula", "Ratio": "0.0000001"}),
    ]


def test_xlsx_rows_are_numbered_as_in_the_sheet(tmp_path: Path) -> None:
    rows: list[list[object]] = [["n", "v"], *([i, f"v{i}"] for i in range(1, 26))]
    rows[5] = [None, None]  # data row 5 is blank: skipped, but it keeps its number
    rows[8] = [8, "v8", "beyond the header"]  # data row 8 has a value with no column
    _, chunks = read(write(tmp_path, "x.xlsx", xlsx_bytes(rows)), chunk_rows=10)
    got = numbered(chunks)
    assert all(row["n"] == str(number) for number, row in got)
    assert [n for n, _ in got] == [n for n in range(1, 26) if n not in (5, 8)]
    assert [(b.row, b.code) for b in bad(chunks)] == [(8, "xlsx.ragged-row")]
    assert all(c.table.num_rows <= 10 for c in chunks)


def test_a_file_that_is_not_a_zip_is_a_corrupt_xlsx(tmp_path: Path) -> None:
    refused(write(tmp_path, "x.xlsx", b"PK\x03\x04 but not really a zip"), "xlsx.corrupt")
    refused(write(tmp_path, "y.xlsx", b"a,b\n1,2\n"), "xlsx.corrupt")


def test_a_zip_that_is_not_a_workbook_is_a_corrupt_xlsx(tmp_path: Path) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    refused(write(tmp_path, "x.xlsx", out.getvalue()), "xlsx.corrupt")


def test_a_truncated_xlsx_is_corrupt(tmp_path: Path) -> None:
    data = xlsx_bytes([["a"], *([i] for i in range(500))])
    refused(write(tmp_path, "x.xlsx", data[: len(data) // 2]), "xlsx.corrupt")


def zip_of_zeros(path: Path, member: str, size: int) -> None:
    """A zip whose member is `size` zero bytes, written in blocks (never all in memory)."""
    block = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive, \
            archive.open(member, "w", force_zip64=True) as out:
        for _ in range(size // len(block)):
            out.write(block)


def test_an_xlsx_bomb_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    zip_of_zeros(path, "xl/worksheets/sheet1.xml", 300 << 20)
    assert path.stat().st_size < 1 << 20
    error = refused(path, "xlsx.too-large")
    assert "300 MiB" in error.message


def test_an_xlsx_member_compressed_too_far_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ratio.xlsx"
    zip_of_zeros(path, "xl/sharedStrings.xml", 20 << 20)  # under the total, but ~1000:1
    refused(path, "xlsx.too-large")


# --- Parquet -----------------------------------------------------------------------------------


def test_parquet_keeps_its_types_and_rows_are_numbered(tmp_path: Path) -> None:
    table = pa.table({" id ": pa.array(range(25), pa.int64()),
                      "when": pa.array([date(2024, 1, 1)] * 25, pa.date32())})
    info, chunks = read(write(tmp_path, "x.parquet", parquet_bytes(table)), chunk_rows=10)
    assert (info.format, info.columns) == ("parquet", ("id", "when"))
    assert [c.first_row for c in chunks] == [1, 11, 21]
    assert chunks[0].table.schema.field("id").type == pa.int64()
    assert [(n, row["id"]) for n, row in numbered(chunks)] == [(i + 1, i) for i in range(25)]


def test_a_file_that_is_not_parquet_is_corrupt(tmp_path: Path) -> None:
    refused(write(tmp_path, "x.parquet", b"PAR1 this is not parquet PAR1"), "parquet.corrupt")
    data = parquet_bytes(pa.table({"a": list(range(1000))}))
    refused(write(tmp_path, "y.parquet", data[: len(data) // 2]), "parquet.corrupt")


# --- CSV rows ----------------------------------------------------------------------------------


def test_rows_are_numbered_across_chunks(tmp_path: Path) -> None:
    body = "".join(f'{i},"line {i}\nsecond line"\n' for i in range(1, 26))
    _, chunks = read(write(tmp_path, "x.csv", ("n,text\n" + body).encode()), chunk_rows=10)
    assert [(c.first_row, c.table.num_rows) for c in chunks] == [(1, 10), (11, 10), (21, 5)]
    assert all(row["n"] == str(n) for n, row in numbered(chunks))
    assert numbered(chunks)[0][1]["text"] == "line 1\nsecond line"


def test_values_are_stripped_strings_and_only_empty_is_null(tmp_path: Path) -> None:
    data = b'a,b,c,d\n  1 ,NA,"",NULL\n007, ,"  x  ",-1\n'
    info, chunks = read(write(tmp_path, "x.csv", data))
    assert chunks[0].table.schema == pa.schema([(c, pa.string()) for c in info.columns])
    assert numbered(chunks) == [(1, {"a": "1", "b": "NA", "c": None, "d": "NULL"}),
                                (2, {"a": "007", "b": None, "c": "x", "d": "-1"})]


def test_nothing_is_typed_not_even_the_header(tmp_path: Path) -> None:
    info, chunks = read(write(tmp_path, "x.csv", b"007,1.50,true\n007,1.50,true\n"))
    assert info.columns == ("007", "1.50", "true")
    assert numbered(chunks) == [(1, {"007": "007", "1.50": "1.50", "true": "true"})]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_every_kind_of_line_ending_is_read(tmp_path: Path, newline: bytes) -> None:
    data = newline.join([b"a,b", b"1,x", b"", b'2,"y' + newline + b'z"', b"3,w", b""])
    _, chunks = read(write(tmp_path, "x.csv", data))
    text = "y" + newline.decode() + "z"
    assert numbered(chunks) == [(1, {"a": "1", "b": "x"}), (3, {"a": "2", "b": text}),
                                (4, {"a": "3", "b": "w"})]


def test_ragged_rows_are_set_aside_with_their_numbers(tmp_path: Path) -> None:
    data = b"a,b,c\n1,x,y\n2,x\n3,x,y\n4,x,y,z\n\n6,x,y\n   \n8,x,y\n9,x"  # 9 is cut short
    _, chunks = read(write(tmp_path, "x.csv", data), chunk_rows=2)
    assert [n for n, row in numbered(chunks)] == [1, 3, 6, 8]
    assert all(row["a"] == str(n) for n, row in numbered(chunks))
    problems = bad(chunks)
    assert [(b.row, b.code) for b in problems] == [
        (2, "csv.ragged-row"), (4, "csv.ragged-row"), (9, "csv.ragged-row")]
    assert "2 fields where the header has 3" in problems[0].message
    assert "4 fields where the header has 3" in problems[1].message
    assert all(b.message.startswith(f"Row {b.row} of x.csv") for b in problems)


def test_chunk_rows_are_consecutive_even_around_bad_rows(tmp_path: Path) -> None:
    lines = [f"{i},x" if i % 7 else f"{i}" for i in range(1, 101)]
    _, chunks = read(write(tmp_path, "x.csv", ("n,v\n" + "\n".join(lines)).encode()),
                     chunk_rows=9)
    assert all(row["n"] == str(n) for n, row in numbered(chunks))
    assert len(numbered(chunks)) + len(bad(chunks)) == 100
    assert [b.row for b in bad(chunks)] == list(range(7, 101, 7))


def test_row_numbers_hold_across_many_pyarrow_blocks(tmp_path: Path) -> None:
    """Bad and blank rows scattered over several MiB: every row keeps its own number."""
    lines, ragged, blank = [], [], []
    for n in range(1, 200_001):
        if n % 997 == 0:
            lines.append(f"{n},too,many")
            ragged.append(n)
        elif n % 1301 == 0:
            lines.append("")
            blank.append(n)
        else:
            lines.append(f'{n},"note {n}\nover two lines"' if n % 3 == 0 else f"{n},note {n}")
    data = ("n,note\n" + "\n".join(lines) + "\n").encode()
    assert len(data) > 4 * readers.CSV_BLOCK_BYTES
    _, chunks = read(write(tmp_path, "x.csv", data), chunk_rows=7_000)
    got = numbered(chunks)
    assert all(row["n"] == str(n) for n, row in got)
    assert len(got) == 200_000 - len(ragged) - len(blank)
    assert [b.row for b in bad(chunks)] == ragged
    assert all(c.table.num_rows <= 7_000 for c in chunks)


@pytest.mark.parametrize(("data", "good", "unclosed"), [
    (b'a,b\n1,x\n2,"cut sho', ["1"], 2),  # cut inside a quoted value, too few fields
    (b'a,b\n1,x\n2,"stray\n3,y\n4,z\n', ["1"], 2),  # the right number of fields
    (b'a\n1\n2\n"cut\nshort\n', ["1", "2"], 3),  # one column
])
def test_a_quote_never_closed_is_set_aside_not_swallowed(tmp_path: Path, data: bytes,
                                                          good: list[str], unclosed: int) -> None:
    _, chunks = read(write(tmp_path, "x.csv", data))
    assert [row["a"] for _, row in numbered(chunks)] == good
    assert [(b.row, b.code) for b in bad(chunks)] == [(unclosed, "csv.unclosed-quote")]


def test_a_stray_quote_swallowing_megabytes_is_refused(tmp_path: Path) -> None:
    rows = b"1,x\n" * 10 + b'2,"stray\n' + b"3,x\n" * (readers.CSV_BLOCK_BYTES // 2)
    refused(write(tmp_path, "x.csv", b"a,b\n" + rows), "csv.row-too-long")


def test_a_file_changed_after_inspect_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", b"a,b\n1,2\n")
    info = inspect(path)
    path.write_bytes(b"a,b\n1,3\n")  # same size, other bytes
    with pytest.raises(ReadError) as caught:
        list(read_chunks(info))
    assert caught.value.code == "file.changed"
    path.write_bytes(b"a,b\n1,2\n3,4\n")
    with pytest.raises(ReadError) as caught:
        list(read_chunks(info))
    assert caught.value.code == "file.changed"
    xlsx = write(tmp_path, "x.xlsx", xlsx_bytes([["a"], [1]]))
    info = inspect(xlsx)
    data = bytearray(xlsx.read_bytes())
    data[-30] ^= 1
    xlsx.write_bytes(bytes(data))
    with pytest.raises(ReadError) as caught:
        list(read_chunks(info))
    assert caught.value.code == "file.changed"


def _peak_rss_reading(path: Path, rows: int) -> int:
    """Peak RSS (bytes) of a child process that reads `path` in 50,000-row chunks."""
    script = textwrap.dedent(f"""
        import resource
        from pathlib import Path
        from common_outcomes.data.readers import inspect, read_chunks
        info = inspect(Path({str(path)!r}))
        count = 0
        expected = 1
        for chunk in read_chunks(info, chunk_rows=50_000):
            assert chunk.first_row == expected and chunk.table.num_rows <= 50_000
            expected += chunk.table.num_rows
            count += chunk.table.num_rows
        print(count, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, timeout=180)
    count, peak_kib = (int(x) for x in result.stdout.split())
    assert count == rows
    return peak_kib * 1024  # Linux reports KiB


def _large_csv(path: Path, rows: int) -> int:
    with path.open("w", encoding="utf-8") as out:
        out.write("id,nhs_number,postcode,date_of_birth,service,notes\n")
        template = ("{0},94347659{1:02d},E1 6AN,2019-03-{2:02d},Family Hub,"
                    "\"visit {0}, seen with the health visitor team\"\n")
        for start in range(0, rows, 100_000):
            out.write("".join(template.format(i, i % 100, i % 28 + 1)
                              for i in range(start, start + 100_000)))
    return path.stat().st_size


def test_streaming_a_large_csv_keeps_memory_bounded(tmp_path: Path) -> None:
    """Reading four times as much CSV must not take more memory: bounded, not proportional.

    Compared side by side (absolute figures vary with the machine and what else it runs).
    """
    small_rows, large_rows = 400_000, 1_600_000
    small = _large_csv(tmp_path / "small.csv", small_rows)
    large = _large_csv(tmp_path / "large.csv", large_rows)
    assert large > 150_000_000
    peak_small = _peak_rss_reading(tmp_path / "small.csv", small_rows)
    peak_large = _peak_rss_reading(tmp_path / "large.csv", large_rows)
    print(f"peak RSS {peak_small / 1e6:.0f} MB for {small / 1e6:.0f} MB of CSV, "
          f"{peak_large / 1e6:.0f} MB for {large / 1e6:.0f} MB")
    # Proportional reading would grow by about the extra file size; streaming hardly grows.
    assert peak_large - peak_small < 0.2 * (large - small)


def test_leaving_a_read_part_way_does_not_hang_or_crash_the_interpreter(tmp_path: Path) -> None:
    """pyarrow reads ahead on its own thread; a read abandoned at exit must not kill Python."""
    path = tmp_path / "old-excel.csv"
    with path.open("wb") as out:
        out.write("Café,Note\n".encode("cp1252"))
        block = "".join(f"{i},£{i} é\n" for i in range(100_000)).encode("cp1252")
        for _ in range(40):  # ~50 MB: more than pyarrow reads ahead
            out.write(block)
    script = textwrap.dedent(f"""
        from pathlib import Path
        from common_outcomes.data.readers import inspect, read_chunks
        info = inspect(Path({str(path)!r}))
        held = read_chunks(info, chunk_rows=1_000)
        next(held)
        for chunk in read_chunks(info, chunk_rows=1_000):
            break
        print(info.encoding)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, "windows-1252\n", "")


# --- properties --------------------------------------------------------------------------------

# Windows-1252 text with only bytes that can never start UTF-8 (an "é" followed by two "£"
# would be valid UTF-8, so it would rightly be read as UTF-8 and the test would be wrong).
CP1252_TEXT = st.text(alphabet=st.sampled_from(list(
    "abcXYZ019 .'-=+@,\"\n£€©°½üþÿ")), max_size=12)
UNICODE_TEXT = st.text(alphabet=st.one_of(
    st.characters(categories=("L", "M", "N", "P", "S", "Zs"), codec="utf-8"),
    st.sampled_from(list(',"\n '))), max_size=12)


@st.composite
def tables(draw: st.DrawFn, text: st.SearchStrategy[str]) -> tuple[list[str], list[list[str]]]:
    width = draw(st.integers(1, 4))
    names = draw(st.lists(text.map(str.strip).filter(bool), min_size=width, max_size=width,
                          unique_by=str.casefold))
    rows = draw(st.lists(st.lists(text, min_size=width, max_size=width), min_size=1,
                         max_size=15))
    return names, rows


def round_trip(data: bytes, names: list[str], rows: list[list[str]]) -> str | None:
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), "x.csv", data)
        expected = [(n, {k: (v.strip() or None) for k, v in zip(names, row, strict=True)})
                    for n, row in enumerate(rows, start=1)]
        expected = [(n, row) for n, row in expected if any(row.values())]
        if not expected:
            with pytest.raises(ReadError) as caught:
                read(path)
            assert caught.value.code == "file.empty"
            return None
        info, chunks = read(path, chunk_rows=4)
        assert info.columns == tuple(names)
        assert numbered(chunks) == expected
        assert bad(chunks) == []
        return info.encoding


def csv_text(names: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    writer.writerows(rows)
    return out.getvalue()


@settings(max_examples=150, deadline=None)
@given(tables(UNICODE_TEXT), st.sampled_from(["utf-8", "utf-8-sig"]))
def test_any_utf8_table_reads_back_identically(table: tuple[list[str], list[list[str]]],
                                               encoding: str) -> None:
    names, rows = table
    assert round_trip(csv_text(names, rows).encode(encoding), names, rows) in (encoding, None)


@settings(max_examples=150, deadline=None)
@given(tables(CP1252_TEXT))
def test_any_windows_1252_table_reads_back_identically(
        table: tuple[list[str], list[list[str]]]) -> None:
    names, rows = table
    data = csv_text(names, rows).encode("cp1252")
    encoding = round_trip(data, names, rows)
    assert encoding in (None, "utf-8" if data.isascii() else "windows-1252")


def valid_files() -> dict[str, bytes]:
    return {
        "csv": b'a,b\n1,"x\ny"\n2,z\n',
        "xlsx": xlsx_bytes([["a", "b"], [1, "x"], [2, date(2024, 1, 1)]]),
        "parquet": parquet_bytes(pa.table({"a": [1, 2], "b": ["x", "y"]})),
    }


VALID = valid_files()


def read_anything(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), f"x.{suffix}", data)
        try:
            info = inspect(path)
            for chunk in read_chunks(info, chunk_rows=2):
                assert chunk.table.num_rows <= 2
        except ReadError as exc:
            assert exc.code and exc.message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000), st.sampled_from(["csv", "xlsx", "parquet"]))
def test_random_bytes_only_ever_raise_read_error(data: bytes, suffix: str) -> None:
    read_anything(data, suffix)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["csv", "xlsx", "parquet"]), st.data())
def test_damaged_real_files_only_ever_raise_read_error(suffix: str, data: st.DataObject) -> None:
    original = bytearray(VALID[suffix])
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(original) - 1))
        original[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(original)))
    read_anything(bytes(original[:cut]), suffix)


def test_reading_never_prints(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    for suffix, data in VALID.items():
        read(write(tmp_path, f"x.{suffix}", data))
    with pytest.raises(ReadError):
        read(write(tmp_path, "y.xlsx", b"nonsense"))
    assert capfd.readouterr() == ("", "")


def test_no_temporary_or_open_files_are_left(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Every format, read whole and refused as corrupt: no file descriptor stays open, and
    no file is left beside the partner's file or in the temporary folder (a private one
    here, so that other processes' files do not count)."""
    folder, temporary = tmp_path / "files", tmp_path / "temporary"
    folder.mkdir()
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    paths = [write(folder, f"x.{suffix}", data) for suffix, data in VALID.items()]
    paths += [write(folder, f"bad.{suffix}", data[: len(data) // 2])
              for suffix, data in VALID.items() if suffix != "csv"]
    files = sorted(folder.iterdir())
    before = len(os.listdir(f"/proc/{os.getpid()}/fd"))
    refused = 0
    for _ in range(10):
        for path in paths:
            try:
                read(path)
            except ReadError:
                refused += 1
    assert refused == 20  # the two cut files, each time
    assert len(os.listdir(f"/proc/{os.getpid()}/fd")) <= before
    assert sorted(folder.iterdir()) == files
    assert list(temporary.iterdir()) == []
