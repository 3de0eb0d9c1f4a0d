"""The one façade the CLI and the web app call: check a workspace, then work with it.

    Project.check(folder).issues    # everything `outcomes check` reports, never an exception
    project = Project.open(folder)  # an error-free workspace, or a UserError with its issues
    project.run()                   # `outcomes run`: compute, track, write
    Project.view(folder).map()      # readable despite errors: what can be shown still is

A `Project` always has its workspace and framework: whether they could be read is settled
once, when it is made, so no method asks again.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from common_outcomes.data.builtin import resolved_sources
from common_outcomes.data.checks import check_comparators, check_definitions, check_sources
from common_outcomes.data.declarations import SOURCE_KINDS, SourceDeclaration
from common_outcomes.data.declare import Draft, draft, write_new
from common_outcomes.data.load import (
    LoadResult,
    load_file,
    postcode_columns,
    postcode_directory,
    reassign,
)
from common_outcomes.data.protect import load_key
from common_outcomes.data.quality import QualityRow, quality
from common_outcomes.data.readers import ReadError
from common_outcomes.data.spreadsheets import write_csv
from common_outcomes.data.store import Store, open_store
from common_outcomes.documents import DocumentModel
from common_outcomes.engine import Progress as RunProgress
from common_outcomes.engine import Scope as RunScope
from common_outcomes.engine import compute, explain, why_empty
from common_outcomes.engine.backends.spark import DATA as SPARK_DATA
from common_outcomes.engine.publish import (
    EXPORTS,
    DisclosureError,
    Exported,
    ExportFormat,
    publishable,
    write_results,
)
from common_outcomes.errors import Issue, Issues, Location, Severity, UserError, display_path
from common_outcomes.framework.load import (
    LoadedFramework,
    available_frameworks,
    load_framework,
    release_to_check_against,
)
from common_outcomes.framework.maturity import (
    MATURITY_KINDS,
    SYSTEM_LAYER,
    MaturityFeaturesDocument,
    MaturityModel,
    maturity_model,
)
from common_outcomes.framework.models import FRAMEWORK_KINDS, Indicator
from common_outcomes.geography.boundaries import ward_shapes, write_boundaries
from common_outcomes.ids import SLUG_PATTERN
from common_outcomes.indicators.definitions import DEFINITION_KINDS, definitions_in
from common_outcomes.periods import parse_any_period
from common_outcomes.reference import write_atomically
from common_outcomes.reports import results_view
from common_outcomes.reports.results_view import ALL
from common_outcomes.reports.strategy_map import strategy_map, with_status
from common_outcomes.results import table as results
from common_outcomes.results.coverage import (
    Honest,
    Part,
    honest_periods,
    located,
    sources_of,
    unjudged,
)
from common_outcomes.strategy import (
    KINDS,
    Workspace,
    check_framework_pin,
    check_workspace,
    load_workspace,
)
from common_outcomes.strategy import changes as edits
from common_outcomes.strategy import history as past
from common_outcomes.strategy.load import FRAMEWORKS, workspace_files
from common_outcomes.synth.run import Progress, SynthResult
from common_outcomes.synth.run import synthesize as synthesize_into
from common_outcomes.synth.spec import SynthSpec
from common_outcomes.tracking.changes import Change, changes
from common_outcomes.tracking.comparators import Revision, with_comparators
from common_outcomes.tracking.targets import apply_tracking

if TYPE_CHECKING:
    from common_outcomes.state import RoundFeature, State
    from common_outcomes.synth.run import Progress, SynthResult
    from common_outcomes.synth.spec import SynthSpec

DEMO_EMAIL = "demo@example.org"
# Beside the results: the published figures newer releases revised, in the last run.
REVISIONS = "revisions.csv"
REVISION_COLUMNS = ("indicator", "area_code", "area_name", "period", "old_value",
                    "old_release", "new_value", "new_release")
SOURCE_ID = re.compile(SLUG_PATTERN)
# The demo's quarterly reviews (invented): of the example's second priority; the second stops
# an activity and revises a target.
DEMO_PRIORITY = "ready-for-school"
DEMO_STOPPED = "stay-and-play-sessions"
DEMO_TARGET = ("good-level-of-development", "E09000030", "2027/28", 72.5)
DEMO_REVIEWS = (
    {"learned": "Two-year-old reviews reach most children, but take-up of funded places is "
                "lowest in the wards with most families eligible.",
     "decisions": "Family Hubs follow up every eligible family who has not taken up a funded "
                  "place within a term.",
     "action": "Follow up eligible families without a funded place, through Family Hubs.",
     "partner": "early-help"},
    {"learned": "Stay and play sessions are well attended, but the families who attend are "
                "not those whose children are behind at two; the good level of development "
                "has not moved in three years.",
     "decisions": "Stop stay and play sessions and move their staff to the early language "
                  "programme; revise the borough's good level of development target to a "
                  "level the trend supports.",
     "action": "Move the stay and play staff to the early language programme.",
     "partner": "early-help"},
)
# What a review keeps of each published row it saw.
SNAPSHOT_COLUMNS = ("indicator_id", "indicator_name", "area_code", "area_name", "area_type",
                    "period", "period_type", "period_end", "numerator", "denominator", "value",
                    "lower_95", "upper_95", "value_note", "suppressed", "target",
                    "target_status", "compared_to_benchmark")


@dataclass(frozen=True)
class Checked:
    """What `outcomes check` finds: every issue, and the project when its workspace and its
    framework could be read (perhaps with errors)."""

    folder: Path
    issues: Issues
    project: Project | None

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


@dataclass(frozen=True)
class RunResult:
    """What `outcomes run` wrote and what it took: the indicators it computed, those that
    have only published figures, and why each defined indicator without a figure has none."""

    path: Path
    rows: int
    indicators: list[str]
    without_data: list[str]
    passes_computed: int
    passes_reused: int
    published_only: list[str]
    why_empty: dict[str, str]
    revisions: tuple[Revision, ...] = ()  # published figures a newer release revised
    revisions_path: Path | None = None  # where they are listed (CSV), when there are any
    periods_left_out: int = 0  # rows of periods the data do not cover (results/coverage.py)
    provisional: int = 0  # rows of a partly covered latest period, flagged provisional


@dataclass(frozen=True)
class Published:
    """The results the web app may show, and the indicators it must withhold (with why)."""

    table: pa.Table
    withheld: dict[str, str]


@dataclass(frozen=True)
class Project:
    """A workspace whose strategy and framework were read, with what is derived from them
    once: its sources (built-ins filled in), its indicators and its disclosure rules."""

    folder: Path
    workspace: Workspace
    framework: LoadedFramework
    issues: Issues
    sources: Mapping[str, SourceDeclaration]
    indicators: Mapping[str, Indicator]
    disclosure: results.Disclosure
    results_path: Path
    # The system conditions' maturity model: the framework's, with the workspace's features.
    maturity: MaturityModel = field(default_factory=MaturityModel)

    # Making one. ------------------------------------------------------------------------

    @classmethod
    def check(cls, folder: Path) -> Checked:
        """Load and check a workspace. Bad YAML becomes issues, never an exception."""
        issues = Issues()
        workspace = load_workspace(folder, issues,
                                   {**SOURCE_KINDS, **DEFINITION_KINDS, **MATURITY_KINDS})
        if workspace is None:
            return Checked(folder, issues, None)
        available = available_frameworks([folder / FRAMEWORKS])
        check_framework_pin(workspace, list(available), issues)
        release = release_to_check_against(workspace.settings.framework, available)
        framework = load_framework(available[release], issues) if release is not None else None
        if framework is not None:
            check_workspace(workspace, framework.framework, issues)
        check_sources(workspace, issues)
        if framework is None:
            return Checked(folder, issues, None)
        sources = resolved_sources(workspace)
        indicators = {i.id: i for i in (*framework.framework.indicators, *workspace.indicators)}
        check_definitions(workspace, sources, set(indicators), issues)
        check_comparators(workspace, sources, indicators, issues)
        # Every definition's source and indicator exists once the check has no errors; until
        # then a project is only viewed, and its rules cover the definitions that resolve.
        definitions = [d for d in definitions_in(workspace.extras) if d.source in sources]
        return Checked(folder, issues, cls(
            folder, workspace, framework, issues, sources, indicators,
            results.disclosure_of(definitions, sources), results.path_in(folder),
            _maturity(workspace, framework, issues)))

    @classmethod
    def open(cls, folder: Path) -> Project:
        """A workspace without errors, for what loads, computes or writes."""
        checked = cls.check(folder)
        if checked.project is None or not checked.ok:
            raise UserError(f"{folder} has errors; run 'outcomes check' and fix them first.",
                            checked.issues.sorted())
        return checked.project

    @classmethod
    def view(cls, folder: Path) -> Project:
        """A workspace that could be read, errors and all, for what only shows it (the map,
        the web app, the SQL of an indicator, the store's history)."""
        checked = cls.check(folder)
        if checked.project is None:
            raise UserError(f"{folder} has errors that stop it being read; run "
                            "'outcomes check' and fix them first.", checked.issues.sorted())
        return checked.project

    @property
    def ok(self) -> bool:
        return not self.issues.has_errors

    def map(self, published: Published | None = None) -> dict[str, Any]:
        """The strategy map's view-model; with the published results, each measure's latest
        status too (`outcomes map` and the pages draw the same diagrams from it)."""
        view = strategy_map(self.workspace, self.framework.framework, self.issues)
        if published is None:
            return view
        usual = {k: i.period_type.value for k, i in self.indicators.items()}
        latest = results_view.latest(published.table, self.workspace.settings.borough.code,
                                     usual)
        return with_status(view, latest, published.withheld)

    # The strategy over time. --------------------------------------------------------------

    def change_strategy(self, change: edits.Change, *, why: str, by: str,
                        effective: date, review: int | None = None
                        ) -> past.StrategyChange:
        """`outcomes strategy change`, and a review's strategy changes in the app: the YAML
        edited, checked as `outcomes check` checks it before anything is written (a change
        that would fail is refused and nothing is written), then recorded in the history
        with why, by whom and the review that decided it, and written."""
        if not why.strip():
            raise UserError("Say why the strategy changes (--why): the history keeps the "
                            "reason with the change.")
        edited = edits.edit(self.folder, change, effective)
        if not edited:
            raise UserError(f"{edits.describe(change, effective)[:-1]} already; "
                            "the change would change nothing.")
        with tempfile.TemporaryDirectory(prefix="outcomes-change-") as tmp:
            copy = _copy_strategy(self.folder, Path(tmp), {
                p.relative_to(self.folder).as_posix(): after for p, (_, after) in edited.items()})
            checked = Project.check(copy)
            # Said at the real file's line: the edited text has the same lines there.
            errors = [_moved(i, copy, self.folder) for i in checked.issues.sorted()
                      if i.severity is Severity.ERROR]
            if errors:
                first = errors[0]
                raise UserError(
                    f"The change was refused and nothing was written: it would make "
                    f"'outcomes check' fail ({first.code}: {first.message})", errors)
        made = past.record(self.folder, recorded=datetime.now(UTC), effective=effective,
                              by=by, why=why, review=review,
                              what=(edits.describe(change, effective),),
                              files=edited)
        for path, (_, after) in edited.items():
            write_atomically(path, after.encode())
        return made

    def strategy_history(self) -> list[past.StrategyChange]:
        """Every change recorded in the workspace's history, oldest first."""
        return past.changes(self.folder)

    def as_of(self, day: date) -> Project:
        """The strategy as it stood on `day`: the changes that took effect after it undone,
        and only the activities running that day."""
        with tempfile.TemporaryDirectory(prefix="outcomes-as-of-") as tmp:
            then = Project.view(_copy_strategy(self.folder, Path(tmp),
                                               past.files_as_of(self.folder, day)))
        workspace = replace(then.workspace, folder=self.folder, activities=tuple(
            a for a in then.workspace.activities if a.running_on(day)))
        return replace(then, folder=self.folder, workspace=workspace,
                       results_path=self.results_path)

    # Data in. ---------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        return self.store_of(self.folder)

    def load_data(self, source: str | None, files: list[Path], all_waiting: bool,
                  key_file: Path | None) -> list[LoadResult]:
        """`outcomes load`: files for one source, or everything waiting in incoming/."""
        work: list[tuple[SourceDeclaration, Path]] = []
        if all_waiting:
            for decl in self.sources.values():
                work.extend((decl, p) for p in sorted((self.folder / "incoming").glob(decl.files))
                            if p.is_file())
            if not work:
                raise UserError(f"Nothing is waiting in {self.folder / 'incoming'} for the "
                                "declared sources.")
        else:
            if source is None or source not in self.sources:
                known = ", ".join(sorted(self.sources)) or "none are declared"
                raise UserError(f"Unknown source '{source}'; the workspace declares: {known}.")
            work = [(self.sources[source], f) for f in files]
        key = load_key(self.folder, key_file)
        directory = postcode_directory(self.folder)
        store = self.store
        with store.lock():
            return [load_file(self.folder, store, decl, path, key, directory,
                              borough=self.workspace.settings.borough.code)
                    for decl, path in work]

    def reassign(self, source: str | None) -> list[LoadResult]:
        """`outcomes load --reassign`: the current versions of a source (or of every source
        placed by postcode) placed again in small areas with the current postcode directory,
        each as a new version."""
        if source is not None and source not in self.sources:
            known = ", ".join(sorted(self.sources)) or "none are declared"
            raise UserError(f"Unknown source '{source}'; the workspace declares: {known}.")
        chosen = [self.sources[source]] if source else [
            d for d in self.sources.values() if postcode_columns(d)]
        directory = postcode_directory(self.folder)
        store = self.store
        with store.lock():
            return [r for decl in chosen for r in reassign(store, decl, directory)]

    def quality(self) -> list[QualityRow]:
        """`outcomes quality`: completeness, validity, timeliness and duplicates."""
        return quality(self.store, dict(self.sources))

    def store_version(self) -> int:
        """Changes whenever a load, rollback or retention changes the store (its catalog is
        replaced whole on every change)."""
        path = self.store.root / "catalog.json"
        return path.stat().st_mtime_ns if path.is_file() else 0

    # Results. ---------------------------------------------------------------------------

    def run(self, progress: RunProgress | None = None, engine: str = "duckdb",
            settings: dict[str, str] | None = None, first: str | None = None,
            last: str | None = None, scope: RunScope | None = None) -> RunResult:
        """`outcomes run`: every indicator definition over the store, to the results table, on
        `engine` with its `settings` (DuckDB's or Spark's configuration); with `first`/`last`
        (period labels), only periods wholly from the start of one to the end of the other;
        with a `scope`, over its parts and areas instead of the store's current parts and the
        workspace's areas. Computed, then tracked, then cut to the window, then written
        through the disclosure guard: nothing is written that would disclose."""
        window = _window(first, last)
        computed = compute(self.folder, self.workspace, self.framework.framework,
                           dict(self.sources), self.disclosure, progress, engine, settings,
                           scope)
        # Spark may read a copy of the store elsewhere (--data): so does the coverage step.
        data = (settings or {}).get(SPARK_DATA) if engine == "spark" else None
        honest = self._honest(computed.table, scope, data)
        published = with_comparators(honest.table, self.folder, dict(self.sources),
                                     dict(self.indicators),
                                     self.workspace.settings.borough.code)
        table = results.within(unjudged(self._tracked(published.table)), *window)
        written = publishable(table, self.disclosure.rules, self.disclosure.stocks)
        results.write(self.results_path, written)
        revised = self.results_path.with_name(REVISIONS)
        if published.revisions:
            write_csv(revised, REVISION_COLUMNS, [
                (r.indicator, r.area_code, r.area_name, r.period, r.old_value, r.old_release,
                 r.new_value, r.new_release) for r in published.revisions])
        else:
            revised.unlink(missing_ok=True)
        held = set(results.indicators_in(written))
        mine = held & set(results.indicators_in(computed.table))
        return RunResult(self.results_path, table.num_rows, sorted(mine),
                         computed.without_data, computed.passes_computed,
                         computed.passes_reused, sorted(held - mine),
                         why_empty(self.folder, self.workspace, honest.table, written, scope),
                         published.revisions, revised if published.revisions else None,
                         honest.dropped, honest.provisional)

    def _honest(self, table: pa.Table, scope: RunScope | None, data: str | None = None
                ) -> Honest:
        """The engine's rows of periods the data cover (results/coverage.py), over the
        store's current parts or the scope's (read at `data` when the store's copy is
        there)."""
        definitions = definitions_in(self.workspace.extras)
        names = sorted({s for d in definitions for s in sources_of(d)} & set(self.sources))
        parts: dict[str, list[Part]] = (
            {name: list(scope.parts.get(name, ())) for name in names} if scope is not None
            else {name: list(self.store.current_files(name)) for name in names})
        if data is not None:
            parts = {name: list(located(found, self.store.root, data))
                     for name, found in parts.items()}
        return honest_periods(table, definitions, self.sources, parts)

    def _tracked(self, table: pa.Table) -> pa.Table:
        # After the comparators, so that a published borough figure gets baselines and
        # targets.
        polarity = {k: i.polarity.value for k, i in self.indicators.items()}
        return apply_tracking(table, [b for b, _ in self.workspace.baselines],
                              [t for t, _ in self.workspace.targets], polarity)

    def explain(self, indicator: str, dialect: str = "duckdb") -> str:
        """`outcomes explain`: the SQL of the pass that computes an indicator."""
        return explain(self.folder, self.workspace, indicator, dialect)

    def changes(self, indicator: str, area: str | None = None,
                period_type: str | None = None) -> list[Change]:
        """`outcomes changes`: each period's change since the previous period and since the
        baseline, from the last run's results."""
        found = self.indicators.get(indicator)
        if found is None:
            raise UserError(f"Unknown indicator '{indicator}'; 'outcomes framework' lists them.")
        rows = changes(self._results(), indicator, found.polarity.value, area, period_type)
        if not rows:
            raise UserError(f"The results have no rows for '{indicator}'"
                            + (f" in area {area}" if area else "") + ".")
        return rows

    def export(self, fmt: str = "csv", indicators: tuple[str, ...] = (),
               out: Path | None = None) -> Exported:
        """`outcomes export`: the results table (or some indicators of it) as CSV or XLSX,
        through the disclosure guard; nothing is written if any cell would disclose a small
        number."""
        try:
            kind = ExportFormat(fmt)
        except ValueError:
            raise UserError(f"--format must be csv or xlsx, not '{fmt}'.") from None
        table = self._results()
        held = results.indicators_in(table)
        unknown = sorted(set(indicators) - set(held))
        if unknown:
            raise UserError(f"The results hold no indicator {', '.join(unknown)}; they hold: "
                            f"{', '.join(held) or 'none'}.")
        if indicators:
            table = results.of_indicators(table, indicators)
        path = out or self.folder / EXPORTS / f"indicator_values.{kind.value}"
        rows = self.results_file(table, kind.value, path)
        return Exported(path, rows, results.indicators_in(table))

    def results_file(self, table: pa.Table, fmt: str, path: Path) -> int:
        """Published rows (whole indicators: the guard checks families within an indicator)
        as a CSV or XLSX file, through the same guard as `outcomes export`; returns the
        rows."""
        return write_results(table, self.disclosure.rules, path, ExportFormat(fmt),
                             self.disclosure.stocks)

    def _results(self) -> pa.Table:
        table = results.read(self.results_path)
        if table is None:
            raise UserError(f"There are no results in {self.results_path} yet; run "
                            "'outcomes run' first.")
        return table

    def published(self) -> Published | None:
        """The results table as pages and the API may show it, or None before the first
        `outcomes run`: every number the web app shows comes through here. Each indicator
        passes the disclosure guard (engine.publish) on its own, since no family of cells
        crosses indicators; one that would leak is withheld whole, with the guard's reason,
        so that it cannot take the others down with it."""
        table = results.read(self.results_path)
        if table is None:
            return None
        shown, withheld = [], {}
        for indicator in results.indicators_in(table):
            rows = table.filter(pc.equal(table.column(results.INDICATOR_ID), indicator))
            try:
                shown.append(publishable(rows, self.disclosure.rules, self.disclosure.stocks))
            except DisclosureError as refused:
                withheld[indicator] = str(refused)
        return Published(pa.concat_tables(shown) if shown else table.slice(0, 0), withheld)

    def quarters(self) -> list[str]:
        """The quarters a review may be of: those the published results have, newest first."""
        published = self.published()
        if published is None:
            return []
        t = published.table
        quarters = t.filter(pc.equal(t.column("period_type"), "quarter"))
        ends = dict(zip(quarters.column("period").to_pylist(),
                        quarters.column(results.PERIOD_END).to_pylist(), strict=True))
        return sorted(ends, key=lambda q: ends[q], reverse=True)

    def snapshot(self, indicators: frozenset[str], quarter: str) -> list[dict[str, Any]]:
        """What the data showed a review of `quarter`, to be kept as it was: for each
        indicator, the borough's and its localities' published rows (no breakdown) of the
        latest period of its own period type that ended by the quarter's end."""
        try:
            end = parse_any_period(quarter).end
        except ValueError:
            raise UserError(f"'{quarter}' is not a quarter; write it as 2025/26 Q1.") from None
        published = self.published()
        if published is None:
            return []
        t = published.table
        t = t.filter(pc.and_(pc.is_in(t.column(results.INDICATOR_ID),
                                      pa.array(sorted(indicators), pa.string())),
                             pc.is_in(t.column("area_type"), pa.array(["la", "locality"]))))
        kept: list[dict[str, Any]] = []
        for row in t.to_pylist():
            found = self.indicators.get(row[results.INDICATOR_ID])
            if (row["breakdown"] != ALL or found is None
                    or row["period_type"] != found.period_type.value
                    or row[results.PERIOD_END] > end):
                continue
            kept.append({k: row[k] for k in SNAPSHOT_COLUMNS})
        latest: dict[str, date] = {}
        for row in kept:
            latest[row[results.INDICATOR_ID]] = max(row[results.PERIOD_END], latest.get(
                row[results.INDICATOR_ID], row[results.PERIOD_END]))
        newest = [{**r, results.PERIOD_END: r[results.PERIOD_END].isoformat()}  # JSON as kept
                  for r in kept if r[results.PERIOD_END] == latest[r[results.INDICATOR_ID]]]
        return sorted(newest, key=lambda r: (r[results.INDICATOR_ID], r["area_type"] != "la",
                                             r["area_name"]))

    def results_version(self) -> int:
        """Changes whenever `outcomes run` rewrites the results (a cache key for the web
        app)."""
        try:
            return self.results_path.stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def ward_shapes(self) -> list[dict[str, Any]]:
        """The ward polygons for the maps, or none when `outcomes boundaries` has not run."""
        return ward_shapes(self.folder)

    # The web app's accounts. ------------------------------------------------------------

    def add_user(self, email: str, name: str, password: str | None, role: str, actor: str,
                 url: str | None = None) -> str:
        """`outcomes users add` (with a password) and `outcomes users invite` (without: the
        person signs in through OpenID Connect): an account with a role in this workspace
        (audited); returns the workspace's id."""
        from common_outcomes.state.accounts import parse_role  # see open_state

        workspace = self.workspace.settings.id
        state = self.open_state(self.folder, url)
        try:
            state.add_user(email, name, password, workspace, parse_role(role), actor)
        finally:
            state.close()
        return workspace

    def grant_role(self, email: str, role: str, actor: str, url: str | None = None) -> str:
        """`outcomes users grant`: give an existing account a role in this workspace
        (audited)."""
        from common_outcomes.state.accounts import parse_role  # see open_state

        workspace = self.workspace.settings.id
        state = self.open_state(self.folder, url)
        try:
            state.grant(email, workspace, parse_role(role), actor)
        finally:
            state.close()
        return workspace

    def grant_review(self, email: str, priority: str, actor: str,
                     url: str | None = None) -> str:
        """`outcomes users grant-review`: let a contributor write the quarterly reviews of
        one of this workspace's priorities (audited)."""
        if priority not in {p.id for p in self.workspace.priorities}:
            known = ", ".join(p.id for p in self.workspace.priorities)
            raise UserError(f"There is no priority '{priority}'; the workspace has: {known}.")
        workspace = self.workspace.settings.id
        state = self.open_state(self.folder, url)
        try:
            state.grant_review(email, workspace, "priority", priority, actor)
        finally:
            state.close()
        return workspace

    def demo_account(self, actor: str, url: str | None = None) -> tuple[str, str]:
        """`outcomes demo`: an admin account in this workspace with a new random password
        each time (added, or its password replaced; audited); returns the email and the
        password."""
        from common_outcomes.state import Role  # see open_state

        workspace = self.workspace.settings.id
        password = secrets.token_urlsafe(12)
        state = self.open_state(self.folder, url)
        try:
            if state.has_user(DEMO_EMAIL):
                state.set_password(DEMO_EMAIL, password, actor)
                state.grant(DEMO_EMAIL, workspace, Role.ADMIN, actor)
            else:
                state.add_user(DEMO_EMAIL, "Demo administrator", password, workspace,
                               Role.ADMIN, actor)
        finally:
            state.close()
        return DEMO_EMAIL, password

    # Self-assessment rounds of the system conditions. ---------------------------------------

    def round_features(self) -> tuple[RoundFeature, ...]:
        """The maturity model's features as a new round rates them (the model as it is now;
        a round keeps them, so it reads the same after the model changes)."""
        from common_outcomes.state import RoundFeature  # see open_state

        levels = tuple(x.id for x in self.maturity.levels)
        return tuple(RoundFeature(f.id, f.condition, f.name, levels)
                     for f in self.maturity.features)

    def demo_rounds(self, actor: str, url: str | None = None) -> int:
        """`outcomes demo`: two completed self-assessment rounds of invented ratings by
        several partners' respondents, moderated, with movement between them (made once;
        nothing when the workspace has rounds already). Returns the rounds made."""
        from common_outcomes.state.demo import demo_rounds  # see open_state

        state = self.open_state(self.folder, url)
        try:
            return demo_rounds(state, self.workspace.settings.id, self.round_features(),
                               {p.id for p in self.workspace.partners}, DEMO_EMAIL, actor)
        finally:
            state.close()

    def demo_reviews(self, url: str | None = None) -> int:
        """`outcomes demo`: two signed-off quarterly reviews of the example's second priority
        (invented), an action from each, and the second review's strategy changes applied to
        the workspace and recorded in its history: an activity stopped and a target revised.
        Nothing is added when the workspace has reviews already. Returns the reviews added."""
        from common_outcomes.state import ActionFields, ReviewFields  # see open_state

        quarters = self.quarters()
        workspace = self.workspace.settings.id
        state = self.open_state(self.folder, url)
        try:
            account = state.account_of(DEMO_EMAIL)
            if account is None or len(quarters) < 2 or state.reviews(workspace):
                return 0
            about = next(p for p in self.workspace.priorities if p.id == DEMO_PRIORITY)
            # As the app's review does: its measures and its activities' outcome measures.
            indicators = frozenset(about.measures) | {
                link.indicator for a in self.workspace.activities if about.id in a.priorities
                for link in a.outcome_measures}
            today = date.today()
            for number, (quarter, said) in enumerate(zip(quarters[1::-1], DEMO_REVIEWS,
                                                         strict=True), start=1):
                # A quarter apart (the synthetic data may run past today: never later).
                held = min(today - timedelta(days=91 * (2 - number)),
                           parse_any_period(quarter).end + timedelta(days=45))
                review = state.add_review(account, workspace, ReviewFields(
                    "priority", about.id, quarter, held, said["learned"], said["decisions"]),
                    self.snapshot(indicators, quarter))
                state.add_action(account, workspace, "priority", about.id, ActionFields(
                    quarter, said["action"], DEMO_EMAIL, said["partner"],
                    held + timedelta(days=60), "open"), "review", str(review.number))
                if number == 2:
                    why = "Review 2 decided it: " + said["decisions"]
                    self.change_strategy(edits.StopActivity(DEMO_STOPPED), why=why,
                                         by=DEMO_EMAIL, effective=held, review=review.number)
                    self.change_strategy(edits.ReviseTarget(*DEMO_TARGET), why=why,
                                         by=DEMO_EMAIL, effective=held, review=review.number)
                state.sign_review(account, workspace, review.number)
            return 2
        finally:
            state.close()

    # What needs no workspace read (a folder, or nothing at all). ----------------------------

    @staticmethod
    def open_state(folder: Path, url: str | None = None) -> State:
        """The web app's state: `url`, else DATABASE_URL, else SQLite in the workspace's
        .outcomes folder; migrated to the newest schema."""
        # Imported here: SQLAlchemy, Alembic and Argon2 take about a second to import, which
        # every command but the web app's and `users` would pay for nothing.
        from common_outcomes.state import State, database_url

        return State.open(url or database_url(folder))

    @staticmethod
    def store_of(folder: Path) -> Store:
        """A workspace's store (history, rollback, retention), even when its strategy has
        errors: the store is kept whatever the YAML says."""
        return open_store(folder)

    @staticmethod
    def declare(file: Path, source: str, out: Path, *, force: bool = False,
                schema: Path | None = None) -> Draft:
        """`outcomes declare`: a source declaration drafted from `file`, written to `out`
        (never over an existing file unless `force`); nothing else is written or stored.
        The draft's editor line points at `schema` (where `outcomes schema` writes)."""
        if not SOURCE_ID.match(source):
            raise UserError(f"--source '{source}' is not a usable source id: use lower-case "
                            "letters, digits and hyphens (e.g. cla-903).")
        target = schema or Path.cwd() / "schema" / "source.schema.json"
        ref = Path(os.path.relpath(target.resolve(), out.resolve().parent)).as_posix()
        try:
            drafted = draft(file, source, ref)
        except ReadError as exc:
            raise UserError(f"{file}: {exc.message}") from exc
        write_new(out, drafted.text, force)
        return drafted

    @staticmethod
    def synthesize(folder: Path, spec: SynthSpec, *, force: bool = False,
                   progress: Progress | None = None) -> SynthResult:
        """`outcomes synth`: synthetic partner data into the workspace's incoming folder."""
        # Imported here: the generator is not needed by `outcomes run` or `check`.

        return synthesize_into(folder, spec, force=force, progress=progress)

    @staticmethod
    def write_boundaries(folder: Path, source: Path, la_code: str) -> tuple[Path, int, int]:
        """`outcomes boundaries`: the borough's simplified ward shapes (geography/)."""
        return write_boundaries(folder, source, la_code)

    @staticmethod
    def document_kinds() -> dict[str, type[DocumentModel]]:
        """Every YAML kind the product reads, for `outcomes schema`."""
        return {**FRAMEWORK_KINDS, **KINDS, **SOURCE_KINDS, **DEFINITION_KINDS, **MATURITY_KINDS}

    @staticmethod
    def json_schemas() -> dict[str, str]:
        """A JSON Schema per kind, as text, for editors (yaml-language-server and others)."""
        out: dict[str, str] = {}
        for kind, model in sorted(Project.document_kinds().items()):
            schema = model.model_json_schema()
            schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
            schema["title"] = f"common-outcomes {kind} (version {max(model.VERSIONS)})"
            out[kind] = json.dumps(schema, indent=2, sort_keys=False) + "\n"
        return out


def _maturity(workspace: Workspace, framework: LoadedFramework, issues: Issues
              ) -> MaturityModel:
    """The framework's maturity model and the workspace's own features, checked."""
    system = [o for o in framework.framework.outcomes if o.layer == SYSTEM_LAYER]
    return maturity_model(
        framework.maturity,
        [d for d in workspace.extras if isinstance(d.model, MaturityFeaturesDocument)],
        {o.id: o.statement for o in system}, {i.id for o in system for i in o.indicators},
        {i.id for i in workspace.indicators}, issues)


def _moved(issue: Issue, copy: Path, folder: Path) -> Issue:
    where = issue.location
    if where is None or not Path(where.file).resolve().is_relative_to(copy.resolve()):
        return issue
    real = folder / Path(where.file).resolve().relative_to(copy.resolve())
    return issue.at(Location(display_path(real), where.line, where.column))


def _copy_strategy(folder: Path, into: Path, texts: Mapping[str, str]) -> Path:
    """The workspace's strategy files (and the frameworks it brings) copied into `into`,
    with `texts` (relative path -> text) in place of those files: a workspace to check or
    show without touching the real one."""
    copy = into / folder.name
    for path in workspace_files(folder):
        target = copy / path.relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    if (folder / FRAMEWORKS).is_dir():
        shutil.copytree(folder / FRAMEWORKS, copy / FRAMEWORKS)
    for relative, text in texts.items():
        (copy / relative).parent.mkdir(parents=True, exist_ok=True)
        (copy / relative).write_text(text, encoding="utf-8")
    return copy


def _window(first: str | None, last: str | None) -> tuple[date | None, date | None]:
    try:
        start = parse_any_period(first).start if first else None
        end = parse_any_period(last).end if last else None
    except ValueError as exc:
        raise UserError(f"--from/--to: {exc}.") from None
    if start and end and start > end:
        raise UserError(f"--from {first} starts after --to {last} ends.")
    return start, end
