"""Benchmark: `outcomes run` against the practical alternatives, side by side in one run.

On the Tower Hamlets example (borough scale, synthetic, loaded into the store), the four
maternity indicators (low birth weight of term babies, premature births, early booking,
smoking at delivery) by ward, locality and borough for every financial/calendar year, with
95% intervals:

  (a) `outcomes run` (the engine: DuckDB pass, roll-up in Arrow), a whole process, cold
  (b) hand-written DuckDB SQL (aggregate at LSOA x year, roll up with a join, Wilson in numpy)
  (c) pandas, vectorised groupby; and the same with a row-wise CI function (df.apply)
  (d) polars, vectorised

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/engine_three_way.py --years 5 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def setup(workdir: Path, years: int) -> Path:
    ws = workdir / "ws"
    shutil.copytree(ROOT / "examples" / "tower-hamlets", ws, ignore=shutil.ignore_patterns(
        "incoming", "synth-truth", ".outcomes", ".synth-staging-*"))
    for extra in ("early-years.yaml", "young-people.yaml"):
        (ws / "definitions" / extra).unlink()
    key = workdir / "key"
    key.write_text("k" * 64)
    exe = str(Path(sys.executable).with_name("outcomes"))
    subprocess.run([exe, "synth", str(ws), "--years", str(years), "--seed", "1"], check=True,
                   capture_output=True)
    subprocess.run([exe, "load", str(ws), "--all", "--key-file", str(key)], check=True,
                   capture_output=True)
    return ws


def maternity_files(ws: Path) -> list[str]:
    from common_outcomes.data.store import open_store

    return [str(p.path) for p in open_store(ws).current_files("maternity")]


def lookup(ws: Path) -> dict[str, tuple[str, str]]:
    """LSOA -> (ward, locality)."""
    from common_outcomes.project import Project

    project = Project.load(ws)
    assert project.workspace is not None and project.workspace.geography is not None
    ward_locality = {w: loc.id for loc in project.workspace.localities for w in loc.wards}
    return {a.code: (a.ward, ward_locality[a.ward]) for a in project.workspace.geography.lsoas}


def wilson(x: np.ndarray, n: np.ndarray, z: float = 1.959963984540054) -> tuple[np.ndarray, ...]:
    p = x / n
    centre = (2 * x + z**2) / (2 * (n + z**2))
    half = z * np.sqrt(z**2 + 4 * x * (1 - p)) / (2 * (n + z**2))
    return centre - half, centre + half


def wilson_row(x: float, n: float, z: float = 1.959963984540054) -> tuple[float, float]:
    """The row-by-row function many analysts write (one call per output row)."""
    p = x / n
    centre = (2 * x + z**2) / (2 * (n + z**2))
    half = z * math.sqrt(z**2 + 4 * x * (1 - p)) / (2 * (n + z**2))
    return centre - half, centre + half


CONDITIONS = {  # numerator within denominator, as the example's definitions say
    "low_birth_weight": ("gestational_age_weeks >= 37 and birth_outcome = 'live' and "
                         "birth_weight_g is not null", "birth_weight_g < 2500"),
    "smoking": ("smoking_at_delivery in ('Y', 'N')", "smoking_at_delivery = 'Y'"),
}


def run_engine(ws: Path) -> float:
    shutil.rmtree(ws / ".outcomes" / "results", ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("outcomes")), "run", str(ws)], check=True,
                   capture_output=True)
    return time.perf_counter() - started


def run_engine_in_process(ws: Path) -> float:
    """The engine after start-up: load the workspace, compute, write (no cached passes)."""
    from common_outcomes.project import Project, run_indicators

    shutil.rmtree(ws / ".outcomes" / "results", ignore_errors=True)
    started = time.perf_counter()
    run_indicators(Project.load(ws))
    return time.perf_counter() - started


def hand_sql(files: list[str], areas: dict[str, tuple[str, str]]) -> int:
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    con.register("areas", pa.table({"lsoa": list(areas), "ward": [v[0] for v in areas.values()],
                                    "locality": [v[1] for v in areas.values()]}))
    sums = ", ".join(f"sum(case when ({d}) and ({n}) then 1 else 0 end) as {k}_x, "
                     f"sum(case when ({d}) then 1 else 0 end) as {k}_n"
                     for k, (d, n) in CONDITIONS.items())
    finest = (f"select residence_area_code as lsoa, year(baby_dob_month) as y, {sums} "
              f"from read_parquet({files!r}) group by 1, 2")
    cols = ", ".join(f"sum({k}_x) {k}_x, sum({k}_n) {k}_n" for k in CONDITIONS)
    rolled = con.sql(
        f"with f as ({finest}) select a.ward as area, y, {cols} from f join areas a "
        f"on f.lsoa = a.lsoa group by all union all select a.locality, y, {cols} from f "
        f"join areas a on f.lsoa = a.lsoa group by all union all select 'LA', y, {cols} "
        f"from f group by all").fetchnumpy()
    total = 0
    for k in CONDITIONS:
        x, n = rolled[f"{k}_x"].astype(float), rolled[f"{k}_n"].astype(float)
        lo, up = wilson(x, np.where(n > 0, n, np.nan))
        total += len(lo)
    return total


def pandas_vectorised(files: list[str], areas: dict[str, tuple[str, str]],
                      row_wise: bool = False) -> int:
    import pandas as pd

    df = pd.concat(pd.read_parquet(f) for f in files)
    df["y"] = pd.to_datetime(df["baby_dob_month"]).dt.year
    df["ward"] = df["residence_area_code"].map({k: v[0] for k, v in areas.items()})
    df["locality"] = df["residence_area_code"].map({k: v[1] for k, v in areas.items()})
    df["la"] = "LA"
    den = {"low_birth_weight": (df["gestational_age_weeks"] >= 37)
           & (df["birth_outcome"] == "live") & df["birth_weight_g"].notna(),
           "smoking": df["smoking_at_delivery"].isin(["Y", "N"])}
    num = {"low_birth_weight": den["low_birth_weight"] & (df["birth_weight_g"] < 2500),
           "smoking": den["smoking"] & (df["smoking_at_delivery"] == "Y")}
    for k in CONDITIONS:
        df[f"{k}_x"], df[f"{k}_n"] = num[k].astype(int), den[k].astype(int)
    cols = [f"{k}_{s}" for k in CONDITIONS for s in ("x", "n")]
    parts = [df.groupby([level, "y"])[cols].sum().reset_index().rename(columns={level: "area"})
             for level in ("ward", "locality", "la")]
    out = pd.concat(parts)
    for k in CONDITIONS:
        if row_wise:
            limits = out.apply(lambda r, k=k: wilson_row(r[f"{k}_x"], r[f"{k}_n"])
                               if r[f"{k}_n"] > 0 else (float("nan"),) * 2, axis=1)
            out[f"{k}_lo"] = [a for a, _ in limits]
        else:
            out[f"{k}_lo"], out[f"{k}_up"] = wilson(out[f"{k}_x"].to_numpy(float),
                                                    out[f"{k}_n"].to_numpy(float))
    return len(out)


def polars_vectorised(files: list[str], areas: dict[str, tuple[str, str]]) -> int:
    import polars as pl

    lookup_df = pl.DataFrame({"residence_area_code": list(areas),
                              "ward": [v[0] for v in areas.values()],
                              "locality": [v[1] for v in areas.values()]})
    df = pl.scan_parquet(files).join(lookup_df.lazy(), on="residence_area_code").with_columns(
        pl.col("baby_dob_month").dt.year().alias("y"), pl.lit("LA").alias("la"))
    lbw_n = ((pl.col("gestational_age_weeks") >= 37) & (pl.col("birth_outcome") == "live")
             & pl.col("birth_weight_g").is_not_null())
    smk_n = pl.col("smoking_at_delivery").is_in(["Y", "N"])
    df = df.with_columns(lbw_n.cast(pl.Int64).alias("low_birth_weight_n"),
                         (lbw_n & (pl.col("birth_weight_g") < 2500)).cast(pl.Int64)
                         .alias("low_birth_weight_x"),
                         smk_n.cast(pl.Int64).alias("smoking_n"),
                         (smk_n & (pl.col("smoking_at_delivery") == "Y")).cast(pl.Int64)
                         .alias("smoking_x"))
    cols = [f"{k}_{s}" for k in CONDITIONS for s in ("x", "n")]
    frames = [df.group_by([level, "y"]).agg([pl.col(c).sum() for c in cols])
              .rename({level: "area"}) for level in ("ward", "locality", "la")]
    out = pl.concat(frames).collect()
    for k in CONDITIONS:
        wilson(out[f"{k}_x"].to_numpy().astype(float), out[f"{k}_n"].to_numpy().astype(float))
    return out.height


def median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = setup(Path(tmp), args.years)
        files, areas = maternity_files(ws), lookup(ws)
        rows = sum(int(subprocess.run([sys.executable, "-c", "import pyarrow.parquet as pq,"
                                       f"sys; print(pq.read_metadata({f!r}).num_rows)"],
                                      capture_output=True, text=True).stdout) for f in files)
        results = {
            "(a) outcomes run, whole process, cold": median_time(lambda: run_engine(ws),
                                                                 args.repeat),
            "(a) outcomes run, in process (after imports)": median_time(
                lambda: run_engine_in_process(ws), args.repeat),
            "(b) hand-written DuckDB SQL + numpy": median_time(lambda: hand_sql(files, areas),
                                                              args.repeat),
            "(c) pandas, vectorised": median_time(lambda: pandas_vectorised(files, areas),
                                                  args.repeat),
            "(c) pandas, row-wise CI (df.apply)": median_time(
                lambda: pandas_vectorised(files, areas, row_wise=True), args.repeat),
            "(d) polars, vectorised": median_time(lambda: polars_vectorised(files, areas),
                                                  args.repeat),
        }
    base = results["(b) hand-written DuckDB SQL + numpy"]
    print(f"maternity rows: {rows:,}; median of {args.repeat} runs each")
    print("| approach | median seconds | x hand-written SQL |")
    print("| --- | ---: | ---: |")
    for name, seconds in results.items():
        print(f"| {name} | {seconds:.3f} | {seconds / base:.1f} |")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
