"""`outcomes geography --postcodes` on a national-size postcode directory: time and peak memory.

Writes a synthetic NSPL (the user guide's 35 columns, ROWS rows, the borough's postcodes
scattered through it, some terminated), zips it as ONS publishes it (Data/NSPL_..._UK.csv),
then runs `outcomes geography --postcodes` on the zip and on the CSV, each in its own process,
and reports seconds and that process's peak resident memory.

    .venv/bin/python benchmarks/postcode_directory.py [--rows 2700000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pv

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "tower-hamlets"
HEADER = ("pcd,pcd2,pcds,dointr,doterm,usertype,oseast1m,osnrth1m,osgrdind,oa21,cty,ced,laua,"
          "ward,nhser,ctry,rgn,pcon,ttwa,itl,park,lsoa21,msoa21,wz11,sicbl,bua24,ruc21,oac11,lat,"
          "long,lep1,lep2,pfa,imd,icb").split(",")
BOROUGH = "E09000030"


def synthetic_nspl(path: Path, rows: int, seed: int = 1) -> int:
    """Write ROWS rows in blocks; returns how many are the borough's."""
    rng = np.random.default_rng(seed)
    ours = 0
    block = 250_000
    with pv.CSVWriter(path, pa.schema([(c, pa.string()) for c in HEADER]),
                      write_options=pv.WriteOptions(quoting_style="all_valid")) as writer:
        for start in range(0, rows, block):
            n = min(block, rows - start)
            number = np.arange(start, start + n)
            outward = np.char.add("Q", (number // 4000 % 99 + 1).astype(str))
            inward = np.char.add((number // 400 % 10).astype(str),
                                 np.char.add(np.char.mod("%c", 65 + number % 20),
                                             np.char.mod("%c", 65 + number // 20 % 20)))
            pcds = np.char.add(np.char.add(outward, " "), inward)
            mine = rng.random(n) < 0.004  # about 11,000 of 2.7 million, as a borough's
            ours += int(mine.sum())
            la = np.where(mine, BOROUGH, np.char.add("E0600", (number % 300).astype(str)))
            lsoa = np.char.add("E0", (1000000 + number % 35000).astype(str))
            ended = np.where(rng.random(n) < 0.25, "201006", "")
            cols = {c: pa.array(np.full(n, "X")) for c in HEADER}
            cols.update(pcd=pa.array(pcds), pcd2=pa.array(pcds), pcds=pa.array(pcds),
                        dointr=pa.array(np.full(n, "198001")), doterm=pa.array(ended),
                        laua=pa.array(la), lsoa21=pa.array(lsoa),
                        lat=pa.array(np.full(n, "51.5123")), long=pa.array(np.full(n, "-0.0412")))
            writer.write_table(pa.table(cols))
    return ours


def measure(workspace: Path, source: Path) -> tuple[float, float, str]:
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "outcomes"), "geography", str(workspace),
                           "--postcodes", str(source)], capture_output=True, text=True,
                          check=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return time.perf_counter() - started, max(peak, before) / 1024, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_700_000)
    parser.add_argument("--keep", type=Path, help="Keep the files here.")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="nspl-"))
    folder.mkdir(parents=True, exist_ok=True)
    workspace = folder / "ws"
    shutil.copytree(EXAMPLE, workspace, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".outcomes", "incoming", "synth-truth"))
    csv_path = folder / "NSPL_SYNTHETIC_UK.csv"
    started = time.perf_counter()
    ours = synthetic_nspl(csv_path, args.rows)
    zip_path = folder / "NSPL_SYNTHETIC.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(csv_path, "Data/NSPL_SYNTHETIC_UK.csv")
    print(f"wrote {args.rows:,} rows ({csv_path.stat().st_size / 1e6:,.0f} MB CSV, "
          f"{zip_path.stat().st_size / 1e6:,.0f} MB zipped; {ours:,} the borough's) in "
          f"{time.perf_counter() - started:.0f} s")
    # Peak memory per process: RUSAGE_CHILDREN is the largest child so far, so the smaller
    # input (the zip streams through the same reader) runs first.
    for label, source in (("zip", zip_path), ("csv", csv_path)):
        seconds, peak, said = measure(workspace, source)
        print(f"{label}: {seconds:.1f} s, peak {peak:,.0f} MB | {said}")
    if args.keep is None:
        shutil.rmtree(folder)


if __name__ == "__main__":
    sys.exit(main())
