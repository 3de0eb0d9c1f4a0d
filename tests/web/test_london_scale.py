"""Results computed as a London instance computes them hold every borough's wards: the
borough's pages show its own wards and localities, itself and its comparators, not another
borough's wards; the API still serves any area, from rows split once per results version."""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from common_outcomes.data.store import open_store
from common_outcomes.engine.plan import Part
from common_outcomes.engine.results import Areas
from common_outcomes.engine.run import Scope, areas_of
from common_outcomes.geography.reference import london_lsoas
from common_outcomes.project import Project
from common_outcomes.results.table import RESULTS
from common_outcomes.state import Role
from common_outcomes.web.app import create_app
from common_outcomes.web.security import SESSION_COOKIE
from common_outcomes.web.site import Served

OTHER = "E09000006"  # Bromley: in London, and not one of Tower Hamlets' statistical neighbours
LONDON = "E12000007"
SOURCE, AREA = "maternity", "residence_area_code"
INDICATOR = "early-booking"  # counted from maternity records alone
EMAIL, PASSWORD = "analyst@example.org", "a long synthetic passphrase"


@pytest.fixture(scope="module")
def london(workspaces: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the served example whose results were computed as a London instance computes
    them: over its own maternity parts and another borough's (the same records placed in
    Bromley's LSOAs), and over both boroughs' wards, LSOAs, London and the example's Family
    Hub localities; tracking and the disclosure gate as `outcomes run` applies them."""
    root = tmp_path_factory.mktemp("london")
    ws = root / "tower-hamlets"
    shutil.copytree(workspaces[0], ws)
    project = Project.open(ws)
    assert project.workspace is not None
    mine = [Part(p.path, p.periods) for p in open_store(ws).current_files(SOURCE)]
    theirs = [Part(_moved(part.path, root / "bromley" / f"{i}.parquet"), part.periods)
              for i, part in enumerate(mine)]
    borough = project.workspace.settings.borough.code
    lsoas = [r for r in london_lsoas() if r.la_code in (borough, OTHER)]
    own = areas_of(project.workspace)
    areas = Areas({"ward": {r.lsoa_code: r.ward_code for r in lsoas},
                   "locality": own.within["locality"],
                   "la": {r.lsoa_code: r.la_code for r in lsoas},
                   "region": {r.lsoa_code: LONDON for r in lsoas}},
                  {r.ward_code: r.ward_name for r in lsoas}
                  | {r.la_code: r.la_name for r in lsoas} | dict(own.names)
                  | {LONDON: "London"})
    project.run(scope=Scope({SOURCE: (*mine, *theirs)}, areas))
    return ws


def _moved(path: Path, to: Path) -> Path:
    """A part's records placed in Bromley: each of the borough's LSOAs becomes one of
    Bromley's (in order), as if Bromley had loaded a file of its own."""
    table = pq.read_table(path)
    others = sorted(r.lsoa_code for r in london_lsoas() if r.la_code == OTHER)
    codes = table.column(AREA).to_pylist()
    mine = sorted({c for c in codes if c})
    moved = {c: others[i % len(others)] for i, c in enumerate(mine)}
    table = table.set_column(table.schema.get_field_index(AREA), AREA,
                             pa.array([moved.get(c, c) for c in codes], pa.string()))
    to.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, to)
    return to


@pytest.fixture(scope="module")
def results(london: Path) -> pa.Table:
    return pq.read_table(london / RESULTS)


@pytest.fixture(scope="module")
def other_wards(results: pa.Table) -> set[str]:
    wards = {r.ward_code for r in london_lsoas() if r.la_code == OTHER}
    found = wards & set(results.column("area_code").to_pylist())
    assert found, "the results hold none of the other borough's wards"
    return found


