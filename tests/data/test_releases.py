"""Published releases as they come (issue 15, part 5): DfE explore-education-statistics tidy
files and OHID Fingertips exports through their built-ins, a newer release superseding an
older one period by period with the revision listed, wide tables, value maps and old LA
numbers. Every file here is written by the test from the publishers' layouts (DfE's open data
standards; the Fingertips all-data export), with figures chosen so counts check by hand."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from common_outcomes.data.store import open_store
from common_outcomes.errors import UserError
from common_outcomes.project import Project
from common_outcomes.results.table import to_table
from common_outcomes.tracking.comparators import (
    ENGLAND,
    Comparators,
    current_rows,
    with_comparators,
)

ROOT = Path(__file__).resolve().parents[2]
TH, CAMDEN, LONDON = "E09000030", "E09000007", "E12000007"
LOOKED_AFTER = "Children looked after on 31 March each year"
HEAD = ["time_period", "time_identifier", "geographic_level", "country_code", "country_name",
        "region_code", "region_name", "old_la_code", "la_name", "new_la_code",
        "population_type", "population_estimate", "children_count", "rate_per_10000"]
# The previous release renames two columns (as DfE's CLA table did between releases).
OLD_HEAD = [{"children_count": "number_of_children", "rate_per_10000": "rate_per_10k"}.get(c, c)
            for c in HEAD]


def _row(year: int, level: str, count: str, rate: str, code: str = "", number: str = "",
         name: str = "", population: str = "12000000") -> list[str]:
    region = ("", "") if level == "National" else (LONDON, "London")
    return [str(year), "Reporting year", level, ENGLAND, "England", *region, number, name, code,
            LOOKED_AFTER, population, count, rate]


def england(year: int, rate: str) -> list[str]:
    return _row(year, "National", "83000", rate)


def borough(year: int, rate: str, code: str = TH, number: str = "211",
            name: str = "Tower Hamlets", count: str = "300") -> list[str]:
    return _row(year, "Local authority", count, rate, code, number, name, "60000")


def write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# Release 2024 (periods 2022 to 2024) and release 2025 (2023 to 2025): England's 2023 rate
# is 69 in the first and revised to 70 in the second; 2024 is the same in both.
PREVIOUS = [england(2022, "68"), england(2023, "69"), england(2024, "71"),
            borough(2022, "50"), borough(2023, "51"), borough(2024, "52")]
CURRENT = [england(2023, "70"), england(2024, "71"), england(2025, "67"),
           borough(2023, "51"), borough(2024, "52"), borough(2025, "53"),
           # Every EES symbol once, in Camden's rows (a statistical neighbour of Tower Hamlets).
           *(borough(2025, m, CAMDEN, "202", "Camden", count=m) for m in ("c", "z", "x")),
           ]
MARKERS = ["c", "low", "k", "~", "z", "x", ":", "u"]

DECLARATION = """kind: source
version: 1
id: {id}
builtin: dfe/ees
name: DfE children looked after ({id})
partner: childrens-social-care
agreement: {{reference: OGL-3.0-DfE}}
retention: {{analytic_years: 20, linkage_months: 1}}
files: {files}
{release}columns:
  - {{name: population_type}}
  - {{name: population_estimate, type: integer, minimum: 0}}
  - {{name: children_count, type: integer, minimum: 0, from: number_of_children}}
  - {{name: rate_per_10000, type: number, minimum: 0, from: rate_per_10k}}
comparators:
  - indicator: children-looked-after-rate
    area: [new_la_code, region_code, country_code]
    period: {{column: time_period, format: year_ending}}
    where: {{population_type: {looked_after}}}
    value: rate_per_10000
