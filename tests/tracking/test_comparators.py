"""Published comparators from the carried DfE and Fingertips tables (the publishers' files
restricted to the example's areas and columns): England, London, the borough
and its DfE statistical neighbours in the results, every borough compared with England, and
bad mappings reported by `outcomes check` at their line."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from common_outcomes import reference
from common_outcomes.data.declarations import PeriodFormat
from common_outcomes.errors import UserError
from common_outcomes.geography.reference import statistical_neighbours
from common_outcomes.periods import PeriodType
from common_outcomes.project import Project
from common_outcomes.results.table import to_table
from common_outcomes.stats.compare import compare_to_benchmark
from common_outcomes.tracking import comparators
from common_outcomes.tracking.comparators import COMPARATORS, ENGLAND, period_of

TOWER_HAMLETS, LONDON = "E09000030", "E12000007"
Row = dict[str, object]
Finish = Callable[..., pa.Table]


def published(kind: str) -> list[dict[str, str]]:
    """The carried published table of `kind` (reference/data/manifest.yaml), as text."""
    with reference.path(kind).open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def dfe_row(rows: list[dict[str, str]], year: str, code: str, **match: str) -> dict[str, str]:
    found = [r for r in rows if r["time_period"] == year and code in (
        r["new_la_code"] or r["region_code"] or r["country_code"]) and all(
        r[k] == v for k, v in match.items())]
    assert len(found) == 1, (year, code, match)
    return found[0]


def one(rows: list[Row], indicator: str, area: str, period: str) -> Row:
    found = [r for r in rows if r["indicator_id"] == indicator and r["area_code"] == area
             and r["period"] == period]
    assert len(found) == 1, (indicator, area, period, len(found))
    return found[0]


def test_the_boroughs_published_children_in_need_rate_is_its_la_row(
        comparator_rows: list[Row]) -> None:
    # b1 publishes counts: the rate divides those at 31 March 2024 by the mid-2023 population.
    count = dfe_row(published("dfe-children-in-need"), "2024",
                    TOWER_HAMLETS)["At31_episodes"]
    population = dfe_row(published("dfe-child-population"),
                         "2023", TOWER_HAMLETS)["population_estimate"]
    row = one(comparator_rows, "children-in-need-rate", TOWER_HAMLETS, "2023/24")
    assert (row["numerator"], row["denominator"]) == (float(count), float(population)) == (
        2908.0, 63462.0)
    assert row["value"] == pytest.approx(2908 / 63462 * 10_000)
    assert row["area_type"] == "la" and row["period_type"] == "financial_year"
    assert (row["period_start"], row["period_end"]) == (date(2023, 4, 1), date(2024, 3, 31))
    assert str(row["method"]).startswith("published (dfe-children-in-need, dfe-child-population)")
    assert row["lower_95"] < row["value"] < row["upper_95"]  # type: ignore[operator]


def test_a_published_rate_is_the_value_in_the_file(comparator_rows: list[Row]) -> None:
    cla = published("dfe-children-looked-after")
    kind = {"population_type": "Children looked after on 31 March each year"}
    for code in (TOWER_HAMLETS, ENGLAND, LONDON):
        source = dfe_row(cla, "2024", code, **kind)
        row = one(comparator_rows, "children-looked-after-rate", code, "2023/24")
        assert row["value"] == float(source["rate_per_10000"])
        assert row["numerator"] == float(source["children_count"])
    assert one(comparator_rows, "children-looked-after-rate", TOWER_HAMLETS,
               "2023/24")["value"] == 44.0


def test_england_and_london_rows_exist_with_their_parents(comparator_rows: list[Row]) -> None:
    england = one(comparator_rows, "children-in-need-rate", ENGLAND, "2023/24")
    london = one(comparator_rows, "children-in-need-rate", LONDON, "2023/24")
    assert (england["area_type"], england["area_name"], england["parent_code"]) == (
        "england", "England", None)
    assert (london["area_type"], london["area_name"], london["parent_code"]) == (
        "region", "London", ENGLAND)
    b1 = published("dfe-children-in-need")
    assert england["numerator"] == float(dfe_row(b1, "2024", ENGLAND,
                                                 geographic_level="National")["At31_episodes"])
    # London is compared with England; England with nothing.
    assert london["benchmark_code"] == ENGLAND and england["benchmark_code"] is None


def test_a_yearly_file_per_source_and_its_example_rows_left_out(comparator_rows: list[Row]) -> None:
    """Three NCCIS dashboards, one source each; the 2021 file's "Region demo" rows have no
    area code and would otherwise read as England (exclude: {region_name: Region demo})."""
    neet = {r["period"]: r["value"] for r in comparator_rows
            if r["indicator_id"] == "neet-or-not-known-16-17" and r["area_code"] == ENGLAND}
    files = {"2020/21": "dfe-neet-2021", "2021/22": "dfe-neet-2022", "2022/23": "dfe-neet-2023"}
    assert any(r["region_name"] == "Region demo" for r in published("dfe-neet-2021"))
    assert neet == {period: float(next(r for r in published(kind) if r[
        "geographic_level"] == "National")["NEET_not_known_percent"])
        for period, kind in files.items()} == {"2020/21": 5.5, "2021/22": 4.7, "2022/23": 5.2}


def test_the_statistical_neighbours_are_the_ten_in_the_dfe_file(comparator_rows: list[Row]) -> None:
    with reference.path("statistical-neighbours").open(encoding="utf-8-sig") as f:
        row = next(r for r in csv.reader(f) if r and r[0] == "211")
    expected = [int(row[5 + 2 * k]) for k in range(10)]
    neighbours = statistical_neighbours(TOWER_HAMLETS)
    assert [n.la.old_la_code for n in neighbours] == expected
    assert neighbours[0].la.la_name == "Camden" and neighbours[4].la.la_name == "Manchester"
    la_rows = {r["area_code"] for r in comparator_rows if r["area_type"] == "la"
               and r["indicator_id"] == "children-in-need-rate" and r["period"] == "2023/24"}
    assert la_rows == {TOWER_HAMLETS, *(n.la.la_code for n in neighbours)}


def test_every_authoritys_fingertips_comparison_with_england_is_reproduced(
        comparator_rows: list[Row]) -> None:
    """The published 'Compared to England' label of every borough and neighbour row of the
    90284 export, from its published interval against England's published value."""
    labels = {(r["Area Code"], r["Time period"]): r["Compared to England value or percentiles"]
              for r in published("fingertips-injury-admissions")
              if r["Sex"] == "Persons" and not r["Category Type"] and r["Area Code"] != ENGLAND}
    rows = [r for r in comparator_rows if r["indicator_id"] == "injury-admissions-0-14"
            and r["area_type"] == "la"]
    assert len(rows) == 11 * 14  # the borough and its ten neighbours, 2010/11 to 2023/24
    for r in rows:
        assert r["compared_to_benchmark"] == labels[(r["area_code"], r["period"])], r
    mine = one(comparator_rows, "injury-admissions-0-14", TOWER_HAMLETS, "2023/24")
    assert (mine["value"], mine["lower_95"], mine["upper_95"]) == (85.01634, 77.34167, 93.24646)
    assert mine["compared_to_benchmark"] == "Worse" and mine["method"] == (
        "published (fingertips-injury-admissions)")


