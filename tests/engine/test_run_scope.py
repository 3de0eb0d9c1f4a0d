"""A run over a given scope (parts per source and an area hierarchy, as a London instance
holding every borough gives it) instead of the store's current parts and the workspace's
areas: the same engine, tracking and gate, over what it is given."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from common_outcomes.data.store import open_store
from common_outcomes.engine import plan
from common_outcomes.engine.results import Areas
from common_outcomes.engine.run import Scope, areas_of
from common_outcomes.indicators.definitions import definitions_in
from common_outcomes.project import Project
from common_outcomes.results.table import RESULTS

SOURCE = "maternity"
LONDON = "E12000007"
KEY = ("indicator_id", "area_code", "period_type", "period", "breakdown")
NUMBERS = ("numerator", "denominator", "value", "suppressed")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, copy_loaded: Callable[[Path], Path]
         ) -> tuple[Project, pa.Table, pa.Table, list[str]]:
    """The default run's results, then a scoped run's: the maternity parts only, over the
    workspace's areas with London above the borough."""
    ws = copy_loaded(tmp_path_factory.mktemp("scope"))
    project = Project.open(ws)
    assert project.workspace is not None
    project.run()
    default = pq.read_table(ws / RESULTS)
    own = areas_of(project.workspace)
    small = own.within["la"]
    areas = Areas({**own.within, "region": {s: LONDON for s in small}},
                  {**own.names, LONDON: "London"})
    parts = [plan.Part(p.path, p.periods) for p in open_store(ws).current_files(SOURCE)]
    done = project.run(scope=Scope({SOURCE: parts}, areas))
    return project, default, pq.read_table(ws / RESULTS), done.without_data


def _rows(table: pa.Table) -> dict[tuple[object, ...], tuple[object, ...]]:
    return {tuple(r[k] for k in KEY): tuple(r[k] for k in NUMBERS)
            for r in table.select([*KEY, *NUMBERS]).to_pylist()}


def test_only_the_given_sources_are_computed(
        runs: tuple[Project, pa.Table, pa.Table, list[str]]) -> None:
    project, _, scoped, without = runs
    assert project.workspace is not None
    definitions = definitions_in(project.workspace.extras)
    mine = {d.indicator for d in definitions if set(plan.sources_of(d)) == {SOURCE}}
    assert mine and set(scoped.column("indicator_id").to_pylist()) == mine
    assert set(without) == {d.indicator for d in definitions} - mine


def test_the_given_areas_are_rolled_up_and_the_rest_is_unchanged(
        runs: tuple[Project, pa.Table, pa.Table, list[str]]) -> None:
    project, default, scoped, _ = runs
    assert project.workspace is not None
    code = project.workspace.settings.borough.code
    ids = pa.array(sorted(set(scoped.column("indicator_id").to_pylist())))
    before = _rows(default.filter(pc.is_in(default.column("indicator_id"), ids)))
    region = scoped.filter(pc.equal(scoped.column("area_type"), "region"))
    borough = _rows(scoped.filter(pc.equal(scoped.column("area_type"), "la")))
    # One borough in London: London's counts are the borough's, row for row.
    assert region.num_rows == len(borough) > 0
    for key, numbers in _rows(region).items():
        assert numbers == borough[(key[0], code, *key[2:])]
    others = scoped.filter(pc.not_equal(scoped.column("area_type"), "region"))
    assert _rows(others) == before

