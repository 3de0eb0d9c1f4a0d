"""The one facade the CLI and the web app call: load a workspace, check it, show it.

    project = Project.load(Path("examples/tower-hamlets"))
    project.issues          # everything `outcomes check` reports
    project.map()           # the strategy map's view-model
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common_outcomes.data.checks import check_comparators, check_definitions, check_sources
from common_outcomes.data.declarations import SOURCE_KINDS, SourceDeclaration
from common_outcomes.documents import DocumentModel
from common_outcomes.errors import Issues, Severity
from common_outcomes.framework.load import LoadedFramework, available_frameworks, load_framework
from common_outcomes.framework.models import FRAMEWORK_KINDS, Indicator
from common_outcomes.indicators.definitions import DEFINITION_KINDS
from common_outcomes.strategy.load import FRAMEWORKS

if TYPE_CHECKING:
    import pyarrow as pa

    from common_outcomes.data.load import LoadResult
    from common_outcomes.data.quality import QualityRow
    from common_outcomes.data.store import Store
    from common_outcomes.engine.publish import Exported
    from common_outcomes.engine.run import Progress as RunProgress
    from common_outcomes.engine.run import RunResult
    from common_outcomes.engine.run import Scope as RunScope
    from common_outcomes.state import State
    from common_outcomes.stats.disclosure import Rule
    from common_outcomes.synth.run import Progress, SynthResult
    from common_outcomes.synth.spec import SynthSpec
    from common_outcomes.tracking.changes import Change

from common_outcomes.strategy import (
    KINDS,
    Workspace,
    check_framework_pin,
    check_workspace,
    load_workspace,
)


@dataclass(frozen=True)
class Project:
    folder: Path
    workspace: Workspace | None
    framework: LoadedFramework | None
    issues: Issues

    @classmethod
    def load(cls, folder: Path) -> Project:
        """Load and check a workspace. Bad YAML becomes issues, never an exception."""
        issues = Issues()
        workspace = load_workspace(folder, issues, {**SOURCE_KINDS, **DEFINITION_KINDS})
        framework: LoadedFramework | None = None
        if workspace is not None:
            search = [folder / FRAMEWORKS]
            available = available_frameworks(search)
            check_framework_pin(workspace, list(available), issues)
            release = _release_to_check_against(workspace.settings.framework, available)
            if release is not None:
                framework = load_framework(available[release], issues)
            if framework is not None:
                check_workspace(workspace, framework.framework, issues)
            check_sources(workspace, issues)
            if framework is not None:
                ids = {i.id for i in framework.framework.indicators} | {
                    i.id for i in workspace.indicators}
                check_definitions(workspace, _resolved_sources(workspace), ids, issues)
                check_comparators(workspace, _resolved_sources(workspace),
                                  _indicators(workspace, framework), issues)
        return cls(folder, workspace, framework, issues)

    @property
    def sources(self) -> dict[str, SourceDeclaration]:
        """The workspace's source declarations, by id, with built-ins filled in."""
        return _resolved_sources(self.workspace) if self.workspace is not None else {}

    @property
    def ok(self) -> bool:
        return not self.issues.has_errors

    def check_report(self) -> dict[str, Any]:
        """`outcomes check --format json`: the issues as data, with counts."""
        items = self.issues.sorted()
        return {
            "workspace": str(self.folder),
            "errors": sum(i.severity is Severity.ERROR for i in items),
            "warnings": sum(i.severity is Severity.WARNING for i in items),
            "issues": [i.to_dict() for i in items],
        }

    def map(self) -> dict[str, Any]:
        from common_outcomes.reports.strategy_map import strategy_map

        if self.workspace is None or self.framework is None:
            from common_outcomes.errors import UserError

            raise UserError("The workspace has errors that stop the map being drawn; run "
                            "'outcomes check' and fix them first.", self.issues.sorted())
        return strategy_map(self.workspace, self.framework.framework, self.issues)


