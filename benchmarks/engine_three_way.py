"""Benchmark: the indicator engine against the practical alternatives, side by side, at
borough, London and England scale.

The example's four maternity indicators (low birth weight of term babies, with its breakdown
by sex; premature births, a crude rate; early booking; smoking at delivery) by every area
level and every period type their definitions ask for (calendar and financial years,
quarters, rolling years), with 95% intervals, from every LA's loaded maternity parts:

  (a) the engine as `outcomes run` drives it: engine.plan (passes, sqlglot queries) -> the
      DuckDB backend -> engine.results.build_results -> the disclosure guard; in process,
      and as a whole process (cold: interpreter start, imports, workspace load included).
      At borough scale also `outcomes run` itself, on the maternity-only workspace and on a
      workspace with every source loaded (every example indicator). And the engine in
      process with its roll-up in numpy as before engine/rollup.py, whose rows must be the
      engine's exactly (counts exactly, values to 1e-9).
  (b) hand-written DuckDB SQL: counts by small area and month, rolled up to each level then
      into periods, intervals in numpy: the practical limit
  (c) pandas: vectorised groupby; and the same with a row-wise CI function (`df.apply`)
  (d) polars, lazy and vectorised

Areas: at borough scale the workspace's own (ward -> locality -> la); at London scale every
LSOA -> ward -> la -> region -> England; at England scale every MSOA -> la -> region ->
England (the synthetic England places people in MSOAs, which have no wards), from the shipped
reference geography. Each approach runs in its own process (this one samples the resident
memory of that process and its children), `--repeat` times after one untimed warm-up run (a
cold approach: `--repeat` processes, each timed whole); the approaches take turns for
`--rounds` rounds; then every approach's rows and numbers are checked against the engine's
(an AssertionError says which differ).

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/engine_three_way.py --scales borough --repeat 5 --rounds 2
    .venv/bin/python benchmarks/engine_three_way.py --scales england --repeat 3 --rounds 2 \\
        --keep /var/tmp/threeway --raw england=/work/bench/england   # reuse an earlier synth
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _workspaces import EXE, areas, every_part, measure, workspace

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

SOURCE = "maternity"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
Z95 = 1.959963984540054  # the normal quantile at 97.5%
KEYS = ("indicator", "area_code", "period_type", "period", "breakdown")
NUMBERS = ("numerator", "denominator", "value", "lower_95", "upper_95")
Arrays = dict[str, Any]  # column name -> numpy array


@dataclass(frozen=True)
class Indicator:
    """An indicator as the hand-written approaches know it (the example's definitions)."""

    id: str
    counts: str  # the prefix of its numerator (_x) and denominator (_n) columns
    rate: bool  # a crude rate (exact Poisson below 10, Byar's from 10); else a proportion
    multiplier: float
    period_types: tuple[str, ...]
    by_sex: bool = False


# Pass A counts records by the baby's month of birth, pass B by the month of booking.
PASS_A = (Indicator("low-birth-weight-term", "lbw", False, 100, ("calendar_year",), True),
          Indicator("premature-births", "prem", True, 1000, ("calendar_year",)),
          Indicator("smoking-at-delivery", "smk", False, 100,
                    ("financial_year", "rolling_12_months")))
PASS_B = (Indicator("early-booking", "eb", False, 100, ("financial_year", "quarter")),)
COLUMNS = ["residence_area_code", "baby_dob_month", "booking_date", "baby_sex",
           "birth_weight_g", "gestational_age_weeks", "birth_outcome", "smoking_at_delivery",
           "gestation_at_booking_days"]


# --- what every approach gets: the files, the loaded periods, the areas --------------------

@dataclass(frozen=True)
class Job:
    ws: Path
    scale: str
    files: list[str]
    periods: list[str]  # the financial years loaded (the source's own period type)
    lookup: Path  # small area -> the code of each area above it, one row per level

    @staticmethod
    def read(path: Path) -> Job:
        raw = json.loads(path.read_text())
        return Job(Path(raw["ws"]), raw["scale"], raw["files"], raw["periods"],
                   Path(raw["lookup"]))

    def write(self, path: Path) -> None:
        path.write_text(json.dumps({"ws": str(self.ws), "scale": self.scale,
                                    "files": self.files, "periods": self.periods,
                                    "lookup": str(self.lookup)}))


def prepare(ws: Path, scale: str, workdir: Path) -> Job:
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = every_part(ws)[SOURCE]
    found = areas(scale, ws)
    small = sorted({s for level in found.levels for s in found.within[level]})
    pairs = [(s, found.within[level].get(s, "")) for level in found.levels for s in small]
    lookup = workdir / f"{scale}-lookup.parquet"
    pq.write_table(pa.table({"small": [s for s, c in pairs if c],
                             "code": [c for _, c in pairs if c]}), lookup)
    return Job(ws, scale, [str(p.path) for p in parts],
               sorted({x for p in parts for x in p.periods}), lookup)


def month_periods(first: int, last: int, loaded: Sequence[str], types: Sequence[str]
                  ) -> Arrays:
    """Each month (year * 12 + month - 1) from `first` to `last` and every whole period of
    `types` it counts in, labelled as the field writes them. Whole as the engine judges it: a
    financial year (the source's own period type) if it was loaded; any other period if it
    lies within the months the data covers."""
    import numpy as np

    def year(y: int) -> str:
        return f"{y}/{(y + 1) % 100:02d}"

    out: dict[str, list[Any]] = {"m": [], "period_type": [], "period": []}

    def add(m: int, ptype: str, label: str, start: int | None = None, end: int = 0) -> None:
        if (label in loaded) if start is None else (start >= first and end <= last):
            out["m"].append(m)
            out["period_type"].append(ptype)
            out["period"].append(label)

    for m in range(first, last + 1):
        y, month = divmod(m, 12)
        fy = y if month >= 3 else y - 1
        for ptype in types:
            if ptype == "financial_year":
                add(m, ptype, year(fy))
            elif ptype == "calendar_year":
                add(m, ptype, str(y), y * 12, y * 12 + 11)
            elif ptype == "quarter":
                q = (month - 3) % 12 // 3
                start = fy * 12 + 3 + 3 * q
                add(m, ptype, f"{year(fy)} Q{q + 1}", start, start + 2)
            else:  # rolling 12 months: the twelve ending with this month and the next eleven
                for end in range(m, m + 12):
                    add(m, ptype, f"12 months to {MONTHS[end % 12]} {end // 12}", end - 11, end)
    return {"m": np.array(out["m"], dtype=np.int64),
            "period_type": np.array(out["period_type"]), "period": np.array(out["period"])}


def types_of(indicators: Sequence[Indicator]) -> list[str]:
    return sorted({t for i in indicators for t in i.period_types})


# --- intervals: on whole columns, and the row-by-row function many analysts write ----------

def vectorised(x: np.ndarray, n: np.ndarray, ind: Indicator
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Value and 95% limits: Wilson for a proportion; a crude rate's limits exact Poisson
    below 10 events and Byar's from 10 (PHEindicatormethods' phe_proportion and phe_rate)."""
    import numpy as np
    from scipy import special

    with np.errstate(divide="ignore", invalid="ignore"):
        if ind.rate:
            lo_exact = np.where(x == 0, 0.0, special.gammaincinv(np.maximum(x, 1e-300), 0.025))
            up_exact = special.gammaincinv(x + 1, 0.975)
            lo_byars = x * (1 - 1 / (9 * x) - Z95 / (3 * np.sqrt(x))) ** 3
            up_byars = (x + 1) * (1 - 1 / (9 * (x + 1)) + Z95 / (3 * np.sqrt(x + 1))) ** 3
            scale = np.where(n > 0, ind.multiplier / n, np.nan)
            value = x * scale
            lo = np.where(x < 10, lo_exact, lo_byars) * scale
            up = np.where(x < 10, up_exact, up_byars) * scale
        else:
            value = np.where((n > 0) & (x <= n), x / n, np.nan) * ind.multiplier
            root = Z95 * np.sqrt(Z95**2 + 4 * x * (1 - x / n))
            lo = (2 * x + Z95**2 - root) / 2 / (n + Z95**2) * ind.multiplier
            up = (2 * x + Z95**2 + root) / 2 / (n + Z95**2) * ind.multiplier
    bad = ~np.isfinite(value)
    return value, np.where(bad, np.nan, lo), np.where(bad, np.nan, up)


def ci_row(x: float, n: float, rate: bool, multiplier: float) -> tuple[float, float, float]:
    """One output row's value and limits: the function analysts call with df.apply."""
    from scipy.stats import chi2

    if n <= 0:
        return math.nan, math.nan, math.nan
    if rate:
        if x < 10:
            lo = chi2.ppf(0.025, 2 * x) / 2 if x > 0 else 0.0
            up = chi2.ppf(0.975, 2 * x + 2) / 2
        else:
            lo = x * (1 - 1 / (9 * x) - Z95 / (3 * math.sqrt(x))) ** 3
            up = (x + 1) * (1 - 1 / (9 * (x + 1)) + Z95 / (3 * math.sqrt(x + 1))) ** 3
        return x / n * multiplier, lo / n * multiplier, up / n * multiplier
    if x > n:
        return math.nan, math.nan, math.nan
    root = Z95 * math.sqrt(Z95**2 + 4 * x * (1 - x / n))
    return (x / n * multiplier, (2 * x + Z95**2 - root) / 2 / (n + Z95**2) * multiplier,
            (2 * x + Z95**2 + root) / 2 / (n + Z95**2) * multiplier)


def row_wise(x: np.ndarray, n: np.ndarray, ind: Indicator
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import numpy as np
    import pandas as pd

    rows = pd.DataFrame({"x": x, "n": n})
    out = rows.apply(lambda r: ci_row(r["x"], r["n"], ind.rate, ind.multiplier), axis=1,
                     result_type="expand")
    if not len(out):
        return x[:0], x[:0], x[:0]
    value, lo, up = (np.asarray(out[c], dtype=np.float64) for c in (0, 1, 2))
    return value, lo, up


Intervals = Callable[[Any, Any, Indicator], tuple[Any, Any, Any]]


def finish(rolled: Sequence[tuple[Arrays, Sequence[Indicator]]], ci: Intervals = vectorised
           ) -> Arrays:
    """The output rows of each indicator (its period types; its breakdown if it has one) from
    the rolled-up counts (code, period_type, period, breakdown, <counts>_x, <counts>_n)."""
    import numpy as np

    parts: list[Arrays] = []
    for counts, indicators in rolled:
        for ind in indicators:
            keep = np.isin(counts["period_type"], ind.period_types)
            if not ind.by_sex:
                keep &= counts["breakdown"] == "all"
            x = np.asarray(counts[f"{ind.counts}_x"][keep], dtype=np.float64)
            n = np.asarray(counts[f"{ind.counts}_n"][keep], dtype=np.float64)
            value, lo, up = ci(x, n, ind)
            parts.append({"indicator": np.full(len(x), ind.id),
                          "area_code": np.asarray(counts["code"][keep]),
                          "period_type": np.asarray(counts["period_type"][keep]),
                          "period": np.asarray(counts["period"][keep]),
                          "breakdown": np.asarray(counts["breakdown"][keep]),
                          "numerator": x, "denominator": n, "value": value, "lower_95": lo,
                          "upper_95": up})
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


# --- (a) the engine -------------------------------------------------------------------------

def engine(job: Job, steps: dict[str, list[float]], numpy: bool = False
           ) -> Callable[[], pa.Table]:
    """The engine's run over every LA's parts: plan, compile, stage one on DuckDB, the
    roll-up (in the engine from London's scale, engine/rollup.py; with `numpy`, always in
    numpy as before), the results, the disclosure guard; as engine/run.py does it, minus the
    cache and the write."""
    import pyarrow as pa

    from common_outcomes.engine import plan, rollup
    from common_outcomes.engine.backends import open_backend
    from common_outcomes.engine.publish import publishable
    from common_outcomes.engine.results import Coverage
    from common_outcomes.engine.run import about_of, pass_results
    from common_outcomes.indicators.definitions import definitions_in
    from common_outcomes.project import Project

    if numpy:
        rollup.MIN_RECORDS = sys.maxsize  # the roll-up in numpy, as before engine/rollup.py
    project = Project.open(job.ws)
    about = about_of(project.workspace, project.framework.framework, project.disclosure)
    mine = {i.id for i in (*PASS_A, *PASS_B)}
    definitions = [d for d in definitions_in(project.workspace.extras) if d.indicator in mine]
    parts = {SOURCE: list(every_part(job.ws)[SOURCE])}
    found = areas(job.scale, job.ws)
    rule = project.sources[SOURCE].period
    rules = {name: a.rule for name, a in about.items()}

    def run() -> pa.Table:
        clock = time.perf_counter()
        took = dict.fromkeys(("stages one and two (pass_results)", "disclosure guard"), 0.0)

        def lap(step: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            took[step] += now - clock
            clock = now

        backend = open_backend("duckdb")
        tables = []
        for p in plan.plan_passes(definitions, parts):
            coverage = Coverage(rule.type if rule else None,
                                frozenset(x for part in p.parts for x in part.periods))
            table = pass_results(backend, p, plan.pass_query(p), {}, about, found, coverage)
            lap("stages one and two (pass_results)")
            tables.append(publishable(table, rules, {d.indicator for d in p.definitions
                                                     if d.open_until}))
            lap("disclosure guard")
        backend.close()
        for step, seconds in took.items():
            steps.setdefault(step, []).append(seconds)
        return pa.concat_tables(tables)

    return run


# --- (b) hand-written DuckDB SQL ------------------------------------------------------------

FINEST_A = """
select residence_area_code as small,
       year(baby_dob_month) * 12 + month(baby_dob_month) - 1 as m,
       coalesce(baby_sex, 'unknown') as sex,
       count_if(term) as lbw_n, count_if(term and birth_weight_g < 2500) as lbw_x,
       count(*) as prem_n,
       count_if(gestational_age_weeks < 37 or birth_outcome = 'stillbirth') as prem_x,
       count_if(smoking_at_delivery in ('Y', 'N')) as smk_n,
       count_if(smoking_at_delivery = 'Y') as smk_x
from (select *, gestational_age_weeks >= 37 and birth_outcome = 'live'
                and birth_weight_g is not null as term
      from read_parquet($files))
where baby_dob_month is not null and residence_area_code is not null
group by all"""
FINEST_B = """
select residence_area_code as small, year(booking_date) * 12 + month(booking_date) - 1 as m,
       'unknown' as sex, count_if(gestation_at_booking_days is not null) as eb_n,
       count_if(gestation_at_booking_days <= 76) as eb_x
from read_parquet($files)
where booking_date is not null and residence_area_code is not null
group by all"""


def hand_sql(job: Job) -> Callable[[], Arrays]:
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    lookup = pq.read_table(job.lookup)

    def rolled(con: duckdb.DuckDBPyConnection, finest: str,
               indicators: Sequence[Indicator]) -> Arrays:
        counts = ", ".join(f"sum({i.counts}_{s}) as {i.counts}_{s}" for i in indicators
                           for s in "xn")
        con.execute(f"create or replace temp table finest as {finest}", {"files": job.files})
        first, last = con.execute("select min(m), max(m) from finest").fetchall()[0]
        con.register("periods", pa.table(month_periods(first, last, job.periods,
                                                       types_of(indicators))))
        return con.sql(f"""
            with by_level as (select code, m, sex, {counts} from finest join lookup using (small)
                              group by all)
            select code, period_type, period,
                   case when grouping(sex) = 1 then 'all' else 'baby_sex: ' || sex end
                       as breakdown, {counts}
            from by_level join periods using (m)
            group by grouping sets ((code, period_type, period, sex),
                                    (code, period_type, period))""").fetchnumpy()

    def run() -> Arrays:
        con = duckdb.connect()
        con.register("lookup", lookup)
        out = finish([(rolled(con, FINEST_A, PASS_A), PASS_A),
                      (rolled(con, FINEST_B, PASS_B), PASS_B)])
        con.close()
        return out

    return run


# --- (c) pandas -----------------------------------------------------------------------------

def pandas_way(job: Job, ci: Intervals = vectorised) -> Callable[[], Arrays]:
    import pandas as pd

    lookup = pd.read_parquet(job.lookup)

    def month(dates: pd.Series) -> pd.Series:
        d = pd.to_datetime(dates)
        return d.dt.year * 12 + d.dt.month - 1

    def rolled(finest: pd.DataFrame, indicators: Sequence[Indicator]) -> Arrays:
        counts = [f"{i.counts}_{s}" for i in indicators for s in "xn"]
        by_level = finest.merge(lookup, on="small").groupby(["code", "m", "sex"])[counts].sum()
        periods = pd.DataFrame(month_periods(int(finest["m"].min()), int(finest["m"].max()),
                                             job.periods, types_of(indicators)))
        dated = by_level.reset_index().merge(periods, on="m")
        keys = ["code", "period_type", "period"]
        by_sex = dated.groupby([*keys, "sex"])[counts].sum().reset_index()
        by_sex["breakdown"] = "baby_sex: " + by_sex.pop("sex")
        total = dated.groupby(keys)[counts].sum().reset_index()
        total["breakdown"] = "all"
        both = pd.concat([by_sex, total], ignore_index=True)
        return {c: both[c].to_numpy() for c in both.columns}

    def run() -> Arrays:
        df = pd.concat([pd.read_parquet(f, columns=COLUMNS) for f in job.files],
                       ignore_index=True)
        df = df[df["residence_area_code"].notna()]
        a = df[df["baby_dob_month"].notna()]
        term = ((a["gestational_age_weeks"] >= 37) & (a["birth_outcome"] == "live")
                & a["birth_weight_g"].notna())
        finest_a = pd.DataFrame({
            "small": a["residence_area_code"], "m": month(a["baby_dob_month"]),
            "sex": a["baby_sex"].fillna("unknown"),
            "lbw_n": term, "lbw_x": term & (a["birth_weight_g"] < 2500), "prem_n": 1,
            "prem_x": (a["gestational_age_weeks"] < 37) | (a["birth_outcome"] == "stillbirth"),
            "smk_n": a["smoking_at_delivery"].isin(["Y", "N"]),
            "smk_x": a["smoking_at_delivery"] == "Y",
        }).groupby(["small", "m", "sex"]).sum().reset_index()
        b = df[df["booking_date"].notna()]
        finest_b = pd.DataFrame({
            "small": b["residence_area_code"], "m": month(b["booking_date"]), "sex": "unknown",
            "eb_n": b["gestation_at_booking_days"].notna(),
            "eb_x": b["gestation_at_booking_days"] <= 76,
        }).groupby(["small", "m", "sex"]).sum().reset_index()
        return finish([(rolled(finest_a, PASS_A), PASS_A), (rolled(finest_b, PASS_B), PASS_B)],
                      ci)

    return run


# --- (d) polars -----------------------------------------------------------------------------

def polars_way(job: Job) -> Callable[[], Arrays]:
    import polars as pl

    lookup = pl.read_parquet(job.lookup).lazy()

    def flag(condition: pl.Expr) -> pl.Expr:
        return condition.fill_null(False).cast(pl.Int64)

    def month(column: str) -> pl.Expr:
        return (pl.col(column).dt.year().cast(pl.Int64) * 12
                + pl.col(column).dt.month().cast(pl.Int64) - 1).alias("m")

    def rolled(finest: pl.DataFrame, indicators: Sequence[Indicator]) -> Arrays:
        counts = [f"{i.counts}_{s}" for i in indicators for s in "xn"]
        first, last = finest.select(pl.col("m").min().alias("first"),
                                    pl.col("m").max().alias("last")).row(0)
        periods = pl.DataFrame(month_periods(first, last, job.periods,
                                             types_of(indicators))).lazy()
        dated = (finest.lazy().join(lookup, on="small").group_by("code", "m", "sex")
                 .agg(pl.col(counts).sum()).join(periods, on="m"))
        keys = ["code", "period_type", "period"]
        by_sex = (dated.group_by(*keys, "sex").agg(pl.col(counts).sum())
                  .select(*keys, (pl.lit("baby_sex: ") + pl.col("sex")).alias("breakdown"),
                          *counts))
        total = dated.group_by(keys).agg(pl.col(counts).sum()).select(
            *keys, pl.lit("all").alias("breakdown"), *counts)
        both = pl.concat([by_sex, total]).collect()
        return {c: both[c].to_numpy() for c in both.columns}

    def run() -> Arrays:
        rows = pl.scan_parquet(job.files).select(COLUMNS).filter(
            pl.col("residence_area_code").is_not_null())
        term = ((pl.col("gestational_age_weeks") >= 37) & (pl.col("birth_outcome") == "live")
                & pl.col("birth_weight_g").is_not_null())
        smoking = pl.col("smoking_at_delivery")
        finest_a = rows.filter(pl.col("baby_dob_month").is_not_null()).group_by(
            pl.col("residence_area_code").alias("small"), month("baby_dob_month"),
            pl.col("baby_sex").fill_null("unknown").alias("sex"),
        ).agg(flag(term).sum().alias("lbw_n"),
              flag(term & (pl.col("birth_weight_g") < 2500)).sum().alias("lbw_x"),
              pl.len().cast(pl.Int64).alias("prem_n"),
              flag((pl.col("gestational_age_weeks") < 37)
                   | (pl.col("birth_outcome") == "stillbirth")).sum().alias("prem_x"),
              flag(smoking.is_in(["Y", "N"])).sum().alias("smk_n"),
              flag(smoking == "Y").sum().alias("smk_x"))
        booking = pl.col("gestation_at_booking_days")
        finest_b = rows.filter(pl.col("booking_date").is_not_null()).group_by(
            pl.col("residence_area_code").alias("small"), month("booking_date"),
            pl.lit("unknown").alias("sex"),
        ).agg(flag(booking.is_not_null()).sum().alias("eb_n"),
              flag(booking <= 76).sum().alias("eb_x"))
        a, b = pl.collect_all([finest_a, finest_b])
        return finish([(rolled(a, PASS_A), PASS_A), (rolled(b, PASS_B), PASS_B)])

    return run


# --- one approach in this process -----------------------------------------------------------

def child(approach: str, job: Job, repeat: int, out: Path | None) -> None:
    """Run an approach `repeat` times and print the times; with `out`, after one untimed
    warm-up run (lazy imports, first queries), and write the last run's rows there."""
    steps: dict[str, list[float]] = {}
    makers: dict[str, Callable[[], Callable[[], object]]] = {
        "engine": lambda: engine(job, steps),
        "engine-numpy": lambda: engine(job, steps, numpy=True),
        "sql": lambda: hand_sql(job),
        "pandas": lambda: pandas_way(job),
        "pandas-row-wise": lambda: pandas_way(job, row_wise),
        "polars": lambda: polars_way(job),
    }
    run = makers[approach]()  # setting up (imports, lookups) is not timed
    times, result = [], run() if out is not None else None
    steps.clear()
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    if out is not None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(result if isinstance(result, pa.Table) else pa.table(result), out)
    print(json.dumps({"times": times,
                      "steps": {k: statistics.median(v) for k, v in steps.items()}}))


# --- the parent: every approach, side by side, then the numbers compared ---------------------

@dataclass(frozen=True)
class Approach:
    name: str  # as the table shows it
    child: str  # the child's approach, or "outcomes run" for the CLI
    cold: bool = False  # a whole process per run, timed from outside
    full: bool = False  # the CLI on the workspace with every source loaded


ENGINE, COLD = "(a) engine, in process", "(a) engine, whole process, cold"
NUMPY = "(a) engine, in process, roll-up in numpy (as before engine/rollup.py)"
BASE, PANDAS = "(b) hand-written DuckDB SQL + numpy", "(c) pandas, vectorised"
FULL = "(a) `outcomes run`, every source and indicator, whole process, cold"
APPROACHES = (
    Approach(ENGINE, "engine"),
    Approach(NUMPY, "engine-numpy"),
    Approach(COLD, "engine", cold=True),
    Approach(BASE, "sql"),
    Approach(PANDAS, "pandas"),
    Approach("(c) pandas, row-wise CI (df.apply)", "pandas-row-wise"),
    Approach("(d) polars, vectorised", "polars"),
)
BOROUGH_ONLY = (
    Approach("(a) `outcomes run`, maternity only, whole process, cold", "outcomes run",
             cold=True),
    Approach(FULL, "outcomes run", cold=True, full=True),
)


@dataclass
class Measured:
    times: list[float]
    peak_mb: float = 0.0
    steps: dict[str, float] | None = None


def run_approach(a: Approach, job: Job, full: Path | None, repeat: int, workdir: Path,
                 seen: Measured | None) -> Measured:
    seen = seen or Measured([])
    if a.child == "outcomes run":
        ws = full if a.full and full else job.ws
        for _ in range(repeat):
            shutil.rmtree(ws / ".outcomes" / "results", ignore_errors=True)  # no cached passes
            done = measure([EXE, "run", str(ws)], a.name)
            seen.times.append(done.wall)
            seen.peak_mb = max(seen.peak_mb, done.peak_mb)
        return seen
    base = [sys.executable, __file__, "--child", a.child, str(workdir / f"{job.scale}.json")]
    if a.cold:
        for _ in range(repeat):
            done = measure([*base, "--repeat", "1"], a.name)
            seen.times.append(done.wall)
            seen.peak_mb = max(seen.peak_mb, done.peak_mb)
        return seen
    out = workdir / f"{job.scale}-{a.child}.parquet"
    done = measure([*base, "--repeat", str(repeat), "--out", str(out)], a.name)
    said = json.loads(done.out.strip().splitlines()[-1])
    seen.times += said["times"]
    seen.peak_mb = max(seen.peak_mb, done.peak_mb)
    seen.steps = said["steps"] or None
    return seen


def agree(workdir: Path, scale: str) -> int:
    """Every approach's rows, counts, values and 95% limits against the engine's (counts
    exactly, the rest to 1e-9 relative; a row the engine suppressed is compared by its
    denominator only, where the engine publishes that). Returns the engine's row count."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    order = [(k, "ascending") for k in KEYS]
    mine = pq.read_table(workdir / f"{scale}-engine.parquet").rename_columns(
        {"indicator_id": "indicator"})
    mine = mine.select([*KEYS, *NUMBERS, "suppressed"]).sort_by(order)
    shown = ~np.asarray(mine["suppressed"])
    # The roll-up in the engine against the roll-up in numpy: every column of every row.
    whole = [(k, "ascending") for k in ("indicator_id", "area_code", "period_type", "period",
                                         "breakdown")]
    rolled = pq.read_table(workdir / f"{scale}-engine.parquet").sort_by(whole)
    before = pq.read_table(workdir / f"{scale}-engine-numpy.parquet").sort_by(whole)
    assert rolled.num_rows == before.num_rows, f"{scale}: the two roll-ups differ in rows"
    for k in rolled.column_names:
        if pa.types.is_floating(rolled.schema.field(k).type):
            a = np.asarray(rolled[k].to_numpy(zero_copy_only=False), dtype=np.float64)
            b = np.asarray(before[k].to_numpy(zero_copy_only=False), dtype=np.float64)
            ok = np.isclose(a, b, rtol=0 if k in ("numerator", "denominator") else 1e-9,
                            atol=0, equal_nan=True)
            assert ok.all(), f"{scale}: the two roll-ups differ in {k} ({(~ok).sum()} rows)"
        else:
            assert rolled[k].equals(before[k]), f"{scale}: the two roll-ups differ in {k}"
    for other in ("sql", "pandas", "pandas-row-wise", "polars"):
        theirs = pq.read_table(workdir / f"{scale}-{other}.parquet").sort_by(order)
        assert theirs.num_rows == mine.num_rows, (
            f"{scale} {other}: {theirs.num_rows} rows, the engine {mine.num_rows}")
        for k in KEYS:
            same = pc.all(pc.equal(theirs[k].cast("string"), mine[k])).as_py()
            assert same, f"{scale} {other}: the rows differ from the engine's in {k}"
        for k in NUMBERS:
            a = np.asarray(mine[k].to_numpy(zero_copy_only=False), dtype=np.float64)
            b = np.asarray(theirs[k].to_numpy(zero_copy_only=False), dtype=np.float64)
            # A denominator the engine hides (a small one, secondary suppression) is null.
            rows = ~np.isnan(a) if k == "denominator" else shown
            ok = np.isclose(a[rows], b[rows], rtol=0 if k in ("numerator", "denominator")
                            else 1e-9, atol=0, equal_nan=True)
            assert ok.all(), f"{scale} {other}: {int((~ok).sum())} rows differ in {k}"
    return mine.num_rows


def records(job: Job) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for f in job.files)


def report(scale: str, job: Job, results: dict[str, Measured], rows: int,
           load: tuple[float, float]) -> None:
    base = statistics.median(results[BASE].times)
    print(f"\n### {scale}: {records(job):,} maternity records, {len(job.files)} parts, "
          f"{rows:,} result rows; load average {load[0]:.1f} before, {load[1]:.1f} after\n")
    print("| approach | runs | median (s) | min (s) | x (b) | peak memory (MB) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, m in results.items():
        median = statistics.median(m.times)
        print(f"| {name} | {len(m.times)} | {median:.3f} | {min(m.times):.3f} | "
              f"{median / base:.2f} | {m.peak_mb:,.0f} |")
    steps = results[ENGINE].steps or {}
    print("\n(a) in process, median seconds by step: "
          + "; ".join(f"{k} {v:.3f}" for k, v in steps.items()))
    print("\n" + "\n".join(f"- {line}" for line in goals(scale, results)))
    print(json.dumps({"scale": scale, "medians": {k: statistics.median(m.times)
                                                  for k, m in results.items()},
                      "peak_mb": {k: m.peak_mb for k, m in results.items()}, "steps": steps}))


def goals(scale: str, results: dict[str, Measured]) -> list[str]:
    """The issue's goals that this scale measures, and whether each is met."""
    median = {k: statistics.median(m.times) for k, m in results.items()}

    def said(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    ratio = median[ENGINE] / median[BASE]
    out = [f"(a) in process within 1.25 x (b): {ratio:.2f} x, {said(ratio <= 1.25)}"]
    if scale == "england":
        faster = median[PANDAS] / median[ENGINE]
        peak = max(results[ENGINE].peak_mb, results[COLD].peak_mb)
        out += [f"(a) at least 15 x faster than vectorised pandas: {faster:.2f} x, "
                f"{said(faster >= 15)}",
                f"England with peak memory under 1 GB: {peak:,.0f} MB, {said(peak < 1024)}"]
    if FULL in median:
        out.append(f"a full borough `outcomes run` under 2 s with start-up: "
                   f"{median[FULL]:.2f} s, {said(median[FULL] < 2)}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", nargs="+", default=["borough", "london", "england"])
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each approach a round.")
    parser.add_argument("--rounds", type=int, default=1, help="Rounds of every approach.")
    parser.add_argument("--keep", type=Path, help="Keep (and reuse) the loaded workspaces here.")
    parser.add_argument("--raw", nargs="*", default=[], metavar="SCALE=DIR",
                        help="Load the files of an earlier `outcomes synth` of the same scale "
                             "and years in DIR instead of synthesising them again.")
    parser.add_argument("--child", nargs=2, metavar=("APPROACH", "JOB"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Job.read(Path(args.child[1])), args.repeat, args.out)
        return
    raw = {k: Path(v) for k, v in (r.split("=", 1) for r in args.raw)}
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="three-way-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        for scale in args.scales:
            ws, took = workspace(workdir, scale, args.years, (SOURCE,), raw.get(scale))
            full = workspace(workdir, scale, args.years)[0] if scale == "borough" else None
            if took:
                print(f"<!-- {scale}: " + ", ".join(f"{k} {v:.0f} s" for k, v in took.items())
                      + " -->", flush=True)
            job = prepare(ws, scale, workdir)
            job.write(workdir / f"{scale}.json")
            todo = APPROACHES + (BOROUGH_ONLY if scale == "borough" else ())
            results: dict[str, Measured] = {}
            before = os.getloadavg()[0]
            for _ in range(args.rounds):
                for a in todo:
                    results[a.name] = run_approach(a, job, full, args.repeat, workdir,
                                                   results.get(a.name))
            load = (before, os.getloadavg()[0])
            report(scale, job, results, agree(workdir, scale), load)
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
