"""SSDA903 (DfE's children looked after return) loads as councils extract it: a multi-year
extract repeating open episodes in every later year's return, with rows for several LAs, and
the children looked after rate at 31 March computed from it. Files are written here,
synthetic, shaped as the DfE guide's tables."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from common_outcomes.data.store import open_store
from common_outcomes.geography.reference import london_lsoas
from common_outcomes.project import Project
from common_outcomes.results import table as results_table

# The episodes table's header as the DfE guide gives it.
EPISODES = ["CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC", "REC",
            "REASON_PLACE_CHANGE", "HOME_POST", "PL_POST", "URN"]
YEARS = (2017, 2018, 2019)
OURS = ("211", "E09000030")  # Tower Hamlets as DfE's old number and as its ONS code
CAMDEN = "202"
POSTCODES = ("E1 0AA", "E1 1AB", "E2 6BC", "E3 2DE", "E14 5FG")

SOURCE = """kind: source
version: 1
id: cla-903
builtin: ssda903/episodes
name: SSDA903 episodes, multi-year extract
partner: childrens-social-care
agreement: {reference: DSA-TH-2024-08}
retention: {analytic_years: 10, linkage_months: 24}
files: ssda903/*.csv
latest_return: {year: YEAR}
la_filter: LA
"""


def _d(day: date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else ""


def _episodes() -> list[tuple[str, str, date, date | None]]:
    """(LA, child, start, end) of each episode: Tower Hamlets' and Camden's, some children's
    ids the same in both LAs (each LA numbers its own children)."""
    out: list[tuple[str, str, date, date | None]] = []
    for k in range(60):
        la = OURS[k % 2] if k < 45 else CAMDEN
        start = date(2015 + k % 4, 1 + k % 12, 1 + k % 27)
        end = None if k % 3 == 0 else start + timedelta(days=200 + 37 * k)
        out.append((la, f"C{k % 50:04d}", start, end))
    return out


def write_extract(path: Path) -> list[dict[str, str]]:
    """Each year's return lists every episode open during its year (1 April to 31 March),
    its end only once it has ended by 31 March: an open episode repeats in every later
    return. Returns the rows written."""
    rows: list[dict[str, str]] = []
    for year in YEARS:
        first, last = date(year - 1, 4, 1), date(year, 3, 31)
        for n, (la, child, start, end) in enumerate(_episodes()):
            if start > last or (end is not None and end < first):
                continue
            ended = end is not None and end <= last
            rows.append({"CHILD": child, "DECOM": _d(start), "RNE": "S", "LS": "C2",
                         "CIN": "N1", "PLACE": "U1", "PLACE_PROVIDER": "PR1",
                         "DEC": _d(end) if ended else "", "REC": "E13" if ended else "",
                         "REASON_PLACE_CHANGE": "", "HOME_POST": POSTCODES[n % 5],
                         "PL_POST": "", "URN": "XXXXXXX", "YEAR": str(year), "LA": la})
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, [*EPISODES, "YEAR", "LA"])
        writer.writeheader()
        writer.writerows(rows)
    return rows


def latest_returns(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The latest-return rule by hand: Tower Hamlets' rows, the latest YEAR of each
    CHILD and DECOM."""
    latest: dict[tuple[str, str], dict[str, str]] = {}
    for r in rows:
        if r["LA"] in OURS:
            k = (r["CHILD"], r["DECOM"])
            if k not in latest or int(r["YEAR"]) > int(latest[k]["YEAR"]):
                latest[k] = r
    return list(latest.values())


def _looked_after_at(rows: list[dict[str, str]], day: date) -> int:
    def parse(text: str) -> date:
        d, m, y = map(int, text.split("/"))
        return date(y, m, d)
    return sum(parse(r["DECOM"]) <= day and (not r["DEC"] or parse(r["DEC"]) > day)
               for r in rows)


@pytest.fixture
def workspace(example_copy: Path, tmp_path: Path) -> tuple[Path, Path]:
    (example_copy / "sources" / "cla_903.yaml").write_text(SOURCE)
    key = tmp_path / "key"
    key.write_text("k" * 64)
    return example_copy, key


def test_a_multi_year_extract_keeps_each_episodes_latest_return_and_only_its_own_la(
        workspace: tuple[Path, Path]) -> None:
    ws, key = workspace
    rows = write_extract(ws / "incoming" / "ssda903" / "episodes.csv")
    ours = [r for r in rows if r["LA"] in OURS]
    latest = latest_returns(rows)
    assert len(latest) < len(ours) < len(rows)  # the file repeats episodes and has Camden's
    (result,) = Project.open(ws).load_data("cla-903", [ws / "incoming/ssda903/episodes.csv"],
                                           False, key)
    assert result.status == "loaded", result.problems[:3]
    assert result.rows_accepted == len(latest)
    # Rows set aside are not "read" for the quality figures: they were never ours.
    assert result.rows_read == len(latest) and not result.problems
    camden = sum(r["LA"] == CAMDEN for r in rows)
    assert result.notes[0] == f"{camden} rows for other LAs were not loaded (202: {camden})"
    assert result.notes[1] == (
        f"latest return: for each CHILD, DECOM only the row from the latest YEAR is kept; "
        f"{len(ours)} rows before, {len(latest)} after ({len(ours) - len(latest)} repeated "
        "from earlier returns not loaded)")
    stored = pa.concat_tables(pq.read_table(p.path) for p in
                              open_store(ws).current_files("cla-903"))
    assert stored.num_rows == len(latest)
    assert set(stored.column("YEAR").to_pylist()) <= set(YEARS)
    assert set(stored.column("LA").to_pylist()) == set(OURS)
    # An episode that ended keeps its end: the latest return's row, not an earlier open one.
    ended = sum(bool(r["DEC"]) for r in latest)
    assert stored.column("DEC").null_count == len(latest) - ended


def test_a_file_with_none_of_the_workspaces_rows_is_refused_and_stores_nothing(
        workspace: tuple[Path, Path]) -> None:
    ws, key = workspace
    path = ws / "incoming" / "ssda903" / "camden.csv"
    rows = write_extract(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, [*EPISODES, "YEAR", "LA"])
        writer.writeheader()
        writer.writerows(r for r in rows if r["LA"] == CAMDEN)
    (result,) = Project.open(ws).load_data("cla-903", [path], False, key)
    assert result.status == "rejected"
    assert [p.code for p in result.problems] == ["file.no-own-rows"]
    assert "E09000030" in result.message
    assert open_store(ws).current_files("cla-903") == []


def read_looked_after_from_903(ws: Path) -> None:
    """Make the example's children looked after rate read the 903 episodes (the example's
    definition reads the SSD extract), placed by the home postcode on each episode."""
    definitions = ws / "definitions" / "social-care.yaml"
    text = definitions.read_text()
    start = text.index("  - indicator: children-looked-after-rate")
    end = text.index("  - indicator: re-referrals-12-months")
    definitions.write_text(text[:start] + """  - indicator: children-looked-after-rate
    source: cla-903
    measure: crude_rate
    multiplier: 10000
    date: DECOM
    open_until: DEC
    area: HOME_POST_lsoa
    period_types: [financial_year]
    numerator: "true"
    denominator:
      source: population
      date: reference_date
      area: residence_area_code
      filter: age < 18
      value: population
""" + text[end:])


def write_population(ws: Path, years: Sequence[int], lsoas: Sequence[str]
                     ) -> list[tuple[int, str, int, str, int]]:
    """A mid-year population for `lsoas` waiting in incoming/ (children 0-17 by sex): the
    rows written (year, LSOA, age, sex, people)."""
    population = ws / "incoming" / "population"
    population.mkdir(parents=True)
    people = [(year, lsoa, age, sex, 10 + (i + age) % 7)
              for year in years for i, lsoa in enumerate(lsoas)
              for age in range(18) for sex in "MF"]
    pq.write_table(pa.table({
        "mid_year": [p[0] for p in people],
        "reference_date": [date(p[0], 6, 30) for p in people],
        "residence_area_code": [p[1] for p in people], "age": [p[2] for p in people],
        "sex": [p[3] for p in people], "population": [p[4] for p in people]}),
        population / "mye.parquet")
    return people


def looked_after_from_903(ws: Path) -> list[tuple[int, str, int, str, int]]:
    """The children looked after rate read from the 903 episodes, with a postcode directory
    and a population waiting in incoming/: the population rows written."""
    read_looked_after_from_903(ws)
    lsoas = [r.lsoa_code for r in london_lsoas() if r.la_code == "E09000030"]
    directory = ws / "incoming" / "postcode_directory"
    directory.mkdir(parents=True)
    pq.write_table(pa.table({"postcode": list(POSTCODES), "area_code": lsoas[:5]}),
                   directory / "postcodes.parquet")
    return write_population(ws, (2016, 2017, 2018, 2019), lsoas)


def _rate_rows(ws: Path, key: Path) -> tuple[dict[str, dict[str, object]],
                                              list[tuple[int, str, int, str, int]]]:
    """Run the children looked after rate from the 903 episodes waiting in incoming/: the
    LA's row of each financial year, and the population written beside them."""
    people = looked_after_from_903(ws)
    project = Project.open(ws)
    loaded = project.load_data(None, [], True, key)
    assert {r.source: r.status for r in loaded} == {
        "cla-903": "loaded", "population": "loaded", "postcode-directory": "loaded"}
    project.run()
    table = results_table.read(project.results_path)
    assert table is not None
    return {r["period"]: r for r in table.to_pylist()
            if r["indicator_id"] == "children-looked-after-rate" and r["area_type"] == "la"
            and r["period_type"] == "financial_year" and r["breakdown"] == "all"}, people


def test_children_looked_after_at_31_march_from_the_latest_returns(
        workspace: tuple[Path, Path]) -> None:
    ws, key = workspace
    rows = write_extract(ws / "incoming" / "ssda903" / "episodes.csv")
    by_period, people = _rate_rows(ws, key)
    row = by_period["2018/19"]
    expected = _looked_after_at(latest_returns(rows), date(2019, 3, 31))
    every_row = _looked_after_at([r for r in rows if r["LA"] in OURS], date(2019, 3, 31))
    assert expected >= 10 and every_row > expected  # the rule matters here
    assert row["numerator"] == expected
    children = sum(p[4] for p in people if p[0] == 2018)
    assert row["denominator"] == children
    assert row["value"] == pytest.approx(10000 * expected / children, rel=1e-12)


def test_episodes_that_open_and_close_around_31_march_are_counted_as_dfe_counts_them(
        workspace: tuple[Path, Path]) -> None:
    """DfE's rule: looked after at 31 March if the episode started on or before 31 March
    and had not ceased by it (DEC is the day it ceased, so an episode ending on 31 March is
    not counted). The engine places a stock's changes by month (+1 in the month it opens,
    -1 in the month it closes); every day of March that matters is here."""
    ws, key = workspace
    m = date  # (start, end) of each episode, one child each
    edges = [
        (m(2018, 6, 1), m(2019, 3, 1)), (m(2018, 6, 1), m(2019, 3, 15)),
        (m(2018, 6, 1), m(2019, 3, 31)),  # ends on 31 March 2019, the period's end
        (m(2018, 6, 1), m(2019, 4, 1)),   # ends the day after
        (m(2019, 3, 31), None), (m(2019, 4, 1), None),  # start on 31 March / 1 April
        (m(2019, 3, 5), m(2019, 3, 20)), (m(2018, 5, 10), m(2018, 5, 20)),  # one month
        (m(2019, 3, 31), m(2019, 3, 31)),  # a day's episode on 31 March itself
        (m(2019, 5, 1), m(2020, 3, 31)), (m(2019, 5, 1), m(2020, 4, 1)),
        (m(2020, 3, 31), m(2020, 4, 2)), (m(2020, 4, 1), None),
    ]
    # Enough children looked after throughout that no count is small enough to suppress.
    episodes = [*edges, *((m(2017, 1 + k, 1), None) for k in range(8))]
    rows = []
    for year in (2019, 2020, 2021):
        first, last = m(year - 1, 4, 1), m(year, 3, 31)
        for n, (start, end) in enumerate(episodes):
            if start > last or (end is not None and end < first):
                continue
            ended = end is not None and end <= last
            rows.append({"CHILD": f"K{n:03d}", "DECOM": _d(start), "RNE": "S", "LS": "C2",
                         "CIN": "N1", "PLACE": "U1", "PLACE_PROVIDER": "PR1",
                         "DEC": _d(end) if ended else "", "REC": "E13" if ended else "",
                         "REASON_PLACE_CHANGE": "", "HOME_POST": POSTCODES[n % 5],
                         "PL_POST": "", "URN": "XXXXXXX", "YEAR": str(year), "LA": OURS[1]})
    path = ws / "incoming" / "ssda903" / "episodes.csv"
    path.parent.mkdir(parents=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, [*EPISODES, "YEAR", "LA"])
        writer.writeheader()
        writer.writerows(rows)
    by_period, _ = _rate_rows(ws, key)
    latest = latest_returns(rows)
    for period, day in (("2018/19", m(2019, 3, 31)), ("2019/20", m(2020, 3, 31))):
        by_hand = sum(s <= day and (e is None or e > day) for s, e in episodes)
        assert _looked_after_at(latest, day) == by_hand  # the returns keep every end
        assert by_period[period]["numerator"] == by_hand, period
    # The hand count, spelled out for 2018/19: the eight throughout, ending 1 April 2019,
    # starting 31 March 2019.
    assert by_period["2018/19"]["numerator"] == 8 + 2