"""


@pytest.fixture()
def ws(tmp_path: Path) -> Path:
    """The example workspace without its comparator sources and data."""
    folder = tmp_path / "ws"
    shutil.copytree(ROOT / "examples" / "tower-hamlets", folder, ignore=shutil.ignore_patterns(
        "incoming", "synth-truth", ".outcomes", ".synth-staging-*"))
    for path in (folder / "sources").glob("*.yaml"):
        if path.stem.startswith(("dfe-", "fingertips-")):
            path.unlink()
    (tmp_path / "key").write_text("k" * 64)
    return folder


def declare(ws: Path, source: str, files: str, release: str = "") -> None:
    (ws / "sources" / f"{source}.yaml").write_text(DECLARATION.format(
        id=source, files=files, release=release, looked_after=LOOKED_AFTER))


def load(ws: Path) -> list[str]:
    results = Project.open(ws).load_data(None, [], True, ws.parent / "key")
    assert all(r.status == "loaded" for r in results), [(r.file, r.message) for r in results]
    return [r.message for r in results]


def published(ws: Path) -> Comparators:
    project = Project.open(ws)
    return with_comparators(to_table([]), ws, dict(project.sources), dict(project.indicators),
                            TH)


def value(found: Comparators, area: str, period: str) -> object:
    rows = [r for r in found.table.to_pylist() if r["area_code"] == area
            and r["period"] == period and r["indicator_id"] == "children-looked-after-rate"]
    assert len(rows) == 1, rows
    return rows[0]["value"]


def test_two_sources_with_a_revised_england_figure_name_both_and_the_right_fix(ws: Path) -> None:
    """The bug: a previous release beside the current one stopped the run naming one source
    and suggesting 'where'/'exclude'. The example's own declaration (no built-in, no
    release) and a copy of it for the previous release disagree on England 2022/23: the
    message names both sources, both files and both values, and says to declare them
    releases of one publication."""
    example = (ROOT / "examples" / "tower-hamlets" / "sources"
               / "dfe-children-looked-after.yaml").read_text()
    current = example.replace("files: comparators/cla_number_and_rate_per_10k_children*.csv",
                              "files: comparators/cla_2025.csv")
    previous = current.replace("id: dfe-children-looked-after", "id: dfe-cla-2024").replace(
        "cla_2025.csv", "cla_2024.csv").replace(
        "{name: children_count,", "{name: children_count, from: number_of_children,").replace(
        "{name: rate_per_10000,", "{name: rate_per_10000, from: rate_per_10k,")
    (ws / "sources" / "dfe-children-looked-after.yaml").write_text(current)
    (ws / "sources" / "dfe-cla-2024.yaml").write_text(previous)
    write(ws / "incoming" / "comparators" / "cla_2025.csv", HEAD, CURRENT[:6])
    write(ws / "incoming" / "comparators" / "cla_2024.csv", OLD_HEAD, PREVIOUS)
    load(ws)
    with pytest.raises(UserError) as caught:
        Project.open(ws).run()
    message = str(caught.value)
    for part in ("dfe-children-looked-after,", "dfe-cla-2024,", "cla_2025.csv", "cla_2024.csv",
                 "69", "70", "England", "2022/23", "release: {publication:"):
        assert part in message, message
    assert "where" not in message


def check_superseded(found: Comparators) -> None:
    # England: 2021/22 from the previous release only, 2022/23 revised 69 -> 70, 2023/24
    # the same in both, 2024/25 from the current release only.
    assert [value(found, ENGLAND, p) for p in ("2021/22", "2022/23", "2023/24", "2024/25")] \
        == [68.0, 70.0, 71.0, 67.0]
    assert value(found, TH, "2021/22") == 50.0
    assert len(found.revisions) == 1
    revision = found.revisions[0]
    assert (revision.area_code, revision.period, revision.old_value, revision.new_value) == (
        ENGLAND, "2022/23", 69.0, 70.0)
    assert "release 2024" in revision.old_release and "cla_2024.csv" in revision.old_release
    assert "release 2025" in revision.new_release and "cla_2025.csv" in revision.new_release
    assert revision.sentence().startswith("children-looked-after-rate, England 2022/23: 69 (")


def test_sources_naming_one_publication_the_newer_release_wins_period_by_period(
        ws: Path) -> None:
    declare(ws, "dfe-cla", "comparators/cla_2025.csv", "release: {publication: dfe-cla}\n")
    declare(ws, "dfe-cla-2024", "comparators/cla_2024.csv", "release: {publication: dfe-cla, "
            "column: time_period}\n")
    write(ws / "incoming" / "comparators" / "cla_2025.csv", HEAD, CURRENT)
    write(ws / "incoming" / "comparators" / "cla_2024.csv", OLD_HEAD, PREVIOUS)
    messages = load(ws)
    assert any("read 'number_of_children' as 'children_count', 'rate_per_10k' as "
               "'rate_per_10000'" in m for m in messages), messages
    check_superseded(published(ws))


def test_files_of_one_source_are_releases_kept_side_by_side(ws: Path) -> None:
    """The built-in's release rule: each file is a release named by its latest
    time_period; loading the older after the newer changes nothing about which wins."""
    declare(ws, "dfe-cla", "comparators/cla_*.csv")
    write(ws / "incoming" / "comparators" / "cla_2025.csv", HEAD, CURRENT)
    write(ws / "incoming" / "comparators" / "cla_2024.csv", OLD_HEAD, PREVIOUS)
    load(ws)
    history = open_store(ws).history("dfe-cla")
    assert sorted(v.current_periods for v in history) == [("release 2024",), ("release 2025",)]
    check_superseded(published(ws))


def test_a_run_lists_the_revisions_beside_the_results(ws: Path) -> None:
    declare(ws, "dfe-cla", "comparators/cla_*.csv")
    write(ws / "incoming" / "comparators" / "cla_2025.csv", HEAD, CURRENT)
    write(ws / "incoming" / "comparators" / "cla_2024.csv", OLD_HEAD, PREVIOUS)
    load(ws)
    result = Project.open(ws).run()
    assert [r.period for r in result.revisions] == ["2022/23"]
    assert result.revisions_path is not None
    with result.revisions_path.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["area_code"], r["old_value"], r["new_value"]) for r in rows] == [
        (ENGLAND, "69.0", "70.0")]


def test_two_values_inside_one_release_stop_naming_source_file_values_and_fix(
        ws: Path) -> None:
    declare(ws, "dfe-cla", "comparators/cla_*.csv")
    write(ws / "incoming" / "comparators" / "cla_2025.csv", HEAD,
          [*CURRENT, england(2025, "66")])
    load(ws)
    with pytest.raises(UserError, match=r"source 'dfe-cla' gives 'children-looked-after-rate' "
                                        r"for England \(E92000001\) in 2024/25 two values in "
                                        r"one release \(cla_2025.csv: 67 and 66\).*'where' or "
                                        r"'exclude'"):
        published(ws)


def test_every_ees_symbol_becomes_a_missing_value_with_its_reason(ws: Path) -> None:
    declare(ws, "dfe-cla", "comparators/cla_*.csv")
    rows = [borough(2025, m, CAMDEN, "202", "Camden", count=m) for m in MARKERS]
    rows = [[*r[:10], f"type {i}", *r[11:]] for i, r in enumerate(rows)]  # distinct rows
    write(ws / "incoming" / "comparators" / "cla_2025.csv", HEAD, [*CURRENT, *rows])
    load(ws)
    table = current_rows(open_store(ws), "dfe-cla", ["children_count", "rate_per_10000"])
    assert table is not None
    assert table.num_rows == len(CURRENT) + len(MARKERS)  # 9 + 8, none quarantined
    notes = [n for n in table.column("children_count_note").to_pylist() if n]
    # c, z and x in CURRENT's Camden rows, then each of the eight symbols once.
    assert sorted(notes) == sorted([
        "suppressed", "not applicable", "not available", "suppressed",
        "rounds to 0 but is not 0", "rounds to 0 but is not 0", "rounds to 0 but is not 0",
        "not applicable", "not available", "not available", "low reliability"])
    assert table.column("children_count").null_count == len(notes)


FINGERTIPS = ["Indicator ID", "Indicator Name", "Parent Code", "Parent Name", "Area Code",
              "Area Name", "Area Type", "Sex", "Age", "Category Type", "Category",
              "Time period", "Value", "Lower CI 95.0 limit", "Upper CI 95.0 limit",
              "Lower CI 99.8 limit", "Upper CI 99.8 limit", "Count", "Denominator",
              "Value note", "Recent Trend", "Compared to England value or percentiles",
              "Compared to percentiles", "Time period Sortable", "New data",
              "Compared to goal", "Time period range"]


def fingertips(parent: str, code: str, name: str, kind: str, period: str, value: str,
               lower: str = "-1", count: str = "", denominator: str = "",
               category_type: str = "") -> list[str]:
    return ["20101", "Low birth weight of term babies", parent, "", code, name, kind,
            "Persons", ">=37 weeks gestational age at birth", category_type, "", period,
            value, lower, "-1", "-1", "-1", count, denominator, "", "", "Not compared", "",
            f"{period}0000", "", "", "1y"]


def test_a_fingertips_export_for_another_indicator_loads_through_the_built_in(
        ws: Path) -> None:
    (ws / "sources" / "fingertips-lbw.yaml").write_text("""kind: source