def synthesize(folder: Path, spec: SynthSpec, *, force: bool = False,
               progress: Progress | None = None) -> SynthResult:
    """`outcomes synth`: synthetic partner data into the workspace's incoming folder."""
    from common_outcomes.synth.run import synthesize as run

    return run(folder, spec, force=force, progress=progress)


def _resolved_sources(workspace: Workspace) -> dict[str, SourceDeclaration]:
    from common_outcomes.data.builtin import resolve, templates

    return {d.model.id: resolve(d.model) for d in workspace.extras
            if isinstance(d.model, SourceDeclaration)
            and (d.model.builtin is None or d.model.builtin in templates())}


def _release_to_check_against(pin: str, available: dict[str, Path]) -> str | None:
    """The pinned release, or else the newest of the same framework.

    An unusable pin is already an error; checking the rest against the nearest
    release still shows every other problem in one run instead of hiding them.
    """
    if pin in available:
        return pin
    name = pin.partition("@")[0]
    same = [p for p in available if p.partition("@")[0] == name]
    return max(same, key=_release_key) if same else None


def _release_key(pin: str) -> tuple[tuple[int, int, str], ...]:
    """'x@1.10' sorts after 'x@1.9'; numeric parts before textual ones."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p)
                 for p in pin.partition("@")[2].split("."))


def document_kinds() -> dict[str, type[DocumentModel]]:
    """Every YAML kind the product reads, for `outcomes schema`."""
    return {**FRAMEWORK_KINDS, **KINDS, **SOURCE_KINDS, **DEFINITION_KINDS}


def json_schemas() -> dict[str, str]:
    """A JSON Schema per kind, as text, for editors (yaml-language-server and others)."""
    out: dict[str, str] = {}
    for kind, model in sorted(document_kinds().items()):
        schema = model.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = f"common-outcomes {kind} (version {max(model.VERSIONS)})"
        out[kind] = json.dumps(schema, indent=2, sort_keys=False) + "\n"
    return out


def load_data(project: Project, source: str | None, files: list[Path], all_waiting: bool,
              key_file: Path | None) -> list[LoadResult]:
    """`outcomes load`: files for one source, or everything waiting in incoming/."""
    from common_outcomes.data.load import load_file, postcode_directory
    from common_outcomes.data.protect import load_key
    from common_outcomes.data.store import open_store
    from common_outcomes.errors import UserError

    if not project.ok:
        raise UserError("The workspace has errors; run 'outcomes check' and fix them before "
                        "loading data.", project.issues.sorted())
    sources = project.sources
    work: list[tuple[SourceDeclaration, Path]] = []
    if all_waiting:
        for decl in sources.values():
            work.extend((decl, p) for p in sorted((project.folder / "incoming").glob(decl.files))
                        if p.is_file())
        if not work:
            raise UserError(f"Nothing is waiting in {project.folder / 'incoming'} for the "
                            "declared sources.")
    else:
        if source is None or source not in sources:
            known = ", ".join(sorted(sources)) or "none are declared"
            raise UserError(f"Unknown source '{source}'; the workspace declares: {known}.")
        work = [(sources[source], f) for f in files]
    key = load_key(project.folder, key_file)
    directory = postcode_directory(project.folder)
    store = open_store(project.folder)
    results = []
    with store.lock():
        for decl, path in work:
            results.append(load_file(project.folder, store, decl, path, key, directory))
    return results


def store_of(project: Project) -> Store:
    from common_outcomes.data.store import open_store

    return open_store(project.folder)


def data_quality(project: Project) -> list[QualityRow]:
    """`outcomes quality`: completeness, validity, timeliness and duplicates."""
    from common_outcomes.data.quality import quality

    return quality(store_of(project), project.sources)


def run_indicators(project: Project, progress: RunProgress | None = None,
                   engine: str = "duckdb", settings: dict[str, str] | None = None,
                   first: str | None = None, last: str | None = None,
                   scope: RunScope | None = None) -> RunResult:
    """`outcomes run`: every indicator definition over the store, to the results table, on
    `engine` with its `settings` (DuckDB's or Spark's configuration); with `first`/`last`
    (period labels), only periods wholly from the start of one to the end of the other;
    with a `scope`, over its parts and areas instead of the store's current parts and the
    workspace's areas."""
    from common_outcomes.engine.run import run
    from common_outcomes.errors import UserError

    if not project.ok or project.workspace is None or project.framework is None:
        raise UserError("The workspace has errors; run 'outcomes check' and fix them before "
                        "running indicators.", project.issues.sorted())
    from common_outcomes.tracking.comparators import add_comparators
    from common_outcomes.tracking.targets import apply_tracking

    workspace, framework = project.workspace, project.framework.framework
    polarity = {i.id: i.polarity.value for i in (*framework.indicators, *workspace.indicators)}
    indicators = _indicators(workspace, project.framework)
    sources = project.sources

    def track(table: pa.Table) -> pa.Table:
        # Comparators first, so that a published borough figure gets baselines and targets.
        table = add_comparators(table, project.folder, sources, indicators,
                                workspace.settings.borough.code)
        return apply_tracking(table, [b for b, _ in workspace.baselines],
                              [t for t, _ in workspace.targets], polarity)

    if engine == "spark":
        from common_outcomes.data.store import open_store
        from common_outcomes.engine.backends.spark import STORE

        # Spark may read a copy of the store elsewhere (--data): the parts' paths are rebased
        # from the local store, whose catalog says which parts are current.
        settings = {**(settings or {}), STORE: str(open_store(project.folder).root)}
    return run(project.folder, workspace, framework, project.sources, track, progress,
               engine=engine, settings=settings, window=_window(first, last), scope=scope)


