"""The carried reference tables: each file matches its manifest's checksum and row count,
`outcomes reference` lists them, and `outcomes reference update` replaces one from a newer
published release (or refuses a file that is not one, changing nothing)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from common_outcomes import reference

EXE = Path(sys.executable).with_name("outcomes")
KIND = "dfe-children-in-need"


def _files() -> set[str]:
    return {str(p.relative_to(reference.DATA)) for p in reference.DATA.rglob("*")
            if p.is_file() and p.name not in (reference.MANIFEST, "SOURCES.md")}


def test_every_carried_file_matches_its_manifest() -> None:
    tables = reference.read_manifest(reference.DATA)
    assert len(tables) == 18 and len({t.kind for t in tables}) == 18
    assert {t.file for t in tables} == _files()  # nothing carried that the manifest omits
    for t in tables:
        path = reference.DATA / t.file
        assert reference.sha256_of(path) == t.sha256, t.file
        with path.open(encoding="utf-8-sig", newline="") as f:
            assert sum(1 for _ in csv.reader(f)) - 1 == t.rows, t.file
        assert t.publisher and t.release and t.licence and t.built_from


def test_a_changed_byte_fails_the_checksum(tmp_path: Path) -> None:
    table = reference.read_manifest(reference.DATA)[0]
    copy = tmp_path / "copy.csv"
    data = bytearray((reference.DATA / table.file).read_bytes())
    data[-2] = ord("9") if data[-2] != ord("9") else ord("8")
    copy.write_bytes(bytes(data))
    assert reference.sha256_of(copy) != table.sha256


def _outcomes(*args: str, updates: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, reference.OVERRIDE_ENV: str(updates), "COLUMNS": "300"}
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, check=False,
                          timeout=60, env=env)


def test_outcomes_reference_lists_every_table_with_its_release_and_age(tmp_path: Path) -> None:
    done = _outcomes("reference", updates=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for t in reference.read_manifest(reference.DATA):
        [line] = [x for x in lines if x.startswith(f"{t.kind} ")]
        assert f"{t.rows} rows" in line and t.release in line and t.publisher in line
        if t.data_to is not None:
            assert f"data to {t.data_to.isoformat()}" in line and "years" in line
    assert str(tmp_path) in lines[-1]


def _newer_release(path: Path) -> None:
    """b1 as DfE would publish it a year on: every authority, every column, and a 2026 row
    for each area (the carried table's 2025 rows, a year later)."""
    with reference.path(KIND).open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    header = [*rows[0].keys(), "Started_child_percent"]
    later = [{**r, "time_period": "2026"} for r in rows if r["time_period"] == "2025"]
    elsewhere = {**rows[-1], "new_la_code": "E06000001", "la_name": "Hartlepool"}
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.DictWriter(f, header, restval="5")
        writer.writeheader()
        writer.writerows([*rows, *later, elsewhere])


def test_an_update_from_a_newer_release_is_what_readers_use(tmp_path: Path) -> None:
    updates, download = tmp_path / "updates", tmp_path / "b1_children_in_need_2013_to_2026.csv"
    _newer_release(download)
    done = _outcomes("reference", "update", KIND, str(download), updates=updates)
    assert done.returncode == 0, done.stderr
    assert "182 rows, data to 2026-03-31" in done.stdout  # 169 + 13 areas; not Hartlepool
    [table] = reference.read_manifest(updates)
    assert (table.kind, table.rows, table.release) == (KIND, 182, download.name)
    written = updates / table.file
    assert reference.sha256_of(written) == table.sha256
    with written.open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))
    with reference.DATA.joinpath(table.file.replace("2026", "2025")).open(
            encoding="utf-8") as f:
        assert header == next(csv.reader(f))  # the columns the product reads, no others
    listed = _outcomes("reference", updates=updates).stdout
    assert f"{download.name} (updated)" in listed
    os.environ[reference.OVERRIDE_ENV], before = str(updates), os.environ[
        reference.OVERRIDE_ENV]
    try:
        assert reference.path(KIND) == written
        assert written in reference.comparator_files()
        assert reference.DATA / "comparators" / "b1_children_in_need_2013_to_2025.csv" \
            not in reference.comparator_files()
    finally:
        os.environ[reference.OVERRIDE_ENV] = before


@pytest.mark.parametrize(("kind", "edit", "message"), [
    (KIND, lambda text: text.replace("At31_episodes", "At31_episode", 1),
     "has no column 'At31_episodes', which the dfe-children-in-need table needs"),
    (KIND, lambda text: "\n".join(text.splitlines()[::len(text.splitlines()) - 1]),  # Hartlepool
     "has no rows for England, London or the example's borough"),
    ("calibration", lambda text: text, "derived from several published files"),
    ("dfe-children-in-needs", lambda text: text, "There is no reference table"),
])
def test_a_bad_update_is_one_sentence_and_changes_nothing(
        tmp_path: Path, kind: str, edit: object, message: str) -> None:
    download = tmp_path / "b1_children_in_need_2013_to_2026.csv"
    _newer_release(download)
    assert callable(edit)
    download.write_text(edit(download.read_text(encoding="utf-8-sig")), encoding="utf-8")
    updates = tmp_path / "updates"
    done = _outcomes("reference", "update", kind, str(download), updates=updates)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    if kind == KIND:
        assert str(download) in done.stderr
    assert not updates.exists() or not any(updates.iterdir())
