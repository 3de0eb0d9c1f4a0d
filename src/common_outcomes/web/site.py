"""What one running app serves: its workspaces (each a loaded Project with its published
results, re-read when `outcomes run` rewrites them), the state, and the page templates."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
from jinja2 import ChoiceLoader, Environment, PackageLoader, PrefixLoader, select_autoescape

from common_outcomes.errors import UserError
from common_outcomes.framework.models import Indicator
from common_outcomes.project import (
    Project,
    Published,
    data_quality,
    indicator_catalogue,
    open_state,
    published_results,
    results_path,
    results_version,
    store_of,
    store_version,
    ward_shapes,
)
from common_outcomes.reports import results_view as rv
from common_outcomes.reports.results_view import Value
from common_outcomes.state import Role, State
from common_outcomes.web import formats
from common_outcomes.web.oidc import OidcSettings, Provider

if TYPE_CHECKING:
    from common_outcomes.data.quality import QualityRow
    from common_outcomes.data.store import VersionInfo

T = TypeVar("T")
MEMO = 500
HERE = Path(__file__).parent
# GOV.UK Frontend's built files, copied here by `make install` from the pinned npm package
# (never committed); the CSS refers to its fonts and images under /assets.
GOVUK_ASSETS = HERE / "govuk-frontend"
# Vega, Vega-Lite and vega-embed's browser builds, copied the same way, for charts and maps.
VEGA_ASSETS = HERE / "vega"
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
    _cached: tuple[int, Published | None] = (-1, None)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # What pages derive from the results or the store, until either changes.
    _memo: dict[tuple[str, int, str], Any] = field(default_factory=dict)
    _making: threading.Lock = field(default_factory=threading.Lock)
    _locks: dict[tuple[str, int, str], threading.Lock] = field(default_factory=dict)
    _results: Path | None = None

    def __post_init__(self) -> None:
        self._results = results_path(self.project)

    @classmethod
    def load(cls, folder: Path) -> Served:
        project = Project.load(folder)
        ws = project.workspace
        if ws is None or project.framework is None:
            raise UserError(f"{folder} cannot be served: it has errors that stop it being "
                            "read; run 'outcomes check' and fix them first.")
        return cls(ws.settings.id, project, ws.settings.title, ws.settings.borough.code,
                   ws.settings.borough.name, project.map(), indicator_catalogue(project),
                   ward_shapes(project), {p.id: p.name for p in ws.partners})

    def published(self) -> Published | None:
        version = results_version(self.project, self._results)
        if self._cached[0] != version:
            with self._lock:
                if self._cached[0] != version:
                    self._cached = (version, published_results(self.project))
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
        table = self.results()
        if table is None:
            return None
        split = self._remember("split", self._cached[0], "", lambda: _by_indicator(table))
        return split.get(indicator, table.slice(0, 0))

    def latest(self, area: str) -> dict[str, Value]:
        """Each indicator's newest published value for an area (see results_view.latest)."""
        table = self.results()
        return self._remember("latest", self._cached[0], area, lambda: (
            rv.latest(table, area, self.usual_periods) if table is not None else {}))

    def data(self) -> tuple[list[VersionInfo], list[QualityRow]]:
        """Every loaded version, and the data quality of the current ones."""
        return self._remember("data", store_version(self.project), "", lambda: (
            store_of(self.project).history(None), data_quality(self.project)))

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
        table = self.results()

        def find() -> list[str]:
            if table is None:
                return []
            rows = table.filter(pc.is_in(table.column("indicator_id"),
                                         pa.array(sorted(indicators), pa.string())))
            ends: dict[str, Any] = {}
            for period, end in zip(rows.column("period").to_pylist(),
                                   rows.column("period_end").to_pylist(), strict=True):
                ends[period] = max(end, ends.get(period, end))
            return sorted(ends, key=lambda p: (ends[p], p), reverse=True)

        return self._remember("periods", self._cached[0], ",".join(sorted(indicators)), find)

    def locality_of_ward(self) -> dict[str, str]:
        """Each ward's Family Hub locality (for localities built from wards)."""
        return {w["code"]: loc["id"] for loc in self.map["localities"] for w in loc["wards"]}

    @property
    def usual_periods(self) -> dict[str, str]:
        return {k: i.period_type.value for k, i in self.indicators.items()}


def _by_indicator(table: pa.Table) -> dict[str, pa.Table]:
    ids = table.column("indicator_id")
    return {i: table.filter(pc.equal(ids, i)) for i in pc.unique(ids).to_pylist()}


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
        for needed in (GOVUK_ASSETS / "govuk-frontend.min.css", VEGA_ASSETS / "vega.min.js"):
            if not needed.is_file():
                raise UserError(f"{needed} is missing; run 'make install' (it installs the "
                                "pinned npm packages).")
        state = open_state(folders[0], database)
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