def _window(first: str | None, last: str | None) -> tuple[date | None, date | None]:
    from common_outcomes.errors import UserError
    from common_outcomes.periods import parse_any_period

    try:
        start = parse_any_period(first).start if first else None
        end = parse_any_period(last).end if last else None
    except ValueError as exc:
        raise UserError(f"--from/--to: {exc}.") from None
    if start and end and start > end:
        raise UserError(f"--from {first} starts after --to {last} ends.")
    return start, end


def indicator_changes(project: Project, indicator: str, area: str | None = None,
                      period_type: str | None = None) -> list[Change]:
    """`outcomes changes`: each period's change since the previous period and since the
    baseline, from the last run's results."""
    import pyarrow.parquet as pq

    from common_outcomes.engine.run import RESULTS
    from common_outcomes.errors import UserError
    from common_outcomes.tracking.changes import changes

    if project.workspace is None or project.framework is None:
        raise UserError("The workspace cannot be read; run 'outcomes check'.")
    found = _indicators(project.workspace, project.framework).get(indicator)
    if found is None:
        raise UserError(f"Unknown indicator '{indicator}'; 'outcomes framework' lists them.")
    path = project.folder / RESULTS
    if not path.is_file():
        raise UserError(f"There are no results in {path}; run 'outcomes run' first.")
    rows = changes(pq.read_table(path), indicator, found.polarity.value, area, period_type)
    if not rows:
        raise UserError(f"The results have no rows for '{indicator}'"
                        + (f" in area {area}" if area else "") + ".")
    return rows


def _indicators(workspace: Workspace, framework: LoadedFramework) -> dict[str, Indicator]:
    """Every framework and local indicator, by id."""
    return {i.id: i for i in (*framework.framework.indicators, *workspace.indicators)}


def explain_indicator(project: Project, indicator: str, dialect: str = "duckdb") -> str:
    """`outcomes explain`: the SQL of the pass that computes an indicator."""
    from common_outcomes.engine import plan
    from common_outcomes.engine.run import passes_of
    from common_outcomes.errors import UserError

    if project.workspace is None:
        raise UserError("The workspace cannot be read; run 'outcomes check'.")
    passes, without = passes_of(project.folder, project.workspace)
    found = next((p for p in passes if any(d.indicator == indicator for d in p.definitions)),
                 None)
    if found is None:
        reason = ("its source has no data in the store yet (run 'outcomes load')"
                  if indicator in without else "no definition computes it")
        raise UserError(f"Cannot explain '{indicator}': {reason}.")
    return plan.explain(found, dialect, project.folder / ".outcomes" / "store")


