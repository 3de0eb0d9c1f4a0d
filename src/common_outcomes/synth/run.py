"""`outcomes synth`: generate every source for every LA of a scale, atomically.

Each LA is generated and written on its own (peak memory is one LA's worth), with its
own random streams, so the output is identical for a seed however it is chunked. All
files go to a staging folder first and are moved into place at the end: a failed or
interrupted run leaves no half-written dataset.
"""

from __future__ import annotations

import errno
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from common_outcomes.errors import Issues, UserError
from common_outcomes.ids import LONDON
from common_outcomes.strategy import Workspace, load_workspace
from common_outcomes.strategy.load import INCOMING, SYNTH_TRUTH
from common_outcomes.synth.calibration import Calibration, load_calibration
from common_outcomes.synth.context import LaContext, Observation
from common_outcomes.synth.frame import LaFrame, frames_for
from common_outcomes.synth.identity import build_identities
from common_outcomes.synth.people import build_population, days
from common_outcomes.synth.report import ReportRow, build_report, report_csv
from common_outcomes.synth.schools import build_schools
from common_outcomes.synth.sources import (
    education,
    family_hub,
    health_visiting,
    maternity,
    population,
    ssd,
)
from common_outcomes.synth.spec import OutputFormat, Scale, SynthSpec, rng_for

TRUTH = SYNTH_TRUTH
Progress = Callable[[str, int, int], None]


@dataclass
class SynthResult:
    incoming: Path
    truth: Path
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0
    seconds: float = 0.0
    report: list[ReportRow] = field(default_factory=list)


class _Writer:
    """Writes one file per table per LA under a staging folder; counts rows."""

    def __init__(self, root: Path, fmt: OutputFormat) -> None:
        self.root, self.fmt = root, fmt
        self.rows: dict[str, int] = {}
        self.files = 0

    def write(self, name: str, la_code: str, data: pa.Table) -> None:
        fmt = self.fmt
        target = self.root / name
        target.mkdir(parents=True, exist_ok=True)
        path = target / f"{la_code}.{fmt.value}"
        if fmt is OutputFormat.PARQUET:
            pq.write_table(data, path, compression="zstd", write_statistics=True)
        else:
            pacsv.write_csv(data, path)
        self.rows[name] = self.rows.get(name, 0) + data.num_rows
        self.files += 1


def _check_scale(spec: SynthSpec, ws: Workspace) -> None:
    if spec.years < 1 or spec.years > 20:
        raise UserError(f"--years must be between 1 and 20, not {spec.years}.")
    if spec.scale is Scale.BOROUGH and (ws.geography is None or not ws.geography.lsoas):
        raise UserError("Borough scale needs the workspace's LSOAs; run 'outcomes geography' "
                        "to write geography.yaml first.")
    if spec.scale is Scale.LONDON and (ws.geography is None or ws.geography.region.code != LONDON):
        raise UserError("London scale is for a London borough's workspace; this workspace's "
                        "geography is not in London (E12000007).")


def _load(workspace_dir: Path) -> Workspace:
    issues = Issues()
    ws = load_workspace(workspace_dir, issues)
    if ws is None:
        first = next(iter(issues.sorted()), None)
        raise UserError(f"The workspace at {workspace_dir} cannot be read"
                        f"{': ' + str(first) if first else ''}; run 'outcomes check'.",
                        issues.sorted())
    return ws


def synthesize(workspace_dir: Path, spec: SynthSpec, *, force: bool = False,
               progress: Progress | None = None) -> SynthResult:
    ws = _load(workspace_dir)
    _check_scale(spec, ws)
    incoming, truth = workspace_dir / INCOMING, workspace_dir / TRUTH
    for existing in (incoming, truth):
        if existing.exists() and not force:
            raise UserError(f"{existing} already exists; remove it or pass --force to "
                            "replace it.")
    frames = frames_for(spec.scale, ws, spec.seed)
    staging = workspace_dir / f".synth-staging-{spec.seed}"
    shutil.rmtree(staging, ignore_errors=True)
    started = time.perf_counter()
    try:
        result = _generate(frames, spec, staging, progress)
        _swap_into_place(staging, incoming, truth)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise UserError(f"The disk holding {workspace_dir} is full; nothing was written. "
                            "Free some space and run again.") from None
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    result.incoming, result.truth = incoming, truth
    result.seconds = time.perf_counter() - started
    return result


def _swap_into_place(staging: Path, incoming: Path, truth: Path) -> None:
    """Move the finished folders into place; an old copy (under --force) goes last."""
    old = staging / "replaced"
    old.mkdir()
    for name, target in ((TRUTH, truth), (INCOMING, incoming)):
        if target.exists():
            target.rename(old / name)
        (staging / name).rename(target)


