"""The import graph stays a tree of layers: no module of the package imports, directly or
through others, a module that imports it back (import-linter's layers contracts check the
order; a circle among modules a contract does not name would pass them), and every module
of web/ is in the web app's layers contract, so a new one cannot sit outside it."""

from __future__ import annotations

import graphlib
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
WEB_CONTRACT = "The web app: app.py assembles the routers, which share what is below them"


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph("common_outcomes")


def test_no_module_imports_itself_through_others() -> None:
    graph = _graph()
    imports = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    try:
        graphlib.TopologicalSorter(imports).prepare()
    except graphlib.CycleError as circle:
        raise AssertionError(f"an import circle: {' -> '.join(circle.args[1])}") from None


def test_every_web_module_is_in_the_web_layers() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contract = next(c for c in config["tool"]["importlinter"]["contracts"]
                    if c["name"] == WEB_CONTRACT)
    named = {m.strip() for layer in contract["layers"]
             for m in layer.replace(":", "|").split("|")}
    web = {m for m in _graph().modules
           if m.startswith("common_outcomes.web.") and m.count(".") == 2}
    assert web - named == set(), "add these web modules to the web layers in pyproject.toml"
    assert named - web == set(), "the web layers name modules that do not exist"