def export_results(project: Project, fmt: str = "csv", indicators: tuple[str, ...] = (),
                   out: Path | None = None) -> Exported:
    """`outcomes export`: the results table (or some indicators of it) as CSV or XLSX, through
    the disclosure guard; nothing is written if any cell would disclose a small number."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from common_outcomes.engine.publish import EXPORTS, Exported, ExportFormat, write_results
    from common_outcomes.engine.run import RESULTS, about_of, definitions_of
    from common_outcomes.errors import UserError

    if not project.ok or project.workspace is None or project.framework is None:
        raise UserError("The workspace has errors; run 'outcomes check' and fix them before "
                        "exporting.", project.issues.sorted())
    try:
        kind = ExportFormat(fmt)
    except ValueError:
        raise UserError(f"--format must be csv or xlsx, not '{fmt}'.") from None
    source = project.folder / RESULTS
    if not source.is_file():
        raise UserError(f"There are no results in {source} yet; run 'outcomes run' first.")
    table = pq.read_table(source)
    held = set(table.column("indicator_id").to_pylist())
    unknown = sorted(set(indicators) - held)
    if unknown:
        raise UserError(f"The results hold no indicator {', '.join(unknown)}; they hold: "
                        f"{', '.join(sorted(held)) or 'none'}.")
    if indicators:
        table = table.filter(pc.is_in(table.column("indicator_id"),
                                      value_set=pa.array(list(indicators), pa.string())))
    about = about_of(project.workspace, project.framework.framework, project.sources)
    path = out or project.folder / EXPORTS / f"indicator_values.{kind.value}"
    stocks = {d.indicator for d in definitions_of(project.workspace) if d.open_until}
    rows = write_results(table, {k: a.rule for k, a in about.items()}, path, kind, stocks)
    return Exported(path, rows, sorted(set(table.column("indicator_id").to_pylist())))


# The web app's reads and its state (issue 7). -----------------------------------------------


@dataclass(frozen=True)
class Published:
    """The results the web app may show, and the indicators it must withhold (with why)."""

    table: pa.Table
    withheld: dict[str, str]


def published_results(project: Project) -> Published | None:
    """The results table as pages and the API may show it, or None before the first
    `outcomes run`: every number the web app shows comes through here. Each indicator passes
    the disclosure guard (engine.publish) on its own, since no family of cells crosses
    indicators; one that would leak is withheld whole, with the guard's reason, so that it
    cannot take the others down with it."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from common_outcomes.engine.publish import DisclosureError, publishable
    from common_outcomes.engine.run import RESULTS

    path = project.folder / RESULTS
    if not path.is_file():
        return None
    table = pq.read_table(path)
    rules, stocks = disclosure_rules(project)
    shown, withheld = [], {}
    for indicator in sorted(set(table.column("indicator_id").to_pylist())):
        rows = table.filter(pc.equal(table.column("indicator_id"), indicator))
        try:
            shown.append(publishable(rows, rules, stocks))
        except DisclosureError as refused:
            withheld[indicator] = str(refused)
    return Published(pa.concat_tables(shown) if shown else table.slice(0, 0), withheld)


def disclosure_rules(project: Project) -> tuple[dict[str, Rule], set[str]]:
    """What the disclosure guard needs: each indicator's rule, and the indicators that are
    stocks (counted at each period's end, so their periods do not add up)."""
    from common_outcomes.engine.run import about_of, definitions_of

    if project.workspace is None or project.framework is None:
        return {}, set()
    about = about_of(project.workspace, project.framework.framework, project.sources)
    stocks = {d.indicator for d in definitions_of(project.workspace) if d.open_until}
    return {k: a.rule for k, a in about.items()}, stocks


def results_path(project: Project) -> Path:
    """Where `outcomes run` writes the results table."""
    from common_outcomes.engine.run import RESULTS

    return project.folder / RESULTS


