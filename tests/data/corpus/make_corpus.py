"""Writes the malformed-file corpus for the load tests: `python make_corpus.py`.

Each file is a small partner return with one kind of fault (sometimes several); expected.yaml
lists the reason codes loading it must report and whether the file is rejected outright or
loaded with its failing rows quarantined. The files are committed so a reviewer can open
them; this script says how each was made.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

HERE = Path(__file__).parent
HEADER = ["record_id", "mother_nhs_number", "mother_forename", "mother_dob", "mother_postcode",
          "upn", "booking_date", "birth_weight_g", "gestational_age_weeks", "smoking", "notes"]
# Valid synthetic identifiers (999 test range; UPNs with correct check letters).
UPN = ["A211200012001", "B211200012002", "C211200012003", "D211200012004", "E211200012005",
       "F211200012006", "G211200012007", "H211200012008", "J211200012009", "K211200012010"]


def valid_nhs_numbers(n: int) -> list[str]:
    """The first n valid NHS numbers in the official test range (999 000 0001 onwards)."""
    from common_outcomes.identifiers import nhs_check_digit

    found: list[str] = []
    prefix = 999_000_001
    while len(found) < n:
        check = nhs_check_digit(str(prefix))
        if check is not None:
            found.append(f"{prefix}{check}")
        prefix += 1
    return found


NHS = valid_nhs_numbers(10)


def good_rows() -> list[list[str]]:
    from common_outcomes.identifiers import upn_check_letter

    rows = []
    for i in range(10):
        body = UPN[i][1:]
        rows.append([f"R{i + 1}", NHS[i], "Amina", "1990-03-0" + str(i % 9 + 1), "QX12 3AB",
                     upn_check_letter(body) + body, "2024-05-1" + str(i % 9), str(3000 + i * 50),
                     str(38 + i % 4), "N", "first pregnancy"])
    return rows


def write_csv(name: str, rows: list[list[str]], header: list[str] = HEADER,
              encoding: str = "utf-8") -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([header, *rows])
    (HERE / name).write_bytes(buf.getvalue().encode(encoding))


def with_cell(row: int, column: str, value: str) -> list[list[str]]:
    rows = good_rows()
    rows[row][HEADER.index(column)] = value
    return rows


def main() -> None:
    expected: dict[str, dict[str, object]] = {}

    def case(name: str, status: str, *codes: str) -> None:
        expected[name] = {"status": status, "codes": list(codes)}

    # --- structure and encoding -----------------------------------------------------------
    write_csv("good.csv", [[f"G{r[0]}", *r[1:]] for r in good_rows()])  # not malformed
    (HERE / "empty.csv").write_bytes(b"")
    case("empty.csv", "rejected", "file.empty")
    write_csv("header-only.csv", [])
    case("header-only.csv", "rejected", "file.empty")
    # The key column is gone (an optional one may be absent: see test_extract_columns.py).
    write_csv("missing-column.csv", [r[1:] for r in good_rows()], HEADER[1:])
    case("missing-column.csv", "rejected", "file.missing-column")
    write_csv("duplicate-header.csv", good_rows(), [*HEADER[:-1], "smoking"])
    case("duplicate-header.csv", "rejected", "file.bad-header")
    write_csv("blank-header.csv", good_rows(), [*HEADER[:-1], ""])
    case("blank-header.csv", "rejected", "file.bad-header")
    rows = good_rows()
    rows[3].append("surplus")
    write_csv("ragged-row-more-fields.csv", rows)
    case("ragged-row-more-fields.csv", "quarantined", "csv.ragged-row")
    rows = good_rows()
    rows[4] = rows[4][:5]
    write_csv("ragged-row-fewer-fields.csv", rows)
    case("ragged-row-fewer-fields.csv", "quarantined", "csv.ragged-row")
    text = (HERE / "ragged-row-fewer-fields.csv").read_bytes()
    write_csv("truncated.csv", good_rows())
    whole = (HERE / "truncated.csv").read_bytes()
    (HERE / "truncated.csv").write_bytes(whole[: len(whole) - 40])
    case("truncated.csv", "quarantined", "csv.ragged-row")
    del text
    (HERE / "returns.txt").write_text("record_id\nR1\n")
    case("returns.txt", "rejected", "file.unsupported-format")
    (HERE / "binary-garbage.csv").write_bytes(bytes(range(256)) * 8)
    case("binary-garbage.csv", "rejected", "file.encoding")
    write_csv("utf-16.csv", good_rows(), encoding="utf-16")
    case("utf-16.csv", "rejected", "file.encoding")
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([HEADER, *good_rows()])
    mixed = buf.getvalue().encode("utf-8").replace(b"first pregnancy", b"first \x81 pregnancy", 1)
    (HERE / "undefined-windows-1252-byte.csv").write_bytes(mixed)
    case("undefined-windows-1252-byte.csv", "rejected", "file.encoding")
    (HERE / "not-a-zip.xlsx").write_bytes(b"this is not a workbook")
    case("not-a-zip.xlsx", "rejected", "xlsx.corrupt")
    _bomb(HERE / "bomb.xlsx")
    case("bomb.xlsx", "rejected", "xlsx.too-large")
    (HERE / "corrupt.parquet").write_bytes(b"PAR1 not really parquet")
    case("corrupt.parquet", "rejected", "parquet.corrupt")
    wb = openpyxl.Workbook()
    wb.active.append(HEADER)
    wb.save(HERE / "header-only.xlsx")
    case("header-only.xlsx", "rejected", "file.empty")
    table = pa.table({h: [r[i] for r in good_rows()] for i, h in enumerate(HEADER)
                      if h != "booking_date"})
    pq.write_table(table, HERE / "missing-column.parquet")
    case("missing-column.parquet", "rejected", "file.missing-column")

    # --- values -------------------------------------------------------------------------------
    cells = [
        ("bad-date.csv", 1, "booking_date", "2024-02-31", "value.bad-date"),
        ("date-month-13.csv", 2, "booking_date", "2024-13-01", "value.bad-date"),
        ("date-in-words.csv", 3, "booking_date", "yesterday", "value.bad-date"),
        ("dob-bad-date.csv", 4, "mother_dob", "31/02/1990", "value.bad-date"),
        ("weight-too-high.csv", 1, "birth_weight_g", "9000", "value.out-of-range"),
        ("weight-too-low.csv", 2, "birth_weight_g", "100", "value.out-of-range"),
        ("weight-negative.csv", 3, "birth_weight_g", "-3200", "value.out-of-range"),
        ("gestation-too-long.csv", 4, "gestational_age_weeks", "50", "value.out-of-range"),
        ("weight-with-units.csv", 5, "birth_weight_g", "3.4kg", "value.not-integer"),
        ("weight-decimal.csv", 6, "birth_weight_g", "3400.5", "value.not-integer"),
        ("gestation-words.csv", 7, "gestational_age_weeks", "forty", "value.not-integer"),
        ("missing-record-id.csv", 1, "record_id", "", "value.missing"),
        ("whitespace-record-id.csv", 2, "record_id", "   ", "value.missing"),
        ("missing-booking-date.csv", 3, "booking_date", "", "value.missing"),
        ("smoking-not-a-code.csv", 4, "smoking", "Yes", "value.not-in-code-list"),
        ("smoking-lower-case.csv", 5, "smoking", "y", "value.not-in-code-list"),
        ("nhs-bad-check-digit.csv", 1, "mother_nhs_number", "9990000019",
         "value.invalid-nhs-number"),
        ("nhs-too-short.csv", 2, "mother_nhs_number", "999000001", "value.invalid-nhs-number"),
        ("nhs-letters.csv", 3, "mother_nhs_number", "99900000AB", "value.invalid-nhs-number"),
        ("nhs-check-digit-ten.csv", 4, "mother_nhs_number", "9990000001",
         "value.invalid-nhs-number"),
        ("nhs-eleven-digits.csv", 5, "mother_nhs_number", "99900000180",
         "value.invalid-nhs-number"),
        ("upn-bad-check-letter.csv", 1, "upn", "Z211200012001", "value.invalid-upn"),
        ("upn-too-short.csv", 2, "upn", "A21120001200", "value.invalid-upn"),
        ("upn-digits-only.csv", 3, "upn", "2112000120011", "value.invalid-upn"),
        ("formula-equals.csv", 1, "notes", '=HYPERLINK("http://x","click")',
         "value.formula-like"),
        ("formula-at.csv", 2, "notes", "@SUM(A1:A9)", "value.formula-like"),
        ("formula-plus.csv", 3, "notes", "+cmd|' /C calc'!A0", "value.formula-like"),
        ("formula-minus.csv", 4, "notes", "-cmd|' /C calc'!A0", "value.formula-like"),
    ]
    for name, row, column, value, code in cells:
        write_csv(name, with_cell(row, column, value))
        case(name, "quarantined", code)
    rows = good_rows()
    rows[6][0] = rows[2][0]
    write_csv("duplicate-key.csv", rows)
    case("duplicate-key.csv", "quarantined", "row.duplicate-key")
    rows = good_rows()
    rows[1][HEADER.index("birth_weight_g")] = "12000"
    rows[2][HEADER.index("smoking")] = "maybe"
    rows[3][HEADER.index("mother_nhs_number")] = "1234567890"
    rows[4][HEADER.index("booking_date")] = "not a date"
    write_csv("several-problems.csv", rows)
    case("several-problems.csv", "quarantined", "value.out-of-range", "value.not-in-code-list",
         "value.invalid-nhs-number", "value.bad-date")
    rows = [r[:] for r in good_rows()]
    for r in rows:
        r[HEADER.index("birth_weight_g")] = "heavy"
    write_csv("every-row-bad.csv", rows)
    case("every-row-bad.csv", "rejected", "value.not-integer")
    write_csv("bom-with-bad-row.csv", with_cell(1, "smoking", "X"), encoding="utf-8-sig")
    case("bom-with-bad-row.csv", "quarantined", "value.not-in-code-list")
    rows = with_cell(2, "birth_weight_g", "999999")
    rows[0][HEADER.index("mother_forename")] = "Zoë"
    rows[1][HEADER.index("notes")] = "£20 voucher"
    write_csv("windows-1252-with-bad-row.csv", rows, encoding="cp1252")
    case("windows-1252-with-bad-row.csv", "quarantined", "value.out-of-range")
    write_csv("extra-column-and-bad-row.csv", [[*r, "x"] for r in with_cell(1, "smoking", "Q")],
              [*HEADER, "gp_practice"])
    case("extra-column-and-bad-row.csv", "quarantined", "file.extra-column",
         "value.not-in-code-list")

    # --- spreadsheets and Parquet with bad values ----------------------------------------
    wb = openpyxl.Workbook()
    sheet = wb.active
    sheet.append(HEADER)
    for r in with_cell(1, "birth_weight_g", "50"):
        sheet.append([int(v) if v.isdigit() and h in ("birth_weight_g",
                                                       "gestational_age_weeks") else v
                      for h, v in zip(HEADER, r, strict=True)])
    wb.save(HERE / "xlsx-out-of-range.xlsx")
    case("xlsx-out-of-range.xlsx", "quarantined", "value.out-of-range")
    wb = openpyxl.Workbook()
    sheet = wb.active
    sheet.append(HEADER)
    for r in with_cell(2, "notes", "=1+1"):
        sheet.append(r)
    # A text cell that starts like a formula (what an injection looks like), not a formula.
    cell = sheet.cell(row=4, column=HEADER.index("notes") + 1)
    cell.value, cell.data_type = "=1+1", "s"
    wb.save(HERE / "xlsx-formula.xlsx")
    case("xlsx-formula.xlsx", "quarantined", "value.formula-like")
    wb = openpyxl.Workbook()
    sheet = wb.active
    sheet.append(HEADER)
    for r in with_cell(3, "booking_date", "someday"):
        sheet.append(r)
    wb.save(HERE / "xlsx-bad-date.xlsx")
    case("xlsx-bad-date.xlsx", "quarantined", "value.bad-date")
    table = pa.table({h: [r[i] for r in with_cell(1, "birth_weight_g", "abc")]
                      for i, h in enumerate(HEADER)})
    pq.write_table(table, HERE / "parquet-text-in-number.parquet")
    case("parquet-text-in-number.parquet", "quarantined", "value.not-integer")
    rows = good_rows()
    table = pa.table({h: [None if (i == 0 and k == 2) else r[i] for k, r in enumerate(rows)]
                      for i, h in enumerate(HEADER)})
    pq.write_table(table, HERE / "parquet-null-required.parquet")
    case("parquet-null-required.parquet", "quarantined", "value.missing")
    table = pa.table({**{h: [r[i] for r in good_rows()] for i, h in enumerate(HEADER)},
                      "birth_weight_g": pa.array([3000, 3100, 7000, 3200, 3300, 3400, 3500,
                                                  3600, 3700, 3800], pa.int64())})
    pq.write_table(table, HERE / "parquet-typed-out-of-range.parquet")
    case("parquet-typed-out-of-range.parquet", "quarantined", "value.out-of-range")

    (HERE / "expected.yaml").write_text(
        "# Written by make_corpus.py: what loading each corpus file must report.\n"
        + yaml.safe_dump(expected, sort_keys=True), encoding="utf-8")
    print(f"{len(expected)} files")


def _bomb(path: Path) -> None:
    """A workbook-shaped zip whose sheet inflates to 300 MiB of zeros (an XLSX bomb)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            block = b"0" * (1 << 20)
            for _ in range(300):
                f.write(block)


if __name__ == "__main__":
    main()
