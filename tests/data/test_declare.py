"""`outcomes declare` drafts a source declaration from a file; `resembles` recognises a file
shaped like a built-in, for the draft and for the load's refusal. Files are written here,
synthetic; the SSDA903 and SSD headers are the built-ins' own (from the DfE guide and the SSD
specification)."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from common_outcomes.data.builtin import templates
from common_outcomes.data.declarations import Identifier
from common_outcomes.data.declare import (
    SAMPLE_ROWS,
    identifier_of,
    needed_by,
    own_file,
    resembles,
)
from common_outcomes.errors import Severity, UserError
from common_outcomes.identifiers import nhs_check_digit
from common_outcomes.project import Project

# Valid NHS numbers (Modulus 11) in the 999 range, which is never issued.
NHS = tuple(f"{n}{nhs_check_digit(str(n))}" for n in range(999000001, 999000040)
            if nhs_check_digit(str(n)) is not None)[:10]


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _maternity_rows(n: int) -> list[list[str]]:
    """A trust's booking extract: ids, an NHS number, dates in two formats (one with SQL
    Server's time of day), a whole number, a decimal with gaps, a code and a postcode."""
    rows = []
    for i in range(n):
        booked = date(2024, 4, 1) + timedelta(days=i % 300)
        written = (booked.strftime("%d/%m/%Y") if i % 2 else
                   booked.strftime("%Y-%m-%d") + " 00:00:00.000")
        rows.append([f"B{i:05d}", NHS[i % len(NHS)],
                     (date(1990, 1, 1) + timedelta(days=97 * i % 5000)).strftime("%d/%m/%Y"),
                     ("E1 6AN", "E2 7BB", "E3 4CC")[i % 3], written, str(50 + i % 60),
                     "" if i % 4 == 0 else f"{2.5 + (i % 10) / 10:.1f}",
                     ("Y", "N", "U")[i % 3], f"0{i % 5}"])
    return rows


HEADER = ["MSD101_ID", "NHSNumberMother", "PersonBirthDateMother", "Postcode",
          "AntenatalAppDate", "GestAgeBooking", "BirthWeightKg", "SmokingStatusBooking",
          "SiteCode"]


def _filled(text: str, partner: str) -> str:
    """The draft with the council's own fields filled in, as the analyst would."""
    return (text.replace("partner: null", f"partner: {partner}")
            .replace("reference: null", "reference: DSA-TH-2025-09"))


def _errors(folder: Path) -> list[str]:
    return [f"{i.location}: {i.code} {i.message}" for i in Project.check(folder).issues
            if i.severity is Severity.ERROR]


def test_a_draft_guesses_types_formats_codes_required_identifiers_and_key(
        example_copy: Path, tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "bookings.csv", HEADER, _maternity_rows(40))
    out = example_copy / "sources" / "msds_bookings.yaml"
    drafted = Project.declare(path, "msds-bookings", out)
    text = out.read_text()
    assert text.startswith("# yaml-language-server: $schema=")
    doc = yaml.safe_load(text)
    assert (doc["kind"], doc["version"], doc["id"]) == ("source", 1, "msds-bookings")
    columns = {c["name"]: c for c in doc["columns"]}
    assert list(columns) == HEADER
    assert columns["AntenatalAppDate"]["type"] == "date"
    assert set(columns["AntenatalAppDate"]["date_formats"]) == {"%Y-%m-%d", "%d/%m/%Y"}
    assert columns["GestAgeBooking"]["type"] == "integer"
    assert columns["BirthWeightKg"]["type"] == "number"
    assert "required" not in columns["BirthWeightKg"]  # a quarter of it is empty
    assert columns["SmokingStatusBooking"]["codes"] == ["N", "U", "Y"]
    # Codes with leading zeros stay text, with their codes.
    assert columns["SiteCode"] == {"name": "SiteCode", "type": "string", "required": True,
                                   "codes": ["00", "01", "02", "03", "04"]}
    assert columns["NHSNumberMother"]["identifier"] == "nhs_number"
    assert columns["NHSNumberMother"]["type"] == "string"  # digits, but an identifier
    assert columns["PersonBirthDateMother"]["identifier"] == "date_of_birth"
    assert columns["Postcode"]["identifier"] == "postcode"
    assert doc["key"] == ["MSD101_ID"] and drafted.key == ("MSD101_ID",)
    assert drafted.rows_sampled == 40 and drafted.builtin is None
    # Every column and every guess has its comment.
    assert text.count("\n  # ") == len(HEADER)
    assert "# FILL IN" in text and "a guess" in text and "unique in the 40 rows" in text
    # Unfilled, the workspace does not pass: partner and agreement are the council's own.
    errors = _errors(example_copy)
    assert errors and all("msds_bookings.yaml" in e for e in errors)
    assert any("partner" in e for e in errors) and any("reference" in e for e in errors)
    # Filled in, it passes `outcomes check`, and the file loads with it, every row.
    out.write_text(_filled(text, "maternity-services"))
    assert _errors(example_copy) == []
    key = tmp_path / "key"
    key.write_text("k" * 64)
    (result,) = Project.open(example_copy).load_data("msds-bookings", [path], False, key)
    assert (result.status, result.rows_accepted) == ("loaded", 40), result.problems[:3]