def test_a_computed_borough_row_is_compared_with_englands_published_value(
        published_ws: Path, with_comparators: Finish) -> None:
    computed = [
        {"indicator_id": "neet-or-not-known-16-17", "area_code": code, "area_type": kind,
         "area_name": code, "period": "2022/23", "period_type": "academic_year",
         "period_start": date(2022, 9, 1), "period_end": date(2023, 8, 31), "breakdown": "all",
         "numerator": num, "denominator": 6000.0, "value": num / 60, "lower_95": lo,
         "upper_95": up, "benchmark_code": bench, "compared_to_benchmark": label}
        for code, kind, num, lo, up, bench, label in (
            (TOWER_HAMLETS, "la", 330.0, 5.0, 6.1, None, None),
            ("north-west", "locality", 70.0, 4.5, 7.0, TOWER_HAMLETS, "Similar"))]
    out = with_comparators(published_ws, to_table(computed)).to_pylist()
    england = float(dfe_row(published("dfe-neet-2023"), "2023",
                            ENGLAND)["NEET_not_known_percent"])
    assert one(out, "neet-or-not-known-16-17", ENGLAND, "2022/23")["value"] == england == 5.2
    la = one(out, "neet-or-not-known-16-17", TOWER_HAMLETS, "2022/23")
    assert la["method"] is None  # the computed row: the published borough figure is not added
    expected = compare_to_benchmark(5.0, 6.1, england, "low_is_good", 5.5)
    assert (la["benchmark_code"], la["compared_to_benchmark"]) == (ENGLAND, str(expected))
    assert la["compared_to_benchmark"] == "Similar"
    locality = one(out, "neet-or-not-known-16-17", "north-west", "2022/23")
    assert (locality["benchmark_code"], locality["compared_to_benchmark"]) == (
        TOWER_HAMLETS, "Similar")
    # The neighbours' published figures are there; NCCIS publishes no interval to compare.
    camden = one(out, "neet-or-not-known-16-17", "E09000007", "2022/23")
    assert camden["compared_to_benchmark"] == "Not compared"


