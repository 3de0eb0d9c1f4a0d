"""The `outcomes` command end to end, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from common_outcomes.cli import app
from common_outcomes.project import Project

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "tower-hamlets"
runner = CliRunner()


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script, in a real process, as a user would run it."""
    exe = Path(sys.executable).with_name("outcomes")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd,
                          timeout=60, check=False)


def test_check_passes_on_the_example() -> None:
    result = run("check", str(EXAMPLE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok: 0 errors" in result.stdout


def test_check_json_is_the_same_issues_as_data() -> None:
    result = runner.invoke(app, ["check", str(EXAMPLE), "--format", "json"])
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert report["errors"] == 0 and report["issues"] == []


def test_a_missing_workspace_is_one_sentence_and_exit_2(tmp_path: Path) -> None:
    result = run("check", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    missing = tmp_path / "nowhere"
    assert result.stderr.strip() == f"error: There is no workspace folder at {missing}."
    assert "Traceback" not in result.stderr


def test_a_folder_without_yaml_is_one_sentence(tmp_path: Path) -> None:
    result = run("check", str(tmp_path))
    assert result.returncode == 2
    assert "holds no YAML files" in result.stderr and "Traceback" not in result.stderr


def test_a_folder_without_a_workspace_file_is_an_issue(tmp_path: Path) -> None:
    (tmp_path / "partners.yaml").write_text("kind: partners\nversion: 1\npartners: []\n")
    result = run("check", str(tmp_path))
    assert result.returncode == 1
    assert "[workspace.missing]" in result.stdout


def test_a_bad_option_is_a_usage_error_not_a_traceback() -> None:
    result = run("check", str(EXAMPLE), "--format", "xml")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "--format" in result.stderr


def test_map_json_matches_its_golden_file(
    tmp_path: Path, golden: Callable[[str, str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    out = tmp_path / "map.json"
    result = runner.invoke(app, ["map", "examples/tower-hamlets", "--out", str(out),
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    golden("strategy-map.tower-hamlets.json", out.read_text(encoding="utf-8"))


def test_map_shows_the_golden_thread_for_early_antenatal_care(tmp_path: Path) -> None:
    out = tmp_path / "map.json"
    assert runner.invoke(app, ["map", str(EXAMPLE), "--out", str(out), "--format",
                               "json"]).exit_code == 0
    view = json.loads(out.read_text())
    chains = {c["activity"]: c for p in view["priorities"] for c in p["chains"]}
    antenatal = chains["promote-early-antenatal-care"]
    moved = {m["indicator"] for m in antenatal["outcome_measures"]}
    assert moved >= {"early-booking", "antenatal-session-attendance", "low-birth-weight-term",
                     "premature-births"}
    assert antenatal["lead"]["sector"] == "health"
    assert {m["outcome"] for m in antenatal["outcome_measures"]} >= {"healthy-start"}
    sectors = {r["sector"] for r in view["contribution_matrix"]["rows"]}
    assert sectors >= {"health", "education", "social_care", "voluntary_and_community"}
    highlighted = [o for cell in view["framework"]["grid"] for o in cell["outcomes"]
                   if o["priorities"]]
    assert len(highlighted) >= 6


def test_map_of_a_broken_workspace_lists_its_gaps(example_copy: Path, tmp_path: Path) -> None:
    with (example_copy / "activities.yaml").open("a") as f:
        f.write("  - id: aimless\n    name: Leaflets\n    priorities: [first-1001-days]\n"
                "    lead: {partner: maternity-services}\n    cohort: everyone\n")
    out = tmp_path / "map.json"
    result = runner.invoke(app, ["map", str(example_copy), "--out", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    codes = [g["code"] for g in json.loads(out.read_text())["gaps"]]
    assert "activity.no-outcome" in codes and "activity.no-output" in codes


def test_map_refuses_a_workspace_it_cannot_read(tmp_path: Path) -> None:
    (tmp_path / "workspace.yaml").write_text("kind: workspace\nversion: 1\n")
    out = tmp_path / "map.html"
    result = run("map", str(tmp_path), "--out", str(out))
    assert result.returncode == 2
    assert "run 'outcomes check'" in result.stderr
    assert not out.exists()


def test_framework_prints_the_framework_as_json_and_yaml() -> None:
    as_json = runner.invoke(app, ["framework", "--format", "json"])
    as_yaml = runner.invoke(app, ["framework", "--format", "yaml"])
    assert as_json.exit_code == 0 and as_yaml.exit_code == 0
    assert json.loads(as_json.output) == yaml.safe_load(as_yaml.output)
    assert json.loads(as_json.output)["id"] == "london-cof"


def test_framework_names_the_releases_when_asked_for_an_unknown_one() -> None:
    result = run("framework", "--pin", "london-cof@0.1")
    assert result.returncode == 2
    assert "available: london-cof@1.0" in result.stderr


def test_the_committed_schemas_are_current() -> None:
    """Editors validate against schema/; `make schema` regenerates it."""
    committed = {p.stem.removesuffix(".schema"): p.read_text()
                 for p in (ROOT / "schema").glob("*.schema.json")}
    assert committed == Project.json_schemas()


def test_schema_writes_one_file_per_kind(tmp_path: Path) -> None:
    result = runner.invoke(app, ["schema", "--out", str(tmp_path)])
    assert result.exit_code == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "activities.schema.json" in names and "framework.schema.json" in names
    schema = json.loads((tmp_path / "activities.schema.json").read_text())
    assert schema["additionalProperties"] is False
    assert "activities" in schema["required"]


def test_every_example_file_points_editors_at_its_schema() -> None:
    for path in EXAMPLE.glob("*.yaml"):
        first = path.read_text().splitlines()[0]
        kind = yaml.safe_load(path.read_text())["kind"]
        if kind == "geography":
            continue  # written by `outcomes geography`
        assert first == f"# yaml-language-server: $schema=../../schema/{kind}.schema.json", path


def test_geography_rebuilds_the_example_from_ons_lookups(
    ons_geography: Path, example_copy: Path
) -> None:
    (example_copy / "geography.yaml").unlink()
    result = run("geography", str(example_copy), "--from", str(ons_geography))
    assert result.returncode == 0, result.stderr
    assert "20 wards, 169 LSOAs" in result.stdout
    assert (example_copy / "geography.yaml").read_text() == \
        (EXAMPLE / "geography.yaml").read_text()


def test_geography_for_an_unknown_borough_is_one_sentence(ons_geography: Path,
                                                          tmp_path: Path) -> None:
    result = run("geography", str(tmp_path), "--from", str(ons_geography), "--la", "E09999999")
    assert result.returncode == 2
    assert "'E09999999' is not a local authority code" in result.stderr
    assert not (tmp_path / "geography.yaml").exists()


def test_declare_writes_a_draft_once_and_refuses_to_write_over_it(tmp_path: Path) -> None:
    data = tmp_path / "visits.csv"
    data.write_text("visit_id,visit_date,outcome\nV1,2024-05-01,seen\nV2,2024-05-02,seen\n"
                    "V3,2024-05-03,not seen\nV4,2024-05-04,seen\n")
    out = tmp_path / "ws" / "sources" / "visits.yaml"
    args = ["declare", str(data), "--source", "visits", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "4 rows of visits.csv, key visit_id" in result.output
    drafted = yaml.safe_load(out.read_text())
    assert drafted["id"] == "visits" and drafted["key"] == ["visit_id"]
    out.write_text("kept")
    refused = run(*args)  # the installed script: a user's mistake is one sentence, exit 2
    assert refused.returncode == 2 and "already exists" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert out.read_text() == "kept"
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0
    assert yaml.safe_load(out.read_text())["id"] == "visits"
