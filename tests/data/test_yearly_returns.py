"""A council's yearly returns accumulate: the SSDA903 files of 2017, 2018 and 2019 (and CIN
census XML files of two years), loaded one by one in any order or all in one command, give
the store one multi-year extract gives under the latest-return rule, and the figures a hand
count over the union of returns (each record's latest return kept) gives. Each year's file
repeats the episodes still open from earlier years but not those that closed before it, so
a later file must not make an earlier one's closed episodes disappear. Files are synthetic,
written here from the DfE guide's and specification's shapes."""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path

import cin_census_files as census  # tests/data, beside this file
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from test_ssda903 import EPISODES, OURS, _episodes, looked_after_from_903

from common_outcomes.data import protect
from common_outcomes.data.store import open_store
from common_outcomes.geography.reference import london_lsoas
from common_outcomes.project import Project
from common_outcomes.results import table as results_table

KEY = "k" * 64
YEARS = (2017, 2018, 2019)


def _source(latest_return: str) -> str:
    return f"""kind: source
version: 1
id: cla-903
builtin: ssda903/episodes
name: SSDA903 episodes, a file a year
partner: childrens-social-care
agreement: {{reference: DSA-TH-2024-08}}
retention: {{analytic_years: 10, linkage_months: 24}}
files: ssda903/*.csv
latest_return: {latest_return}
"""


# The collection year from the file's name, or from a YEAR column the file carries.
FROM_NAME = r"{year: YEAR, file_year: 'episodes_(\d{4})'}"
FROM_COLUMN = "{year: YEAR}"