def _generate(frames: list[LaFrame], spec: SynthSpec, staging: Path,
              progress: Progress | None) -> SynthResult:
    calibration = load_calibration()
    writer = _Writer(staging / INCOMING, spec.output_format)
    truth = _Writer(staging / TRUTH, OutputFormat.PARQUET)
    observations: list[Observation] = []
    for i, frame in enumerate(frames):
        if progress:
            progress(frame.name, i, len(frames))
        ctx = _context(frame, spec, calibration)
        all_links = []
        for name, data, record_links in _sources(ctx):
            writer.write(name, frame.code, data)
            if record_links is not None:
                all_links.append(record_links)
        # The postcode directory a council would hold (ONSPD-like), for these synthetic
        # postcodes only: it lets the load step place a postcode in its small area.
        writer.write("postcode_directory", frame.code, ctx.identities.directory)
        truth.write("links", frame.code, pa.concat_tables(all_links))
        truth.write("people", frame.code, _people(ctx))
        observations.extend(ctx.observations)
    if progress:
        progress("done", len(frames), len(frames))
    rows = build_report(observations)
    (staging / TRUTH / "calibration_report.csv").write_text(report_csv(rows), encoding="utf-8")
    (staging / TRUTH / "effects.yaml").write_text(yaml.safe_dump({
        "kind": "synthetic-effects", "version": 1,
        "description": "Effects planted in the synthetic data, with their sizes.",
        "effects": spec.effects.as_dict()}, sort_keys=False), encoding="utf-8")
    (staging / TRUTH / "manifest.json").write_text(json.dumps({
        "scale": spec.scale.value, "years": spec.years, "seed": spec.seed,
        "last_financial_year": spec.last_year, "format": spec.output_format.value,
        "window": [spec.window_start.isoformat(), spec.window_end.isoformat()],
        "local_authorities": [f.code for f in frames], "rows": writer.rows,
    }, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return SynthResult(staging / INCOMING, staging / TRUTH, writer.rows, writer.files,
                       report=rows)


def _context(frame: LaFrame, spec: SynthSpec, calibration: Calibration) -> LaContext:
    years = {int(p.period): p.value for p in calibration.series("population_0_17", frame.code)}
    if not years:
        raise UserError(f"No published child population for {frame.code} ({frame.name}); "
                        "the generator cannot size it.")
    span_start = date(spec.window_start.year - 19, 1, 1)
    pop = build_population(frame, years, span_start, spec.window_end, spec.window_start,
                           spec.window_end, rng_for(spec.seed, frame.code, "population"))
    # Health records in the window can name children born up to 2.5 years before it.
    health_from = days(spec.window_start) - np.timedelta64(3 * 365, "D")
    identities = build_identities(pop, health_from,
                                  rng_for(spec.seed, frame.code, "identities"))
    schools = build_schools(pop, spec.window_end, rng_for(spec.seed, frame.code, "schools"))
    return LaContext(spec, frame, calibration, pop, identities, schools)


def _sources(ctx: LaContext) -> list[tuple[str, pa.Table, pa.Table | None]]:
    """Every source table of one LA, in dependency order, with its truth links."""
    out: list[tuple[str, pa.Table, pa.Table | None]] = []

    def add(tables: dict[str, pa.Table], record_links: pa.Table | None) -> None:
        for k, (name, data) in enumerate(tables.items()):
            out.append((name, data, record_links if k == 0 else None))

    tables, record_links, pregnancies = maternity.generate(ctx)
    add(tables, record_links)
    hub_plan = family_hub.plan(ctx)
    add(*health_visiting.generate(ctx, hub_plan))
    add(*family_hub.generate(ctx, pregnancies, hub_plan))
    care = ssd.simulate(ctx)
    ssd.observe(ctx, care)
    add(*ssd.render(ctx, care))
    add(*education.early_education(ctx))
    add(*education.eyfsp(ctx))
    add(*education.attendance(ctx, care.early_help))
    add(*education.participation(ctx))
    add(population.generate(ctx), None)
    return out


def _people(ctx: LaContext) -> pa.Table:
    """Truth: everyone generated, with clean identities and family membership."""
    pop, ident, schools = ctx.population, ctx.identities, ctx.schools
    n_c, n_m = len(pop.child_id), len(pop.family_id)
    return pa.table({
        "person_id": pa.concat_arrays([pa.array(pop.child_id), pa.array(pop.mother_id)]),
        "family_id": pa.concat_arrays([pa.array(pop.family_id[pop.child_family]),
                                       pa.array(pop.family_id)]),
        "role": pa.array(["child"] * n_c + ["mother"] * n_m),
        "la_code": pa.array([ctx.frame.code] * (n_c + n_m)),
        "dob": pa.concat_arrays([pa.array(pop.child_dob.astype("datetime64[D]"), pa.date32()),
                                 pa.array(pop.mother_dob.astype("datetime64[D]"),
                                          pa.date32())]),
        "forename": pa.concat_arrays([pa.array(ident.child_first.astype(str)),
                                      pa.array(ident.mother_first.astype(str))]),
        "surname": pa.concat_arrays([pa.array(ident.child_surname.astype(str)),
                                     pa.array(ident.mother_surname.astype(str))]),
        "nhs_number": pa.concat_arrays([pa.array(ident.child_nhs.astype(str)),
                                        pa.array(ident.mother_nhs.astype(str))]),
        "upn": pa.concat_arrays([pa.array(schools.upn.astype(str)),
                                 pa.array([""] * n_m)]),
        "stillborn": pa.concat_arrays([pa.array(pop.child_stillborn),
                                       pa.array([False] * n_m)]),
    })