version: 1
id: fingertips-lbw
builtin: fingertips/all-data
name: Fingertips 20101 export
partner: public-health
agreement: {reference: OGL-3.0-OHID}
retention: {analytic_years: 20, linkage_months: 1}
files: comparators/fingertips_20101*.csv
comparators:
  - indicator: low-birth-weight-term
    area: Area Code
    period: {column: Time period}
    where: {Sex: Persons, Category Type: ''}
    value: Value
    lower_95: Lower CI 95.0 limit
    upper_95: Upper CI 95.0 limit
    count: Count
    denominator: Denominator
""")
    rows = [fingertips("", ENGLAND, "England", "England", "2022", "2.9", "2.8", "15800",
                       "545000"),
            fingertips("", ENGLAND, "England", "England", "2023", "2.8", "2.7", "15000",
                       "535000"),
            fingertips("E12000007", TH, "Tower Hamlets", "UA", "2023", "3.4", "-1", "", ""),
            # Repeated under another parent, and a deprivation decile row: both left out.
            fingertips("E92000001", TH, "Tower Hamlets", "UA", "2023", "3.4", "-1", "", ""),
            fingertips("", ENGLAND, "England", "England", "2023", "4.1", "-1",
                       category_type="Deprivation deciles")]
    write(ws / "incoming" / "comparators" / "fingertips_20101.csv", FINGERTIPS, rows)
    messages = load(ws)
    assert "5 rows loaded" in messages[0], messages
    # Names and percentile comparisons are not declared: kept out, and said so.
    assert "Indicator Name" in messages[0] and "Time period range" in messages[0]
    found = [r for r in published(ws).table.to_pylist()
             if r["indicator_id"] == "low-birth-weight-term"]
    by = {(r["area_code"], r["period"]): r for r in found}
    assert set(by) == {(ENGLAND, "2022"), (ENGLAND, "2023"), (TH, "2023")}
    assert by[(ENGLAND, "2023")]["value"] == 2.8
    assert by[(ENGLAND, "2023")]["lower_95"] == 2.7
    assert by[(TH, "2023")]["lower_95"] is None  # -1: not presented
    history = open_store(ws).history("fingertips-lbw")
    assert history[0].current_periods == ("release 2023",)


WIDE = """kind: source
version: 1
id: wide-cla
name: Looked after children by LA, wide (DfE-style table)
partner: childrens-social-care
agreement: {reference: OGL-3.0-DfE}
retention: {analytic_years: 20, linkage_months: 1}
files: comparators/wide_*.csv
schedule: {every: year, due_days: 365}
unpivot: {columns: 'Rate (\\d{4})', period: year, value: rate}
columns:
  - {name: LA, required: true, la_code: la_code}
  - {name: LA name}
  - {name: Complete, codes: ['true', 'false'], values: {Y: 'true', N: 'false'}}
  - {name: year, type: integer, required: true}
  - {name: rate, type: number, markers: {c: suppressed, x: not available}}
