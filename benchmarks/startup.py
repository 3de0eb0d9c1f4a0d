"""Benchmark: `outcomes run` and `outcomes check` as whole processes (interpreter start-up,
imports, reading the workspace, the run itself), for one or more copies of the code side by
side in one run, on a built workspace.

Each copy of the code is a `src` folder put first on PYTHONPATH (the current checkout's own
when none is given), so a baseline is a `git archive` of an earlier commit:

    git archive main src | tar -x -C /tmp/base
    .venv/bin/python benchmarks/startup.py WS --code before=/tmp/base/src --code after=src

The copies take turns, `--repeat` rounds after one untimed warm-up each; the table gives the
median wall time, the fastest, the median CPU time (user and system: steadier than the wall
time on a shared machine) and the median peak memory of each command. Every `outcomes run`
leaves its results, and the benchmark checks that each copy's are the same as the first's
(a digest of the sorted results table), so a faster start-up cannot change a number unseen.
The first `outcomes run` after a change of code computes whatever passes the change touches;
the warm-up absorbs it, so the timed runs are those with every pass unchanged, unless
`--fresh` empties the pass cache before each run (every pass computed).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import statistics
import sys
from pathlib import Path

import pyarrow.parquet as pq
from _workspaces import EXE, measure

RESULTS = Path(".outcomes") / "results"
KEYS = ("indicator_id", "area_code", "period_type", "period", "breakdown")


def digest(ws: Path) -> str:
    """The results table, sorted, as a short hash (the same digest as the example's build)."""
    table = pq.read_table(ws / RESULTS / "indicator_values.parquet")
    table = table.sort_by([(c, "ascending") for c in KEYS if c in table.column_names])
    return hashlib.sha256(str(table.to_pylist()).encode()).hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--code", action="append", default=[], metavar="LABEL=SRC",
                        help="a copy of the code's src folder (repeatable)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--fresh", action="store_true",
                        help="empty the pass cache before each run: every pass computed")
    args = parser.parse_args()
    ws = args.workspace.resolve()
    codes = dict(c.split("=", 1) for c in args.code) or {"this": "src"}
    commands = {"run": [EXE, "run", str(ws)], "check": [EXE, "check", str(ws)]}
    times: dict[tuple[str, str], list[float]] = {}
    peaks: dict[tuple[str, str], list[float]] = {}
    cpus: dict[tuple[str, str], list[float]] = {}
    digests: dict[str, str] = {}
    for round_ in range(args.repeat + 1):
        for label, src in codes.items():
            os.environ["PYTHONPATH"] = str(Path(src).resolve())
            for name, command in commands.items():
                if name == "run" and args.fresh:
                    shutil.rmtree(ws / RESULTS / "passes", ignore_errors=True)
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                child = measure(command, f"{label}: outcomes {name}")
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                if name == "run":
                    digests.setdefault(label, digest(ws))
                    if digest(ws) != digests[label]:
                        raise SystemExit(f"{label}: the results changed between runs")
                if round_:  # round 0 warms up (and computes passes the code change touched)
                    times.setdefault((label, name), []).append(child.wall)
                    peaks.setdefault((label, name), []).append(child.peak_mb)
                    cpus.setdefault((label, name), []).append(cpu)
    first = next(iter(codes))
    print(f"| command | code | median s | fastest s | x ({first}) | CPU s | peak MB |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name in commands:
        base = statistics.median(times[(first, name)])
        for label in codes:
            t = times[(label, name)]
            print(f"| outcomes {name} | {label} | {statistics.median(t):.2f} | {min(t):.2f} | "
                  f"{statistics.median(t) / base:.2f} | "
                  f"{statistics.median(cpus[(label, name)]):.2f} | "
                  f"{statistics.median(peaks[(label, name)]):.0f} |")
    same = len(set(digests.values())) == 1
    print(f"\nresults digests: {digests} ({'identical' if same else 'DIFFERENT'})")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
