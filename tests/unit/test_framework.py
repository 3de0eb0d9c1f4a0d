"""The shipped Common Outcomes Framework: its shape, references and integrity checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from common_outcomes.errors import Issues
from common_outcomes.framework import available_frameworks, load_framework
from common_outcomes.framework.load import LoadedFramework

FINGERTIPS = {20101, 91743, 93085, 94121, 92517, 93436, 90631, 90632, 30309, 90319, 90323,
              90284, 90803, 93203, 20401, 92196, 93701}
SYSTEM_CONDITIONS = {"shared-leadership", "integrated-governance", "better-use-of-data",
                     "learning-and-improvement", "skilled-workforce", "family-voice"}


@pytest.fixture(scope="module")
def shipped() -> LoadedFramework:
    issues = Issues()
    loaded = load_framework(available_frameworks()["london-cof@1.0"], issues)
    assert [str(i) for i in issues] == []
    assert loaded is not None
    return loaded


def test_five_domains_over_three_layers(shipped: LoadedFramework) -> None:
    fw = shipped.framework
    assert [d.name for d in fw.domains] == ["Safe", "Healthy", "Happy", "Learning", "Engaged"]
    assert [layer.id for layer in fw.layers] == ["children", "parents", "system"]


def test_every_domain_has_outcomes_for_children_and_for_parents(shipped: LoadedFramework) -> None:
    fw = shipped.framework
    for layer in ("children", "parents"):
        for domain in fw.domains:
            cell = fw.cell(layer, domain.id)
            assert cell, f"no {layer} outcome in {domain.name}"
            assert any(o.indicators for o in cell), f"no {layer} indicator in {domain.name}"


def test_the_system_layer_holds_the_named_conditions(shipped: LoadedFramework) -> None:
    system = {o.id for o in shipped.framework.outcomes if o.layer == "system"}
    assert system >= SYSTEM_CONDITIONS
    for o in shipped.framework.outcomes:
        if o.layer == "system":
            assert o.indicators, o.id
            assert all(not i.supporting_families for i in o.indicators), o.id


def test_at_least_45_indicators_with_every_required_field(shipped: LoadedFramework) -> None:
    indicators = shipped.framework.indicators
    assert len(indicators) >= 45
    for ind in indicators:
        assert ind.definition and ind.numerator and ind.denominator, ind.id
        assert ind.data_source is not None, ind.id


def test_the_official_references_are_carried(shipped: LoadedFramework) -> None:
    found = {i.references.fingertips for i in shipped.framework.indicators}
    assert found >= FINGERTIPS
    assert any(i.references.dfe for i in shipped.framework.indicators)
    assert any(i.references.ohid for i in shipped.framework.indicators)


def test_the_supporting_families_crosswalk_reaches_all_ten(shipped: LoadedFramework) -> None:
    fw = shipped.framework
    assert len(fw.supporting_families) == 10
    used = {sf for i in fw.indicators for sf in i.supporting_families}
    assert used == {s.id for s in fw.supporting_families}


def _copy(tmp_path: Path) -> Path:
    src = available_frameworks()["london-cof@1.0"]
    target = tmp_path / "london-cof" / "1.0"
    shutil.copytree(src, target)
    return target


def test_an_outcome_in_an_unknown_cell_is_reported(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "children.yaml"
    text = path.read_text()
    path.write_text(text.replace("domain: healthy", "domain: wealthy", 1))
    line = text.splitlines().index("    domain: healthy") + 1
    issues = Issues()
    load_framework(folder, issues)
    found = [(i.code, i.location.line if i.location else None) for i in issues]
    assert ("ref.unknown-domain", line) in found


def test_a_duplicate_indicator_id_across_files_is_reported(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "parents.yaml"
    text = path.read_text()
    path.write_text(text.replace("- id: early-booking", "- id: low-birth-weight-term", 1))
    issues = Issues()
    load_framework(folder, issues)
    dupes = [i for i in issues if i.code == "ref.duplicate-id"]
    assert len(dupes) == 1
    assert dupes[0].location is not None and dupes[0].location.file.endswith("parents.yaml")
    assert "children.yaml" in dupes[0].message


def test_a_release_in_the_wrong_folder_is_reported(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    moved = folder.parent / "2.0"
    folder.rename(moved)
    issues = Issues()
    load_framework(moved, issues)
    assert "framework.folder-mismatch" in [i.code for i in issues]
