"""`outcomes run` explains itself: computed and published-only indicators are counted apart
(it said "Wrote N rows for 0 indicators" when every row was published), and every defined
indicator without a figure says why."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from common_outcomes import reference
from common_outcomes.cli import app
from common_outcomes.data.store import open_store
from common_outcomes.engine import plan
from common_outcomes.engine.results import Areas
from common_outcomes.engine.run import Scope, areas_of
from common_outcomes.indicators.definitions import definitions_in
from common_outcomes.project import Project

ROOT = Path(__file__).resolve().parents[2]
LSOA = "E01004198"  # a Tower Hamlets LSOA of the example's geography
MATERNITY_ONLY = ("early-booking", "low-birth-weight-term", "premature-births",
                  "smoking-at-delivery")


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """The example with no partner data and two published DfE files (children in need and
    the child population its rate divides by) loaded."""
    ws = tmp_path / "ws"
    shutil.copytree(ROOT / "examples" / "tower-hamlets", ws, ignore=shutil.ignore_patterns(
        "incoming", "synth-truth", ".outcomes", ".synth-staging-*"))
    project = Project.open(ws)
    for source in ("dfe-children-in-need", "dfe-child-population"):
        [done] = project.load_data(source, [reference.path(source)], False, _key(tmp_path))
        assert done.status == "loaded", done.message
    return ws


def _key(tmp_path: Path) -> Path:
    key = tmp_path / "pseudonymisation.key"
    key.write_text("0123456789abcdef" * 4)
    return key


def _births(ws: Path, tmp_path: Path, area: str, n: int = 3) -> None:
    """`n` live births in May 2024 in `area` ('' for none known), loaded as maternity."""
    project = Project.open(ws)
    columns = [c.name for c in project.sources["maternity"].columns]
    path = tmp_path / f"births-{area or 'none'}-{n}.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns, restval="")
        writer.writeheader()
        for i in range(n):
            writer.writerow({"record_id": f"R{i}", "baby_dob": "2024-05-0" + str(i + 1),
                             "birth_outcome": "live", "residence_area_code": area,
                             "smoking_at_delivery": "Y"})
    [done] = project.load_data("maternity", [path], False, _key(tmp_path))
    assert done.status == "loaded", done.message


def test_published_only_indicators_are_counted_and_each_empty_one_says_why(ws: Path) -> None:
    project = Project.open(ws)
    result = project.run()
    assert result.indicators == []
    assert "children-in-need-rate" in result.published_only
    defined = {d.indicator for d in definitions_in(project.workspace.extras)}
    # Its own published figure is a figure: only the others are without one.
    assert set(result.why_empty) == defined - set(result.published_only)
    assert result.why_empty["early-booking"] == "no data loaded for maternity"
    assert all(r.startswith("no data loaded for ") for r in result.why_empty.values())


def test_records_with_no_small_area_count_for_the_borough_and_are_named_only_where_not(
        ws: Path, tmp_path: Path) -> None:
    _births(ws, tmp_path, "")
    project = Project.open(ws)
    result = project.run()
    # They count for the borough (its rows are computed, then suppressed as small numbers),
    # so "no small area" is not the reason.
    assert "smoking-at-delivery" in result.indicators
    assert result.why_empty["smoking-at-delivery"] == "every row suppressed (small numbers)"
    assert not any("small area" in reason for reason in result.why_empty.values())
    # Over a scope whose areas do not place them (only the LSOAs), nothing is computed, and
    # the reason says why.
    own = areas_of(project.workspace)
    areas = Areas({level: {a: c for a, c in codes.items() if a != plan.NO_AREA}
                   for level, codes in own.within.items()}, own.names)
    parts = [plan.Part(p.path, p.periods) for p in open_store(ws).current_files("maternity")]
    reasons = project.run(scope=Scope({"maternity": parts}, areas)).why_empty
    for indicator in MATERNITY_ONLY:
        assert reasons[indicator] == ("no record of maternity has a small area "
                                      "(residence_area_code is empty in every row)")


def test_a_window_without_records_and_small_numbers_are_named(ws: Path,
                                                               tmp_path: Path) -> None:
    _births(ws, tmp_path, LSOA)
    project = Project.open(ws)
    result = project.run()
    # Three smokers at delivery: every figure is a small number, suppressed.
    assert result.why_empty["smoking-at-delivery"] == "every row suppressed (small numbers)"
    assert "smoking-at-delivery" in result.indicators
    # Born in May 2024, they make no complete calendar year: no figure in any period.
    assert result.why_empty["premature-births"] == (
        "the loaded records of maternity give no figure for any of its periods")
    result = project.run(first="2010/11", last="2011/12")
    assert result.why_empty["smoking-at-delivery"] == (
        "no record in the periods asked for (--from/--to)")


def test_outcomes_run_prints_both_counts_and_the_reasons(ws: Path) -> None:
    done = CliRunner().invoke(app, ["run", str(ws)])
    assert done.exit_code == 0, done.output
    published = len(Project.open(ws).run().published_only)
    assert published > 0
    assert f"0 indicators computed, {published} with published figures only" in done.output
    assert "  early-booking: no data loaded for maternity" in done.output