def test_a_two_column_key_when_no_column_is_unique_and_none_when_nothing_is(
        tmp_path: Path) -> None:
    rows = [[f"C{i // 3}", f"2024-0{1 + i % 3}-01", "x"] for i in range(12)]
    path = _write_csv(tmp_path / "episodes.csv", ["child_ref", "start", "what"], rows)
    Project.declare(path, "episodes", tmp_path / "a.yaml")
    assert yaml.safe_load((tmp_path / "a.yaml").read_text())["key"] == ["child_ref", "start"]
    path = _write_csv(tmp_path / "same.csv", ["a", "b"], [["1", "2"]] * 4)
    Project.declare(path, "same", tmp_path / "b.yaml")
    text = (tmp_path / "b.yaml").read_text()
    assert "key" not in yaml.safe_load(text) and "# key: no column" in text


def test_the_sample_is_bounded(tmp_path: Path) -> None:
    rows = [[str(i), "A" if i < SAMPLE_ROWS else ""] for i in range(SAMPLE_ROWS + 500)]
    path = _write_csv(tmp_path / "big.csv", ["n", "flag"], rows)
    drafted = Project.declare(path, "big", tmp_path / "big.yaml")
    assert drafted.rows_sampled == SAMPLE_ROWS
    # The empties after the sample are not seen: the comment says how many rows were.
    column = yaml.safe_load((tmp_path / "big.yaml").read_text())["columns"][1]
    assert column["required"] is True
    assert f"no empty value in {SAMPLE_ROWS:,} rows" in (tmp_path / "big.yaml").read_text()


def test_parquet_and_xlsx_drafts_read_their_own_types(tmp_path: Path) -> None:
    pq.write_table(pa.table({
        "contact_id": ["H1", "H2", "H3", "H4"], "age_days": pa.array([10, 40, 400, 800]),
        "score": pa.array([1.5, 2.0, None, 3.25]),
        "contact_date": pa.array([date(2024, 5, d) for d in (1, 2, 3, 4)], pa.date32()),
        "child_nhs_number": list(NHS[:4])}), tmp_path / "hv.parquet")
    Project.declare(tmp_path / "hv.parquet", "hv", tmp_path / "hv.yaml")
    columns = {c["name"]: c for c in yaml.safe_load((tmp_path / "hv.yaml").read_text())["columns"]}
    assert [columns[n]["type"] for n in ("age_days", "score", "contact_date")] == [
        "integer", "number", "date"]
    assert columns["child_nhs_number"]["identifier"] == "nhs_number"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Forename", "DOB", "visits"])
    for i in range(4):
        sheet.append([f"Name{i}", f"0{i + 1}/02/2019", i])
    book.save(tmp_path / "people.xlsx")
    Project.declare(tmp_path / "people.xlsx", "people", tmp_path / "people.yaml")
    columns = {c["name"]: c for c in
               yaml.safe_load((tmp_path / "people.yaml").read_text())["columns"]}
    assert columns["Forename"]["identifier"] == "name"
    assert (columns["DOB"]["type"], columns["DOB"]["date_formats"]) == ("date", ["%d/%m/%Y"])
    assert columns["visits"]["type"] == "integer"


