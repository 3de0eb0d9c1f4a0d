"""Shared fixtures: the shipped example, the carried reference tables, golden files."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "tower-hamlets"
GOLDEN = Path(__file__).parent / "golden"


def pytest_configure(config: pytest.Config) -> None:
    # The tests read the carried reference tables, never a developer's own updates of them
    # (`outcomes reference update` writes to OUTCOMES_REFERENCE): an empty folder of updates.
    from common_outcomes.reference import OVERRIDE_ENV

    os.environ[OVERRIDE_ENV] = tempfile.mkdtemp(prefix="no-reference-updates-")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true",
                     help="Rewrite golden files from the current output instead of comparing.")


@pytest.fixture
def example_copy(tmp_path: Path) -> Path:
    """A private copy of the Tower Hamlets example that a test may break."""
    target = tmp_path / "tower-hamlets"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(".outcomes"))
    return target


# la_all_codes.csv's header, as ONS (via drkane/geo-lookups) publishes it.
LA_ALL_CODES = ("LADCD,LADNM,LADCD_ACTIVE,LADNM_ACTIVE,UTLACD,UTLANM,CAUTHCD,CAUTHNM,RGNCD,"
                "RGNNM,CTRYCD,CTRYNM,EWCD,EWNM,GBCD,GBNM,UKCD,UKNM,Current,LAD20CD,LAD20NM")


@pytest.fixture
def ons_geography(tmp_path: Path) -> Path:
    """A folder shaped as ONS publishes its lookups and ward boundaries (the columns and
    properties `outcomes geography` and `outcomes boundaries` read, and others they ignore),
    for the London boroughs, made from what the product carries: la_all_codes.csv and
    london_lsoa21_to_ward.csv from the reference geography, and Tower Hamlets' ward
    boundaries from the example's, with a midpoint put into edges (a straight run the
    simplifier must take out again); `plain/` holds the same boundaries without them."""
    import csv
    import itertools
    import json

    from common_outcomes.geography.reference import local_authorities, london_lsoas

    folder = tmp_path / "ons"
    (folder / "boundaries" / "ward").mkdir(parents=True)
    header = LA_ALL_CODES.split(",")
    with (folder / "la_all_codes.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, header, restval="")
        writer.writeheader()
        for la in local_authorities():
            if la.region_code == "E12000007":
                writer.writerow({"LADCD": la.la_code, "LADNM": la.la_name, "RGNCD":
                                 la.region_code, "RGNNM": la.region_name, "CTRYCD": "E92000001",
                                 "CTRYNM": "England", "Current": "TRUE"})
    with (folder / "london_lsoa21_to_ward.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["LSOA21CD", "LSOA21NM", "WDCD", "WDNM", "LADCD"])
        writer.writerows((r.lsoa_code, r.lsoa_name, r.ward_code, r.ward_name, r.la_code)
                         for r in london_lsoas())

    def densified(ring: list[list[float]]) -> list[list[float]]:
        """A midpoint in every edge whose midpoint is exact at 5 decimal places (the
        precision `outcomes boundaries` rounds to), so that it lies on the edge."""
        out = []
        for a, b in itertools.pairwise(ring):
            out.append(a)
            units = [round(v * 100_000) for v in (*a, *b)]
            if (units[0] + units[2]) % 2 == 0 and (units[1] + units[3]) % 2 == 0:
                out.append([(units[0] + units[2]) / 200_000, (units[1] + units[3]) / 200_000])
        return [*out, ring[-1]]

    shipped = json.loads((EXAMPLE / "boundaries" / "wards.geojson").read_text())
    for where, edit in ((folder, densified), (folder / "plain", lambda ring: ring)):
        features = [{"type": "Feature", "properties": {
            "FID": n, "WD25CD": f["properties"]["code"], "WD25NM": f["properties"]["name"],
            "WD25NMW": " ", "LAD25CD": "E09000030"}, "geometry": {
            "type": f["geometry"]["type"],
            "coordinates": [edit(ring) for ring in f["geometry"]["coordinates"]]}}
            for n, f in enumerate(shipped["features"], 1)]
        (where / "boundaries" / "ward").mkdir(parents=True, exist_ok=True)
        (where / "boundaries" / "ward" / "E09000030.geojson").write_text(json.dumps(
            {"type": "FeatureCollection", "name": "E09000030", "features": features}))
    return folder


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """Compare text with tests/golden/NAME, or rewrite it under --update-goldens."""
    update = bool(request.config.getoption("--update-goldens"))

    def check(name: str, actual: str) -> None:
        path = GOLDEN / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
            return
        assert path.is_file(), f"no golden file {path}; run 'make goldens' and review it"
        expected = path.read_text(encoding="utf-8")
        assert actual == expected, f"{name} differs from its golden file; if the change is " \
            "intended, run 'make goldens' and review the diff"

    return check


# The loaded example's pseudonymisation key: outside the workspace, as a real key must be.
KEY_TEXT = "k" * 64


@pytest.fixture(scope="session")
def loaded_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example with three years of synthetic data (seed 5) loaded into its store, made
    once for the session: tests that change it work on a copy (`copy_loaded`)."""
    from common_outcomes.project import Project
    from common_outcomes.synth.spec import Scale, SynthSpec

    root = tmp_path_factory.mktemp("loaded")
    ws = root / "ws"
    shutil.copytree(EXAMPLE, ws, ignore=shutil.ignore_patterns(
        "incoming", "synth-truth", ".outcomes", ".synth-staging-*"))
    Project.synthesize(ws, SynthSpec(Scale.BOROUGH, years=3, seed=5))
    key = root / "key"
    key.write_text(KEY_TEXT)
    loaded = Project.open(ws).load_data(None, [], True, key)
    assert loaded and all(r.status != "rejected" for r in loaded)
    return ws