def test_outcomes_run_adds_comparators_before_tracking(published_ws: Path) -> None:
    """No partner data: the results hold only published figures, and the example's baseline
    for good level of development (69.9) applies to the borough's published series."""
    result = Project.open(published_ws).run()
    rows = pq.read_table(result.path).to_pylist()
    assert {r["area_type"] for r in rows} == {"england", "region", "la"}
    gld = one(rows, "good-level-of-development", TOWER_HAMLETS, "2018/19")
    assert gld["value"] == 69.9 and gld["baseline"] == 69.9
    assert gld["period_type"] == "academic_year"


@pytest.mark.parametrize(("raw", "fmt", "ptype", "label", "start"), [
    ("2023/24", PeriodFormat.LABEL, PeriodType.FINANCIAL_YEAR, "2023/24", date(2023, 4, 1)),
    (202324, PeriodFormat.YEAR_PAIR, PeriodType.ACADEMIC_YEAR, "2023/24", date(2023, 9, 1)),
    (2024, PeriodFormat.YEAR_ENDING, PeriodType.FINANCIAL_YEAR, "2023/24", date(2023, 4, 1)),
    (2024, PeriodFormat.YEAR, PeriodType.CALENDAR_YEAR, "2024", date(2024, 1, 1)),
])
def test_published_periods_become_the_fields_labels(raw: object, fmt: PeriodFormat,
                                                     ptype: PeriodType, label: str,
                                                     start: date) -> None:
    period = period_of(raw, fmt, ptype)
    assert (period.label, period.start, period.type) == (label, start, ptype)


def test_a_period_that_is_not_in_the_format_is_refused() -> None:
    with pytest.raises(ValueError, match="'2023/25' is not a year"):
        period_of(202325, PeriodFormat.YEAR_PAIR, PeriodType.ACADEMIC_YEAR)
    with pytest.raises(ValueError, match="not written like 202324"):
        period_of(2024, PeriodFormat.YEAR_PAIR, PeriodType.ACADEMIC_YEAR)


def test_a_mapping_that_gives_two_values_for_one_area_and_period_stops_the_run(
        published_ws: Path, tmp_path: Path, with_comparators: Finish) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(published_ws, ws)
    path = ws / "sources" / "fingertips-injury-admissions.yaml"
    path.write_text(path.read_text().replace("where: {Sex: Persons, Category Type: ''}",
                                             "where: {Category Type: ''}"))
    with pytest.raises(UserError, match=r"fingertips-injury-admissions.*two values.*where"):
        with_comparators(ws)


def _issue(ws: Path, code: str) -> tuple[str, str, str | None]:
    found = [i for i in Project.check(ws).issues if i.code == code]
    assert len(found) == 1, [str(i) for i in Project.check(ws).issues]
    issue = found[0]
    assert issue.location is not None
    line = Path(issue.location.file).read_text().splitlines()[issue.location.line - 1]
    return line.strip(), issue.message, issue.hint


@pytest.mark.parametrize(("file", "old", "new", "code", "line", "hint"), [
    ("fingertips-injury-admissions.yaml", "    value: Value\n", "    value: Valeu\n",
     "comparator.bad-column", "value: Valeu", "did you mean 'Value'?"),
    ("fingertips-injury-admissions.yaml", "indicator: injury-admissions-0-14",
     "indicator: injury-admissions-0-15", "ref.unknown-indicator",
     "- indicator: injury-admissions-0-15", "use a framework or local indicator id"),
    ("dfe-children-looked-after.yaml", "where: {population_type:", "where: {population_typ:",
     "comparator.bad-column", "where: {population_typ: Children looked after on 31 March each "
     "year}", "did you mean 'population_type'?"),
    ("dfe-children-in-need.yaml", "{source: dfe-child-population,",
     "{source: dfe-child-populations,", "ref.unknown-source",
     "denominator: {source: dfe-child-populations, column: population_estimate, offset: -1}",
     None),
    ("dfe-children-in-need.yaml", "column: population_estimate, offset",
     "column: population, offset", "comparator.bad-column",
     "denominator: {source: dfe-child-population, column: population, offset: -1}", None),
    ("dfe-neet-2023.yaml", "format: year_ending}", "format: year}", "comparator.bad-period",
     "period: {column: time_period, format: year}  # 2023 is Dec 2022 to Feb 2023", None),
])
def test_outcomes_check_reports_a_bad_mapping_at_its_line(
        example_copy: Path, file: str, old: str, new: str, code: str, line: str,
        hint: str | None) -> None:
    path = example_copy / "sources" / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    found_line, message, found_hint = _issue(example_copy, code)
    assert found_line == line, message
    if hint is not None:
        assert found_hint == hint


def test_a_mapping_without_a_value_needs_a_rate_or_percentage(example_copy: Path) -> None:
    path = example_copy / "sources" / "dfe-children-in-need.yaml"
    path.write_text(path.read_text().replace("indicator: children-in-need-rate",
                                             "indicator: welfare-advice-families-supported"))
    line, message, _ = _issue(example_copy, "comparator.bad-unit")
    assert line == "count: At31_episodes" and "count indicator" in message


