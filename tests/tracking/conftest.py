"""The example workspace with the carried published comparators (DfE, Fingertips) loaded as
its comparator sources (no partner data): what `make demo` copies into incoming/comparators."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from common_outcomes.project import Project
from common_outcomes.reference import comparator_files
from common_outcomes.results.table import to_table
from common_outcomes.tracking.comparators import add_comparators

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def published_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("published")
    ws = root / "ws"
    shutil.copytree(ROOT / "examples" / "tower-hamlets", ws, ignore=shutil.ignore_patterns(
        "incoming", "synth-truth", ".outcomes", ".synth-staging-*"))
    (ws / "incoming" / "comparators").mkdir(parents=True)
    for path in comparator_files():
        shutil.copy(path, ws / "incoming" / "comparators" / path.name)
    key = root / "key"
    key.write_text("k" * 64)
    results = Project.open(ws).load_data(None, [], True, key)
    assert results and all(r.status == "loaded" for r in results), [
        (r.source, r.message) for r in results if r.status != "loaded"]
    return ws


def _with_comparators(ws: Path, results: pa.Table | None = None) -> pa.Table:
    """The finish step's comparators over `results` (none: an empty results table)."""
    project = Project.open(ws)
    return add_comparators(to_table([]) if results is None else results, ws,
                           dict(project.sources), dict(project.indicators), "E09000030")


@pytest.fixture(scope="session")
def with_comparators() -> Callable[..., pa.Table]:
    return _with_comparators


@pytest.fixture(scope="session")
def comparator_rows(published_ws: Path) -> list[dict[str, object]]:
    """Every comparator row the published files give Tower Hamlets, with no computed rows."""
    rows: list[dict[str, object]] = _with_comparators(published_ws).to_pylist()
    return rows
