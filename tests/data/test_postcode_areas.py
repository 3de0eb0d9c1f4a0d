"""Areas, honestly: ONS's postcode directory installed from the national file, records whose
postcode finds no small area counted and still counted for the borough (in no ward), and
stored versions placed again when new geography arrives. Every file here is written by the
test: a postcode directory shaped as ONS's NSPL user guide lays it out, and SSDA903 episodes
shaped as the DfE guide's table, with synthetic postcodes."""

from __future__ import annotations

import csv
import json
import zipfile
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_ssda903 import read_looked_after_from_903  # tests/data, beside this file

from common_outcomes.data.load import LoadResult
from common_outcomes.data.store import open_store
from common_outcomes.errors import UserError
from common_outcomes.geography.postcodes import INSTALLED, install_postcodes
from common_outcomes.geography.reference import london_lsoas
from common_outcomes.project import Project
from common_outcomes.results import table as results_table

BOROUGH, CAMDEN = "E09000030", "E09000007"
# The NSPL's columns in the order its user guide gives them (2021 geographies).
NSPL_HEADER = ("pcd,pcd2,pcds,dointr,doterm,usertype,oseast1m,osnrth1m,osgrdind,oa21,cty,ced,"
               "laua,ward,nhser,ctry,rgn,pcon,ttwa,itl,park,lsoa21,msoa21,wz11,sicbl,bua24,ruc21,"
               "oac11,lat,long,lep1,lep2,pfa,imd,icb")
NSPL = NSPL_HEADER.split(",")
LSOAS = sorted(r.lsoa_code for r in london_lsoas() if r.la_code == BOROUGH)
WARD = {r.lsoa_code: r.ward_code for r in london_lsoas()}
PLACED = ("E1 0AA", "E1 1AB", "E2 6BC", "E3 2DE", "E14 5FG")  # in the directory
ELSEWHERE = ("E9 9ZZ", "N1 9ZZ")  # real-shaped postcodes the directory does not have
OLD = "E1 7ZX"  # terminated in 2010, still in the directory


def nspl_row(postcode: str, la: str, lsoa: str, terminated: str = "") -> dict[str, str]:
    compact = postcode.replace(" ", "")
    return {"pcd": f"{compact[:-3]:<4}{compact[-3:]}", "pcd2": f"{compact[:-3]:<5}{compact[-3:]}",
            "pcds": postcode, "dointr": "198001", "doterm": terminated, "usertype": "0",
            "laua": la, "lsoa21": lsoa, "ctry": "E92000001", "rgn": "E12000007"}


def write_nspl(path: Path, rows: list[dict[str, str]], columns: list[str] = NSPL) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore", quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows(rows)
    return path


