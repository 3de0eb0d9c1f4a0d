"""The versioned store: versions, supersede, rollback, retention, locking, and surviving kill -9."""

from __future__ import annotations

import inspect
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from common_outcomes.data.store import Manifest, Store, StoreBusy, StoreError, open_store

FAR = date(2099, 1, 1)
ROOT_ENTRIES = {"versions", "linkage", ".staging", "catalog.json", "audit.jsonl", ".lock"}


# --- helpers; the first three also run in the child processes (their source is shipped) ---


def make_manifest(source: str, periods: list[str], sha: str, retention: date = FAR,
                  linkage_retention: date = FAR) -> Manifest:
    return Manifest(
        source=source, file_name=f"{sha}.csv", sha256=sha, size_bytes=100, encoding="utf-8",
        format="csv", loaded_at="2025-01-01T00:00:00+00:00", loaded_by="tester",
        agreement="DSA-7", partner="Barts Health", periods=tuple(periods),
        rows_read=3 * len(periods) + 1, rows_accepted=3 * len(periods), rows_quarantined=1,
        retention_until=retention, linkage_retention_until=linkage_retention,
        policy="quarantine", columns={"period": "string", "value": "int64"},
    )


def write_version(store: Store, source: str, periods: list[str], sha: str,
                  retention: date = FAR, linkage_retention: date = FAR) -> Any:
    """Stage a part per period (plus linkage and quarantine parts) and commit it."""
    with store.stage(source) as staged:
        for i, period in enumerate(periods):
            pq.write_table(pa.table({"period": [period] * 3, "value": [i, i + 1, i + 2]}),
                           staged.data_dir / f"part-{i:05d}.parquet")
            pq.write_table(pa.table({"source_row": [1, 2, 3], "nhs_number": ["9434765919"] * 3}),
                           staged.linkage_dir / f"part-{i:05d}.parquet")
        pq.write_table(pa.table({"row": [4]}), staged.quarantine_dir / "part-00000.parquet")
        manifest = make_manifest(source, periods, sha, retention, linkage_retention)
        return store.commit(staged, manifest)


def perform(store: Store, op: str, arg: str) -> None:
    """The change the kill test interrupts."""
    if op == "commit":
        write_version(store, "contacts", ["2024/25", "2025/26"], "new")
    elif op == "rollback":
        store.rollback(arg, by="tester")
    elif op == "retention":
        store.apply_retention(date.fromisoformat(arg), by="tester", apply=True)


CHILD_HEAD = """\
from __future__ import annotations
import json, os, sys, time
from datetime import date
from pathlib import Path
from typing import Any
import pyarrow as pa
import pyarrow.parquet as pq
from common_outcomes.data.store import Manifest, Store
FAR = date(2099, 1, 1)
"""
CHILD_MAIN = """
store = Store(Path(sys.argv[1]))
op = sys.argv[2]
if op == "loop":  # commit (and now and then roll back) until killed
    print("ready", flush=True)
    n = 0
    while True:
        n += 1
        write_version(store, "contacts", [["2023/24", "2024/25", "2025/26"][n % 3]],
                      f"loop-{os.getpid()}-{n}")
        if n % 4 == 0:
            store.rollback(store.history("contacts")[0].version_id, by="tester")
elif op == "concurrent":  # wait for the go file, then load while holding the lock a while
    print("ready", flush=True)
    while not Path(sys.argv[3]).exists():
        time.sleep(0.002)
    with store.lock():
        start = time.time()
        info = write_version(store, "contacts", ["2024/25"], sys.argv[4])
        time.sleep(0.2)
        end = time.time()
    print(json.dumps([start, end, info.version_id]))
else:
    perform(store, op, sys.argv[3])
"""
CHILD = "\n\n".join([CHILD_HEAD, *(textwrap.dedent(inspect.getsource(f))
                                   for f in (make_manifest, write_version, perform)), CHILD_MAIN])


def child(root: Path, *args: str, crash_at: int | None = None, **kw: Any) -> Any:
    env = dict(os.environ)
    env.pop("OUTCOMES_STORE_CRASH_AT", None)
    if crash_at is not None:
        env["OUTCOMES_STORE_CRASH_AT"] = str(crash_at)
    return subprocess.run([sys.executable, "-c", CHILD, str(root), *args], env=env,
                          capture_output=True, timeout=60, **kw)


