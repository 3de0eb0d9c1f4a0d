"""When the engine fails: a fault in the compiled SQL is an internal error that names the pass,
its indicators and the SQL, keeping the engine's own error as its cause; a mistake in the
user's input stays one sentence. And `--verbose` says each step on stderr, quiet otherwise."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from sqlglot import exp

from common_outcomes.engine import plan
from common_outcomes.errors import InternalError
from common_outcomes.project import Project

BIN = Path(sys.executable).parent
# A compiler fault, planted: every pass also selects a column no source has.
PLANT = ("from sqlglot import exp\n"
         "from common_outcomes.engine import plan\n"
         "real = plan.pass_query\n"
         "plan.pass_query = lambda p, root=None: real(p, root).select("
         "exp.column('no_such_column'))\n")


def _outcomes(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "outcomes"), *args], capture_output=True, text=True,
                          timeout=600, check=False)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory, copy_loaded: Callable[[Path], Path]) -> Path:
    return copy_loaded(tmp_path_factory.mktemp("errors"))


def test_a_compiler_fault_is_an_internal_error_with_the_pass_indicators_and_sql(
        ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = plan.pass_query
    monkeypatch.setattr(plan, "pass_query", lambda p, root=None: real(p, root).select(
        exp.column("no_such_column")))
    with pytest.raises(InternalError) as raised:
        Project.open(ws).run()
    error = raised.value
    details = dict(error.details)
    assert str(error).startswith(f"In the pass over source '{details['pass']}': DuckDB could "
                                 "not run the SQL common-outcomes compiled: Binder Error")
    passes = {p.source: p for p in plan.plan_passes(*_definitions_and_parts(ws))}
    assert details["indicators"] == ", ".join(d.indicator for d in
                                              passes[details["pass"]].definitions)
    assert "no_such_column" in details["sql"] and "read_parquet" in details["sql"].lower()
    assert isinstance(error.__cause__, InternalError)
    assert isinstance(error.__cause__.__cause__, duckdb.BinderException)


def _definitions_and_parts(ws: Path) -> tuple[list[object], dict[str, list[plan.Part]]]:
    from common_outcomes.engine.run import passes_of

    found, _ = passes_of(ws, Project.open(ws).workspace)
    assert found
    parts = {p.source: list(p.parts) for p in found}
    return [d for p in found for d in p.definitions], parts


def _bytes(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


def test_the_cli_says_an_internal_error_asks_for_a_report_and_shows_the_sql(ws: Path) -> None:
    # The copied workspace may hold results from a run made before it was copied: the
    # failed run must leave them as they were (or absent), never write any.
    results = ws / ".outcomes" / "results" / "indicator_values.parquet"
    before = _bytes(results)
    script = (PLANT + "import sys, common_outcomes.cli\n"
              f"sys.argv = ['outcomes', 'run', {str(ws)!r}]\n"
              "common_outcomes.cli.main()\n")
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=600, check=False)
    assert ran.returncode == 3, ran.stderr
    assert "Traceback" not in ran.stderr
    lines = [line for line in ran.stderr.splitlines() if line]  # after the progress bar's
    assert lines[0].startswith("internal error: In the pass over source '")
    assert lines[1] == InternalError.HINT
    assert lines[2].startswith("  pass: ") and lines[3].startswith("  indicators: ")
    sql = ran.stderr.split("  sql:\n", 1)[1]
    assert sql.startswith("SELECT") and "no_such_column" in sql
    assert _bytes(results) == before


def test_a_users_mistake_stays_one_sentence(ws: Path) -> None:
    ran = _outcomes("run", str(ws), "--conf", "threads=lots")
    assert ran.returncode == 2
    # (The progress bar, transient, leaves an empty line before it.)
    assert ran.stderr.strip().startswith("error: DuckDB could not start with the given "
                                         "settings: ")
    assert len(ran.stderr.strip().splitlines()) == 1 and "Traceback" not in ran.stderr


def test_verbose_says_each_step_on_stderr_and_the_default_is_quiet(ws: Path) -> None:
    loud = _outcomes("-vv", "run", str(ws))
    assert loud.returncode == 0, loud.stderr
    assert "INFO common_outcomes.engine.run: pass over " in loud.stderr
    assert "DEBUG common_outcomes.engine.backends.duckdb: DuckDB runs:\nSELECT" in loud.stderr
    quiet = _outcomes("run", str(ws))
    assert quiet.returncode == 0 and quiet.stdout.startswith("Wrote ")
    assert quiet.stderr.strip() == ""
    reused = _outcomes("--verbose", "run", str(ws))
    assert "unchanged since the last run, reused" in reused.stderr
    assert "DEBUG" not in reused.stderr
