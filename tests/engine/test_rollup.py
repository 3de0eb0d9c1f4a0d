"""The roll-up in the engine (engine/rollup.py) against the roll-up in numpy
(engine/results.py) on the loaded example: the same rows, counts exactly, values to 1e-9."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pytest

from common_outcomes.engine import rollup
from common_outcomes.engine import run as engine_run
from common_outcomes.engine.backends import open_backend
from common_outcomes.project import Project
from common_outcomes.results.table import COLUMNS

KEYS = ("indicator_id", "area_code", "period_type", "period", "breakdown")
COUNTS = ("numerator", "denominator")
VALUES = ("value", "lower_95", "upper_95", "lower_998", "upper_998")


def _computed(ws: Path, cache: Path) -> pa.Table:
    """Every pass of the workspace computed afresh (its own pass cache)."""
    project = Project.open(ws)
    passes, _ = engine_run.passes_of(ws, project.workspace)
    about = engine_run.about_of(project.workspace, project.framework.framework,
                                project.disclosure)
    backend = open_backend("duckdb")
    try:
        tables, computed = engine_run._compute(
            passes, lambda: backend, "duckdb", about, engine_run.areas_of(project.workspace),
            dict(project.sources), project.disclosure, cache, None)
    finally:
        backend.close()
    assert computed == len(passes)
    table = pa.concat_tables(tables)
    return table.sort_by([(k, "ascending") for k in KEYS])


def _same(a: object, b: object, tolerance: float) -> bool:
    if a is None or b is None:
        return a is b
    assert isinstance(a, float) and isinstance(b, float)
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=0.0) if tolerance else a == b


def test_the_engines_roll_up_gives_the_numpy_roll_ups_rows(
        loaded_example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The example is a borough's few thousand records a year: the engine's roll-up is taken
    # from London's scale up (MIN_RECORDS), so here it is asked for.
    monkeypatch.setattr(rollup, "MIN_RECORDS", 0)
    project = Project.open(loaded_example)
    passes, _ = engine_run.passes_of(loaded_example, project.workspace)
    backend = open_backend("duckdb")
    in_engine = [p for p in passes if rollup.supported(p, backend)]
    backend.close()
    # The path is really taken: most passes, one with a breakdown, one with rolling years.
    assert len(in_engine) >= 8, [p.source for p in in_engine]
    assert any(p.breakdowns for p in in_engine)
    assert any("rolling_12_months" in d.period_types for p in in_engine for d in p.definitions)

    rolled = _computed(loaded_example, tmp_path / "engine")
    with monkeypatch.context() as numpy_only:
        numpy_only.setattr(rollup, "supported", lambda p, backend: False)
        numpy = _computed(loaded_example, tmp_path / "numpy")

    assert rolled.num_rows == numpy.num_rows > 1000
    mine, theirs = rolled.to_pylist(), numpy.to_pylist()
    for a, b in zip(mine, theirs, strict=True):
        assert tuple(a[k] for k in KEYS) == tuple(b[k] for k in KEYS)
        for name in COLUMNS:
            tolerance = 1e-9 if name in VALUES else 0.0
            if name in (*COUNTS, *VALUES, "baseline", "target"):
                assert _same(a[name], b[name], tolerance), (name, a, b)
            else:
                assert a[name] == b[name], (name, a, b)
