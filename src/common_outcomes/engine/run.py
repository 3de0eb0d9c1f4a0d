"""`outcomes run`: every indicator definition over the store, to the results table."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlglot import exp

from common_outcomes import __version__
from common_outcomes.data.declarations import SourceDeclaration
from common_outcomes.data.store import open_store
from common_outcomes.engine import plan
from common_outcomes.engine.backends import Backend, open_backend
from common_outcomes.engine.publish import publishable
from common_outcomes.engine.results import About, Areas, Coverage, build_results
from common_outcomes.errors import InternalError, Issue, UserError
from common_outcomes.framework.models import Framework
from common_outcomes.indicators.definitions import Definition, DefinitionsDocument
from common_outcomes.stats.disclosure import Rule
from common_outcomes.strategy import Workspace

log = logging.getLogger(__name__)

RESULTS = Path(".outcomes") / "results" / "indicator_values.parquet"


@dataclass
class RunResult:
    path: Path
    rows: int = 0
    indicators: list[str] = field(default_factory=list)
    without_data: list[str] = field(default_factory=list)
    passes_computed: int = 0
    passes_reused: int = 0


Progress = Callable[[str, int, int], None]
PASSES = Path(".outcomes") / "results" / "passes"


def _fingerprint(*inputs: object) -> str:
    """What a pass's results depend on: its SQL (which names the store's current parts, so new
    data changes it), its definitions, the indicators' metadata, the areas, the coverage and
    the engine (so that a run on another engine really runs there)."""
    text = "\n".join(repr(x) for x in inputs)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def definitions_of(workspace: Workspace) -> list[Definition]:
    return [d for doc in workspace.extras if isinstance(doc.model, DefinitionsDocument)
            for d in doc.model.definitions]


def areas_of(workspace: Workspace) -> Areas:
    geo = workspace.geography
    assert geo is not None, "outcomes check requires a geography"
    names = {w.code: w.name for w in geo.wards} | {geo.la.code: geo.la.name} | {
        loc.id: loc.name for loc in workspace.localities}
    ward_locality = {w: loc.id for loc in workspace.localities for w in loc.wards}
    within = {"ward": {a.code: a.ward for a in geo.lsoas},
              "locality": {a.code: ward_locality.get(a.ward, "") for a in geo.lsoas},
              "la": {a.code: geo.la.code for a in geo.lsoas}}
    return Areas(within, names)


def about_of(workspace: Workspace, framework: Framework,
             sources: dict[str, SourceDeclaration]) -> dict[str, About]:
    out = {}
    for d in definitions_of(workspace):
        ind = framework.indicator(d.indicator) or next(
            i for i in workspace.indicators if i.id == d.indicator)
        rule = sources[d.source].disclosure
        out[d.indicator] = About(ind.name, ind.polarity.value, ind.period_type,
                                 Rule(rule.suppress_below, rule.round_to))
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
    definitions = definitions_of(workspace)
    needed = {s for d in definitions for s in plan.sources_of(d)}
    parts: dict[str, list[plan.Part]] = {}
    if given is None:
        store = open_store(folder)
        for source in needed:
            parts[source] = [plan.Part(p.path, p.periods) for p in store.current_files(source)]
    else:
        parts = {source: list(given.get(source, ())) for source in needed}
    with_data = [d for d in definitions if all(parts[s] for s in plan.sources_of(d))]
    without = sorted({d.indicator for d in definitions} - {d.indicator for d in with_data})
    return plan.plan_passes(with_data, parts), without


def run(folder: Path, workspace: Workspace, framework: Framework,
        sources: dict[str, SourceDeclaration],
        finish: Callable[[pa.Table], pa.Table] = lambda t: t,
        progress: Progress | None = None, engine: str = "duckdb",
        settings: dict[str, str] | None = None,
        window: tuple[date | None, date | None] = (None, None),
        scope: Scope | None = None) -> RunResult:
    """Compute, let `finish` add what the layers above know (tracking), then write.

    Over the store's current parts and the workspace's areas, or over a `scope`'s.
    A pass whose inputs have not changed since the last run (same data versions, definitions,
    metadata and areas) is not recomputed: its results are reused from .outcomes/results."""
    passes, without = passes_of(folder, workspace, scope.parts if scope else None)
    about = about_of(workspace, framework, sources)
    areas = scope.areas if scope else areas_of(workspace)
    result = RunResult(folder / RESULTS, without_data=without)
    cache = folder / PASSES
    # Opened only when a pass must be computed: starting Spark costs seconds.
    opened: list[Backend] = []

    def backend() -> Backend:
        if not opened:
            opened.append(open_backend(engine, settings))
        return opened[0]

    try:
        tables = _compute(passes, backend, engine, about, areas, sources, cache, result,
                          progress)
    finally:
        for b in opened:
            b.close()
    table = pa.concat_tables(tables) if tables else build_results(
        pa.table({"area_code": pa.array([], pa.string()), "month": pa.array([], pa.date32())}),
        [], about, areas)
    table = _within(finish(table), *window)
    _write(result.path, _gate(table, about, [d for p in passes for d in p.definitions]))
    result.rows = table.num_rows
    result.indicators = sorted({d.indicator for p in passes for d in p.definitions})
    return result


def _compute(passes: list[plan.Pass], backend: Callable[[], Backend], engine: str,
             about: dict[str, About],
             areas: Areas, sources: dict[str, SourceDeclaration], cache: Path,
             result: RunResult, progress: Progress | None) -> list[pa.Table]:
    tables = []
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
            result.passes_reused += 1
            log.info("pass over %s: unchanged since the last run, reused", p.source)
            continue
        started = time.perf_counter()
        table = build_results(_counts(backend(), p, query), p.definitions, about, areas,
                              coverage, {name: _counts(backend(), p, q)
                                         for name, q in others.items()})
        log.info("pass over %s: %d indicators, %d rows in %.2f s", p.source,
                 len(p.definitions), table.num_rows, time.perf_counter() - started)
        _write(cached, _gate(table, about, p.definitions))
        tables.append(table)
        result.passes_computed += 1
    if progress:
        progress("done", len(passes), len(passes))
    for stale in cache.glob("*.parquet") if cache.is_dir() else []:
        if stale not in used:
            stale.unlink()  # results of inputs that no longer exist
    return tables


def _counts(backend: Backend, p: plan.Pass, query: exp.Select) -> pa.Table:
    """One of a pass's queries run; a failure says which pass and indicators it was for."""
    indicators = ", ".join(d.indicator for d in p.definitions)
    try:
        return backend.run(query)
    except InternalError as exc:
        raise InternalError(f"In the pass over source '{p.source}': {exc}",
                            {"pass": p.source, "indicators": indicators, **dict(exc.details)}
                            ) from exc
    except UserError as exc:
        raise UserError(str(exc), [*exc.issues, Issue(
            "engine.pass", f"in the pass over source '{p.source}', which counts {indicators}")]
                        ) from exc


def _within(table: pa.Table, first: date | None, last: date | None) -> pa.Table:
    """Rows of periods that lie wholly from `first` to `last` (`outcomes run --from/--to`).
    Wholly, so that no family of cells that add up is cut in two (a year kept without one of
    its quarters would give away the sum of the quarters cut). Trends were computed before
    the cut, so they still look back before `first`."""
    if first is None and last is None:
        return table
    keep = pc.scalar(True)
    if first is not None:
        keep = keep & (pc.field("period_start") >= pc.scalar(first))
    if last is not None:
        keep = keep & (pc.field("period_end") <= pc.scalar(last))
    return table.filter(keep)


def _gate(table: pa.Table, about: dict[str, About], definitions: Sequence[Definition]
          ) -> pa.Table:
    """The one gate every result passes before it is written (engine/publish.py): a table
    that would disclose a small number is refused, never written."""
    rules = {name: a.rule for name, a in about.items()}
    return publishable(table, rules, {d.indicator for d in definitions if d.open_until})


def _write(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