@pytest.fixture(scope="module")
def browser(london: Path, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    database = f"sqlite:///{tmp_path_factory.mktemp('london-state') / 'app.sqlite3'}"
    app = create_app([london], database)
    state = app.state.site.state
    state.add_user(EMAIL, "Analyst", PASSWORD, "tower-hamlets", Role.ANALYST, "tests")
    client = TestClient(app, base_url="https://testserver")
    client.cookies.set(SESSION_COOKIE, state.sign_in(EMAIL, PASSWORD, "tests"))
    return client


def test_the_indicator_page_shows_the_borough_not_another_boroughs_wards(
        browser: TestClient, london: Path, results: pa.Table, other_wards: set[str]) -> None:
    page = browser.get(f"/w/tower-hamlets/indicators/{INDICATOR}")
    assert page.status_code == 200
    offered = set(re.findall(r'<option value="([^"]+)"', page.text))
    ws = Project.view(london).workspace
    assert ws is not None and ws.geography is not None
    own_wards = {w.code for w in ws.geography.wards}
    rows = results.filter(pc.equal(results.column("indicator_id"), INDICATOR))
    computed = set(rows.column("area_code").to_pylist())
    # The borough, its localities, its wards with values and London (the fixture loads no
    # published comparators, whose areas pass the same way).
    assert {ws.settings.borough.code, LONDON} <= offered
    assert {x.id for x in ws.localities} <= offered
    assert own_wards & computed <= offered and own_wards & computed
    # Not the other borough, which is no comparator of this one, nor any of its wards,
    # anywhere on the page (the charts' data included).
    assert OTHER in computed and OTHER not in offered
    assert not any(code in page.text for code in other_wards | {OTHER})


def test_the_locality_pages_have_values(browser: TestClient, london: Path) -> None:
    served = Served.load(london)
    for loc in served.map["localities"]:
        assert INDICATOR in served.latest(loc["id"]), loc["id"]
        assert browser.get(f"/w/tower-hamlets/localities/{loc['id']}").status_code == 200


def test_the_api_serves_any_area(browser: TestClient, results: pa.Table,
                                 other_wards: set[str]) -> None:
    ward = sorted(other_wards)[0]
    base = "/api/v1/workspaces/tower-hamlets/results"
    expected = results.filter(pc.equal(results.column("area_code"), ward))
    by_area = browser.get(base, params={"area": ward, "limit": 10_000}).json()
    assert by_area["total"] == expected.num_rows > 0
    assert {r["area_code"] for r in by_area["rows"]} == {ward}
    both = browser.get(base, params={"area": ward, "indicator": INDICATOR}).json()
    assert both["total"] == sum(1 for i in expected.column("indicator_id").to_pylist()
                                if i == INDICATOR) > 0


def test_rows_split_by_indicator_and_area_are_the_tables_own(london: Path,
                                                             results: pa.Table) -> None:
    served = Served.load(london)
    table = served.results()
    assert table is not None
    for column, split in (("indicator_id", served.of), ("area_code", served.in_area)):
        values = sorted(set(table.column(column).to_pylist()))
        for value in values[:: max(1, len(values) // 25)]:
            part = split(value)
            assert part is not None
            assert part.equals(table.filter(pc.equal(table.column(column), value)))
    assert split("no such area") is not None and split("no such area").num_rows == 0


def test_a_boroughs_own_results_are_all_shown(example: Served) -> None:
    """Without London's wards the pages lose nothing: every area the borough's own results
    hold is one its pages show."""
    table = example.results()
    assert table is not None
    assert set(table.column("area_code").to_pylist()) <= example.shown


def test_the_download_holds_what_the_page_compares(browser: TestClient, results: pa.Table,
                                                   other_wards: set[str]) -> None:
    got = browser.get(f"/w/tower-hamlets/indicators/{INDICATOR}/download.csv")
    assert got.status_code == 200
    codes = {row["area_code"] for row in csv.DictReader(io.StringIO(
        got.content.decode("utf-8-sig")))}
    assert OTHER not in codes and not codes & other_wards
    rows = results.filter(pc.equal(results.column("indicator_id"), INDICATOR))
    assert codes and codes < set(rows.column("area_code").to_pylist())