def _d(day: date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else ""


def _return(year: int) -> list[dict[str, str]]:
    """The workspace's return for the year ending 31 March `year`: every episode open
    during the year, its end only if it ended by 31 March."""
    first, last = date(year - 1, 4, 1), date(year, 3, 31)
    rows = []
    for la, child, start, end in _episodes():
        if la not in OURS or start > last or (end is not None and end < first):
            continue
        ended = end is not None and end <= last
        rows.append({"CHILD": child, "DECOM": _d(start), "RNE": "S", "LS": "C2", "CIN": "N1",
                     "PLACE": "U1", "PLACE_PROVIDER": "PR1", "DEC": _d(end) if ended else "",
                     "REC": "E13" if ended else "", "REASON_PLACE_CHANGE": "",
                     "HOME_POST": "E1 0AA", "PL_POST": "", "URN": "XXXXXXX",
                     "YEAR": str(year)})
    return rows


def _write(path: Path, rows: list[dict[str, str]], with_year: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, [*EPISODES, *(["YEAR"] if with_year else [])],
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _yearly(ws: Path, with_year: bool) -> dict[int, Path]:
    return {y: _write(ws / "incoming" / "ssda903" / f"episodes_{y}.csv", _return(y), with_year)
            for y in YEARS}


def _latest(rows: list[dict[str, str]]) -> dict[tuple[str, str], dict[str, str]]:
    """The latest-return rule by hand over the union of returns."""
    latest: dict[tuple[str, str], dict[str, str]] = {}
    for r in rows:
        k = (r["CHILD"], r["DECOM"])
        if k not in latest or int(r["YEAR"]) > int(latest[k]["YEAR"]):
            latest[k] = r
    return latest


def _parse(text: str) -> date | None:
    if not text:
        return None
    d, m, y = map(int, text.split("/"))
    return date(y, m, d)


def _hand(years: tuple[int, ...] = YEARS) -> set[tuple[str, date, date | None, int]]:
    """(pseudonymised child, start, end, year) of each episode, the latest return kept."""
    latest = list(_latest([r for y in years for r in _return(y)]).values())
    children = protect.pseudonymise(pa.array([r["CHILD"] for r in latest]),
                                     KEY.encode()).to_pylist()
    return {(c, _parse(r["DECOM"]), _parse(r["DEC"]), int(r["YEAR"]))  # type: ignore[misc]
            for c, r in zip(children, latest, strict=True)}


def _stored(ws: Path, source: str) -> pa.Table:
    """The source's current rows, as the engine reads them (each part's current periods)."""
    parts = []
    for part in open_store(ws).current_files(source):
        t = pq.read_table(part.path)
        parts.append(t.filter(pc.is_in(t.column("period"),
                                       value_set=pa.array(part.periods, pa.string()))))
    assert parts, f"{source} has no current rows"
    return pa.concat_tables(parts, promote_options="default")


def _episodes_stored(ws: Path) -> set[tuple[str, date, date | None, int]]:
    t = _stored(ws, "cla-903")
    rows = list(zip(t.column("CHILD_pseudonym").to_pylist(), t.column("DECOM").to_pylist(),
                    t.column("DEC").to_pylist(), t.column("YEAR").to_pylist(), strict=True))
    assert len(rows) == len(set(rows)), "an episode is stored twice"
    return set(rows)


def _looked_after_at(episodes: set[tuple[str, date, date | None, int]], day: date) -> int:
    return sum(start <= day and (end is None or end > day) for _, start, end, _ in episodes)


@pytest.fixture
def workspace(example_copy: Path, tmp_path: Path) -> tuple[Path, Path]:
    key = tmp_path / "key"
    key.write_text(KEY)
    return example_copy, key


def _declare(ws: Path, rule: str) -> None:
    (ws / "sources" / "cla_903.yaml").write_text(_source(rule))


@pytest.mark.parametrize("rule", [FROM_COLUMN, FROM_NAME], ids=["year-column", "year-in-name"])
@pytest.mark.parametrize("order", [(2017, 2018, 2019), (2019, 2017, 2018), (2018, 2019, 2017)],
                         ids=["in-order", "latest-first", "earliest-last"])
def test_yearly_903_files_loaded_one_by_one_keep_every_episodes_latest_return(
        workspace: tuple[Path, Path], rule: str, order: tuple[int, ...]) -> None:
    ws, key = workspace
    _declare(ws, rule)
    files = _yearly(ws, with_year=rule == FROM_COLUMN)
    hand = _hand()
    union = sum(len(_return(y)) for y in YEARS)
    # The returns repeat open episodes, and some closed before the latest year's return.
    assert len(hand) < union
    assert len(hand) > len(_return(2019))
    for year in order:
        (result,) = Project.open(ws).load_data("cla-903", [files[year]], False, key)
        assert result.status == "loaded", (year, result.message, result.problems[:3])
    assert _episodes_stored(ws) == hand
    for year in YEARS:
        assert _looked_after_at(_episodes_stored(ws), date(year, 3, 31)) == _looked_after_at(
            hand, date(year, 3, 31)), year


def test_the_load_says_what_it_kept_and_what_it_superseded(
        workspace: tuple[Path, Path]) -> None:
    ws, key = workspace
    _declare(ws, FROM_NAME)
    files = _yearly(ws, with_year=False)
    project = Project.open(ws)
    (first,) = project.load_data("cla-903", [files[2017]], False, key)
    assert first.status == "loaded" and "earlier returns" not in first.message
    (second,) = project.load_data("cla-903", [files[2018]], False, key)
    before = {(r["CHILD"], r["DECOM"]) for r in _return(2017)}
    now = {(r["CHILD"], r["DECOM"]) for r in _return(2018)}
    kept, superseded = len(before - now), len(before & now)
    assert kept and superseded
    assert f"kept {kept} rows from earlier returns, {superseded} superseded by this one" in (
        second.message), second.message
    # The new version holds the rows kept and the file's; raw identifiers only the file's
    # (the rows kept have theirs in the 2017 version's linkage, on its retention).
    store = open_store(ws)
    assert second.version_id is not None
    data = store.version_files(second.version_id, "data")
    linkage = store.version_files(second.version_id, "linkage")
    assert sum(pq.read_metadata(f).num_rows for f in data) == kept + len(now)
    assert sum(pq.read_metadata(f).num_rows for f in linkage) == len(now)
    # Quality reads the merged version's parts as one table: every current row is counted.
    assert sum(q.rows for q in project.quality() if q.source == "cla-903") == kept + len(now)
    # The 2017 file again, after 2018's: nothing to do (the same file), and nothing changes.
    stored = _episodes_stored(ws)
    (again,) = project.load_data("cla-903", [files[2017]], False, key)
    assert again.status == "unchanged"
    assert _episodes_stored(ws) == stored
    events = [e for e in open_store(ws).audit_events() if e["event"] == "accumulate"]
    assert [(e["kept"], e["superseded"], e["older"]) for e in events] == [(kept, superseded, 0)]


def test_all_yearly_files_in_one_command_and_one_multi_year_extract_give_the_same_store(
        workspace: tuple[Path, Path], tmp_path: Path) -> None:
    ws, key = workspace
    _declare(ws, FROM_NAME)
    files = _yearly(ws, with_year=False)
    results = Project.open(ws).load_data("cla-903", [files[y] for y in (2019, 2017, 2018)],
                                         False, key)
    assert [r.status for r in results] == ["loaded"] * 3
    yearly = _episodes_stored(ws)
    assert yearly == _hand()
    # The same returns as one extract with a YEAR column, in a fresh store.
    for f in files.values():
        f.unlink()
    _declare(ws, FROM_COLUMN)
    extract = _write(ws / "incoming" / "ssda903" / "extract.csv",
                     [r for y in YEARS for r in _return(y)], with_year=True)
    shutil.rmtree(ws / ".outcomes" / "store")
    (result,) = Project.open(ws).load_data("cla-903", [extract], False, key)
    assert result.status == "loaded"
    assert _episodes_stored(ws) == yearly


def test_rolling_back_the_last_yearly_load_restores_the_previous_store(
        workspace: tuple[Path, Path]) -> None:
    ws, key = workspace
    _declare(ws, FROM_NAME)
    files = _yearly(ws, with_year=False)
    project = Project.open(ws)
    project.load_data("cla-903", [files[2017]], False, key)
    (second,) = project.load_data("cla-903", [files[2018]], False, key)
    after_two = _episodes_stored(ws)
    figures = [_looked_after_at(after_two, date(y, 3, 31)) for y in YEARS]
    (third,) = project.load_data("cla-903", [files[2019]], False, key)
    assert _episodes_stored(ws) == _hand() != after_two
    assert second.version_id is not None and third.version_id is not None
    store = open_store(ws)
    with store.lock():
        store.rollback(second.version_id, by="test")
    # 2018/19's episodes came only with the 2019 file: they go with it.
    assert _episodes_stored(ws) == after_two
    assert [_looked_after_at(_episodes_stored(ws), date(y, 3, 31)) for y in YEARS] == figures
    assert store.version(third.version_id).status == "rolled back"


def _looked_after_figures(project: Project) -> dict[str, tuple[object, ...]]:
    """The borough's children looked after rate, by financial year: (numerator,
    denominator, value)."""
    project.run()
    table = results_table.read(project.results_path)
    assert table is not None
    return {r["period"]: (r["numerator"], r["denominator"], r["value"])
            for r in table.to_pylist() if r["indicator_id"] == "children-looked-after-rate"
            and r["area_type"] == "la" and r["period_type"] == "financial_year"
            and r["breakdown"] == "all" and r["numerator"] is not None}


def test_the_engines_children_looked_after_from_yearly_files_and_after_a_rollback(
        workspace: tuple[Path, Path]) -> None:
    ws, key = workspace
    _declare(ws, FROM_NAME)
    files = _yearly(ws, with_year=False)
    people = looked_after_from_903(ws)
    project = Project.open(ws)
    # Two years out of order, the population and postcodes, then the engine.
    for year in (2018, 2017):
        (result,) = project.load_data("cla-903", [files[year]], False, key)
        assert result.status == "loaded"
    (previous,) = [v for v in open_store(ws).history("cla-903") if v.status == "current"]
    for source in ("population", "postcode-directory"):
        loaded = project.load_data(source, sorted((ws / "incoming").glob(
            project.sources[source].files)), False, key)
        assert [r.status for r in loaded] == ["loaded"]
    before = _looked_after_figures(project)
    (result,) = project.load_data("cla-903", [files[2019]], False, key)
    assert result.status == "loaded"
    after = _looked_after_figures(project)
    hand = _hand()
    checked = 0
    for year in YEARS:
        period = f"{year - 1}/{str(year)[2:]}"
        if year - 1 not in {p[0] for p in people}:
            continue
        expected = _looked_after_at(hand, date(year, 3, 31))
        children = sum(p[4] for p in people if p[0] == year - 1)
        assert after[period][:2] == (expected, children), period
        assert after[period][2] == pytest.approx(10000 * expected / children, rel=1e-12)
        checked += 1
    assert checked == 3 and after != before
    # Rolling the 2019 file back restores the figures the two earlier years gave.
    store = open_store(ws)
    with store.lock():
        store.rollback(previous.version_id, by="test")
    assert _episodes_stored(ws) == _hand((2017, 2018))
    assert _looked_after_figures(project) == before


def test_a_resubmitted_years_file_replaces_that_years_rows(
        workspace: tuple[Path, Path]) -> None:
    ws, key = workspace
    _declare(ws, FROM_NAME)
    files = _yearly(ws, with_year=False)
    project = Project.open(ws)
    for year in (2017, 2018):
        project.load_data("cla-903", [files[year]], False, key)
    # The 2018 return again, corrected: an open episode in fact ended on 1 February 2018.
    rows = _return(2018)
    (fixed,) = [r for r in rows if not r["DEC"]][:1]
    fixed["DEC"], fixed["REC"] = "01/02/2018", "E13"
    assert _parse(fixed["DECOM"]) < date(2018, 2, 1)  # type: ignore[operator]
    corrected = _write(ws / "incoming" / "ssda903" / "episodes_2018_v2.csv", rows, False)
    (result,) = project.load_data("cla-903", [corrected], False, key)
    assert result.status == "loaded"
    assert f"{len(rows)} superseded by this one" in result.message
    child = protect.pseudonymise(pa.array([fixed["CHILD"]]), KEY.encode())[0].as_py()
    stored = {(c, s) : e for c, s, e, _ in _episodes_stored(ws)}
    assert stored[(child, _parse(fixed["DECOM"]))] == date(2018, 2, 1)
    assert _episodes_stored(ws) == {
        (c, s, date(2018, 2, 1) if (c, s) == (child, _parse(fixed["DECOM"])) else e, y)
        for c, s, e, y in _hand((2017, 2018))}


def test_reassign_places_the_files_own_rows_and_says_the_carried_rows_keep_their_areas(
        workspace: tuple[Path, Path]) -> None:
    ws, key = workspace
    _declare(ws, FROM_NAME)
    files = _yearly(ws, with_year=False)
    project = Project.open(ws)
    project.load_data("cla-903", [files[2017]], False, key)
    (second,) = project.load_data("cla-903", [files[2018]], False, key)
    carried = len({(r["CHILD"], r["DECOM"]) for r in _return(2017)}
                  - {(r["CHILD"], r["DECOM"]) for r in _return(2018)})
    assert carried and _stored(ws, "cla-903").column("HOME_POST_lsoa").null_count == (
        carried + len(_return(2018)))  # no postcode directory yet: no row has an area
    lsoa = next(r.lsoa_code for r in london_lsoas() if r.la_code == "E09000030")
    directory = ws / "incoming" / "postcode_directory"
    directory.mkdir(parents=True)
    pq.write_table(pa.table({"postcode": ["E1 0AA"], "area_code": [lsoa]}),
                   directory / "postcodes.parquet")
    (placed,) = Project.open(ws).reassign("cla-903")
    assert placed.status == "loaded", placed.message
    assert f"{carried} rows carried from earlier returns keep their areas" in placed.message
    # The 2018 file's rows have their raw postcodes in this version's linkage: placed. The
    # rows carried from 2017 have theirs only in the 2017 version's: left as they were.
    stored = _stored(ws, "cla-903")
    by_year = {y: [a for a, yy in zip(stored.column("HOME_POST_lsoa").to_pylist(),
                                      stored.column("YEAR").to_pylist(), strict=True) if yy == y]
               for y in (2017, 2018)}
    assert by_year[2018] == [lsoa] * len(_return(2018))
    assert by_year[2017] == [None] * carried
    assert open_store(ws).history("cla-903")[-1].manifest.reassigned_from == second.version_id


def test_a_file_name_without_the_declared_year_is_refused_in_one_sentence(
        workspace: tuple[Path, Path]) -> None:
    ws, key = workspace
    _declare(ws, FROM_NAME)
    files = _yearly(ws, with_year=False)
    project = Project.open(ws)
    project.load_data("cla-903", [files[2017]], False, key)
    stored = _episodes_stored(ws)
    path = _write(ws / "incoming" / "ssda903" / "episodes.csv", _return(2018), with_year=False)
    (result,) = project.load_data("cla-903", [path], False, key)
    assert result.status == "rejected"
    assert [p.code for p in result.problems] == ["file.no-return-year"]
    message = result.message
    assert "episodes.csv" in message and "YEAR" in message and message.count(". ") == 0
    # The store is as it was.
    assert _episodes_stored(ws) == stored
    assert len(open_store(ws).history("cla-903")) == 1


# --- the CIN census: one XML a year -------------------------------------------------------------


def _census_of(children: list[census.Child], year: int) -> list[census.Child]:
    """The census for the year ending 31 March `year`: each child's episodes open during the
    year, a closure only if it came by 31 March (the child with no episodes stays)."""
    first, last = date(year - 1, 4, 1), date(year, 3, 31)
    out = []
    for child in children:
        episodes = []
        for e in child.episodes:
            if e.referral > last or (e.closure is not None and e.closure < first):
                continue
            closed = e.closure is not None and e.closure <= last
            episodes.append(census.Episode(
                e.referral, e.closure if closed else None, e.reason if closed else None,
                e.nfa and closed, e.need, e.source, list(e.assessments), list(e.cin_plans),
                list(e.s47), list(e.plans)))
        if episodes or not child.episodes:
            out.append(census.Child(child.la_id, child.birth, child.sex, child.upn,
                                    child.upn_unknown, child.disabilities, episodes))
    return out


def _cin_source(table: str) -> str:
    return f"""kind: source
version: 1
id: cin-{table}
builtin: cin-census/{table}
name: CIN census {table}
partner: childrens-social-care
agreement: {{reference: DSA-TH-2024-08}}
retention: {{analytic_years: 10, linkage_months: 24}}
files: cin-census/*.xml
"""


@pytest.mark.parametrize("order", [(2024, 2025), (2025, 2024), "one command"],
                         ids=["in-order", "latest-first", "one-command"])
def test_yearly_cin_census_files_accumulate_to_the_hand_counted_children_in_need(
        workspace: tuple[Path, Path], order: tuple[int, ...] | str) -> None:
    ws, key = workspace
    for table in ("cin-episodes", "person"):
        (ws / "sources" / f"cin_{table}.yaml").write_text(_cin_source(table))
    children = census.borough(60)
    files = {}
    for year in (2024, 2025):
        files[year] = ws / "incoming" / "cin-census" / f"census-{year}.xml"
        census.write(files[year], _census_of(children, year), reference=date(year, 3, 31))
    # By hand: the union of both censuses, each episode's latest census kept.
    latest: dict[tuple[str, date], tuple[census.Episode, int]] = {}
    for year in (2024, 2025):
        for c in _census_of(children, year):
            for e in c.episodes:
                latest[(c.la_id, e.referral)] = (e, year)
    only_2024 = {k for k, (_, y) in latest.items() if y == 2024}
    assert only_2024, "no episode closed before the 2025 census: the test proves nothing"
    project = Project.open(ws)
    if order == "one command":
        for table in ("cin-episodes", "person"):
            results = project.load_data(f"cin-{table}", [files[2025], files[2024]], False, key)
            assert [r.status for r in results] == ["loaded"] * 2
    else:
        for year in order:
            for table in ("cin-episodes", "person"):
                (result,) = project.load_data(f"cin-{table}", [files[year]], False, key)
                assert result.status == "loaded", (year, table, result.problems[:3])
    stored = _stored(ws, "cin-cin-episodes")
    ids = protect.pseudonymise(pa.array([f"{c}/{r.isoformat()}" for c, r in latest]),
                               KEY.encode()).to_pylist()
    expected = {(i, e.closure, y) for i, (e, y) in zip(ids, latest.values(), strict=True)}
    got = list(zip(stored.column("cine_referral_id").to_pylist(),
                   stored.column("cine_close_date").to_pylist(),
                   stored.column("census_year").to_pylist(), strict=True))
    assert len(got) == len(set(got)) and set(got) == expected

    def in_need_at(day: date) -> int:
        return sum(e.referral <= day and (e.closure is None or e.closure > day) and not e.nfa
                   for e, _ in latest.values())

    nfa = stored.column("cine_referral_nfa").to_pylist()
    for day in (date(2023, 3, 31), date(2024, 3, 31), date(2025, 3, 31)):
        counted = sum(r <= day and (c is None or c > day) and n == "N" for r, c, n in zip(
            stored.column("cine_referral_date").to_pylist(),
            stored.column("cine_close_date").to_pylist(), nfa, strict=True))
        assert counted == in_need_at(day), day
    assert in_need_at(date(2024, 3, 31)) >= 10
    # Every child of either census is a person, once, from their latest census.
    people = _stored(ws, "cin-person")
    assert people.num_rows == len({c.la_id for y in (2024, 2025)
                                   for c in _census_of(children, y)})


def test_a_census_without_a_reference_date_is_refused_in_one_sentence(
        workspace: tuple[Path, Path]) -> None:
    ws, key = workspace
    (ws / "sources" / "cin_cin-episodes.yaml").write_text(_cin_source("cin-episodes"))
    path = ws / "incoming" / "cin-census" / "census.xml"
    lines = census.render(census.borough(6))
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(line for line in lines if "<ReferenceDate>" not in line) + "\n")
    (result,) = Project.open(ws).load_data("cin-cin-episodes", [path], False, key)
    assert result.status == "rejected"
    assert [p.code for p in result.problems] == ["xml.no-reference-date"]
    message = result.problems[0].message
    assert "ReferenceDate" in message and message.count(". ") == 0, message
    assert open_store(ws).current_files("cin-cin-episodes") == []

