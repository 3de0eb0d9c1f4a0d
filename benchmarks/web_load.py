"""Load on the web app: `outcomes serve` on loopback, signed-in clients asking for every page and
API route in turn, measured with wrk (Debian's package), on SQLite and on PostgreSQL.

    make demo                                     # the example, computed
    .venv/bin/python benchmarks/web_load.py       # 50 clients for 60 s, each database
    .venv/bin/python benchmarks/web_load.py --duration 20 --databases sqlite
    .venv/bin/python benchmarks/web_load.py --scale london --keep /var/tmp/webload

At London scale the example is served with London's synthetic data (`outcomes synth --scale
london`, built into --keep by _workspaces.workspace and reused, or an existing --workspace)
and results computed over every LA's loaded parts and London's wards, LAs and region plus the
borough's own Family Hub localities, with the tracking `outcomes run` adds (published
comparators, England among them; baselines; targets), written where `outcomes run` writes
them, through the same disclosure gate. England is left to the published comparator rather
than computed from London's data alone, which would shadow it with London's figure.

Prints one Markdown row per database: requests, requests/s, p50/p95/p99 latency, errors, and
the server's peak resident memory (every worker) while measured.
Traffic goes to 127.0.0.1 only; every run is bounded by --duration.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

from _workspaces import add_published, areas, every_part, tree_rss, workspace

from common_outcomes.engine.run import Scope
from common_outcomes.project import Project
from common_outcomes.state import Role
from common_outcomes.web.security import SESSION_COOKIE
from common_outcomes.web.site import Served

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).with_name("outcomes")
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/"
LUA = """
paths = {%s}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1], {["Cookie"] = "%s"})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"requests": %%d, "seconds": %%f, "p50": %%d, "p95": %%d,'
    .. ' "p99": %%d, "errors": %%d, "status": %%d}\\n', summary.requests,
    summary.duration / 1e6, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def paths(workspace: Path) -> list[str]:
    served = Served.load(workspace)
    base = f"/w/{served.id}"
    table = served.results()
    if table is None:
        sys.exit(f"{workspace} has no results: run 'make demo' first.")
    indicators = sorted(set(table.column("indicator_id").to_pylist()))
    return [base, f"{base}/data",
            *(f"{base}/priorities/{p['id']}" for p in served.map["priorities"]),
            *(f"{base}/priorities/{p['id']}/story" for p in served.map["priorities"]),
            *(f"{base}/indicators/{i}" for i in indicators),
            f"{base}/indicators/{indicators[0]}/story",
            *(f"{base}/localities/{x['id']}" for x in served.map["localities"]),
            "/api/v1/workspaces", f"/api/v1/workspaces/{served.id}",
            *(f"/api/v1/workspaces/{served.id}/results?indicator={i}&limit=100"
              for i in indicators),
            f"/api/v1/workspaces/{served.id}/narratives",
            f"/api/v1/workspaces/{served.id}/actions"]


def london_results(ws: Path) -> str:
    """Compute the London workspace's results as one instance holding every borough would:
    every LA's parts over London's areas and the borough's localities. Says what it did."""
    start = time.perf_counter()
    scope = Scope(every_part(ws), areas("london", ws, localities=True, england=False))
    done = Project.open(ws).run(scope=scope)
    return (f"London results: {done.rows:,} rows in {time.perf_counter() - start:,.1f} s "
            f"({done.passes_computed} passes computed, {done.passes_reused} unchanged)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def measure(workspace: Path, url: str, duration: int, connections: int,
            workers: int = 1, start_within: int = 60) -> dict[str, float]:
    state = Project.open_state(workspace, url)
    email = f"load-{uuid.uuid4().hex[:8]}@example.org"
    state.add_user(email, "Load", "a long load passphrase", Served.load(workspace).id,
                   Role.ANALYST, "benchmark")
    token = state.sign_in(email, "a long load passphrase", "benchmark")
    state.close()
    port = free_port()
    server = subprocess.Popen([str(EXE), "serve", str(workspace), "--port", str(port),
                               "--workers", str(workers)],
                              env={**os.environ, "DATABASE_URL": url})
    try:
        deadline = time.monotonic() + start_within
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health").read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit("outcomes serve did not start")
                time.sleep(0.2)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(LUA % (", ".join(f'"{p}"' for p in paths(workspace)),
                                f"{SESSION_COOKIE}={token}"))
        peak = [0]
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.wait(0.5):
                peak[0] = max(peak[0], tree_rss(server.pid))

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            done = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s",
                                   "--timeout", "10s", "-s", script.name,
                                   f"http://127.0.0.1:{port}"],
                                  capture_output=True, text=True, check=True,
                                  timeout=duration + 60)
        finally:
            sampling.set()
            sampler.join()
        Path(script.name).unlink()
        line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
        result: dict[str, float] = json.loads(line.removeprefix("RESULT "))
        result["rss_mb"] = peak[0] / 2**20
        return result
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=("borough", "london"), default="borough")
    parser.add_argument("--workspace", type=Path, default=None, help=(
        "the workspace to serve (default: the example; at London scale, one built in --keep)"))
    parser.add_argument("--keep", type=Path, default=None,
                        help="where the London workspace is built and kept for the next run")
    parser.add_argument("--years", type=int, default=5, help="years of London's data")
    parser.add_argument("--comparators", type=Path, default=None,
                        help="a folder of published CSVs to load into the London workspace "
                        "(default: the carried comparators, as make demo loads)")
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=1, help="outcomes serve --workers")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")
    ws = args.workspace or ROOT / "examples" / "tower-hamlets"
    if args.scale == "london":
        if args.workspace is None:
            if args.keep is None:
                sys.exit("--scale london needs --workspace or --keep (a folder to build it in).")
            args.keep.mkdir(parents=True, exist_ok=True)
            ws, took = workspace(args.keep, "london", args.years)
            print(f"London workspace {ws}: " + (", ".join(
                f"{k} {v:,.0f} s" for k, v in took.items()) or "reused"), flush=True)
        from common_outcomes.reference import comparator_files

        files = (comparator_files() if args.comparators is None
                 else sorted(args.comparators.glob("*.csv")))
        if not files:
            sys.exit(f"{args.comparators} holds no published CSV files to load.")
        took = add_published(ws, files)
        if took:
            print(f"Loaded the published comparators in {took:,.0f} s", flush=True)
        print(london_results(ws), flush=True)
    print("| database | workers | clients | seconds | requests | requests/s | p50 ms | p95 ms "
          "| p99 ms | errors | server MB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for database in args.databases.split(","):
        folder = Path(tempfile.mkdtemp(prefix="web-load-"))
        name = f"outcomes_load_{uuid.uuid4().hex[:10]}"
        if database == "sqlite":
            url = f"sqlite:///{folder / 'app.sqlite3'}"
        else:
            import psycopg

            with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres",
                                 autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            url = POSTGRES + name
        try:
            r = measure(ws, url, args.duration, args.connections, args.workers,
                        start_within=60 if args.scale == "borough" else 600)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            if database != "sqlite":
                with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres",
                                     autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(f"| {database} | {args.workers} | {args.connections} | {r['seconds']:.0f} | "
              f"{r['requests']:,} | "
              f"{r['requests'] / r['seconds']:,.0f} | {r['p50'] / 1000:.0f} | "
              f"{r['p95'] / 1000:.0f} | {r['p99'] / 1000:.0f} | "
              f"{r['errors'] + r['status']:,} | {r['rss_mb']:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
