"""`outcomes run --engine spark` as a user runs it: the same table as DuckDB's, read from a data
location, and one clear sentence with exit 2 for whatever stops Spark."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from common_outcomes.engine.backends import open_backend
from common_outcomes.engine.backends.spark import DATA
from common_outcomes.errors import UserError
from common_outcomes.project import Project

# Its tests run whole commands (synthesise, load, run, serve): more than the default timeout.
pytestmark = pytest.mark.timeout(900)
BIN = Path(sys.executable).parent
Command = Callable[..., subprocess.CompletedProcess[str]]


def _last_line(stderr: str) -> str:
    """What the user is told (Java's own start-up lines may come before it)."""
    return stderr.strip().splitlines()[-1]


def test_spark_reads_a_copy_of_the_store_and_writes_what_duckdb_writes(
        spark_run: tuple[Path, subprocess.CompletedProcess[str]],
        results_on: Callable[[str], pa.Table]) -> None:
    ws, _ = spark_run
    assert not (ws / ".outcomes" / "store" / "versions").exists()  # only at --data
    assert results_on("spark").equals(results_on("duckdb"))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens on it once the socket is closed


@pytest.mark.parametrize(("args", "env", "said"), [
    (["--master", "spark://127.0.0.1:{port}"], {},
     "The Spark master spark://127.0.0.1:{port} cannot be reached (Connection refused): "
     "check the URL and that the master is running."),
    (["--master", "bogus"], {}, "'bogus' is not a Spark master URL"),
    (["--conf", "spark.driver.memory=lots"], {},
     "Spark could not start: its Java process stopped at once (its reason is just above)"),
    ([], {"PATH": str(BIN), "JAVA_HOME": ""},
     "Spark needs Java 17 or newer and none was found: install it, or set JAVA_HOME"),
    ([], {"JAVA_HOME": "/nowhere"},
     "JAVA_HOME is /nowhere, which holds no bin/java"),
], ids=["unreachable master", "not a master", "cannot start", "no java", "bad JAVA_HOME"])
def test_what_stops_spark_is_said_in_one_sentence(
        outcomes: Command, fresh: Path, args: list[str], env: dict[str, str], said: str) -> None:
    port = str(_closed_port())
    environ = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    environ.update({k: v for k, v in env.items() if v})
    ran = outcomes("run", str(fresh), "--engine", "spark",
                   *(a.replace("{port}", port) for a in args), env=environ)
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert _last_line(ran.stderr).startswith(f"error: {said.replace('{port}', port)}")
    assert "Traceback" not in ran.stderr
    assert not (fresh / ".outcomes" / "results" / "indicator_values.parquet").exists()


@pytest.mark.parametrize(("args", "said"), [
    (["--master", "local[2]"], "--master and --data are Spark settings: add --engine spark."),
    (["--engine", "spark", "--conf", "spark.master"], "--conf takes KEY=VALUE"),
    (["--engine", "flink"], "Unknown engine 'flink': use one of duckdb, spark."),
])
def test_engine_options_are_checked_before_anything_runs(
        outcomes: Command, fresh: Path, args: list[str], said: str) -> None:
    ran = outcomes("run", str(fresh), *args)
    assert ran.returncode == 2
    assert _last_line(ran.stderr).startswith(f"error: {said}")


def test_data_missing_at_the_location_is_named(fresh: Path, tmp_path: Path,
                                               spark: object) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match=(
            rf"^Spark found no data at the data location {empty} \(\[PATH_NOT_FOUND\] Path does "
            r"not exist: file:.*/versions/.*\.parquet\): copy the store's versions folder there "
            r"\(docs/spark\.md\), or point --data at the copy\.$")):
        Project.open(fresh).run(None, "spark",
                       {"spark.master": "local[2]", DATA: str(empty)})


def test_a_running_session_keeps_its_master(spark: object) -> None:
    with pytest.raises(UserError, match=r"^Spark is already running in this process, so "
                                        r"spark\.master cannot be changed to 'local\[1\]'"):
        open_backend("spark", {"spark.master": "local[1]"})
    # What can change at run time does, on the running session.
    backend = open_backend("spark", {"spark.sql.shuffle.partitions": "3"})
    backend.close()
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    assert session is not None and session.conf.get("spark.sql.shuffle.partitions") == "3"
    session.conf.set("spark.sql.shuffle.partitions", "2")


@pytest.mark.parametrize(("engine", "code", "said"), [
    ("duckdb", 0, "Wrote "),
    ("spark", 2, "error: The Spark engine needs pyspark: install it with pip install "
                 "'common-outcomes[spark]'."),
])
def test_the_package_works_without_pyspark(fresh: Path, engine: str, code: int,
                                           said: str) -> None:
    # A None in sys.modules makes every `import pyspark` fail, as if it were not installed.
    script = ("import sys; sys.modules['pyspark'] = None; sys.modules['pyspark.sql'] = None\n"
              "import common_outcomes, common_outcomes.cli\n"
              f"sys.argv = ['outcomes', 'run', {str(fresh)!r}, '--engine', {engine!r}]\n"
              "common_outcomes.cli.main()\n")
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, check=False)
    assert ran.returncode == code, ran.stderr
    assert said in ran.stdout + ran.stderr