def results_version(project: Project, path: Path | None = None) -> int:
    """Changes whenever `outcomes run` rewrites the results (a cache key for the web app);
    `path` is results_path(project), for a caller that asks many times a second."""
    try:
        return (path or results_path(project)).stat().st_mtime_ns
    except FileNotFoundError:
        return 0


def store_version(project: Project) -> int:
    """Changes whenever a load, rollback or retention changes the store (its catalog is
    replaced whole on every change)."""
    path = store_of(project).root / "catalog.json"
    return path.stat().st_mtime_ns if path.is_file() else 0


def indicator_catalogue(project: Project) -> dict[str, Indicator]:
    """Every framework and local indicator, by id."""
    if project.workspace is None or project.framework is None:
        return {}
    return {i.id: i for i in (*project.framework.framework.indicators,
                              *project.workspace.indicators)}


def results_file(project: Project, table: pa.Table, fmt: str, path: Path) -> int:
    """Published rows (whole indicators: the guard checks families within an indicator) as a
    CSV or XLSX download, through the same guard as `outcomes export`; returns the rows."""
    from common_outcomes.engine.publish import ExportFormat, write_results

    rules, stocks = disclosure_rules(project)
    return write_results(table, rules, path, ExportFormat(fmt), stocks)


def open_state(folder: Path, url: str | None = None) -> State:
    """The web app's state: `url`, else DATABASE_URL, else SQLite in the workspace's
    .outcomes folder; migrated to the newest schema."""
    from common_outcomes.state import State, database_url

    return State.open(url or database_url(folder))


def add_user(project: Project, email: str, name: str, password: str | None, role: str,
             actor: str, url: str | None = None) -> str:
    """`outcomes users add` (with a password) and `outcomes users invite` (without: the
    person signs in through OpenID Connect): an account with a role in this workspace
    (audited); returns the workspace's id."""
    from common_outcomes.state.accounts import parse_role

    workspace = _workspace_id(project)
    state = open_state(project.folder, url)
    try:
        state.add_user(email, name, password, workspace, parse_role(role), actor)
    finally:
        state.close()
    return workspace


def grant_role(project: Project, email: str, role: str, actor: str,
               url: str | None = None) -> str:
    """`outcomes users grant`: give an existing account a role in this workspace (audited)."""
    from common_outcomes.state.accounts import parse_role

    workspace = _workspace_id(project)
    state = open_state(project.folder, url)
    try:
        state.grant(email, workspace, parse_role(role), actor)
    finally:
        state.close()
    return workspace


# Ward shapes for the web app's maps (`outcomes boundaries`). ---------------------------------

BOUNDARIES = Path("boundaries") / "wards.geojson"
# Degrees: about 5 m on the ground at London's latitude (1e-4 of longitude is ~7 m), far
# below what a map a screen wide shows, and it halves the file.
SIMPLIFY_TOLERANCE = 5e-5


def write_boundaries(folder: Path, source: Path, la_code: str) -> tuple[Path, int, int]:
    """`outcomes boundaries`: the borough's ward polygons from the ONS boundaries in
    `source` (boundaries/ward/CODE.geojson), simplified (Douglas-Peucker), rounded to 5
    decimal places (~1 m) and reduced to each ward's code and name, written to the
    workspace's boundaries/wards.geojson for its maps; returns the path, the wards and the
    points kept."""
    from common_outcomes.errors import UserError

    path = source / "boundaries" / "ward" / f"{la_code}.geojson"
    if not path.is_file():
        raise UserError(f"No ward boundaries for {la_code} in {path.parent}; they are "
                        "shipped for London boroughs only.")
    try:
        features = json.loads(path.read_text(encoding="utf-8"))["features"]
        shapes: list[dict[str, Any]] = [
            {"type": "Feature",
             "properties": {"code": f["properties"]["WD25CD"], "name": f["properties"]["WD25NM"]},
             "geometry": _simplified(f["geometry"])} for f in features]
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"{path} is not an ONS ward boundary file with WD25CD and WD25NM "
                        f"properties ({e}).") from None
    shapes.sort(key=lambda f: f["properties"]["code"])
    collection = {"type": "FeatureCollection", "provenance": (
        f"ONS ward boundaries (WD25), Open Government Licence v3, from {path.name}; "
        f"simplified to {SIMPLIFY_TOLERANCE:g} degrees by `outcomes boundaries`; regenerate "
        "rather than edit."), "features": shapes}
    out = folder / BOUNDARIES
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(collection, separators=(",", ":")) + "\n", encoding="utf-8")
    points = sum(len(ring) for f in shapes for ring in _rings(f["geometry"]))
    return out, len(shapes), points


