"""Load on the web app: `outcomes serve` on loopback, signed-in clients asking for every page and
API route in turn, measured with wrk (Debian's package), on SQLite and on PostgreSQL.

    make demo                                     # the example, computed
    .venv/bin/python benchmarks/web_load.py       # 50 clients for 60 s, each database
    .venv/bin/python benchmarks/web_load.py --duration 20 --databases sqlite

Prints one Markdown row per database: requests, requests/s, p50/p95/p99 latency, errors.
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
import time
import urllib.request
import uuid
from pathlib import Path

from common_outcomes.project import open_state
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def measure(workspace: Path, url: str, duration: int, connections: int,
            workers: int = 1) -> dict[str, float]:
    state = open_state(workspace, url)
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
        deadline = time.monotonic() + 60
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
        done = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s",
                               "--timeout", "10s", "-s", script.name,
                               f"http://127.0.0.1:{port}"],
                              capture_output=True, text=True, check=True,
                              timeout=duration + 60)
        Path(script.name).unlink()
        line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
        result: dict[str, float] = json.loads(line.removeprefix("RESULT "))
        return result
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, default=ROOT / "examples" / "tower-hamlets")
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=1, help="outcomes serve --workers")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")
    print("| database | workers | clients | seconds | requests | requests/s | p50 ms | p95 ms "
          "| p99 ms | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
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
            r = measure(args.workspace, url, args.duration, args.connections, args.workers)
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
              f"{r['errors'] + r['status']:,} |", flush=True)


if __name__ == "__main__":
    main()
