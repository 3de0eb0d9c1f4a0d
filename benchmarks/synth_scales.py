"""Benchmark: `outcomes synth` at borough, London and England scale.

Runs each scale as its own process (as a user would), one after another, and reports
records written, wall time, records per second and peak memory (max RSS of that process).

    .venv/bin/python benchmarks/synth_scales.py                  # all three scales
    .venv/bin/python benchmarks/synth_scales.py --scales borough --years 5

Results go to stdout as a Markdown table (paste into docs/performance.md) and as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "tower-hamlets"


def run(scale: str, years: int, seed: int, workdir: Path) -> dict[str, object]:
    ws = workdir / f"{scale}-{years}"
    shutil.copytree(EXAMPLE, ws, ignore=shutil.ignore_patterns("incoming", "synth-truth"))
    exe = Path(sys.executable).with_name("outcomes")
    started = time.perf_counter()
    proc = subprocess.Popen([str(exe), "synth", str(ws), "--scale", scale, "--years",
                             str(years), "--seed", str(seed)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    out = proc.stdout.read() if proc.stdout else ""
    if status != 0:
        raise SystemExit(f"{scale} failed: {out}")
    manifest = json.loads((ws / "synth-truth" / "manifest.json").read_text())
    rows = sum(manifest["rows"].values())
    report = (ws / "synth-truth" / "calibration_report.csv").read_text().splitlines()[1:]
    within = sum(line.split(",")[10] == "yes" for line in report)
    size = sum(p.stat().st_size for p in (ws / "incoming").rglob("*") if p.is_file())
    shutil.rmtree(ws)
    return {
        "scale": scale, "years": years, "local_authorities": len(manifest["local_authorities"]),
        "records": rows, "seconds": round(seconds, 1),
        "records_per_second": round(rows / seconds),
        "peak_memory_mb": round(usage.ru_maxrss / 1024),  # ru_maxrss is in KiB on Linux
        "output_mb": round(size / 2**20), "calibration_within": f"{within}/{len(report)}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="borough,london,england")
    parser.add_argument("--years", type=int, default=None,
                        help="years for every scale (default: 5, 5 and 1)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    defaults = {"borough": 5, "london": 5, "england": 1}
    results = []
    with tempfile.TemporaryDirectory(dir=ROOT / "build" if (ROOT / "build").is_dir()
                                     else None) as tmp:
        for scale in args.scales.split(","):
            results.append(run(scale, args.years or defaults[scale], args.seed, Path(tmp)))
            print(json.dumps(results[-1]), file=sys.stderr)
    print("| scale | years | LAs | records | seconds | records/s | peak memory (MB) | "
          "output (MB) | calibration within tolerance |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(f"| {r['scale']} | {r['years']} | {r['local_authorities']} | {r['records']:,} | "
              f"{r['seconds']} | {r['records_per_second']:,} | {r['peak_memory_mb']:,} | "
              f"{r['output_mb']:,} | {r['calibration_within']} |")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
