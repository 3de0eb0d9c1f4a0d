"""The façade's three ways in: check never raises, open wants no errors, view wants a
workspace that can be read; and the results table's own module (results/table.py)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from common_outcomes.errors import UserError
from common_outcomes.project import Project
from common_outcomes.results import table as results


def _break_a_reference(ws: Path) -> None:
    """An error the check reports while the workspace can still be read."""
    path = ws / "activities.yaml"
    text = path.read_text()
    assert "{partner: maternity-services," in text
    path.write_text(text.replace("{partner: maternity-services,", "{partner: no-such-partner,", 1))


def test_an_error_free_workspace_opens_with_everything_derived(example_copy: Path) -> None:
    project = Project.open(example_copy)
    assert project.ok and project.workspace.settings.id
    assert project.disclosure.rules, "the example defines indicators with rules"
    assert set(project.disclosure.rules) <= set(project.indicators)
    assert project.disclosure.stocks <= set(project.disclosure.rules)
    assert project.results_path == example_copy / results.RESULTS


def test_a_workspace_with_errors_is_checked_viewed_but_not_opened(example_copy: Path) -> None:
    _break_a_reference(example_copy)
    checked = Project.check(example_copy)
    assert not checked.ok and checked.project is not None
    with pytest.raises(UserError) as refused:
        Project.open(example_copy)
    assert refused.value.issues and "outcomes check" in str(refused.value)
    viewed = Project.view(example_copy)
    assert not viewed.ok and viewed.map()["priorities"]


def test_an_unreadable_workspace_is_only_checked(example_copy: Path) -> None:
    (example_copy / "workspace.yaml").write_text("kind: workspace\nversion: [\n")
    checked = Project.check(example_copy)
    assert checked.project is None and not checked.ok
    for way_in in (Project.open, Project.view):
        with pytest.raises(UserError) as refused:
            way_in(example_copy)
        assert refused.value.issues


def test_the_table_built_by_hand_has_the_schema_of_an_empty_one() -> None:
    row = {"indicator_id": "x", "period_start": None, "numerator": 3.0, "suppressed": False}
    built = results.to_table([row])
    assert built.schema == results.SCHEMA == results.empty().schema
    assert built.column(results.INDICATOR_ID).to_pylist() == ["x"]
    assert results.indicators_in(results.to_table([{"indicator_id": "b"},
                                                   {"indicator_id": "a"}])) == ["a", "b"]


def test_a_failed_write_leaves_the_table_before_it(tmp_path: Path) -> None:
    path = tmp_path / "results.parquet"
    results.write(path, results.to_table([{"indicator_id": "kept"}]))
    with pytest.raises(Exception):  # noqa: B017 - pyarrow's own error for a non-table
        results.write(path, pa.array([1]))  # type: ignore[arg-type]
    kept = results.read(path)
    assert kept is not None and results.indicators_in(kept) == ["kept"]
    assert [p.name for p in tmp_path.iterdir()] == ["results.parquet"]
