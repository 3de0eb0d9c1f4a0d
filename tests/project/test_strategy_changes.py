"""Strategy changes with their reasons: the YAML edited as a person would (only the changed
lines differ), checked as `outcomes check` checks it before anything is written, recorded
in the workspace's history; the strategy as it stood on any date."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml

from common_outcomes.errors import UserError
from common_outcomes.project import Project
from common_outcomes.strategy.changes import MoveWard, ReviseTarget, StartActivity, StopActivity

ROOT = Path(__file__).resolve().parents[2]
STOPPED = "stay-and-play-sessions"
TARGET = ("good-level-of-development", "E09000030", "2027/28")
DECIDED = date(2025, 8, 14)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    shutil.copytree(ROOT / "examples" / "tower-hamlets", folder, ignore=shutil.ignore_patterns(
        "incoming", "synth-truth", ".outcomes", ".synth-staging-*", "history"))
    return folder


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def target_value(project: Project) -> float:
    return next(t.value for t, _ in project.workspace.targets
                if (t.indicator, t.area, t.period) == TARGET)


def test_a_stopped_activity_changes_one_line_and_is_recorded_with_why(ws: Path) -> None:
    before = (ws / "activities.yaml").read_text()
    made = Project.open(ws).change_strategy(StopActivity(STOPPED), why="Nobody better off.",
                                            by="chair@example.org", effective=DECIDED,
                                            review=2)
    after = (ws / "activities.yaml").read_text()
    added = [line for line in after.splitlines() if line not in before.splitlines()]
    assert added == ["    end: 2025-08-14"]
    assert len(after.splitlines()) == len(before.splitlines()) + 1  # comments all kept
    recorded = yaml.safe_load((ws / "history" / "0001.yaml").read_text())
    assert (recorded["kind"], recorded["review"], recorded["why"], recorded["by"]) == (
        "strategy-change", 2, "Nobody better off.", "chair@example.org")
    assert recorded["files"][0]["before"] == before
    assert recorded["files"][0]["after"] == after
    assert made.number == 1
    assert Project.check(ws).ok  # the history folder is not read as strategy


def test_the_strategy_as_of_a_date_has_the_activity_before_the_change_and_not_after(
        ws: Path) -> None:
    project = Project.open(ws)
    project.change_strategy(StopActivity(STOPPED), why="Stopped.", by="t", effective=DECIDED)
    project.change_strategy(ReviseTarget(*TARGET, 72.5), why="Revised.", by="t",
                            effective=DECIDED)
    now = Project.open(ws)
    day_before, day_of = now.as_of(date(2025, 8, 13)), now.as_of(DECIDED)
    assert STOPPED in {a.id for a in day_before.workspace.activities}
    assert STOPPED not in {a.id for a in day_of.workspace.activities}
    assert (target_value(day_before), target_value(day_of)) == (75.0, 72.5)
    # Before the activity started, it is not in the strategy either.
    assert STOPPED not in {a.id for a in now.as_of(date(2024, 3, 31)).workspace.activities}
    assert len(now.workspace.activities) == len(day_before.workspace.activities)


@pytest.mark.parametrize(("change", "effective", "code"), [
    (StopActivity(STOPPED), date(2024, 1, 1), "activity.dates"),  # before it started
])
def test_a_change_that_would_fail_check_is_refused_and_nothing_is_written(
        ws: Path, change: StopActivity, effective: date, code: str) -> None:
    before = files_of(ws)
    with pytest.raises(UserError) as refused:
        Project.open(ws).change_strategy(change, why="x", by="t", effective=effective)
    assert "refused and nothing was written" in str(refused.value)
    assert code in str(refused.value)
    assert [i.code for i in refused.value.issues] == [code]
    # Said at the real file, not the copy the check read.
    assert refused.value.issues[0].location is not None
    assert Path(refused.value.issues[0].location.file).resolve() == (
        ws / "activities.yaml").resolve()
    assert files_of(ws) == before


def test_a_ward_moved_out_of_its_last_locality_is_refused(ws: Path) -> None:
    """A locality left with no ward fails the localities' own rules: refused."""
    localities = yaml.safe_load((ws / "localities.yaml").read_text())["localities"]
    smallest = min(localities, key=lambda loc: len(loc["wards"]))
    other = next(loc for loc in localities if loc is not smallest)
    project = Project.open(ws)
    before = files_of(ws)
    for ward in smallest["wards"][:-1]:
        project.change_strategy(MoveWard(ward, other["id"]), why="Boundary moved.", by="t",
                                effective=DECIDED)
    moved = files_of(ws)
    assert moved != before and len(list((ws / "history").iterdir())) == len(
        smallest["wards"]) - 1
    with pytest.raises(UserError):
        project.change_strategy(MoveWard(smallest["wards"][-1], other["id"]), why="x",
                                by="t", effective=DECIDED)
    assert files_of(ws) == moved


def test_changes_are_recorded_in_the_order_they_take_effect(ws: Path) -> None:
    project = Project.open(ws)
    project.change_strategy(StopActivity(STOPPED), why="x", by="t", effective=DECIDED)
    before = files_of(ws)
    with pytest.raises(UserError, match="before the last recorded change"):
        project.change_strategy(StartActivity(STOPPED), why="x", by="t",
                                effective=date(2025, 1, 1))
    assert files_of(ws) == before


def test_unknown_names_are_one_sentence(ws: Path) -> None:
    project = Project.open(ws)
    for change, said in ((StopActivity("no-such"), "no activity 'no-such'"),
                         (ReviseTarget("early-booking", "E09000030", "1999/00", 1.0),
                          "no target for 'early-booking'"),
                         (MoveWard("E05009317", "nowhere"), "no locality 'nowhere'")):
        with pytest.raises(UserError, match=said):
            project.change_strategy(change, why="x", by="t", effective=DECIDED)
    with pytest.raises(UserError, match="Say why"):
        project.change_strategy(StopActivity(STOPPED), why=" ", by="t", effective=DECIDED)


def outcomes(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("outcomes")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300,
                          check=False)


def test_the_command_line_changes_maps_as_of_a_date_and_says_why(ws: Path,
                                                                  tmp_path: Path) -> None:
    before = files_of(ws)
    refused = outcomes("strategy", "change", str(ws), "--stop-activity", STOPPED, "--why",
                       "x", "--effective", "2024-01-01")
    assert refused.returncode == 2
    assert refused.stderr.count("error:") == 1 and "Traceback" not in refused.stderr
    assert files_of(ws) == before

    done = outcomes("strategy", "change", str(ws), "--stop-activity", STOPPED, "--why",
                    "Nobody better off", "--effective", DECIDED.isoformat(), "--review", "2")
    assert done.returncode == 0, done.stderr
    maps = {}
    for day in ("2025-08-13", "2025-08-14"):
        out = tmp_path / f"{day}.json"
        made = outcomes("map", str(ws), "--as-of", day, "--format", "json", "--out", str(out))
        assert made.returncode == 0, made.stderr
        maps[day] = {c["activity"] for p in json.loads(out.read_text())["priorities"]
                     for c in p["chains"]}
    assert STOPPED in maps["2025-08-13"] and STOPPED not in maps["2025-08-14"]
    history = outcomes("strategy", "history", str(ws))
    assert "Nobody better off" in history.stdout and "(review 2)" in history.stdout
    assert "2025-08-14" in history.stdout
    bad = outcomes("map", str(ws), "--as-of", "14/08/2025", "--out", str(tmp_path / "x"))
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