def popen(root: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "OUTCOMES_STORE_CRASH_AT"}
    return subprocess.Popen([sys.executable, "-c", CHILD, str(root), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def catalog(root: Path) -> dict[str, Any]:
    path = root / "catalog.json"
    return json.loads(path.read_text()) if path.exists() else {"generation": 0, "versions": []}


def assert_complete(root: Path) -> None:
    """Every version in the catalog has all its files, readable; nothing else is left."""
    cat = catalog(root)
    expected: set[Path] = set()
    live: dict[str, set[tuple[str, str]]] = {"versions": set(), "linkage": set()}
    for v in cat["versions"]:
        m = v["manifest"]
        where = []
        if v["deleted"] is None:
            base = root / "versions" / m["source"] / m["version_id"]
            live["versions"].add((m["source"], m["version_id"]))
            expected.add(base / "manifest.json")
            assert json.loads((base / "manifest.json").read_text()) == m
            where += [(base / "data", v["files"]["data"]),
                      (base / "quarantine", v["files"]["quarantine"])]
        if v["linkage_deleted"] is None:
            live["linkage"].add((m["source"], m["version_id"]))
            where.append((root / "linkage" / m["source"] / m["version_id"],
                          v["files"]["linkage"]))
        for folder, files in where:
            assert files, f"{folder} lists no files"
            for name, size in files.items():
                path = folder / name
                expected.add(path)
                assert path.stat().st_size == size
                assert pq.read_table(path).num_rows > 0
    found = {p for area in ("versions", "linkage", ".staging") if (root / area).exists()
             for p in (root / area).rglob("*") if p.is_file()}
    assert found == expected
    for area, ids in live.items():
        on_disk = {(p.parent.name, p.name) for p in (root / area).glob("*/*")}
        assert on_disk == ids
    assert {p.name for p in root.iterdir()} <= ROOT_ENTRIES


def assert_audit_matches(root: Path, earlier: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The audit kept every earlier line and logged each catalog change exactly once."""
    events = Store(root).audit_events()
    assert events[:len(earlier)] == earlier
    generations = [e["generation"] for e in events if "generation" in e]
    assert generations == sorted(generations)
    assert max(generations, default=0) == catalog(root)["generation"]
    last = catalog(root).get("last_events", [])
    assert [e for e in events if e.get("generation") == catalog(root)["generation"]] == last
    return events[len(earlier):]


def normalised(cat: dict[str, Any], known: set[str]) -> dict[str, Any]:
    """A catalog without its times, new version ids renamed, to compare runs."""
    cat = json.loads(json.dumps(cat))
    cat.pop("last_events", None)
    new = [v["manifest"]["version_id"] for v in cat["versions"]
           if v["manifest"]["version_id"] not in known]
    for v in cat["versions"]:
        v.pop("committed_at")
        for mark in ("deleted", "linkage_deleted"):
            if v[mark]:
                v[mark].pop("at")
    text = json.dumps(cat)
    for i, vid in enumerate(new):
        text = text.replace(vid, f"new-{i}")
    result: dict[str, Any] = json.loads(text)
    return result


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three versions: A (23/24, 24/25), then B supersedes A for 24/25; V of another source."""
    root = tmp_path_factory.mktemp("template") / "store"
    store = Store(root)
    write_version(store, "contacts", ["2023/24", "2024/25"], "a", date(2024, 6, 1),
                  date(2024, 3, 1))
    write_version(store, "contacts", ["2024/25"], "b", FAR, date(2024, 3, 1))
    write_version(store, "visits", ["2024/25"], "v")
    return root


def copy_of(template: Path, target: Path) -> Path:
    shutil.copytree(template, target)
    return target


def by_sha(store: Store, sha: str) -> Any:
    return next(v for v in store.history() if v.manifest.sha256 == sha)


# --- behaviour ----------------------------------------------------------------------------


def test_commit_then_find_by_hash_history_and_current_files(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    info = write_version(store, "contacts", ["2023/24", "2024/25"], "a")
    assert info.status == "current"
    assert info.current_periods == ("2023/24", "2024/25")
    assert store.find_by_hash("contacts", "a") == info
    assert store.find_by_hash("contacts", "b") is None
    assert store.find_by_hash("visits", "a") is None
    assert store.history() == [info] == store.history("contacts")
    assert store.history("visits") == []

    parts = store.current_files("contacts")
    assert [p.periods for p in parts] == [("2023/24", "2024/25")] * 2
    rows = pa.concat_tables(pq.read_table(p.path) for p in parts)
    assert sorted(rows.column("period").to_pylist()) == ["2023/24"] * 3 + ["2024/25"] * 3
    assert len(store.linkage_files("contacts")) == 2
    assert len(store.version_files(info.version_id, "quarantine")) == 1

    folder = tmp_path / ".outcomes" / "store" / "versions" / "contacts" / info.version_id
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["sha256"] == "a" and manifest["periods"] == ["2023/24", "2024/25"]
    assert manifest["retention_until"] == "2099-01-01"

    store.audit({"event": "no-op", "source": "contacts", "file": "a.csv"})
    events = store.audit_events()
    assert [e["event"] for e in events] == ["load", "no-op"]
    assert all("at" in e for e in events)
    assert events[0]["version_id"] == info.version_id and events[0]["by"] == "tester"
    assert_complete(store.root)


def test_version_ids_sort_in_commit_order(tmp_path: Path) -> None:
    store = Store(tmp_path)
    ids = [write_version(store, "contacts", ["2024/25"], str(n)).version_id for n in range(5)]
    assert ids == sorted(ids) == [v.version_id for v in store.history()]
    assert len(set(ids)) == 5


def test_a_new_version_supersedes_per_period_and_keeps_the_old_one(tmp_path: Path) -> None:
    store = Store(tmp_path)
    a = write_version(store, "contacts", ["2023/24", "2024/25"], "a")
    b = write_version(store, "contacts", ["2024/25", "2025/26"], "b")
    old, new = store.history()
    assert (old.status, old.current_periods) == ("current", ("2023/24",))
    assert (new.status, new.current_periods) == ("current", ("2024/25", "2025/26"))
    parts = store.current_files("contacts")
    assert {(p.version_id, p.periods) for p in parts} == {
        (a.version_id, ("2023/24",)), (b.version_id, ("2024/25", "2025/26"))}
    assert all(p.exists() for p in store.version_files(a.version_id))

    c = write_version(store, "contacts", ["2023/24"], "c")
    assert store.history()[0].status == "superseded"
    assert store.history()[0].current_periods == ()
    assert {p.version_id for p in store.current_files("contacts")} == {b.version_id,
                                                                       c.version_id}
    supersedes = [e for e in store.audit_events() if e["event"] == "supersede"]
    assert [(e["version_id"], e["superseded_by"], e["periods"]) for e in supersedes] == [
        (a.version_id, b.version_id, ["2024/25"]), (a.version_id, c.version_id, ["2023/24"])]
    assert_complete(store.root)


def test_rollback_restores_an_earlier_version_and_is_audited(tmp_path: Path) -> None:
    store = Store(tmp_path)
    a = write_version(store, "contacts", ["2023/24", "2024/25"], "a")
    b = write_version(store, "contacts", ["2024/25"], "b")
    other = write_version(store, "visits", ["2024/25"], "v")

    restored = store.rollback(a.version_id, by="analyst")
    assert (restored.status, restored.current_periods) == ("current", ("2023/24", "2024/25"))
    assert store.version(b.version_id).status == "rolled back"
    assert store.version(b.version_id).rolled_back_periods == ("2024/25",)
    assert store.version(other.version_id).status == "current"
    assert {p.version_id for p in store.current_files("contacts")} == {a.version_id}
    event = store.audit_events()[-1]
    assert (event["event"], event["version_id"], event["by"]) == ("rollback", a.version_id,
                                                                 "analyst")
    assert event["rolled_back"] == {b.version_id: ["2024/25"]}

    # A newer load is current again; rolling back to the rolled-back B works too.
    c = write_version(store, "contacts", ["2024/25"], "c")
    assert store.version(c.version_id).current_periods == ("2024/25",)
    assert store.rollback(b.version_id, by="analyst").current_periods == ("2024/25",)
    assert store.version(c.version_id).status == "rolled back"
    assert store.version(a.version_id).current_periods == ("2023/24",)

    generation = catalog(store.root)["generation"]
    store.rollback(b.version_id, by="analyst")  # already current: nothing changes
    assert catalog(store.root)["generation"] == generation

    with pytest.raises(StoreError, match=r"^There is no version nope in the store;[^\n]*\.$"):
        store.rollback("nope", by="analyst")
    assert_complete(store.root)


def test_retention_lists_then_deletes_and_keeps_the_history(tmp_path: Path) -> None:
    store = Store(tmp_path)
    a = write_version(store, "contacts", ["2023/24"], "a", date(2024, 6, 1), date(2024, 3, 1))
    b = write_version(store, "contacts", ["2024/25"], "b", FAR, date(2024, 9, 1))
    due = [(d.kind, d.version_id, d.reason) for d in
           store.apply_retention(date(2024, 7, 1), by="dpo", apply=False)]
    assert due == [("analytic", a.version_id, "its retention ended on 2024-06-01"),
                   ("linkage", a.version_id, "its linkage retention ended on 2024-03-01")]
    assert [e["event"] for e in store.audit_events()] == ["load", "load"]
    assert all(p.exists() for p in store.version_files(a.version_id))

    deleted = store.apply_retention(date(2024, 10, 1), by="dpo", apply=True)
    assert [(d.kind, d.version_id) for d in deleted] == [
        ("analytic", a.version_id), ("linkage", a.version_id), ("linkage", b.version_id)]
    assert not any(d.path.exists() for d in deleted)
    old, new = store.history()
    assert old.status == "deleted (retention)" and old.deleted_at is not None
    assert (new.status, new.linkage_deleted_at is not None) == ("current", True)
    assert store.current_files("contacts")[0].version_id == b.version_id
    assert store.linkage_files("contacts") == []
    assert store.find_by_hash("contacts", "a") is None
    events = [e for e in store.audit_events() if e["event"] == "retention deletion"]
    assert [(e["what"], e["version_id"], e["by"]) for e in events] == [
        ("analytic", a.version_id, "dpo"), ("linkage", a.version_id, "dpo"),
        ("linkage", b.version_id, "dpo")]
    assert events[0]["reason"] == "its retention ended on 2024-06-01"
    assert events[0]["path"] == f"versions/contacts/{a.version_id}" and "at" in events[0]

    assert store.apply_retention(date(2024, 10, 1), by="dpo", apply=True) == []
    with pytest.raises(StoreError, match="deleted under the retention policy"):
        store.rollback(a.version_id, by="analyst")
    with pytest.raises(StoreError, match="deleted under the retention policy"):
        store.version_files(b.version_id, "linkage")
    assert_complete(store.root)


def test_the_lock_is_exclusive_and_gives_up_with_one_sentence(tmp_path: Path) -> None:
    first, second = Store(tmp_path), Store(tmp_path)
    with first.lock():
        start = time.monotonic()
        with pytest.raises(StoreBusy, match=r"^Another process [^\n]*finished\.$"), \
                second.lock(timeout=0.2):
            pass
        assert time.monotonic() - start >= 0.2
    with second.lock(timeout=0.2), second.lock():  # free again, and re-entrant
        pass


def test_a_staged_version_is_discarded_unless_committed(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with pytest.raises(RuntimeError), store.stage("contacts") as staged:
        pq.write_table(pa.table({"period": ["2024/25"]}), staged.data_dir / "part.parquet")
        raise RuntimeError("the reader failed")
    assert not staged.path.exists()
    assert store.history() == []
    with Store(tmp_path).lock(timeout=0.1):  # the lock was released
        pass
    with store.stage("contacts") as staged:
        manifest = make_manifest("visits", ["2024/25"], "x")
        with pytest.raises(StoreError, match="does not match the staged version"):
            store.commit(staged, manifest)
    with pytest.raises(StoreError, match="already committed or discarded"):
        store.commit(staged, make_manifest("contacts", ["2024/25"], "x"))
    with pytest.raises(StoreError, match="cannot name a source"):
        store.stage("../etc")
    assert store.history() == []
    assert_complete(store.root)


def test_recover_removes_leftovers_and_restores_the_audit(tmp_path: Path) -> None:
    store = Store(tmp_path)
    write_version(store, "contacts", ["2024/25"], "a")
    orphans = [tmp_path / "versions" / "contacts" / "20200101T000000.000000Z-000000",
               tmp_path / "linkage" / "visits" / "x", tmp_path / ".staging" / "abc"]
    for folder in orphans:
        folder.mkdir(parents=True)
        (folder / "part-00000.parquet").write_bytes(b"half")
    # A crash after the catalog swap but before the audit append, mid-way through a line:
    audit = tmp_path / "audit.jsonl"
    lines = audit.read_bytes().splitlines(keepends=True)
    audit.write_bytes(b"".join(lines[:-1]) + lines[-1][:20])
    assert store.audit_events() == []

    assert sorted(store.recover()) == sorted(orphans)
    assert [e["event"] for e in store.audit_events()] == ["load"]
    assert store.recover() == []
    assert_complete(store.root)


# --- concurrency and crashes ------------------------------------------------------------


def test_concurrent_loads_are_serialised(tmp_path: Path) -> None:
    root, go = tmp_path / "store", tmp_path / "go"
    procs = [popen(root, "concurrent", str(go), sha) for sha in ("one", "two")]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    go.touch()
    runs = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
        runs.append(json.loads(out))
    (_, first_end, first_id), (second_start, _, second_id) = sorted(runs)
    assert first_end <= second_start  # the second waited for the first
    history = Store(root).history()
    assert [v.version_id for v in history] == [first_id, second_id]
    assert [v.status for v in history] == ["superseded", "current"]
    assert catalog(root)["generation"] == 2
    assert [e["event"] for e in Store(root).audit_events()] == ["load", "load", "supersede"]
    assert_complete(root)


@pytest.mark.parametrize("op", ["commit", "rollback", "retention"])
def test_kill_at_every_step_leaves_the_store_before_or_after(template: Path, tmp_path: Path,
                                                              op: str) -> None:
    known = {v.version_id for v in Store(template).history()}
    arg = {"commit": "", "rollback": by_sha(Store(template), "a").version_id,
           "retention": "2025-01-01"}[op]
    before = normalised(catalog(template), known)
    before_audit = Store(template).audit_events()
    reference = copy_of(template, tmp_path / "reference")
    perform(Store(reference), op, arg)
    after = normalised(catalog(reference), known)
    assert after != before

    seen = []
    for step in range(1, 50):
        root = copy_of(template, tmp_path / f"step-{step}")
        run = child(root, op, arg, crash_at=step)
        Store(root).recover()
        state = normalised(catalog(root), known)
        assert state in (before, after), f"step {step}: the catalog is neither before nor after"
        seen.append("before" if state == before else "after")
        assert_complete(root)
        new_events = assert_audit_matches(root, before_audit)
        assert bool(new_events) == (seen[-1] == "after")
        shutil.rmtree(root)
        if run.returncode == 0:  # the child got past its last step
            break
        assert run.returncode == -signal.SIGKILL, run.stderr.decode()
    assert seen[-1] == "after" and seen[0] == "before"
    assert len(seen) >= {"commit": 10, "rollback": 4, "retention": 7}[op]


def test_kills_at_random_moments_never_corrupt_the_store(template: Path, tmp_path: Path) -> None:
    root = copy_of(template, tmp_path / "store")
    rng = random.Random(20240401)
    # At least four kills, and on until the loops have committed a few versions (a busy
    # machine commits fewer before each kill).
    for attempt in range(16):
        if attempt >= 4 and len(catalog(root)["versions"]) > 3:
            break
        earlier = [v["manifest"] for v in catalog(root)["versions"]]
        audit = Store(root).audit_events()
        proc = popen(root, "loop")
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.02, 0.3))
        proc.kill()
        proc.wait()
        Store(root).recover()
        assert_complete(root)
        assert_audit_matches(root, audit)
        assert [v["manifest"] for v in catalog(root)["versions"]][:len(earlier)] == earlier
    assert len(catalog(root)["versions"]) > 3  # the loops did commit versions
