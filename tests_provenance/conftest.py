"""The provenance step: every carried reference table rebuilt from the published originals.

Run by `make provenance ORIGINALS=DIR` (CI passes the originals it lays beside its clone);
`make test` never collects this folder, so a council's clone, which has no originals, runs
every test it has and skips none.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--originals", required=True, type=Path,
                     help="The published originals: data/geography, data/published and "
                     "reference/ssd.")


def pytest_configure(config: pytest.Config) -> None:
    from common_outcomes.reference import OVERRIDE_ENV

    os.environ[OVERRIDE_ENV] = tempfile.mkdtemp(prefix="no-reference-updates-")


@pytest.fixture(scope="session")
def originals(request: pytest.FixtureRequest) -> Path:
    path: Path = request.config.getoption("--originals")
    assert (path / "data" / "published").is_dir(), f"no published originals in {path}"
    return path.resolve()
