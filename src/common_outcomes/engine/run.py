"""`outcomes run`: every indicator definition over the store, to a results table.

The engine returns the table; the façade (project.py) adds tracking and writes it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlglot import exp

from common_outcomes import __version__
from common_outcomes.data.declarations import SourceDeclaration
from common_outcomes.data.store import open_store
from common_outcomes.engine import plan, rollup
from common_outcomes.engine.backends import Backend, open_backend
from common_outcomes.engine.backends.spark import STORE
from common_outcomes.engine.publish import publishable
from common_outcomes.engine.results import About, Areas, Coverage, build_results
from common_outcomes.errors import InternalError, Issue, UserError
from common_outcomes.framework.models import Framework
from common_outcomes.indicators.definitions import definitions_in
from common_outcomes.results.table import Disclosure, empty, write
from common_outcomes.strategy import Workspace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Computed:
    """A run's results table (before tracking) and what it took."""

    table: pa.Table
    indicators: list[str]
    without_data: list[str]
    passes_computed: int
    passes_reused: int


Progress = Callable[[str, int, int], None]
PASSES = Path(".outcomes") / "results" / "passes"


def _fingerprint(*inputs: object) -> str:
    """What a pass's results depend on: its SQL (which names the store's current parts, so new
    data changes it), its definitions, the indicators' metadata, the areas, the coverage and
    the engine (so that a run on another engine really runs there)."""
    text = "\n".join(repr(x) for x in inputs)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def areas_of(workspace: Workspace) -> Areas:
    geo = workspace.geography
    assert geo is not None, "outcomes check requires a geography"
    names = {w.code: w.name for w in geo.wards} | {geo.la.code: geo.la.name} | {
        loc.id: loc.name for loc in workspace.localities}
    ward_locality = {w: loc.id for loc in workspace.localities for w in loc.wards}
    within = {"ward": {a.code: a.ward for a in geo.lsoas},
              "locality": {a.code: ward_locality.get(a.ward, "") for a in geo.lsoas},
              # A record with no small area counts for the borough, in no ward or locality.
              "la": {a.code: geo.la.code for a in geo.lsoas} | {plan.NO_AREA: geo.la.code}}
    return Areas(within, names)


def about_of(workspace: Workspace, framework: Framework, disclosure: Disclosure
             ) -> dict[str, About]:
    out = {}
    for d in definitions_in(workspace.extras):
        ind = framework.indicator(d.indicator) or next(
            i for i in workspace.indicators if i.id == d.indicator)
        out[d.indicator] = About(ind.name, ind.polarity.value, ind.period_type,
                                 disclosure.rules[d.indicator])
    return out


@dataclass(frozen=True)
class Scope:
    """What a run covers when it is not the workspace's own: each source's parts and the area
    hierarchy (a London instance computes every borough's parts over London's areas)."""

    parts: Mapping[str, Sequence[plan.Part]]
    areas: Areas


def passes_of(folder: Path, workspace: Workspace,
              given: Mapping[str, Sequence[plan.Part]] | None = None
              ) -> tuple[list[plan.Pass], list[str]]:
    """The passes over the store's current data (or over the `given` parts of each source),
    and the indicators lacking data (in their own source or in their denominator's)."""
    definitions = definitions_in(workspace.extras)
    parts = parts_of(folder, {s for d in definitions for s in plan.sources_of(d)}, given)
    with_data = [d for d in definitions if all(parts[s] for s in plan.sources_of(d))]
    without = sorted({d.indicator for d in definitions} - {d.indicator for d in with_data})
    return plan.plan_passes(with_data, parts), without


def parts_of(folder: Path, sources: Iterable[str],
             given: Mapping[str, Sequence[plan.Part]] | None = None
             ) -> dict[str, list[plan.Part]]:
    """Each source's parts: current in the store, or the `given` ones."""
    if given is not None:
        return {source: list(given.get(source, ())) for source in sources}
    store = open_store(folder)
    return {source: [plan.Part(p.path, p.periods) for p in store.current_files(source)]
            for source in sources}