def directory_rows(more: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """PLACED in five LSOAs, `more` in the first of them."""
    rows = [nspl_row(p, BOROUGH, LSOAS[i * 7]) for i, p in enumerate(PLACED)]
    rows += [nspl_row(p, BOROUGH, LSOAS[0]) for p in more]
    rows.append(nspl_row(OLD, BOROUGH, LSOAS[3], terminated="201006"))
    rows.append(nspl_row("E1 8XX", BOROUGH, "E99999999"))  # no LSOA: left out
    rows += [nspl_row(f"NW1 {n}AA", CAMDEN, "E01000001") for n in range(5)]
    return rows


def zipped(folder: Path, rows: list[dict[str, str]]) -> Path:
    """The directory as ONS publishes it: the national CSV in Data/, one per area in
    Data/multi_csv (ignored), and the user guide."""
    csv_path = write_nspl(folder / "NSPL_MAY_2025_UK.csv", rows)
    target = folder / "NSPL_MAY_2025.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(csv_path, "Data/NSPL_MAY_2025_UK.csv")
        z.writestr("Data/multi_csv/NSPL_MAY_2025_UK_E1.csv", ",".join(NSPL) + "\n")
        z.writestr("User Guide/NSPL User Guide.txt", "guide")
    csv_path.unlink()
    return target


def test_the_boroughs_postcodes_come_from_the_national_zip_terminated_ones_too(
        example_copy: Path, tmp_path: Path) -> None:
    done = install_postcodes(example_copy, zipped(tmp_path, directory_rows()), BOROUGH)
    table = pq.read_table(example_copy / INSTALLED)
    got = dict(zip(table.column("postcode").to_pylist(), table.column("area_code").to_pylist(),
                   strict=True))
    assert got == {**{p: LSOAS[i * 7] for i, p in enumerate(PLACED)}, OLD: LSOAS[3]}
    assert (done.rows_read, done.kept, done.terminated, done.without_lsoa) == (12, 6, 1, 1)
    assert table.column("terminated").to_pylist().count("201006") == 1


@pytest.mark.parametrize(("columns", "rows", "says"), [
    (["name", "value"], [{"name": "x", "value": "1"}], "is not an ONS postcode directory"),
    ([c for c in NSPL if c != "laua"], directory_rows(), "has no local authority column"),
    ([c if c != "lsoa21" else "lsoa11" for c in NSPL], directory_rows(),
     "only 'lsoa11' (2011 LSOAs"),
    (NSPL, [r for r in directory_rows() if r["laua"] == CAMDEN], "has no postcode in E09000030"),
])
def test_what_is_not_the_boroughs_postcode_directory_is_one_sentence_and_changes_nothing(
        example_copy: Path, tmp_path: Path, columns: list[str], rows: list[dict[str, str]],
        says: str) -> None:
    install_postcodes(example_copy, zipped(tmp_path / "good", directory_rows()), BOROUGH)
    before = (example_copy / INSTALLED).read_bytes()
    bad = write_nspl(tmp_path / "bad.csv", rows, columns)
    with pytest.raises(UserError) as caught:
        install_postcodes(example_copy, bad, BOROUGH)
    message = str(caught.value)
    assert says in message and "bad.csv" in message and message.count(". ") == 0
    assert (example_copy / INSTALLED).read_bytes() == before


# SSDA903 episodes (the DfE guide's columns), written for the test.
EPISODES = ["CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC", "REC",
            "REASON_PLACE_CHANGE", "HOME_POST", "PL_POST", "URN"]
SOURCE = """kind: source
version: 1
id: cla-903
builtin: ssda903/episodes
name: SSDA903 episodes
partner: childrens-social-care
agreement: {reference: DSA-TH-2024-08}
retention: {analytic_years: 10, linkage_months: 24}
files: ssda903/*.csv
"""
# Open at 31 March 2019: 12 episodes at each placed postcode, 7 at postcodes the directory
# lacks, 4 with none; 9 more that ended before, at placed postcodes.
HOMES = [p for p in PLACED for _ in range(12)] + [ELSEWHERE[k % 2] for k in range(7)] + [""] * 4


def write_episodes(path: Path) -> None:
    # Started in each month of 2018/19, as a year's return has them: a return whose starts
    # stopped in December would be one that ended there (docs/methods.md, "Periods").
    rows = [(h, date(2018 + (3 + k % 12) // 12, (3 + k % 12) % 12 + 1, 1), None)
            for k, h in enumerate(HOMES)]
    rows += [(PLACED[k % 5], date(2017, 5, 1), date(2018, 2, 1)) for k in range(9)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, EPISODES)
        writer.writeheader()
        for n, (home, start, end) in enumerate(rows):
            writer.writerow({"CHILD": f"C{n:04d}", "DECOM": start.strftime("%d/%m/%Y"),
                             "RNE": "S", "LS": "C2", "CIN": "N1", "PLACE": "U1",
                             "PLACE_PROVIDER": "PR1",
                             "DEC": end.strftime("%d/%m/%Y") if end else "",
                             "REC": "E13" if end else "", "REASON_PLACE_CHANGE": "",
                             "HOME_POST": home, "PL_POST": "", "URN": "XXXXXXX"})


@pytest.fixture
def workspace(example_copy: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """The example with a 903 episodes source defining the looked after rate by the home
    postcode, a population, and the episodes file; the key; an ONS directory zip."""
    ws = example_copy
    (ws / "sources" / "cla_903.yaml").write_text(SOURCE)
    read_looked_after_from_903(ws)
    population = ws / "incoming" / "population"
    population.mkdir(parents=True)
    pq.write_table(pa.table({
        "mid_year": [2018] * len(LSOAS), "reference_date": [date(2018, 6, 30)] * len(LSOAS),
        "residence_area_code": LSOAS, "age": [10] * len(LSOAS), "sex": ["F"] * len(LSOAS),
        "population": [300] * len(LSOAS)}), population / "mye.parquet")
    write_episodes(ws / "incoming" / "ssda903" / "episodes.csv")
    key = tmp_path / "key"
    key.write_text("k" * 64)
    return ws, key, zipped(tmp_path / "ons", directory_rows())


def _load(ws: Path, key: Path) -> dict[str, LoadResult]:
    results = Project.open(ws).load_data(None, [], True, key)
    return {r.source: r for r in results}


def _la_and_wards(ws: Path) -> tuple[float, dict[str, float]]:
    table = results_table.read(Project.open(ws).results_path)
    assert table is not None
    rows = [r for r in table.to_pylist() if r["indicator_id"] == "children-looked-after-rate"
            and r["period"] == "2018/19" and r["breakdown"] == "all"]
    (la,) = [r["numerator"] for r in rows if r["area_type"] == "la"]
    return la, {r["area_code"]: r["numerator"] for r in rows if r["area_type"] == "ward"}


def test_records_without_a_small_area_are_counted_and_count_for_the_borough_only(
        workspace: tuple[Path, Path, Path]) -> None:
    ws, key, nspl = workspace
    install_postcodes(ws, nspl, BOROUGH)
    loaded = _load(ws, key)["cla-903"]
    assert loaded.status == "loaded" and loaded.rows_accepted == len(HOMES) + 9
    assert loaded.without_area == 11
    assert loaded.notes[-1] == (
        f"7 of {len(HOMES) + 9} records have a postcode not in the postcode directory and 4 "
        "have no postcode: they count for the borough as a whole but in no ward or locality")
    assert sum(r.without_area for r in Project.open(ws).quality()
               if r.source == "cla-903") == 11
    Project.open(ws).run()
    la, wards = _la_and_wards(ws)
    # By hand: every episode open at 31 March 2019 for the borough; in the wards only the 60
    # whose home postcode the directory places (12 in each of five LSOAs).
    assert la == len(HOMES) == 71
    expected: dict[str, float] = {}
    for i in range(5):
        ward = WARD[LSOAS[i * 7]]
        expected[ward] = expected.get(ward, 0) + 12
    assert {w: n for w, n in wards.items() if n} == expected
    assert sum(wards.values()) == 60 < la


def test_new_geography_loads_the_same_file_again_and_reassign_places_stored_versions(
        workspace: tuple[Path, Path, Path]) -> None:
    ws, key, nspl = workspace
    first = _load(ws, key)["cla-903"]
    # The example's synthetic directory is not there: no record of the file has an area.
    assert first.without_area == len(HOMES) + 9
    assert "no postcode directory is installed" in first.notes[-1]
    install_postcodes(ws, nspl, BOROUGH)
    again = _load(ws, key)["cla-903"]
    assert again.status == "loaded" and again.without_area == 11
    assert "the postcode directory changed" in again.notes[0]
    assert _load(ws, key)["cla-903"].status == "unchanged"
    # A newer directory places two more postcodes; the partner sends nothing.
    zipped(nspl.parent, directory_rows(ELSEWHERE))
    install_postcodes(ws, nspl, BOROUGH)
    (placed,) = Project.open(ws).reassign("cla-903")
    assert placed.status == "loaded" and placed.without_area == 4
    history = open_store(ws).history("cla-903")
    assert history[-1].manifest.reassigned_from == again.version_id
    assert history[-1].status == "current" and history[-2].status == "superseded"
    assert history[-1].manifest.rows_without_area == 4
    events = [e for e in open_store(ws).audit_events() if e.get("event") == "reassign"]
    assert events[-1]["reassigned_from"] == again.version_id
    # Placed already: nothing to do.
    assert [r.status for r in Project.open(ws).reassign("cla-903")] == ["unchanged"]
    Project.open(ws).run()
    la, wards = _la_and_wards(ws)
    assert la == 71 and wards[WARD[LSOAS[0]]] == 19
    # The 4 records still without an area would be 71 minus the wards' 67: a small count, so
    # wards are hidden until the borough minus the published ones is not (docs/methods.md).
    shown = [n for n in wards.values() if n is not None]
    assert len(shown) < len(wards) and la - sum(shown) > 5


def test_reassign_needs_the_linkage_copy_and_says_so_when_it_is_gone(
        workspace: tuple[Path, Path, Path]) -> None:
    ws, key, nspl = workspace
    _load(ws, key)
    store = open_store(ws)
    (version,) = [v for v in store.history("cla-903")]
    catalog_path = store.root / "catalog.json"
    catalog = json.loads(catalog_path.read_text())
    for record in catalog["versions"]:
        if record["manifest"]["version_id"] == version.version_id:
            record["linkage_deleted"] = {"at": "2030-01-01", "by": "test", "reason": "test"}
    catalog_path.write_text(json.dumps(catalog))
    install_postcodes(ws, nspl, BOROUGH)
    (result,) = Project.open(ws).reassign("cla-903")
    assert result.status == "rejected"
    assert "raw postcodes were deleted with its linkage copy" in result.message
    assert [v.version_id for v in open_store(ws).history("cla-903")] == [version.version_id]
