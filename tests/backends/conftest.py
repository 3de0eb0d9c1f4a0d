"""One synthetic workspace and one Spark session for every engine test: both cost seconds."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from common_outcomes.engine import plan
from common_outcomes.engine.backends import open_backend
from common_outcomes.engine.run import passes_of
from common_outcomes.project import Project
from common_outcomes.results.table import RESULTS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Each engine as a user would run it on this 2-core machine.
SETTINGS = {"duckdb": {"threads": "2"}, "spark": {"spark.master": "local[2]"}}


@pytest.fixture(scope="session")
def workspace(copy_loaded: Callable[[Path], Path],
              tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example with three years of synthetic data, loaded into its store: a copy, since
    these tests run the engines on it and write its results, which other files' copies of
    the loaded example must not inherit."""
    return copy_loaded(tmp_path_factory.mktemp("backends"))


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """The suite's one Spark (local[2]); the backend uses a running session as it is."""
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("common-outcomes-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def passes(workspace: Path) -> list[plan.Pass]:
    project = Project.open(workspace)
    found, without = passes_of(workspace, project.workspace)
    assert not without
    return found


@pytest.fixture(scope="session")
def counts_on(passes: list[plan.Pass], spark: SparkSession) -> Callable[[str], list[pa.Table]]:
    """Stage one on an engine: each pass's counts by small area and month."""
    done: dict[str, list[pa.Table]] = {}

    def counts(engine: str) -> list[pa.Table]:
        if engine not in done:
            backend = open_backend(engine, SETTINGS[engine])
            try:
                done[engine] = [backend.run(plan.pass_query(p)) for p in passes]
            finally:
                backend.close()
        return done[engine]

    return counts


Command = Callable[..., subprocess.CompletedProcess[str]]


def _outcomes(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The `outcomes` command as a user runs it."""
    return subprocess.run([str(BIN / "outcomes"), *args], capture_output=True, text=True,
                          timeout=600, check=False, env=env)


@pytest.fixture(scope="session")
def outcomes() -> Command:
    return _outcomes


@pytest.fixture(scope="session")
def spark_run(workspace: Path, tmp_path_factory: pytest.TempPathFactory
              ) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """`outcomes run --engine spark` on a copy of the workspace whose parts live only at a
    data location, as on a cluster's object store (the catalog stays in the workspace)."""
    root = tmp_path_factory.mktemp("spark-run")
    ws = root / "ws"
    shutil.copytree(workspace, ws, ignore=shutil.ignore_patterns("results"))
    shutil.move(ws / ".outcomes" / "store" / "versions", root / "remote" / "versions")
    ran = _outcomes("run", str(ws), "--engine", "spark", "--master", "local[2]",
                   "--conf", "spark.sql.shuffle.partitions=2",
                   "--data", (root / "remote").as_uri())
    return ws, ran


@pytest.fixture(scope="session")
def results_on(workspace: Path, passes: list[plan.Pass],
               spark_run: tuple[Path, subprocess.CompletedProcess[str]]
               ) -> Callable[[str], pa.Table]:
    """The results table of `outcomes run` on an engine, every pass computed there (Spark's
    is the command's own run, above; DuckDB's is run here)."""
    done: dict[str, pa.Table] = {}

    def results(engine: str) -> pa.Table:
        if engine == "spark":
            ws, ran = spark_run
            assert ran.returncode == 0, ran.stderr
            assert f"({len(passes)} passes computed, 0 unchanged" in ran.stdout
            return pq.read_table(ws / RESULTS)
        if engine not in done:
            result = Project.open(workspace).run(None, engine, SETTINGS[engine])
            assert result.passes_computed == len(passes)
            done[engine] = pq.read_table(result.path)
        return done[engine]

    return results


@pytest.fixture
def fresh(workspace: Path, tmp_path: Path) -> Path:
    """A copy of the loaded workspace with no results yet, so a run must open its engine."""
    target = tmp_path / "ws"
    shutil.copytree(workspace, target, ignore=shutil.ignore_patterns("results"))
    return target