def test_a_header_with_a_builtins_columns_drafts_the_short_builtin_form(
        example_copy: Path, tmp_path: Path) -> None:
    header = [c.name for c in templates()["ssda903/episodes"].columns] + ["YEAR", "LA", "NOTE"]
    row = ["C1", "01/04/2020", "S", "C2", "N1", "U1", "PR1", "", "", "", "E1 6AN", "", "X",
           "2021", "211", "x"]
    path = _write_csv(tmp_path / "episodes.csv", header, [row])
    out = example_copy / "sources" / "cla_903.yaml"
    drafted = Project.declare(path, "cla-903", out)
    text = out.read_text()
    doc = yaml.safe_load(text)
    assert drafted.builtin == "ssda903/episodes"
    assert doc["builtin"] == "ssda903/episodes" and "columns" not in doc
    assert doc["latest_return"] == {"year": "YEAR"} and doc["la_filter"] == "LA"
    assert "NOTE" in text.split("la_filter")[1]  # the extra column is named in a comment
    out.write_text(_filled(text, "childrens-social-care"))
    assert _errors(example_copy) == []


def test_it_never_writes_over_a_file_without_force_and_writes_nothing_else(
        example_copy: Path, tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "bookings.csv", HEADER, _maternity_rows(6))
    out = example_copy / "sources" / "maternity.yaml"
    before = out.read_text()
    files = sorted(p for p in example_copy.rglob("*"))
    with pytest.raises(UserError, match=r"already exists.*--force"):
        Project.declare(path, "maternity", out)
    assert out.read_text() == before
    assert sorted(p for p in example_copy.rglob("*")) == files  # no store, no temporary file
    Project.declare(path, "maternity", out, force=True)
    assert "MSD101_ID" in out.read_text()
    assert sorted(p for p in example_copy.rglob("*")) == files


def test_bad_input_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"missing\.csv does not exist"):
        Project.declare(tmp_path / "missing.csv", "x", tmp_path / "x.yaml")
    path = _write_csv(tmp_path / "a.csv", ["a"], [["1"]])
    with pytest.raises(UserError, match="not a usable source id"):
        Project.declare(path, "Not An Id", tmp_path / "x.yaml")
    assert not (tmp_path / "x.yaml").exists()


@pytest.mark.parametrize(("name", "kind"), [
    ("NHSNumberBaby", Identifier.NHS_NUMBER), ("pers_nhs_num", Identifier.NHS_NUMBER),
    ("NHSNumberStatusBaby", None), ("UPN", Identifier.UPN), ("pers_upn", Identifier.UPN),
    ("CHILD", Identifier.CASE_ID), ("LAchildID", Identifier.CASE_ID),
    ("person id", Identifier.CASE_ID), ("Person_ID_Mother", Identifier.CASE_ID),
    ("LPIDMother", Identifier.CASE_ID), ("DOB", Identifier.DATE_OF_BIRTH),
    ("PersonBirthDateBaby", Identifier.DATE_OF_BIRTH), ("HOME_POST", Identifier.POSTCODE),
    ("Postcode", Identifier.POSTCODE), ("PostcodeDistrictMother", None),
    ("pers_forename", Identifier.NAME), ("contact_date", None), ("PLACE", None),
    ("worker_id", None), ("la_name", None),
])
def test_identifiers_by_name(name: str, kind: Identifier | None) -> None:
    assert identifier_of(name) is kind


# --- recognising a built-in ------------------------------------------------------------------


@pytest.mark.parametrize("builtin", ["ssda903/episodes", "ssda903/header", "ssda903/uasc",
                                     "ssda903/missing", "ssd/ssd-cla-episodes",
                                     "ssd/ssd-cp-plans", "ssd/ssd-person"])
def test_a_builtins_header_is_recognised_even_with_a_column_short_or_extra(
        builtin: str) -> None:
    names = [c.name for c in templates()[builtin].columns]
    assert resembles(names) is not None and resembles(names).builtin == builtin  # type: ignore[union-attr]
    # With an optional column short and a column of the council's own added.
    optional = [n for n in names if n not in needed_by(templates()[builtin])]
    header = [n for n in names if n != (optional[-1] if optional else None)] + ["extra_col"]
    match = resembles(header)
    assert match is not None and match.builtin == builtin and match.exact