def ward_shapes(project: Project) -> list[dict[str, Any]]:
    """The workspace's ward polygons (GeoJSON features with code and name), or none when
    `outcomes boundaries` has not written them."""
    path = project.folder / BOUNDARIES
    if not path.is_file():
        return []
    features: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["features"]
    return features


def _rings(geometry: dict[str, Any]) -> list[list[list[float]]]:
    if geometry["type"] == "Polygon":
        return list(geometry["coordinates"])
    return [ring for polygon in geometry["coordinates"] for ring in polygon]


def _simplified(geometry: dict[str, Any]) -> dict[str, Any]:
    if geometry["type"] == "Polygon":
        return {"type": "Polygon", "coordinates": [_ring(r) for r in geometry["coordinates"]]}
    if geometry["type"] == "MultiPolygon":
        return {"type": "MultiPolygon",
                "coordinates": [[_ring(r) for r in p] for p in geometry["coordinates"]]}
    raise ValueError(f"a {geometry['type']} is not a polygon")


def _ring(ring: list[list[float]]) -> list[list[float]]:
    """A closed ring simplified (Douglas-Peucker), keeping at least a triangle."""
    points = [(round(x, 5), round(y, 5)) for x, y, *_ in ring]
    kept = _douglas_peucker(points, SIMPLIFY_TOLERANCE)
    if len(kept) < 4:
        kept = points
    return [[x, y] for x, y in kept]


def _douglas_peucker(points: list[tuple[float, float]], tolerance: float
                     ) -> list[tuple[float, float]]:
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (ax, ay), (bx, by) = points[first], points[last]
        length = ((bx - ax) ** 2 + (by - ay) ** 2) ** 0.5
        far, index = 0.0, -1
        for i in range(first + 1, last):
            px, py = points[i]
            # Distance to the chord, or to its end when the chord is a point (a closed ring).
            d = (abs((bx - ax) * (ay - py) - (ax - px) * (by - ay)) / length if length
                 else ((px - ax) ** 2 + (py - ay) ** 2) ** 0.5)
            if d > far:
                far, index = d, i
        if far > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [p for p, k in zip(points, keep, strict=True) if k]


DEMO_EMAIL = "demo@example.org"


def demo_account(project: Project, actor: str, url: str | None = None) -> tuple[str, str]:
    """`outcomes demo`: an admin account in this workspace with a new random password each
    time (added, or its password replaced; audited); returns the email and the password."""
    import secrets

    from common_outcomes.state import Role

    workspace = _workspace_id(project)
    password = secrets.token_urlsafe(12)
    state = open_state(project.folder, url)
    try:
        if state.has_user(DEMO_EMAIL):
            state.set_password(DEMO_EMAIL, password, actor)
            state.grant(DEMO_EMAIL, workspace, Role.ADMIN, actor)
        else:
            state.add_user(DEMO_EMAIL, "Demo administrator", password, workspace, Role.ADMIN,
                           actor)
    finally:
        state.close()
    return DEMO_EMAIL, password


def _workspace_id(project: Project) -> str:
    from common_outcomes.errors import UserError

    if project.workspace is None:
        raise UserError(f"{project.folder} is not a workspace that can be read; run "
                        "'outcomes check'.")
    return project.workspace.settings.id