"""


def test_a_wide_table_with_old_la_numbers_and_a_value_map_loads_long(ws: Path) -> None:
    (ws / "sources" / "wide-cla.yaml").write_text(WIDE)
    write(ws / "incoming" / "comparators" / "wide_cla.csv",
          ["LA", "LA name", "Complete", "Rate 2022", "Rate 2023", "Rate 2024", "Notes"],
          [["211", "Tower Hamlets", "Y", "50", "51", "52", "a"],
           ["202", "Camden", "N", "60", "c", "x", ""],
           ["999", "Nowhere", "Y", "1", "2", "3", ""],
           ["825", "Buckinghamshire", "Maybe", "40", "41", "42", ""]])
    results = Project.open(ws).load_data(None, [], True, ws.parent / "key")
    result = results[0]
    # 4 rows x 3 years = 12 long rows; 999's three and the 'Maybe' row's three quarantined.
    assert (result.rows_read, result.rows_accepted, result.rows_quarantined) == (12, 6, 6)
    problems = {(p.row, p.column, p.code) for p in result.problems
                if p.code.startswith("value.")}
    assert problems == {(3, "LA", "value.unknown-la-number"),  # data rows from 1
                        (4, "Complete", "value.not-in-code-list")}
    assert "Notes" in result.message  # undeclared, kept out
    table = current_rows(open_store(ws), "wide-cla", ["LA", "la_code", "Complete", "year",
                                                      "rate"])
    assert table is not None
    got = sorted(zip(*(table.column(c).to_pylist()
                       for c in ("la_code", "year", "rate", "rate_note", "Complete")),
                     strict=True))
    assert got == [(CAMDEN, 2022, 60.0, None, "false"), (CAMDEN, 2023, None, "suppressed",
                                                         "false"),
                   (CAMDEN, 2024, None, "not available", "false"),
                   (TH, 2022, 50.0, None, "true"), (TH, 2023, 51.0, None, "true"),
                   (TH, 2024, 52.0, None, "true")]


def test_a_file_without_the_wide_columns_is_refused_in_one_sentence(ws: Path) -> None:
    (ws / "sources" / "wide-cla.yaml").write_text(WIDE)
    write(ws / "incoming" / "comparators" / "wide_cla.csv", ["LA", "2022", "2023"],
          [["211", "1", "2"]])
    result = Project.open(ws).load_data(None, [], True, ws.parent / "key")[0]
    assert result.status == "rejected"
    assert result.message == ("No column of wide_cla.csv matches the unpivot pattern "
                              "'Rate (\\d{4})' of wide-cla; check the file is the wide table, "
                              "or correct the pattern")
    assert open_store(ws).history("wide-cla") == []


def test_old_la_numbers_shared_by_a_county_and_its_unitary_give_the_unitary() -> None:
    from common_outcomes.data.returns import la_codes_by_number
    numbers = la_codes_by_number()
    assert numbers["211"] == TH
    assert numbers["825"] == "E06000060"  # Buckinghamshire's unitary, not county E10000002


def test_the_la_filter_reads_the_same_lookup_as_la_code_columns() -> None:
    """One lookup: a number the la_code columns give to an LA is that LA's in an la_filter,
    and a number they give to another (825: the unitary, not the former county) is not."""
    from common_outcomes.data.returns import la_codes_by_number, own_la_codes
    for number, code in la_codes_by_number().items():
        assert number in own_la_codes(code)
    assert own_la_codes(TH) == {TH, "211"}
    assert "825" in own_la_codes("E06000060") and "825" not in own_la_codes("E10000002")


def test_a_release_column_that_is_not_a_column_is_refused_at_its_line(
        example_copy: Path) -> None:
    path = example_copy / "sources" / "dfe-children-looked-after.yaml"
    text = path.read_text()
    assert "builtin: dfe/ees" in text
    path.write_text(text.replace("columns:\n", "release: {publication: dfe-cla, column: "
                                 "time_periods}\ncolumns:\n", 1))
    found = [i for i in Project.check(example_copy).issues if i.code == "ref.unknown-column"]
    assert len(found) == 1 and found[0].location is not None
    assert found[0].location.file.endswith("dfe-children-looked-after.yaml")
    line = path.read_text().splitlines()[found[0].location.line - 1]
    assert line.startswith("release:") and "time_periods" in line
    assert "'time_periods' as its release column" in found[0].message
    assert found[0].hint == "did you mean 'time_period'?"


def test_a_publication_named_beside_a_built_in_keeps_its_release_column(
        example_copy: Path) -> None:
    """The built-in's column (time_period) is declared by the built-in: nothing to refuse."""
    path = example_copy / "sources" / "dfe-children-looked-after.yaml"
    path.write_text(path.read_text().replace("columns:\n", "release: {publication: dfe-cla}\n"
                                             "columns:\n", 1))
    assert not [i for i in Project.check(example_copy).issues if i.code.startswith("ref.")]