def test_every_builtin_recognises_its_own_header() -> None:
    for builtin, template in templates().items():
        if not own_file(template):
            continue  # one table of a file holding several has no header of its own
        match = resembles([c.name for c in template.columns])
        assert match is not None and match.builtin == builtin, builtin


def test_a_header_that_is_not_a_builtins_is_not_recognised() -> None:
    assert resembles(HEADER) is None
    # Three SSDA903 names among many others are not convincing.
    assert resembles(["CHILD", "DECOM", "DEC", *(f"col{i}" for i in range(10))]) is None
    # Nor is a built-in's column or two.
    assert resembles(["CHILD", "SEX"]) is None


def test_a_file_of_another_builtin_is_recognised_in_the_loads_one_sentence(
        example_copy: Path, tmp_path: Path) -> None:
    """An SSDA903 episodes file loaded against a header declaration, an SSD CP plans
    extract against the CLA episodes built-in, and a 903 episodes file against the
    example's hand-written maternity declaration: each refused, saying what it looks like."""
    (example_copy / "sources" / "cla_header.yaml").write_text(
        "kind: source\nversion: 1\nid: cla-header\nbuiltin: ssda903/header\nname: Header\n"
        "partner: childrens-social-care\nagreement: {reference: DSA-1}\n"
        "retention: {analytic_years: 5, linkage_months: 12}\nfiles: ssda903/header*.csv\n")
    key = tmp_path / "key"
    key.write_text("k" * 64)
    episodes = [c.name for c in templates()["ssda903/episodes"].columns]
    row = ["C1", "01/04/2020", "S", "C2", "N1", "U1", "PR1", "", "", "", "E1 6AN", "", "X"]
    episodes_file = _write_csv(tmp_path / "episodes.csv", episodes, [row])
    plans = [c.name for c in templates()["ssd/ssd-cp-plans"].columns]
    plans_file = _write_csv(tmp_path / "cp_plans.csv", plans, [["1"] * len(plans)])
    project = Project.open(example_copy)
    for source, path, builtin in (("cla-header", episodes_file, "ssda903/episodes"),
                                  ("ssd-cla-episodes", plans_file, "ssd/ssd-cp-plans"),
                                  ("maternity", episodes_file, "ssda903/episodes")):
        (result,) = project.load_data(source, [path], False, key)
        assert result.status == "rejected"
        name = templates()[builtin].name
        assert result.message.endswith(
            f"; this looks like the built-in {name} table; declare `builtin: {builtin}`"), (
            result.message)
        assert result.message.count(". ") == 0  # one sentence
    # An episodes file without CHILD still looks like one, against the header's declaration;
    # against a declaration of episodes itself it says only what is missing.
    short = _write_csv(tmp_path / "short.csv", episodes[1:], [row[1:]])
    (result,) = project.load_data("cla-header", [short], False, key)
    assert result.message.endswith("declare `builtin: ssda903/episodes`")
    (example_copy / "sources" / "cla_903.yaml").write_text(
        (example_copy / "sources" / "cla_header.yaml").read_text()
        .replace("cla-header", "cla-903").replace("ssda903/header", "ssda903/episodes"))
    (result,) = Project.open(example_copy).load_data("cla-903", [short], False, key)
    assert result.status == "rejected" and "'CHILD'" in result.message
    assert "looks like" not in result.message
    assert project.store.current_files("cla-header") == []
    assert project.store.current_files("cla-903") == []


def test_long_digit_ids_stay_text_and_an_empty_date_of_birth_is_still_a_date(
        tmp_path: Path) -> None:
    rows = [[f"{10**17 + i}", "", str(i)] for i in range(5)]
    path = _write_csv(tmp_path / "ids.csv", ["UniqSubmissionID", "PersonBirthDate", "n"], rows)
    Project.declare(path, "ids", tmp_path / "ids.yaml")
    columns = {c["name"]: c for c in yaml.safe_load((tmp_path / "ids.yaml").read_text())[
        "columns"]}
    assert columns["UniqSubmissionID"]["type"] == "string"
    assert columns["n"]["type"] == "integer"
    assert columns["PersonBirthDate"] == {"name": "PersonBirthDate", "type": "date",
                                          "identifier": "date_of_birth"}
