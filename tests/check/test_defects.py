"""`outcomes check` finds every class of defect, at the right file and line.

Each defect is an edit to a copy of the Tower Hamlets example plus the issue it must
produce. Every defect is tested alone, and then all of them at once in one copy, which
must report each one (nothing hides another) and exit 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from common_outcomes.cli import app
from common_outcomes.project import Checked, Project


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not unique in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(text)


def line_of(path: Path, marker: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    hits = [n for n, line in enumerate(lines, 1) if marker in line]
    assert len(hits) == 1, f"{marker!r} found {len(hits)} times in {path.name}"
    return hits[0]


@dataclass(frozen=True)
class Defect:
    name: str
    code: str
    file: str
    apply: Callable[[Path], None]
    marker: str  # text on the line the issue must point at, after the edit

    def expected(self, ws: Path) -> tuple[str, str, int]:
        return (self.code, self.file, line_of(ws / self.file, self.marker))


DEFECTS = [
    Defect("malformed YAML", "yaml.syntax", "more-partners.yaml",
           lambda ws: (ws / "more-partners.yaml").write_text(
               "kind: partners\nversion: 1\npartners:\n  - id: broken-partner\n"
               "   name: Mis-indented # BAD-YAML\n"),
           "BAD-YAML"),
    Defect("unknown key", "schema.unknown-key", "workspace.yaml",
           lambda ws: replace_once(ws / "workspace.yaml", "title: ",
                                   "colour: blue\ntitle: "),
           "colour: blue"),
    Defect("wrong type", "schema.invalid-value", "targets.yaml",
           lambda ws: append(ws / "targets.yaml",
                             "  - indicator: early-booking\n    area: E09000030\n"
                             "    period: 2026/27\n    value: a lot  # WRONG-TYPE\n"
                             "    set_by: test\n    rationale: test\n"),
           "WRONG-TYPE"),
    Defect("unknown partner", "ref.unknown-partner", "activities.yaml",
           lambda ws: replace_once(ws / "activities.yaml",
                                   "lead: {partner: maternity-services, service: community-midw",
                                   "lead: {partner: maternity-servics, service: community-midw"),
           "maternity-servics"),
    Defect("unknown indicator", "ref.unknown-indicator", "priorities.yaml",
           lambda ws: replace_once(ws / "priorities.yaml", "      - antenatal-session-attendance\n",
                                   "      - antenatal-session-atendance\n"),
           "antenatal-session-atendance"),
    Defect("unknown outcome", "ref.unknown-outcome", "priorities.yaml",
           lambda ws: replace_once(ws / "priorities.yaml",
                                   "outcomes: [ready-for-school, growing-up-healthy]",
                                   "outcomes: [ready-for-school, growing-up-wealthy]"),
           "growing-up-wealthy"),
    Defect("duplicate id", "ref.duplicate-id", "more-activities.yaml",
           lambda ws: (ws / "more-activities.yaml").write_text(
               "kind: activities\nversion: 1\nactivities:\n"
               "  - id: promote-early-antenatal-care  # DUPLICATE\n"
               "    name: Copy\n    priorities: [first-1001-days]\n"
               "    lead: {partner: maternity-services}\n    cohort: everyone\n"
               "    output_measures: [{id: copies, name: Copies, type: how_much}]\n"
               "    outcome_measures: [{indicator: early-booking, direction: increase}]\n"),
           "DUPLICATE"),
    Defect("priority with no measure", "priority.no-measure", "priorities.yaml",
           lambda ws: append(ws / "priorities.yaml",
                             "  - id: no-measure-priority\n    order: 7\n"
                             "    title: A priority with nothing to measure\n"
                             "    outcomes: [healthy-start]\n"),
           "id: no-measure-priority"),
    Defect("priority with no activity", "priority.no-activity", "priorities.yaml",
           lambda ws: append(ws / "priorities.yaml",
                             "  - id: no-activity-priority\n    order: 8\n"
                             "    title: A priority nobody works on\n"
                             "    outcomes: [healthy-start]\n    measures: [infant-mortality]\n"),
           "id: no-activity-priority"),
    Defect("activity without outcome", "activity.no-outcome", "activities.yaml",
           lambda ws: append(ws / "activities.yaml",
                             "  - id: busy-but-aimless\n    name: Leaflets\n"
                             "    priorities: [first-1001-days]\n"
                             "    lead: {partner: maternity-services}\n    cohort: everyone\n"
                             "    output_measures: [{id: leaflets, name: Leaflets, "
                             "type: how_much}]\n"),
           "id: busy-but-aimless"),
    Defect("indicator with no data source", "indicator.no-source", "indicators.yaml",
           lambda ws: append(ws / "indicators.yaml",
                             "  - id: sourceless-indicator\n    name: From nowhere\n"
                             "    definition: d\n    numerator: n\n    denominator: d\n"
                             "    unit: percent\n    polarity: high_is_good\n"
                             "    period_type: financial_year\n"),
           "id: sourceless-indicator"),
    Defect("target for an unknown area", "target.unknown-area", "targets.yaml",
           lambda ws: append(ws / "targets.yaml",
                             "  - indicator: early-booking\n    area: E05000026  # NOT-OURS\n"
                             "    period: 2027/28\n    value: 80\n"
                             "    set_by: test\n    rationale: test\n"),
           "NOT-OURS"),
    Defect("target for an unknown period", "target.unknown-period", "targets.yaml",
           lambda ws: append(ws / "targets.yaml",
                             "  - indicator: low-birth-weight-term\n    area: E09000030\n"
                             "    period: 2027/28  # WRONG-PERIOD\n    value: 2.5\n"
                             "    set_by: test\n    rationale: test\n"),
           "WRONG-PERIOD"),
    Defect("localities that overlap", "locality.overlap", "localities.yaml",
           # Bethnal Green East is in the first locality; listing it in a later one overlaps.
           lambda ws: replace_once(ws / "localities.yaml", "      - E05009336  # Whitechapel\n",
                                   "      - E05009336  # Whitechapel\n"
                                   "      - E05009317  # OVERLAP\n"),
           "OVERLAP"),
    Defect("wards left unassigned", "locality.unassigned", "localities.yaml",
           lambda ws: replace_once(ws / "localities.yaml", "      - E05009335  # Weavers\n", ""),
           "id: north-west"),
    Defect("indicator expression with an unknown column", "expression.unknown-column",
           "definitions/maternity.yaml",
           lambda ws: replace_once(ws / "definitions" / "maternity.yaml",
                                   "    numerator: birth_weight_g < 2500\n",
                                   "    numerator: birth_wieght_g < 2500  # TYPO\n"),
           "TYPO"),
    Defect("indicator expression with a forbidden construct", "expression.forbidden",
           "definitions/maternity.yaml",
           lambda ws: replace_once(ws / "definitions" / "maternity.yaml",
                                   "    numerator: smoking_at_delivery = 'Y'\n",
                                   "    numerator: upper(smoking_at_delivery) = 'Y'  # FUNC\n"),
           "FUNC"),
    Defect("indicator definition for an unknown source", "ref.unknown-source",
           "definitions/maternity.yaml",
           lambda ws: replace_once(ws / "definitions" / "maternity.yaml",
                                   "  - indicator: early-booking\n    source: maternity\n",
                                   "  - indicator: early-booking\n    source: maternty  # SRC\n"),
           "SRC"),
    Defect("activity that stops before it starts", "activity.dates", "activities.yaml",
           lambda ws: replace_once(ws / "activities.yaml",
                                   "    name: Group parenting programmes\n    start: 2024-04-01\n",
                                   "    name: Group parenting programmes\n    start: 2024-04-01\n"
                                   "    end: 2024-03-01  # STOPS-EARLY\n"),
           "STOPS-EARLY"),
    Defect("framework version the workspace cannot use", "framework.unavailable",
           "workspace.yaml",
           lambda ws: replace_once(ws / "workspace.yaml", "framework: london-cof@1.0",
                                   "framework: london-cof@9.9"),
           "framework: london-cof@9.9"),
    # The maturity model (the workspace's own features, maturity.yaml; the framework's own
    # file is checked the same way: tests/check/test_maturity.py).
    Defect("maturity feature for an unknown condition", "maturity.unknown-condition",
           "maturity.yaml",
           lambda ws: replace_once(ws / "maturity.yaml", "  - condition: family-voice\n",
                                   "  - condition: family-voices\n"),
           "family-voices"),
    Defect("maturity level without its descriptor", "maturity.missing-descriptor",
           "maturity.yaml",
           lambda ws: (replace_once(ws / "maturity.yaml", "        levels:\n",
                                    "        levels:  # MISSING-DESCRIPTOR\n"),
                       replace_once(ws / "maturity.yaml", "          embedded: Families who "
                                    "speak any of the borough's main languages find, use and "
                                    "shape help as easily as English speakers.\n", "")),
           "MISSING-DESCRIPTOR"),
    Defect("maturity descriptor for a level the model has not", "maturity.unknown-level",
           "maturity.yaml",
           lambda ws: replace_once(ws / "maturity.yaml", "          maturing: Family Hubs",
                                   "          excellent: Beyond.  # UNKNOWN-LEVEL\n"
                                   "          maturing: Family Hubs"),
           "UNKNOWN-LEVEL"),
    Defect("maturity evidence from an unknown indicator", "maturity.unknown-indicator",
           "maturity.yaml",
           lambda ws: replace_once(ws / "maturity.yaml",
                                   "evidence: [families-feel-listened-to]",
                                   "evidence: [families-feel-listend-to]"),
           "families-feel-listend-to"),
    Defect("maturity feature declared twice", "maturity.duplicate-feature", "maturity.yaml",
           lambda ws: append(ws / "maturity.yaml",
                             "      - feature: shared-vision  # DUPLICATE-FEATURE\n"
                             "        name: The framework's feature again\n"
                             "        levels: {emerging: a, developing: b, maturing: c, "
                             "embedded: d}\n"),
           "DUPLICATE-FEATURE"),
]


def found(project: Checked, root: Path) -> set[tuple[str, str, int]]:
    out = set()
    for issue in project.issues:
        loc = issue.location
        if loc is not None and loc.line is not None:
            out.add((issue.code, str(Path(loc.file).resolve().relative_to(root.resolve())),
                     loc.line))
    return out


def test_the_example_is_clean(example_copy: Path) -> None:
    project = Project.check(example_copy)
    assert [str(i) for i in project.issues] == []


@pytest.mark.parametrize("defect", DEFECTS, ids=[d.name for d in DEFECTS])
def test_each_defect_is_reported_at_its_file_and_line(example_copy: Path, defect: Defect) -> None:
    defect.apply(example_copy)
    project = Project.check(example_copy)
    assert defect.expected(example_copy) in found(project, example_copy), \
        [str(i) for i in project.issues]
    assert not project.ok


def test_all_defects_at_once_are_all_reported_and_check_exits_1(
    example_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for defect in DEFECTS:
        defect.apply(example_copy)
    monkeypatch.chdir(example_copy)
    result = CliRunner().invoke(app, ["check", ".", "--format", "json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    reported = {(i["code"], i["file"], i["line"]) for i in report["issues"]}
    missing = [d.name for d in DEFECTS if d.expected(example_copy) not in reported]
    assert missing == []
    assert report["errors"] >= len(DEFECTS)
    for issue in report["issues"]:
        assert issue["severity"] in {"error", "warning"}
        assert issue["message"].endswith(".")
        assert issue["line"] is None or issue["line"] >= 1
