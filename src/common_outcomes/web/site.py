"""What one running app serves: its workspaces (each a loaded Project with its published
results, re-read when `outcomes run` rewrites them), the state, and the page templates."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from jinja2 import ChoiceLoader, Environment, PackageLoader, PrefixLoader, select_autoescape

from common_outcomes.errors import UserError
from common_outcomes.framework.models import Indicator
from common_outcomes.project import Project, Published
from common_outcomes.reports import results_view as rv
from common_outcomes.reports import sentences
from common_outcomes.reports.results_view import Value
from common_outcomes.reports.sentences import Key, Reading, key_of
from common_outcomes.reports.strategy_map import with_status
from common_outcomes.results.table import empty
from common_outcomes.state import Role, State
from common_outcomes.tracking.comparators import ENGLAND, comparator_areas
from common_outcomes.web import formats
from common_outcomes.web.oidc import OidcSettings, Provider

if TYPE_CHECKING:
    from common_outcomes.data.quality import QualityRow
    from common_outcomes.data.store import VersionInfo

T = TypeVar("T")
MEMO = 500
# The most periods of one type a form's Period list offers (the newest ones).
CHOICES = 8
HERE = Path(__file__).parent
# GOV.UK Frontend's built files, copied here by `make install` from the pinned npm package
# (never committed); the CSS refers to its fonts and images under /assets.
GOVUK_ASSETS = HERE / "govuk-frontend"
# Vega, Vega-Lite and vega-embed's browser builds, copied the same way, for charts and maps.
VEGA_ASSETS = HERE / "vega"
# Swagger UI's browser bundle and stylesheet, copied the same way, for the API's /docs page.
SWAGGER_ASSETS = HERE / "swagger-ui"
OWN_ASSETS = HERE / "static"


@dataclass
class Served:
    """One workspace: its project as loaded at start, and its results, cached by version."""

    id: str
    project: Project
    title: str
    borough_code: str
    borough_name: str
    map: dict[str, Any]
    indicators: dict[str, Indicator]
    # Ward polygons for the maps (`outcomes boundaries`), none when not written.
    shapes: list[dict[str, Any]] = field(default_factory=list)
    # The workspace's partners, id to name, for the story behind the curve.
    partners: dict[str, str] = field(default_factory=dict)
    # The areas the pages compare: the borough's wards and localities, the borough and its
    # comparators (region, England, statistical neighbours). Results computed for London
    # hold every borough's wards; the API still serves any area, the pages only these.
    shown: frozenset[str] = frozenset()
    # The comparator areas' names (England, the region, statistical neighbours), for a
    # benchmark the results hold no row of; and the borough's region.
    names: dict[str, str] = field(default_factory=dict)
    region: str | None = None
    neighbours: frozenset[str] = frozenset()  # the borough's DfE statistical neighbours
    _cached: tuple[int, Published | None] = (-1, None)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # What pages derive from the results or the store, until either changes.
    _memo: dict[tuple[str, int, str], Any] = field(default_factory=dict)
    _making: threading.Lock = field(default_factory=threading.Lock)
    _locks: dict[tuple[str, int, str], threading.Lock] = field(default_factory=dict)
    # The published rows' order by a column and where each value's rows lie in it, per
    # results version (apart from the memo, which a burst of distinct API queries may clear:
    # making one reads the whole table).
    _splits: dict[str, tuple[int, Split]] = field(default_factory=dict)
    _splitting: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, folder: Path) -> Served:
        project = Project.view(folder)
        ws = project.workspace
        code = ws.settings.borough.code
        wards = {w.code for w in ws.geography.wards} if ws.geography else set()
        around = comparator_areas(code)
        shown = frozenset({*wards, *(x.id for x in ws.localities), *around.areas})
        names = {c: name for c, (_, name, _) in around.areas.items()}
        names[code] = ws.settings.borough.name
        region = next((c for c, (kind, _, _) in around.areas.items() if kind == "region"),
                      None)
        return cls(ws.settings.id, project, ws.settings.title, code,
                   ws.settings.borough.name, project.map(), dict(project.indicators),
                   project.ward_shapes(), {p.id: p.name for p in ws.partners}, shown,
                   names, region, frozenset(around.neighbours))

    def versions(self) -> tuple[int, int]:
        """The results' version and the store's: what a workspace page shows changes only
        when one of them (or the app's state) does."""
        return self.project.results_version(), self.project.store_version()

    def data_version(self) -> str:
        """When the results shown were computed and the data last loaded, in words (the
        footer's, so that a printed page says which data it shows)."""
        results, store = self.versions()
        if not results:
            return "no results computed yet"
        return f"results computed {_when(results)}, data last loaded {_when(store)}"

    def published(self) -> Published | None:
        version = self.project.results_version()
        if self._cached[0] != version:
            with self._lock:
                if self._cached[0] != version:
                    self._cached = (version, _one_chunk(self.project.published()))
        return self._cached[1]

    def results(self) -> pa.Table | None:
        """The rows that passed disclosure control, or None before the first run."""
        published = self.published()
        return published.table if published else None

    def derived(self, name: str, key: str, make: Callable[[], T]) -> T:
        """What a page derives from the published results alone (rows picked, charts made),
        made once per results version and kept until `outcomes run` rewrites them."""
        self.published()
        return self._remember(name, self._cached[0], key, make)

    def of(self, indicator: str) -> pa.Table | None:
        """One indicator's published rows (split once per results version, so that a page
        filters its own rows rather than the whole table), or None before the first run."""
        return self._part("indicator_id", indicator)

    def of_shown(self, indicator: str) -> pa.Table | None:
        """One indicator's published rows for the areas the pages show (`shown`): what its
        page's download holds, not every London borough's wards."""
        table = self.of(indicator)
        if table is None or not self.shown:
            return table
        return table.filter(pc.is_in(table.column("area_code"),
                                     pa.array(sorted(self.shown), pa.string())))

    def in_area(self, area: str) -> pa.Table | None:
        """One area's published rows (split like `of`), or None before the first run."""
        return self._part("area_code", area)

    def _part(self, column: str, value: str) -> pa.Table | None:
        table = self.results()
        if table is None:
            return None
        version = self._cached[0]
        held = self._splits.get(column)
        if held is None or held[0] != version:
            with self._splitting:
                held = self._splits.get(column)
                if held is None or held[0] != version:
                    held = self._splits[column] = (version, Split.of(table, column))
        return held[1].rows(table, value)

    def latest(self, area: str) -> dict[str, Value]:
        """Each indicator's newest published value for an area (see results_view.latest)."""
        return self._remember("latest", self._cached[0], area, lambda: (
            rv.latest(table, area, self.usual_periods)
            if (table := self.in_area(area)) is not None else {}))

    def readings(self, area: str) -> dict[str, Reading]:
        """Each indicator's newest value for an area read in words: its benchmark named,
        the region's and England's values beside it, its sentence (reports/sentences.py)."""
        def make() -> dict[str, Reading]:
            latest = self.latest(area)
            by_key = self.read(list(latest.values()))
            return {k: by_key[key_of(v)] for k, v in latest.items() if key_of(v) in by_key}

        return self._remember("readings", self._cached[0], area, make)

    def read(self, rows: list[Value]) -> dict[Key, Reading]:
        """Rows read in words (sentences.read), their benchmarks found among the rows of
        the benchmark areas, the region and England."""
        codes = {c for r in rows for c in (r.benchmark_code, self.region, ENGLAND) if c}
        parts = [t for c in sorted(codes) if (t := self.in_area(c)) is not None]
        return sentences.read(pa.concat_tables(parts) if parts else empty(), rows,
                              self.indicators, self.names, self.region)

    def mapped(self) -> dict[str, Any]:
        """The strategy map with each measure's latest published status (`with_status`):
        what the overview and priority pages draw, made once per results version."""
        return self.derived("map", "", lambda: with_status(
            self.map, self.latest(self.borough_code), self.withheld))

    def data(self) -> tuple[list[VersionInfo], list[QualityRow]]:
        """Every loaded version, and the data quality of the current ones."""
        return self._remember("data", self.project.store_version(), "", lambda: (
            self.project.store.history(None), self.project.quality()))

    def _remember(self, name: str, version: int, key: str, make: Callable[[], T]) -> T:
        found = self._memo.get((name, version, key))
        if found is None:
            # One thread makes each thing while others that want the same one wait (fifty
            # requests arriving together must not all compute it), and different things are
            # made side by side.
            with self._making:
                lock = self._locks.setdefault((name, version, key), threading.Lock())
            with lock:
                found = self._memo.get((name, version, key))
                if found is None:
                    if len(self._memo) > MEMO:
                        self._memo.clear()
                    found = self._memo[(name, version, key)] = make()
            with self._making:
                self._locks.pop((name, version, key), None)
        result: T = found
        return result

    @property
    def withheld(self) -> dict[str, str]:
        """Indicators held back by disclosure control, with the reason."""
        published = self.published()
        return published.withheld if published else {}

    def periods(self, indicators: frozenset[str]) -> list[str]:
        """The periods these indicators have published values for, newest first."""
        return list(self._periods(indicators))

    def period_choices(self, indicators: frozenset[str], keep: Collection[str] = ()
                       ) -> list[tuple[str, list[str]]]:
        """What a form's Period list offers: `periods` by period type (the type of most of
        these indicators first), each newest first and at most CHOICES of them, with those in
        `keep` (the periods a form already holds) kept in their group."""
        found = self._periods(indicators)
        usual = [self.indicators[i].period_type.value for i in indicators
                 if i in self.indicators]
        groups: dict[str, list[str]] = {}
        for period, (_end, kind) in found.items():
            groups.setdefault(kind, []).append(period)
        order = sorted(groups, key=lambda k: (-usual.count(k), k))
        return [(k, [p for n, p in enumerate(groups[k]) if n < CHOICES or p in keep])
                for k in order]

    def _periods(self, indicators: frozenset[str]) -> dict[str, tuple[Any, str]]:
        """Each period these indicators have published values for, with its end and
        period type, newest first."""
        self.published()

        def find() -> dict[str, tuple[Any, str]]:
            ends: dict[str, tuple[Any, str]] = {}
            for indicator in sorted(indicators):
                rows = self.of(indicator)
                if rows is None:
                    return {}
                # Each period's distinct ends, not every area's row.
                pairs = rows.group_by(["period", "period_type"]).aggregate(
                    [("period_end", "max")])
                for period, kind, end in zip(pairs.column("period").to_pylist(),
                                             pairs.column("period_type").to_pylist(),
                                             pairs.column("period_end_max").to_pylist(),
                                             strict=True):
                    held = ends.get(period)
                    ends[period] = (max(end, held[0]) if held else end, str(kind))
            newest = sorted(ends, key=lambda p: (ends[p][0], p), reverse=True)
            return {p: ends[p] for p in newest}

        return self._remember("periods", self._cached[0], ",".join(sorted(indicators)), find)

    def locality_of_ward(self) -> dict[str, str]:
        """Each ward's Family Hub locality (for localities built from wards)."""
        return {w["code"]: loc["id"] for loc in self.map["localities"] for w in loc["wards"]}

    @property
    def usual_periods(self) -> dict[str, str]:
        return {k: i.period_type.value for k, i in self.indicators.items()}


def _when(nanoseconds: int) -> str:
    at = datetime.fromtimestamp(nanoseconds / 1e9)
    return f"{at.day} {at:%B %Y} at {at:%H:%M}"


def _one_chunk(published: Published | None) -> Published | None:
    """The published rows in one chunk (one copy per results version): taking an area's rows
    from a table of many chunks (one per indicator) costs some 30 times more."""
    return replace(published, table=published.table.combine_chunks()) if published else None


@dataclass(frozen=True)
class Split:
    """A table's rows by a text column's value, each value's in the table's order: one
    stable sort of the whole table, then a slice of it per value rather than a filter. The
    order is kept, not a sorted copy (London's results are 80 MB); none when the table is
    already in order (published results are, by indicator), so its rows are zero-copy."""

    order: pa.Array | None
    spans: dict[str, tuple[int, int]]

    @classmethod
    def of(cls, table: pa.Table, column: str) -> Split:
        order = pc.sort_indices(table, [(column, "ascending")])
        positions = np.asarray(order.to_numpy(), dtype=np.int64)
        in_order = bool(np.all(positions == np.arange(len(positions))))
        codes = pc.dictionary_encode(pc.take(table.column(column), order).combine_chunks())
        index = np.asarray(codes.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        starts = np.flatnonzero(np.diff(index, prepend=-1))
        ends = np.append(starts[1:], len(index))
        names = codes.dictionary.to_pylist()
        return cls(None if in_order else order,
                   {str(names[index[a]]): (int(a), int(b)) for a, b in zip(starts, ends,
                                                                          strict=True)})

    def rows(self, table: pa.Table, value: str) -> pa.Table:
        start, end = self.spans.get(value, (0, 0))
        if self.order is None:
            return table.slice(start, end - start)
        return table.take(self.order.slice(start, end - start))


@dataclass
class Site:
    workspaces: dict[str, Served]
    state: State
    templates: Environment
    csrf_secret: bytes
    oidc: Provider | None = None

    @classmethod
    def open(cls, folders: Sequence[Path], database: str | None = None,
             oidc: OidcSettings | None = None) -> Site:
        if not folders:
            raise UserError("Name at least one workspace folder to serve.")
        served: dict[str, Served] = {}
        for folder in folders:
            one = Served.load(folder)
            if one.id in served:
                raise UserError(f"Two workspaces have the id '{one.id}' ({folder} and "
                                f"{served[one.id].project.folder}); each needs its own.")
            served[one.id] = one
        for needed in (GOVUK_ASSETS / "govuk-frontend.min.css", VEGA_ASSETS / "vega.min.js",
                       SWAGGER_ASSETS / "swagger-ui-bundle.js"):
            if not needed.is_file():
                raise UserError(f"{needed} is missing; run 'make install' (it installs the "
                                "pinned npm packages).")
        state = Project.open_state(folders[0], database)
        site = cls(served, state, environment(), state.secret("csrf"),
                   Provider(oidc) if oidc else None)
        site.templates.globals["oidc"] = oidc
        return site


def environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader([
            PackageLoader("common_outcomes.web", "templates"),
            PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
        ]),
        autoescape=select_autoescape(["html"]),
        # Templates are package files: never check them for changes on every page.
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(formats.FILTERS)
    env.globals["Role"] = Role
    return env