def compute(folder: Path, workspace: Workspace, framework: Framework,
            sources: dict[str, SourceDeclaration], disclosure: Disclosure,
            progress: Progress | None = None, engine: str = "duckdb",
            settings: dict[str, str] | None = None, scope: Scope | None = None) -> Computed:
    """Every definition computed into one results table, through the disclosure guard.

    Over the store's current parts and the workspace's areas, or over a `scope`'s.
    A pass whose inputs have not changed since the last run (same data versions, definitions,
    metadata and areas) is not recomputed: its results are reused from .outcomes/results."""
    passes, without = passes_of(folder, workspace, scope.parts if scope else None)
    about = about_of(workspace, framework, disclosure)
    areas = scope.areas if scope else areas_of(workspace)
    if engine == "spark":
        # Spark may read a copy of the store elsewhere (--data): the parts' paths are rebased
        # from the local store, whose catalog says which parts are current.
        settings = {**(settings or {}), STORE: str(open_store(folder).root)}
    # Opened only when a pass must be computed: starting Spark costs seconds.
    opened: list[Backend] = []

    def backend() -> Backend:
        if not opened:
            opened.append(open_backend(engine, settings))
        return opened[0]

    try:
        tables, computed = _compute(passes, backend, engine, about, areas, sources, disclosure,
                                    folder / PASSES, progress)
    finally:
        for b in opened:
            b.close()
    table = pa.concat_tables(tables) if tables else empty()
    return Computed(table, sorted({d.indicator for p in passes for d in p.definitions}),
                    without, computed, len(passes) - computed)


def why_empty(folder: Path, workspace: Workspace, computed: pa.Table, written: pa.Table,
              scope: Scope | None = None) -> dict[str, str]:
    """Why each defined indicator has no figure in the `written` results (each of its rows
    suppressed, or none at all), first reason found: no data loaded for a source it reads; no
    figure computed and no loaded record with a small area (where the areas count such
    records nowhere: a scope's may); no figure for any period (the
    engine `computed` none);
    none in the periods asked for (--from/--to); every row suppressed."""
    shown = _indicators(written, pc.invert(written.column("suppressed").fill_null(False)))
    reasons: dict[str, str] = {}
    areas = scope.areas if scope else areas_of(workspace)
    unplaced_count = any(areas.codes(level, [plan.NO_AREA])[0] for level in areas.levels)
    for d in definitions_in(workspace.extras):
        if d.indicator in shown or d.indicator in reasons:
            continue
        parts = parts_of(folder, plan.sources_of(d), scope.parts if scope else None)
        missing = [s for s, found in parts.items() if not found]
        if missing:
            reasons[d.indicator] = f"no data loaded for {', '.join(missing)}"
        elif (d.indicator not in _indicators(computed) and not unplaced_count
              and d.area_from is None and not _any_area(parts[d.source], d.area)):
            # Records without one count for the borough, so this is the reason only where
            # the areas place no such record (a scope's may not).
            reasons[d.indicator] = (f"no record of {d.source} has a small area ({d.area} is "
                                    "empty in every row)")
        elif d.indicator not in _indicators(computed):
            reasons[d.indicator] = (f"the loaded records of {d.source} give no figure for "
                                    "any of its periods")
        elif d.indicator not in _indicators(written):
            reasons[d.indicator] = "no record in the periods asked for (--from/--to)"
        else:
            reasons[d.indicator] = "every row suppressed (small numbers)"
    return reasons


def _indicators(table: pa.Table, rows: pa.ChunkedArray | None = None) -> set[str]:
    column = table.column("indicator_id")
    return set(pc.unique(column if rows is None else column.filter(rows)).to_pylist())


def _any_area(parts: Sequence[plan.Part], column: str) -> bool:
    """Whether any record of the parts has a value in its area column."""
    for part in parts:
        if column in pq.read_schema(part.path).names:
            values = pq.read_table(part.path, columns=[column]).column(column)
            if values.null_count < len(values):
                return True
    return False