def test_the_example_is_clean_with_its_comparators() -> None:
    project = Project.open(Path(__file__).resolve().parents[2] / "examples" / "tower-hamlets")
    assert [str(i) for i in project.issues] == []
    mapped = {m.indicator for d in project.sources.values() for m in d.comparators}
    assert mapped == {
        "children-in-need-rate", "child-protection-rate", "repeat-child-protection-plans",
        "re-referrals-12-months", "children-looked-after-rate", "neet-or-not-known-16-17",
        "good-level-of-development", "injury-admissions-0-14",
        "persistent-absence-children-in-need"}


def test_the_boroughs_published_figures_stay_for_the_periods_it_does_not_compute(
        published_ws: Path, with_comparators: Finish) -> None:
    """Once the engine computed one year for the borough, its published figures disappeared
    for every year; a published figure is shadowed only for the periods computed."""
    computed = [{
        "indicator_id": "children-in-need-rate", "area_code": TOWER_HAMLETS, "area_type": "la",
        "area_name": "Tower Hamlets", "period": "2023/24", "period_type": "financial_year",
        "period_start": date(2023, 4, 1), "period_end": date(2024, 3, 31), "breakdown": "all",
        "numerator": 3000.0, "denominator": 64000.0, "value": 468.75}]
    out = with_comparators(published_ws, to_table(computed)).to_pylist()
    mine = one(out, "children-in-need-rate", TOWER_HAMLETS, "2023/24")
    assert mine["value"] == 468.75 and mine["method"] is None
    count = dfe_row(published("dfe-children-in-need"), "2023", TOWER_HAMLETS)["At31_episodes"]
    population = dfe_row(published("dfe-child-population"),
                         "2022", TOWER_HAMLETS)["population_estimate"]
    before = one(out, "children-in-need-rate", TOWER_HAMLETS, "2022/23")
    assert before["value"] == pytest.approx(int(count) / int(population) * 10_000)
    assert str(before["method"]).startswith("published (dfe-children-in-need")
    published_years = {r["period"] for r in out if r["area_code"] == TOWER_HAMLETS
                       and r["indicator_id"] == "children-in-need-rate"}
    assert len(published_years) > 2 and "2023/24" in published_years


def test_published_rows_are_kept_between_runs_until_what_they_read_changes(
        published_ws: Path, tmp_path: Path, with_comparators: Finish,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparator rows are read and computed once, then reused from
    .outcomes/results/comparators; an edited mapping or a new version of a published file in
    the store computes them again."""
    ws = tmp_path / "ws"
    shutil.copytree(published_ws, ws)
    shutil.rmtree(ws / COMPARATORS, ignore_errors=True)
    first = with_comparators(ws)
    assert len(list((ws / COMPARATORS).glob("*.parquet"))) == 1

    def unused(*args: object) -> list[Row]:
        raise AssertionError("published rows computed again with nothing changed")

    with monkeypatch.context() as patched:
        patched.setattr(comparators, "published_rows", unused)
        assert with_comparators(ws).equals(first)

    # A new version of the Fingertips file with the borough's 2010/11 value changed.
    original = next(p for p in reference.comparator_files() if p.name.startswith("la_hosp"))
    text = original.read_text(encoding="utf-8-sig")
    assert text.count(",2010/11,96.31668078,") == 1
    newer = ws / "incoming" / "comparators" / "la_hospital_admissions_v2.csv"
    newer.write_text(text.replace(",2010/11,96.31668078,", ",2010/11,99.5,"), encoding="utf-8")
    loaded = Project.open(ws).load_data("fingertips-injury-admissions", [newer], False,
                                        published_ws.parent / "key")
    assert [r.status for r in loaded] == ["loaded"], [r.message for r in loaded]
    rows = with_comparators(ws).to_pylist()
    assert one(rows, "injury-admissions-0-14", TOWER_HAMLETS, "2010/11")["value"] == 99.5
    assert one(first.to_pylist(), "injury-admissions-0-14", TOWER_HAMLETS,
               "2010/11")["value"] == pytest.approx(96.31668078)
    assert len(list((ws / COMPARATORS).glob("*.parquet"))) == 1  # the stale one removed

    # An edited mapping: the girls' figures instead of the persons'.
    path = ws / "sources" / "fingertips-injury-admissions.yaml"
    path.write_text(path.read_text().replace("where: {Sex: Persons,", "where: {Sex: Female,"))
    girls = one(with_comparators(ws).to_pylist(), "injury-admissions-0-14", TOWER_HAMLETS,
                "2012/13")
    persons = one(rows, "injury-admissions-0-14", TOWER_HAMLETS, "2012/13")
    assert persons["value"] == pytest.approx(82.1651) and girls["value"] != persons["value"]
