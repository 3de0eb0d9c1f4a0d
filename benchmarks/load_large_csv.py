"""Benchmark: `outcomes load` on a CSV far larger than memory (default 5 GB).

Writes a synthetic maternity-like return of the requested size (valid NHS numbers and UPNs,
a few faults), declares it as a source in a scratch workspace, then runs `outcomes load` as its
own process and reports rows, seconds, rows per second and peak memory (max RSS).

    .venv/bin/python benchmarks/load_large_csv.py --gigabytes 5
    .venv/bin/python benchmarks/load_large_csv.py --gigabytes 0.5     # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "data" / "corpus"))


def write_csv(path: Path, gigabytes: float, seed: int = 1) -> int:
    from common_outcomes.synth.identifiers import nhs_numbers, upns

    rng = np.random.default_rng(seed)
    target = int(gigabytes * 1e9)
    rows = 0
    chunk = 400_000
    with path.open("wb") as f:
        block = 0
        while f.tell() < target:
            n = chunk
            nhs = nhs_numbers(rng, n, block % 200)
            block += 1
            upn = upns(rng, n, 211, 2000 + rng.integers(0, 9999 - 2000, n) % 8000,
                       rng.integers(2010, 2024, n))
            dob = np.datetime64("1975-01-01") + rng.integers(0, 9000, n).astype("timedelta64[D]")
            booking = np.datetime64("2020-04-01") + rng.integers(0, 1800, n).astype(
                "timedelta64[D]")
            table = pa.table({
                "record_id": pa.array(np.char.add("R", (rows + np.arange(n)).astype(str))),
                "mother_nhs_number": pa.array(nhs),
                "mother_forename": pa.array(rng.choice(["Amina", "Olivia", "Fatima", "Zoë"], n)),
                "mother_dob": pa.array(dob.astype(str)),
                "mother_postcode": pa.array(np.char.add("QX1 ", rng.choice(["2AB", "3CD"], n))),
                "upn": pa.array(upn),
                "booking_date": pa.array(booking.astype(str)),
                "birth_weight_g": pa.array(rng.integers(1500, 4800, n).astype(str)),
                "gestational_age_weeks": pa.array(rng.integers(30, 43, n).astype(str)),
                "smoking": pa.array(rng.choice(["Y", "N", "U", "yes"], n,
                                               p=[0.1, 0.85, 0.049, 0.001])),
                "notes": pa.array(rng.choice(["", "first pregnancy", "twins", "=1+1"], n,
                                             p=[0.7, 0.2, 0.0999, 0.0001])),
            })
            pacsv.write_csv(table, f, pacsv.WriteOptions(include_header=rows == 0))
            rows += n
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=5.0)
    parser.add_argument("--workdir", type=Path, default=ROOT / "build" / "load-benchmark")
    args = parser.parse_args()
    ws = args.workdir / "workspace"
    shutil.rmtree(args.workdir, ignore_errors=True)
    shutil.copytree(ROOT / "examples" / "tower-hamlets", ws, ignore=shutil.ignore_patterns(
        "incoming", "synth-truth", ".outcomes", ".synth-staging-*"))
    (ws / "sources" / "benchmark.yaml").write_text(
        (ROOT / "tests" / "data" / "corpus" / "source.yaml").read_text()
        .replace("id: corpus-maternity", "id: benchmark").replace("files: corpus/*",
                                                                   "files: benchmark/*.csv"))
    incoming = ws / "incoming" / "benchmark"
    incoming.mkdir(parents=True)
    key = args.workdir / "key"
    key.write_text("benchmark-key-" * 4)
    started = time.perf_counter()
    rows = write_csv(incoming / "maternity.csv", args.gigabytes)
    size = (incoming / "maternity.csv").stat().st_size
    print(f"wrote {rows:,} rows, {size / 1e9:.2f} GB in {time.perf_counter() - started:.0f}s",
          file=sys.stderr)
    exe = Path(sys.executable).with_name("outcomes")
    started = time.perf_counter()
    proc = subprocess.Popen([str(exe), "load", str(ws), "benchmark",
                             str(incoming / "maternity.csv"), "--key-file", str(key)],
                            stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    output = proc.stdout.read() if proc.stdout else ""
    result = {"file_gb": round(size / 1e9, 2), "rows": rows, "seconds": round(seconds, 1),
              "rows_per_second": round(rows / seconds), "mb_per_second": round(size / 1e6 /
                                                                                 seconds, 1),
              "peak_memory_mb": round(usage.ru_maxrss / 1024), "exit_status": status,
              "summary": output.strip().splitlines()[-1] if output else ""}
    print(json.dumps(result))
    shutil.rmtree(args.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
