"""Benchmark: stage one of `outcomes run` on DuckDB and on Spark local[2], side by side.

Stage one is the part that differs by engine: every pass query (and every denominator query)
of the example's indicator definitions over the store's current parts. Stage two (roll-ups,
statistics, disclosure control) is the same Arrow code whichever engine ran, so it is left out.

For each scale, a copy of the Tower Hamlets example gets synthetic data (`outcomes synth
--scale S --years N --seed 1`) loaded into its store; then each engine runs in its own process,
twice over all queries (cold, then warm), while this process samples the resident memory of
that process and all its children (for Spark, the JVM) every 50 ms.

    .venv/bin/python benchmarks/engine_spark_vs_duckdb.py --scales borough london --years 1
    .venv/bin/python benchmarks/engine_spark_vs_duckdb.py --scales england --years 1 --runs 1 \\
        --keep /var/tmp/bench     # keeps the loaded workspaces for another run
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from _workspaces import every_la, measure, workspace

if TYPE_CHECKING:
    from sqlglot.expressions import Expr

# Each engine as a user of this 2-core machine would set it (the Spark backend itself sets
# shuffle partitions to twice the cores in local mode).
SETTINGS = {"duckdb": {"threads": "2"},
            # England's person-level passes return over 1 GB to the driver: Spark's default
            # cap (spark.driver.maxResultSize=1g) stops them.
            "spark": {"spark.master": "local[2]", "spark.driver.memory": "8g",
                      "spark.driver.maxResultSize": "6g"}}


def queries(ws: Path) -> tuple[list[Expr], int]:
    """Every query of stage one, and how many records the parts they read hold."""
    import pyarrow.parquet as pq

    from common_outcomes.engine import plan
    from common_outcomes.engine.run import passes_of
    from common_outcomes.project import Project

    project = Project.open(ws)
    passes, _ = passes_of(ws, project.workspace)
    widen = every_la(ws)
    found: list[Expr] = []
    parts: set[Path] = set()
    for p in passes:
        dens = tuple(replace(dp, parts=widen(dp.parts)) for dp in p.denominators)
        p = replace(p, parts=widen(p.parts), places=widen(p.places), denominators=dens)
        found.append(plan.pass_query(p))
        found += [plan.denominator_query(dp) for dp in p.denominators]
        parts |= {x.path for x in (*p.parts, *p.places, *(y for dp in dens for y in dp.parts))}
    return found, sum(pq.ParquetFile(path).metadata.num_rows for path in parts)


def child(engine: str, ws: Path, runs: int) -> None:
    """One engine, in this process: open it, run every query `runs` times; print the times."""
    start = time.perf_counter()
    from common_outcomes.engine.backends import open_backend

    todo, records = queries(ws)
    planned = time.perf_counter()
    backend = open_backend(engine, SETTINGS[engine])
    opened = time.perf_counter()
    took, rows = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        rows = sum(backend.run(q).num_rows for q in todo)
        took.append(time.perf_counter() - t)
    backend.close()
    print(json.dumps({"plan": planned - start, "open": opened - planned, "cold": took[0],
                      "warm": took[-1] if runs > 1 else float("nan"), "queries": len(todo),
                      "records": records, "rows_out": rows}))


def run_engine(engine: str, ws: Path, runs: int) -> dict[str, float]:
    """Run the engine's child process; its wall time, what it printed and its peak memory."""
    done = measure([sys.executable, __file__, "--child", engine, str(ws), "--runs", str(runs)],
                   engine)
    said: dict[str, float] = json.loads(done.out.strip().splitlines()[-1])
    return {**said, "wall": done.wall, "peak_mb": done.peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", nargs="+", default=["borough", "london", "england"])
    parser.add_argument("--years", type=int, default=1)
    parser.add_argument("--engines", nargs="+", default=["duckdb", "spark"])
    parser.add_argument("--runs", type=int, default=2, help="Runs of every query (the first "
                        "cold, the last warm).")
    parser.add_argument("--keep", type=Path, help="Keep (and reuse) the loaded workspaces here.")
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "WS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), args.runs)
        return
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="spark-vs-duckdb-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print("| scale | years | records | engine | queries | start (s) | cold (s) | warm (s) | "
          "whole process (s) | cold s per million records | peak memory (MB) |")
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    try:
        for scale in args.scales:
            ws, took = workspace(workdir, scale, args.years)
            if took:
                print(f"<!-- {scale}: synth {took['synth']:.0f} s, load {took['load']:.0f} s "
                      "-->", flush=True)
            for engine in args.engines:
                m = run_engine(engine, ws, args.runs)
                per_million = m["cold"] / (m["records"] / 1e6)
                warm = "-" if math.isnan(m["warm"]) else f"{m['warm']:.1f}"
                print(f"| {scale} | {args.years} | {int(m['records']):,} | {engine} | "
                      f"{int(m['queries'])} | {m['open']:.1f} | {m['cold']:.1f} | {warm} | "
                      f"{m['wall']:.1f} | {per_million:.2f} | {m['peak_mb']:,.0f} |", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
