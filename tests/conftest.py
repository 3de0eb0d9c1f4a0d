"""Shared fixtures: the shipped example, the shared reference data, golden files."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "tower-hamlets"
GOLDEN = Path(__file__).parent / "golden"
# CI lays shared/ beside the clone, as it is beside the working tree.
SHARED = ROOT.parent / "shared"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true",
                     help="Rewrite golden files from the current output instead of comparing.")


@pytest.fixture
def example_copy(tmp_path: Path) -> Path:
    """A private copy of the Tower Hamlets example that a test may break."""
    target = tmp_path / "tower-hamlets"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(".outcomes"))
    return target


@pytest.fixture
def shared() -> Path:
    if not (SHARED / "data").is_dir():
        pytest.fail(f"The shared reference data is missing at {SHARED}.")
    return SHARED


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """Compare text with tests/golden/NAME, or rewrite it under --update-goldens."""
    update = bool(request.config.getoption("--update-goldens"))

    def check(name: str, actual: str) -> None:
        path = GOLDEN / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
            return
        assert path.is_file(), f"no golden file {path}; run 'make goldens' and review it"
        expected = path.read_text(encoding="utf-8")
        assert actual == expected, f"{name} differs from its golden file; if the change is " \
            "intended, run 'make goldens' and review the diff"

    return check


# The loaded example's pseudonymisation key: outside the workspace, as a real key must be.
KEY_TEXT = "k" * 64


@pytest.fixture(scope="session")
def loaded_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example with three years of synthetic data (seed 5) loaded into its store, made
    once for the session: tests that change it work on a copy (`copy_loaded`)."""
    from common_outcomes.project import Project, load_data, synthesize
    from common_outcomes.synth.spec import Scale, SynthSpec

    root = tmp_path_factory.mktemp("loaded")
    ws = root / "ws"
    shutil.copytree(EXAMPLE, ws, ignore=shutil.ignore_patterns(
        "incoming", "synth-truth", ".outcomes", ".synth-staging-*"))
    synthesize(ws, SynthSpec(Scale.BOROUGH, years=3, seed=5))
    key = root / "key"
    key.write_text(KEY_TEXT)
    loaded = load_data(Project.load(ws), None, [], True, key)
    assert loaded and all(r.status != "rejected" for r in loaded)
    return ws


@pytest.fixture(scope="session")
def copy_loaded(loaded_example: Path) -> Callable[[Path], Path]:
    """Makes a private copy of the loaded example at ROOT/ws, with its key at ROOT/key."""
    def copy(root: Path) -> Path:
        ws = root / "ws"
        shutil.copytree(loaded_example, ws)
        (root / "key").write_text(KEY_TEXT)
        return ws

    return copy


# Per-test timeouts (pytest-timeout; the default is pyproject.toml's `timeout`). A fixture made
# once per module or session builds a workspace, a Spark session or a browser, and the first
# test that asks for it pays for the build on the suite's slowest machine; files whose tests
# themselves run whole commands carry their own marks.
SLOW_FIXTURES = 900


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None or item.get_closest_marker("timeout") is not None:
            continue
        shared = any(d.scope in ("module", "session")
                     for defs in info.name2fixturedefs.values() for d in defs)
        if shared:
            item.add_marker(pytest.mark.timeout(SLOW_FIXTURES))