@pytest.fixture(scope="session")
def copy_loaded(loaded_example: Path) -> Callable[[Path], Path]:
    """Makes a private copy of the loaded example at ROOT/ws, with its key at ROOT/key."""
    def copy(root: Path) -> Path:
        ws = root / "ws"
        shutil.copytree(loaded_example, ws)
        (root / "key").write_text(KEY_TEXT)
        return ws

    return copy


@pytest.fixture(scope="session")
def cut_example(loaded_example: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Callable[[date], Path]:
    """The example's synthetic returns as extracts taken on a day (`cut`): loaded and run,
    once per day asked for in the session."""
    made: dict[date, Path] = {}

    def make(end: date) -> Path:
        if end not in made:
            made[end] = _cut_workspace(loaded_example, tmp_path_factory.mktemp(f"cut-{end}"),
                                       end)
        return made[end]

    return make


def _cut_workspace(loaded: Path, root: Path, end: date) -> Path:
    """A copy of the loaded example's strategy and returns as extracts taken on `end` would
    hold them (rows dated after it by their source's period column gone, later dates in
    other columns empty: a plan closed after it was still open), loaded and run."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from common_outcomes.project import Project

    ws = root / "ws"
    shutil.copytree(loaded, ws, ignore=shutil.ignore_patterns(".outcomes", "synth-truth"))
    key = root / "key"
    key.write_text(KEY_TEXT)
    project = Project.open(ws)
    for decl in project.sources.values():
        if decl.period is None:
            continue
        for path in sorted((ws / "incoming").glob(decl.files)):
            table = pq.read_table(path)
            table = table.filter(pc.less_equal(table.column(decl.period.column),
                                               pa.scalar(end, pa.date32())))
            for i, field in enumerate(table.schema):
                if pa.types.is_date(field.type):
                    column = table.column(i)
                    later = pc.greater(column, pa.scalar(end, field.type))
                    table = table.set_column(i, field, pc.if_else(
                        later, pa.scalar(None, field.type), column))
            pq.write_table(table, path)
    loaded_now = project.load_data(None, [], True, key)
    assert loaded_now and all(r.status != "rejected" for r in loaded_now)
    project.run()
    return ws


# Per-test timeouts (pytest-timeout; the default is pyproject.toml's `timeout`). A fixture made
# once per module or session builds a workspace, a Spark session or a browser, and the first
# test that asks for it pays for the build on the suite's slowest machine; files whose tests
# themselves run whole commands carry their own marks.
SLOW_FIXTURES = 900


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None or item.get_closest_marker("timeout") is not None:
            continue
        shared = any(d.scope in ("module", "session")
                     for defs in info.name2fixturedefs.values() for d in defs)
        if shared:
            item.add_marker(pytest.mark.timeout(SLOW_FIXTURES))
