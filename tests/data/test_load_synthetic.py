"""Every synthetic source loads through `outcomes load`; the analytic store holds no raw
identifier; loading again is a no-op; history, rollback and retention work end to end; and a
load killed at any moment leaves the store as it was or as it would be."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from common_outcomes.data.store import Store, open_store

# Its tests run whole commands (synthesise, load, run, serve): more than the default timeout.
pytestmark = pytest.mark.timeout(900)
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "tower-hamlets"


def outcomes(*args: str, env_key: Path | None = None) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("outcomes")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=600,
                          check=False, env=None)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("load")
    ws = root / "tower-hamlets"
    shutil.copytree(EXAMPLE, ws, ignore=shutil.ignore_patterns(
        "incoming", "synth-truth", ".outcomes", ".synth-staging-*"))
    key = root / "pseudonymisation.key"  # outside the workspace, as a real key must be
    key.write_text("0123456789abcdef" * 4)
    assert outcomes("synth", str(ws), "--years", "2", "--seed", "3").returncode == 0
    return ws, key


@pytest.fixture(scope="module")
def loaded(workspace: tuple[Path, Path]) -> tuple[Path, Path, str]:
    ws, key = workspace
    result = outcomes("load", str(ws), "--all", "--key-file", str(key))
    assert result.returncode == 0, result.stdout + result.stderr
    return ws, key, result.stdout


def rows_in_store(store: Store, version_id: str) -> int:
    return sum(pq.read_metadata(p).num_rows for p in store.version_files(version_id))


def test_every_synthetic_source_loads_every_row(loaded: tuple[Path, Path, str]) -> None:
    """One current version per source, holding every row of the file it came from."""
    ws, _, stdout = loaded
    assert "17 loaded, 0 with rows quarantined, 0 unchanged, 0 rejected" in stdout
    # Each incoming file by its SHA-256 (what a version's manifest records), with its rows.
    incoming = {hashlib.sha256(f.read_bytes()).hexdigest(): pq.read_metadata(f).num_rows
                for f in sorted((ws / "incoming").rglob("*.parquet"))}
    assert len(incoming) == 17
    store = open_store(ws)
    history = store.history()
    assert len({v.source for v in history}) == len(history) == 17
    for version in history:
        m = version.manifest
        assert version.status == "current", m.source
        assert m.rows_read == m.rows_accepted == incoming[m.sha256] > 0, m.source
        assert m.rows_quarantined == 0, m.source
        assert rows_in_store(store, version.version_id) == m.rows_accepted, m.source


def test_no_raw_identifier_reaches_the_analytic_store(loaded: tuple[Path, Path, str]) -> None:
    ws, _, _ = loaded
    people = pq.read_table(ws / "synth-truth" / "people" / "E09000030.parquet")
    secrets = set()
    for column in ("nhs_number", "upn", "forename", "surname"):
        secrets |= {v for v in people.column(column).to_pylist() if v}
    postcodes = pq.read_table(ws / "incoming" / "postcode_directory" / "E09000030.parquet")
    full_postcodes = set(postcodes.column("postcode").to_pylist())
    store = ws / ".outcomes" / "store" / "versions"
    parts = sorted(store.rglob("data/*.parquet"))
    assert len(parts) >= 17
    for part in parts:
        table = pq.read_table(part)
        source = part.parts[-4]
        for name in table.column_names:
            assert not name.endswith(("forename", "surname", "_dob")), (source, name)
            column = table.column(name)
            if str(column.type) != "string":
                continue
            values = set(column.to_pylist())
            leaked = values & secrets
            assert not leaked, (source, name, sorted(leaked)[:3])
            if source != "postcode-directory":  # the directory itself is not about a person
                assert not values & full_postcodes, (source, name)
    # The raw identifiers do exist, in linkage staging only.
    linkage = sorted((ws / ".outcomes" / "store" / "linkage").rglob("*.parquet"))
    assert any("mother_forename" in pq.read_schema(p).names for p in linkage)


def test_loading_again_is_a_no_op_that_says_so(loaded: tuple[Path, Path, str]) -> None:
    ws, key, _ = loaded
    before = (ws / ".outcomes" / "store" / "catalog.json").read_bytes()
    again = outcomes("load", str(ws), "--all", "--key-file", str(key))
    assert again.returncode == 0
    assert "0 loaded, 0 with rows quarantined, 17 unchanged, 0 rejected" in again.stdout
    assert (ws / ".outcomes" / "store" / "catalog.json").read_bytes() == before


def test_a_missing_key_stops_the_load_in_one_sentence(workspace: tuple[Path, Path]) -> None:
    ws, _ = workspace
    result = outcomes("load", str(ws), "--all")
    assert result.returncode == 2
    assert "No pseudonymisation key" in result.stderr and "Traceback" not in result.stderr


def test_a_key_inside_the_workspace_is_refused(workspace: tuple[Path, Path]) -> None:
    ws, _ = workspace
    inside = ws / "key.txt"
    inside.write_text("x" * 64)
    try:
        result = outcomes("load", str(ws), "--all", "--key-file", str(inside))
    finally:
        inside.unlink()
    assert result.returncode == 2 and "inside the workspace folder" in result.stderr


def test_a_corrected_resubmission_supersedes_and_rollback_restores(
        loaded: tuple[Path, Path, str], tmp_path: Path) -> None:
    ws, key, _ = loaded
    original = ws / "incoming" / "eyfsp" / "E09000030.parquet"
    table = pq.read_table(original)
    corrected = tmp_path / "eyfsp-corrected.parquet"
    pq.write_table(table.slice(0, table.num_rows - 10), corrected)
    result = outcomes("load", str(ws), "eyfsp", str(corrected), "--key-file", str(key))
    assert result.returncode == 0, result.stdout
    history = json.loads(outcomes("history", str(ws), "--source", "eyfsp", "--format",
                                  "json").stdout)
    assert [v["status"] for v in history] == ["superseded", "current"]
    first, second = history[0]["version_id"], history[1]["version_id"]
    restored = outcomes("rollback", str(ws), first)
    assert restored.returncode == 0, restored.stderr
    assert "current again" in restored.stdout
    after = json.loads(outcomes("history", str(ws), "--source", "eyfsp", "--format",
                                "json").stdout)
    status = {v["version_id"]: v["status"] for v in after}
    assert status[first] == "current" and status[second] != "current"
    unknown = outcomes("rollback", str(ws), "no-such-version")
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr


def test_retention_lists_then_deletes_and_audits(workspace: tuple[Path, Path],
                                                 tmp_path: Path) -> None:
    ws, key = workspace
    copy = tmp_path / "ws"
    shutil.copytree(ws, copy, ignore=shutil.ignore_patterns(".outcomes"))
    assert outcomes("load", str(copy), "maternity",
                    str(copy / "incoming" / "maternity" / "E09000030.parquet"), "--key-file",
                    str(key)).returncode == 0
    listed = outcomes("retention", str(copy), "--today", "2100-01-01")
    assert "past retention" in listed.stdout and "due:" in listed.stdout
    assert list((copy / ".outcomes" / "store" / "versions").rglob("*.parquet"))
    applied = outcomes("retention", str(copy), "--apply", "--today", "2100-01-01")
    assert applied.returncode == 0 and "deleted" in applied.stdout
    assert not list((copy / ".outcomes" / "store" / "versions").rglob("*.parquet"))
    audit = (copy / ".outcomes" / "store" / "audit.jsonl").read_text()
    assert "retention" in audit


def test_quality_reports_every_source_and_period(loaded: tuple[Path, Path, str]) -> None:
    ws, _, _ = loaded
    result = outcomes("quality", str(ws), "--format", "json")
    rows = json.loads(result.stdout)
    assert {r["source"] for r in rows} >= {"maternity", "eyfsp", "ssd-cin-episodes"}
    assert all(0 <= r["completeness"] <= 1 and 0 <= r["validity"] <= 1 for r in rows)


def test_a_load_killed_at_any_moment_leaves_the_store_whole(workspace: tuple[Path, Path],
                                                             tmp_path: Path) -> None:
    ws, key = workspace
    copy = tmp_path / "ws"
    shutil.copytree(ws, copy, ignore=shutil.ignore_patterns(".outcomes"))
    exe = Path(sys.executable).with_name("outcomes")
    for delay in (0.3, 0.8, 1.5, 2.5, 4.0):
        proc = subprocess.Popen([str(exe), "load", str(copy), "--all", "--key-file", str(key)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        store = open_store(copy)
        with store.lock():  # taking the lock recovers whatever the kill left behind
            # Every version the catalog names is whole: its parts hold the rows it accepted.
            for version in store.history():
                assert rows_in_store(store, version.version_id) == \
                    version.manifest.rows_accepted, version.source
        staging = copy / ".outcomes" / "store" / ".staging"
        assert not staging.exists() or not any(staging.iterdir()), delay
    finished = outcomes("load", str(copy), "--all", "--key-file", str(key))
    assert finished.returncode == 0
    store = open_store(copy)
    current = [v for v in store.history() if v.status == "current"]
    assert len({v.source for v in current}) == 17
    assert all(rows_in_store(store, v.version_id) == v.manifest.rows_accepted > 0
               for v in current)


def test_a_derived_test_is_worked_out_from_the_exact_date_and_stored_as_true_or_false(
        loaded: tuple[Path, Path, str]) -> None:
    """Health visiting: 'within 14 days of birth' needs the exact date of birth, which only
    linkage staging keeps; the store holds the answer, not the date."""
    ws, _, _ = loaded
    raw = pq.read_table(ws / "incoming" / "health_visiting" / "E09000030.parquet")
    parts = sorted((ws / ".outcomes" / "store" / "versions" / "health-visiting").rglob(
        "data/*.parquet"))
    stored = pa.concat_tables(pq.read_table(p) for p in parts)
    assert stored.schema.field("within_14_days_of_birth").type == pa.bool_()
    assert "child_dob" not in stored.column_names
    by_id = dict(zip(stored.column("contact_id").to_pylist(),
                     stored.column("within_14_days_of_birth").to_pylist(), strict=True))
    checked = 0
    for contact, dob, when in zip(raw.column("contact_id").to_pylist(),
                                  raw.column("child_dob").to_pylist(),
                                  raw.column("contact_date").to_pylist(), strict=True):
        if contact in by_id and dob is not None and when is not None:
            assert by_id[contact] == ((when - dob).days <= 14), contact
            checked += 1
    assert checked > 1000
    assert 0 < sum(bool(v) for v in by_id.values()) < len(by_id)