def explain(folder: Path, workspace: Workspace, indicator: str, dialect: str) -> str:
    """The SQL of the pass that computes an indicator."""
    passes, without = passes_of(folder, workspace)
    found = next((p for p in passes if any(d.indicator == indicator for d in p.definitions)),
                 None)
    if found is None:
        reason = ("its source has no data in the store yet (run 'outcomes load')"
                  if indicator in without else "no definition computes it")
        raise UserError(f"Cannot explain '{indicator}': {reason}.")
    return plan.explain(found, dialect, open_store(folder).root)


def _compute(passes: list[plan.Pass], backend: Callable[[], Backend], engine: str,
             about: dict[str, About], areas: Areas, sources: dict[str, SourceDeclaration],
             disclosure: Disclosure, cache: Path, progress: Progress | None
             ) -> tuple[list[pa.Table], int]:
    """Each pass's table, computed or reused, and how many were computed."""
    tables = []
    computed = 0
    used: set[Path] = set()
    for i, p in enumerate(passes):
        if progress:
            progress(p.source, i, len(passes))
        query = plan.pass_query(p)
        others = {dp.indicator: plan.denominator_query(dp) for dp in p.denominators}
        sql = "\n".join(q.sql(dialect="duckdb") for q in (query, *others.values()))
        rule = sources[p.source].period
        coverage = Coverage(rule.type if rule else None,
                            frozenset(x for part in p.parts for x in part.periods))
        # Sorted, because a frozenset's order changes from process to process.
        stable = (coverage.period_type, sorted(coverage.periods))
        mine = {d.indicator: about[d.indicator] for d in p.definitions}
        # The version too: a new release may compute differently from the same inputs.
        key = _fingerprint(__version__, sql, p.definitions, mine, areas, stable, engine)
        cached = cache / f"{key}.parquet"
        used.add(cached)
        if cached.is_file():
            tables.append(pq.read_table(cached))
            log.info("pass over %s: unchanged since the last run, reused", p.source)
            continue
        started = time.perf_counter()
        table = pass_results(backend(), p, query, others, about, areas, coverage)
        log.info("pass over %s: %d indicators, %d rows in %.2f s", p.source,
                 len(p.definitions), table.num_rows, time.perf_counter() - started)
        write(cached, publishable(table, disclosure.rules, disclosure.stocks))
        tables.append(table)
        computed += 1
    if progress:
        progress("done", len(passes), len(passes))
    for stale in cache.glob("*.parquet") if cache.is_dir() else []:
        if stale not in used:
            stale.unlink()  # results of inputs that no longer exist
    return tables, computed


def pass_results(b: Backend, p: plan.Pass, query: exp.Select, others: Mapping[str, exp.Select],
             about: dict[str, About], areas: Areas, coverage: Coverage) -> pa.Table:
    """A pass's results rows: rolled up in the engine where it can (engine/rollup.py), else
    from stage one's counts in numpy (engine/results.py)."""
    if rollup.supported(p, b):
        assert isinstance(b, rollup.Keeps)
        rolled = _in_pass(p, lambda: rollup.roll_up_in_engine(b, p, query, about, areas,
                                                              coverage))
        return rollup.build_rolled(rolled, p, about, areas)
    return build_results(_counts(b, p, query), p.definitions, about, areas, coverage,
                         {name: _counts(b, p, q) for name, q in others.items()})


def _counts(backend: Backend, p: plan.Pass, query: exp.Select) -> pa.Table:
    """One of a pass's queries run; a failure says which pass and indicators it was for."""
    return _in_pass(p, lambda: backend.run(query))


T = TypeVar("T")


def _in_pass(p: plan.Pass, work: Callable[[], T]) -> T:
    """A pass's work in the engine; a failure says which pass and indicators it was for."""
    indicators = ", ".join(d.indicator for d in p.definitions)
    try:
        return work()
    except InternalError as exc:
        raise InternalError(f"In the pass over source '{p.source}': {exc}",
                            {"pass": p.source, "indicators": indicators, **dict(exc.details)}
                            ) from exc
    except UserError as exc:
        raise UserError(str(exc), [*exc.issues, Issue(
            "engine.pass", f"in the pass over source '{p.source}', which counts {indicators}")]
                        ) from exc
