"""Files written for people to open in Excel: formulas neutralised (OWASP), written atomically."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from common_outcomes.data.readers import inspect, read_chunks
from common_outcomes.data.spreadsheets import neutralise, write_csv, write_xlsx

HEADER = ["row", "value", "note"]
ROWS: list[list[object]] = [
    [1, "=HYPERLINK(\"http://example.com\",\"click\")", "café £5"],
    [2, "+44 20 7946 0000", -3],
    [3, "-2", -2.5],
    [4, "@SUM(A1:A2)", None],
    [5, "\tindented", date(2024, 3, 1)],
    [6, "\r=1+1", "plain"],
]
EXPECTED_TEXT = ["'=HYPERLINK(\"http://example.com\",\"click\")", "'+44 20 7946 0000", "'-2",
                 "'@SUM(A1:A2)", "'\tindented", "'\r=1+1"]
# XML reads a carriage return back as a line feed.
XLSX_TEXT = [v.replace("\r", "\n") for v in EXPECTED_TEXT]


@pytest.mark.parametrize(("value", "expected"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@cmd", "'@cmd"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("=", "'="),
])
def test_text_a_spreadsheet_would_run_is_prefixed(value: str, expected: str) -> None:
    assert neutralise(value) == expected


@pytest.mark.parametrize("value", ["", "plain", "a=1", "1-2", "'=already text", " =x", "\n=x",
                                   -1, -2.5, 0, None, True, Decimal("-3.5"), date(2024, 1, 1)])
def test_everything_else_is_unchanged(value: object) -> None:
    assert neutralise(value) is value


def test_csv_is_utf8_with_bom_quoted_and_neutralised(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    write_csv(path, ["=header", *HEADER[1:]], ROWS)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf\"'=header\",")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    assert header == ["'=header", "value", "note"]
    assert [r[1] for r in rows] == EXPECTED_TEXT
    assert rows[0][2] == "café £5"
    assert rows[1][2] == "-3" and rows[2][2] == "-2.5"  # numbers are not neutralised
    assert rows[3][2] == ""
    assert [p.name for p in tmp_path.iterdir()] == ["report.csv"]


def test_csv_read_back_by_our_reader_keeps_the_apostrophes(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    write_csv(path, HEADER, ROWS)
    info = inspect(path)
    assert info.encoding == "utf-8-sig"
    values = [row["value"] for chunk in read_chunks(info) for row in chunk.table.to_pylist()]
    assert values == [v.strip() for v in EXPECTED_TEXT]


def test_xlsx_is_neutralised_with_a_bold_frozen_header(tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"
    write_xlsx(path, {"Problems": (HEADER, ROWS), "Empty": (["=x"], [])})
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Problems", "Empty"]
    sheet = book["Problems"]
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.b for cell in sheet[1])
    assert [c.value for c in sheet[1]] == HEADER
    values = [sheet.cell(row=r, column=2) for r in range(2, 8)]
    assert [c.value for c in values] == XLSX_TEXT
    assert {c.data_type for c in values} == {"s"}  # text, never a formula
    assert sheet.cell(row=3, column=3).value == -3  # a negative number stays a number
    assert sheet.cell(row=4, column=3).value == -2.5
    assert sheet.cell(row=6, column=3).value == datetime(2024, 3, 1)
    assert book["Empty"]["A1"].value == "'=x"
    assert [p.name for p in tmp_path.iterdir()] == ["report.xlsx"]


def test_xlsx_read_back_by_our_reader_keeps_the_apostrophes(tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"
    write_xlsx(path, {"Problems": (HEADER, ROWS)})
    values = [row["value"] for chunk in read_chunks(inspect(path))
              for row in chunk.table.to_pylist()]
    assert values == [v.strip() for v in XLSX_TEXT]


def test_xlsx_replaces_characters_xml_cannot_hold(tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"
    write_xlsx(path, {"Sheet": (["a"], [["bad\x00byte\x1b"]])})
    assert openpyxl.load_workbook(path)["Sheet"]["A2"].value == "bad\ufffdbyte\ufffd"


@pytest.mark.parametrize("title", ["", "a" * 32, "a/b", "what?", "'quoted'"])
def test_a_sheet_name_excel_refuses_is_an_error(tmp_path: Path, title: str) -> None:
    with pytest.raises(ValueError):
        write_xlsx(tmp_path / "x.xlsx", {title: (["a"], [])})
    assert list(tmp_path.iterdir()) == []


def failing_rows() -> Iterator[list[object]]:
    yield [1, "fine", "fine"]
    raise RuntimeError("the data ran out")


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"report.{suffix}"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        if suffix == "csv":
            write_csv(path, HEADER, failing_rows())
        else:
            write_xlsx(path, {"Problems": (HEADER, failing_rows())})
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == [f"report.{suffix}"]


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_an_existing_file_is_replaced(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"report.{suffix}"
    path.write_bytes(b"old")
    if suffix == "csv":
        write_csv(path, HEADER, ROWS)
    else:
        write_xlsx(path, {"Problems": (HEADER, ROWS)})
    assert path.read_bytes() != b"old"
    assert inspect(path).columns == tuple(HEADER)
