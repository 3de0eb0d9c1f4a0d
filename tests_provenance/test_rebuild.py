"""Every carried reference table, its manifest and the example's geography are what the
builders write from the published originals, byte for byte."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from common_outcomes import provenance, reference
from common_outcomes.synth.calibration import SUPPRESSION_MARKERS, load_calibration

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "tower-hamlets"
EXE = Path(sys.executable).with_name("outcomes")


@pytest.fixture(scope="module")
def rebuilt(originals: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rebuilt")
    done = subprocess.run([str(EXE), "reference", "build", "--from", str(originals), "--out",
                           str(out)], capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr
    return out


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")
            if p.is_file() and p.name != "SOURCES.md" and not p.name.startswith(".")}


def test_every_carried_table_and_the_manifest_are_rebuilt_identically(rebuilt: Path) -> None:
    carried = _files(reference.DATA)
    assert carried == _files(rebuilt)
    assert len(carried) == len(reference.read_manifest(reference.DATA)) + 1  # and manifest
    different = [name for name in sorted(carried)
                 if (reference.DATA / name).read_bytes() != (rebuilt / name).read_bytes()]
    assert different == []
    print(f"\n{len(carried)} files rebuilt identically from the published originals")


def test_the_examples_geography_and_boundaries_are_what_the_commands_write(
        originals: Path, tmp_path: Path) -> None:
    geography = originals / "data" / "geography"
    for command, name in (("geography", "geography.yaml"),
                          ("boundaries", "boundaries/wards.geojson")):
        done = subprocess.run([str(EXE), command, str(tmp_path), "--from", str(geography),
                               "--la", "E09000030"], capture_output=True, text=True,
                              check=False, timeout=120)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / name).read_text() == (EXAMPLE / name).read_text(), name


def test_every_suppressed_children_in_need_count_is_absent_from_calibration(
        originals: Path) -> None:
    cal = load_calibration()
    path = originals / "data" / "published" / "b1_children_in_need_2013_to_2025.csv"
    with path.open(encoding="utf-8-sig", newline="") as f:
        suppressed = [r for r in csv.DictReader(f) if r["geographic_level"] == "Local authority"
                      and r["At31_episodes"].strip().lower() in SUPPRESSION_MARKERS]
    assert len(suppressed) > 2
    for r in suppressed:
        assert cal.value("cin_rate_per_10k", r["new_la_code"], r["time_period"]) is None


def test_a_full_published_file_updates_its_table_to_the_carried_one(
        originals: Path, tmp_path: Path) -> None:
    """`outcomes reference update` derives from a publisher's whole file exactly what the
    build carries."""
    for spec in provenance.COMPARATORS:
        table = provenance.update(spec.kind, originals / "data" / "published" / spec.original,
                                  tmp_path)
        carried = reference.read_manifest(reference.DATA)
        assert table.sha256 == next(t.sha256 for t in carried if t.kind == spec.kind)
