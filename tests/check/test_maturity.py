"""The maturity model of the system conditions: the framework's own (shipped with its release)
covers every system condition with features whose every level is described and whose evidence
is a system indicator; a workspace's features join it; problems in the framework's own file
are reported at its file and line, like a workspace's."""

from __future__ import annotations

import shutil
from pathlib import Path

from common_outcomes.framework.load import SHIPPED
from common_outcomes.project import Project


def test_the_shipped_model_covers_every_system_condition(example_copy: Path) -> None:
    project = Project.open(example_copy)
    framework = project.framework.framework
    system = [o for o in framework.outcomes if o.layer == "system"]
    model = project.maturity
    assert [c.id for c in model.conditions] == [o.id for o in system]
    assert [x.id for x in model.levels] == ["emerging", "developing", "maturing", "embedded"]
    indicators = {i.id for o in system for i in o.indicators}
    shipped = [f for f in model.features if not f.local]
    assert len(shipped) >= 2 * len(system)
    for condition in model.conditions:
        assert [f for f in condition.features if not f.local], condition.id
    for feature in shipped:
        assert len(feature.descriptors) == 4 and all(d.strip() for d in feature.descriptors)
        assert len(set(feature.descriptors)) == 4, feature.id  # each level says something new
        assert feature.evidence and set(feature.evidence) <= indicators, feature.id
    # Every system indicator evidences some feature: none is left out of the model.
    assert {i for f in shipped for i in f.evidence} == indicators


def test_a_workspace_adds_its_own_features(example_copy: Path) -> None:
    model = Project.open(example_copy).maturity
    local = [f for f in model.features if f.local]
    assert [(f.id, f.condition) for f in local] == [("languages-of-the-borough",
                                                     "family-voice")]
    (example_copy / "maturity.yaml").unlink()
    assert not [f for f in Project.open(example_copy).maturity.features if f.local]


def test_problems_in_the_frameworks_own_model_are_reported_at_its_line(
        example_copy: Path) -> None:
    # The workspace brings its own copy of the release (frameworks/ comes before the shipped).
    release = example_copy / "frameworks" / "london-cof" / "1.0"
    shutil.copytree(SHIPPED / "london-cof" / "1.0", release)
    model = release / "maturity.yaml"
    text = model.read_text(encoding="utf-8")
    assert text.count("  - condition: family-voice\n") == 1
    model.write_text(text.replace("  - condition: family-voice\n",
                                  "  - condition: family-vioce\n"), encoding="utf-8")
    line = next(n for n, x in enumerate(model.read_text().splitlines(), 1)
                if "family-vioce" in x)
    checked = Project.check(example_copy)
    found = [(i.code, Path(i.location.file).name, i.location.line) for i in checked.issues
             if i.location is not None]
    assert ("maturity.unknown-condition", "maturity.yaml", line) in found
    assert not checked.ok
    # What is wrong is left out and the rest still reads: family voice keeps only the
    # workspace's own feature.
    assert checked.project is not None
    voice = next(c for c in checked.project.maturity.conditions if c.id == "family-voice")
    assert [f.id for f in voice.features] == ["languages-of-the-borough"]
