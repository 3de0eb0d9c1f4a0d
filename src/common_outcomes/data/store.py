"""The versioned store: every accepted file is a version, and no version is lost by accident.

Layout under `<workspace>/.outcomes/store/`:

    versions/<source>/<version_id>/manifest.json        what the version is (also in the catalog)
    versions/<source>/<version_id>/data/*.parquet       accepted, pseudonymised rows
    versions/<source>/<version_id>/quarantine/*.parquet rows held back under the quarantine policy
    linkage/<source>/<version_id>/*.parquet             raw identifiers for linkage (kept for less)
    catalog.json                                        the one source of truth
    audit.jsonl                                         append-only log of every change
    .lock                                               fcntl lock serialising writers
    .staging/                                           work in progress

Only `catalog.json` says what exists. A change writes its folders first, then swaps in a new
catalog with `os.replace` (atomic), then appends its audit events. A process killed at any
point leaves the old catalog (the new folders are orphans) or the new one (its audit events
are kept in the catalog as `last_events` until appended); `recover()` removes orphans,
leftovers and the folders of deleted versions, and appends missing events. It runs whenever
the lock is taken, so every writer starts from a clean store; readers follow the catalog only,
so they never see work in progress.

Which version is current: for each (source, period), the newest version covering the period
that has not been rolled back for it. If that version was deleted under retention the period
has no current data: an older, superseded version never comes back by itself.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from common_outcomes.errors import UserError

Policy = Literal["reject", "quarantine"]
Status = Literal["current", "superseded", "rolled back", "deleted (retention)"]
PartKind = Literal["data", "quarantine", "linkage"]

CATALOG_FORMAT = 1
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
_ID_STAMP = "%Y%m%dT%H%M%S.%fZ"  # fixed width, so ids sort as strings in time order


class StoreError(UserError):
    """A store operation the user asked for cannot be done; told in one sentence."""


class StoreBusy(StoreError):
    """Another process held the store's lock for longer than we were willing to wait."""


# --- crash hook for the tests: kill -9 at a numbered step inside a change -----------------

_CRASH_AT = os.environ.get("OUTCOMES_STORE_CRASH_AT")
_STEPS = [0]


def _step(name: str) -> None:
    """Mark a durable step; with OUTCOMES_STORE_CRASH_AT=N (or =name) die here, as kill -9."""
    if _CRASH_AT is None:
        return
    _STEPS[0] += 1
    if _CRASH_AT in (str(_STEPS[0]), name):
        os.kill(os.getpid(), signal.SIGKILL)


# --- records --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Manifest:
    """What one version is. `version_id` is left empty by the caller; commit fills it in."""

    source: str
    file_name: str
    sha256: str
    size_bytes: int
    encoding: str
    format: str
    loaded_at: str  # ISO 8601, UTC
    loaded_by: str
    agreement: str  # the data-sharing agreement's reference
    partner: str
    periods: tuple[str, ...]
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    retention_until: date  # analytic data
    linkage_retention_until: date  # raw identifiers kept for linkage
    policy: Policy
    columns: Mapping[str, str] = field(default_factory=dict)  # name -> arrow type
    version_id: str = ""
    areas_from: str = ""  # the postcode directory its small areas were derived with
    rows_without_area: int = 0  # accepted rows its postcodes placed in no small area
    reassigned_from: str = ""  # the version whose rows `load --reassign` placed again
    # Holds every current row of its source as well as the file's (a latest-return source's
    # yearly files accumulate): rolling an earlier version back undoes it for all periods.
    accumulated: bool = False

    def __post_init__(self) -> None:
        # Callers pass lists and dicts; keep what we store immutable and ordered.
        object.__setattr__(self, "periods", tuple(self.periods))
        object.__setattr__(self, "columns", dict(self.columns))

    def to_dict(self) -> dict[str, Any]:
        return {
            "version_id": self.version_id, "source": self.source, "file_name": self.file_name,
            "sha256": self.sha256, "size_bytes": self.size_bytes, "encoding": self.encoding,
            "format": self.format, "loaded_at": self.loaded_at, "loaded_by": self.loaded_by,
            "agreement": self.agreement, "partner": self.partner,
            "periods": list(self.periods), "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted, "rows_quarantined": self.rows_quarantined,
            "retention_until": self.retention_until.isoformat(),
            "linkage_retention_until": self.linkage_retention_until.isoformat(),
            "policy": self.policy, "columns": dict(self.columns),
            "areas_from": self.areas_from, "rows_without_area": self.rows_without_area,
            "reassigned_from": self.reassigned_from,
            **({"accumulated": True} if self.accumulated else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        values = dict(data)
        values["periods"] = tuple(values["periods"])
        for key in ("retention_until", "linkage_retention_until"):
            values[key] = date.fromisoformat(values[key])
        return cls(**values)


@dataclass(frozen=True)
class VersionInfo:
    """A version as history shows it: its manifest and where it stands now."""

    manifest: Manifest
    status: Status
    current_periods: tuple[str, ...]
    rolled_back_periods: tuple[str, ...]
    committed_at: str
    deleted_at: str | None = None
    linkage_deleted_at: str | None = None

    @property
    def version_id(self) -> str:
        return self.manifest.version_id

    @property
    def source(self) -> str:
        return self.manifest.source


@dataclass(frozen=True)
class CurrentPart:
    """A parquet part of a current version; only its rows of `periods` are current."""

    path: Path
    periods: tuple[str, ...]
    version_id: str


@dataclass(frozen=True)
class Deletion:
    """A folder that retention deletes (or would delete): what, and why."""

    kind: Literal["analytic", "linkage"]
    version_id: str
    source: str
    file_name: str
    path: Path
    retention_until: date
    reason: str


@dataclass(frozen=True)
class _Record:
    """One version in the catalog. Records are never removed, only marked."""

    manifest: Manifest
    files: Mapping[str, Mapping[str, int]]  # kind -> relative path -> size in bytes
    committed_at: str
    rolled_back: frozenset[str] = frozenset()
    deleted: Mapping[str, str] | None = None  # at, by, reason
    linkage_deleted: Mapping[str, str] | None = None

    @property
    def id(self) -> str:
        return self.manifest.version_id

    @property
    def source(self) -> str:
        return self.manifest.source

    def to_json(self) -> dict[str, Any]:
        return {
            "manifest": self.manifest.to_dict(),
            "files": {k: dict(v) for k, v in self.files.items()},
            "committed_at": self.committed_at,
            "rolled_back": sorted(self.rolled_back),
            "deleted": dict(self.deleted) if self.deleted else None,
            "linkage_deleted": dict(self.linkage_deleted) if self.linkage_deleted else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> _Record:
        return cls(Manifest.from_dict(data["manifest"]), data["files"], data["committed_at"],
                   frozenset(data["rolled_back"]), data["deleted"], data["linkage_deleted"])


@dataclass(frozen=True)
class _Catalog:
    generation: int = 0  # +1 per change; audit events of a change carry it
    records: tuple[_Record, ...] = ()  # in commit order
    last_events: tuple[Mapping[str, Any], ...] = ()  # the audit events of this generation

    def get(self, version_id: str) -> _Record | None:
        return next((r for r in self.records if r.id == version_id), None)

    def current(self) -> dict[tuple[str, str], str]:
        """(source, period) -> the current version id, by the rule in the module docstring."""
        result: dict[tuple[str, str], str] = {}
        decided: set[tuple[str, str]] = set()
        for rec in reversed(self.records):
            for period in rec.manifest.periods:
                key = (rec.source, period)
                if key in decided or period in rec.rolled_back:
                    continue
                decided.add(key)
                if rec.deleted is None:
                    result[key] = rec.id
        return result

    def to_json(self) -> dict[str, Any]:
        current: dict[str, dict[str, str]] = {}
        for (source, period), vid in sorted(self.current().items()):
            current.setdefault(source, {})[period] = vid
        return {
            "format": CATALOG_FORMAT,
            "generation": self.generation,
            "current": current,  # derived, for people and other tools; never read back
            "versions": [r.to_json() for r in self.records],
            "last_events": [dict(e) for e in self.last_events],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> _Catalog:
        return cls(data["generation"], tuple(_Record.from_json(r) for r in data["versions"]),
                   tuple(data["last_events"]))


# --- staging ----------------------------------------------------------------------------------


class Staged:
    """A version being written. Discarded on exit unless committed; holds the store's lock."""

    def __init__(self, store: Store, source: str, version_id: str, path: Path) -> None:
        self.store = store
        self.source = source
        self.version_id = version_id
        self.path = path
        self.data_dir = path / "version" / "data"
        self.quarantine_dir = path / "version" / "quarantine"
        self.linkage_dir = path / "linkage"
        self.committed = False
        self._open = True

    def __enter__(self) -> Staged:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Discard the staged files (unless committed) and release the lock."""
        if not self._open:
            return
        self._open = False
        try:
            if self.path.exists():
                shutil.rmtree(self.path)
        finally:
            self.store._end_stage(self)


# --- the store --------------------------------------------------------------------------------


class Store:
    """Versions of partner data under one root. Not thread-safe: one Store per thread."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._fd: int | None = None
        self._depth = 0  # re-entrant: commit inside stage inside lock() takes it once
        self._staging: set[Path] = set()
        self._last_id = ""

    # paths
    @property
    def _staging_root(self) -> Path:
        return self.root / ".staging"

    def _version_dir(self, source: str, version_id: str) -> Path:
        return self.root / "versions" / source / version_id

    def _linkage_dir(self, source: str, version_id: str) -> Path:
        return self.root / "linkage" / source / version_id

    # locking
    @contextmanager
    def lock(self, timeout: float = 600) -> Iterator[None]:
        """Hold the store exclusively; other processes wait. Cleans up after crashes."""
        self._acquire(timeout)
        try:
            yield
        finally:
            self._release()

    def _acquire(self, timeout: float, recover: bool = True) -> None:
        if self._depth:
            self._depth += 1
            return
        _makedirs(self.root)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise StoreBusy(f"Another process has been using the store at {self.root} "
                                    f"for over {timeout:g} seconds; try again when it has "
                                    "finished.") from None
                time.sleep(0.05)
        self._fd, self._depth = fd, 1
        if recover:
            try:
                self._recover()
            except BaseException:
                self._release()
                raise

    def _release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the only descriptor releases the flock

    # reading
    def _read_catalog(self) -> _Catalog:
        path = self.root / "catalog.json"
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            return _Catalog()
        except ValueError:
            raise StoreError(f"The store catalog {path} is not valid JSON; restore it from a "
                             "backup.") from None
        if data.get("format") != CATALOG_FORMAT:
            raise StoreError(f"The store catalog {path} has format {data.get('format')}, which "
                             f"this version of common-outcomes does not read.")
        return _Catalog.from_json(data)

    def history(self, source: str | None = None) -> list[VersionInfo]:
        """Every version ever committed (of one source, or all), oldest first."""
        catalog = self._read_catalog()
        current = catalog.current()
        return [_info(r, current) for r in catalog.records if source in (None, r.source)]

    def version(self, version_id: str) -> VersionInfo:
        catalog = self._read_catalog()
        return _info(_known(catalog, version_id), catalog.current())

    def find_by_hash(self, source: str, sha256: str) -> VersionInfo | None:
        """The newest version of this exact file that still has data, if any."""
        catalog = self._read_catalog()
        for rec in reversed(catalog.records):
            m = rec.manifest
            if m.source == source and m.sha256 == sha256 and rec.deleted is None:
                return _info(rec, catalog.current())
        return None

    def current_files(self, source: str) -> list[CurrentPart]:
        """The data parts of every version current for some period of the source."""
        return self._current_parts(source, "data")

    def linkage_files(self, source: str) -> list[CurrentPart]:
        """The linkage parts of the current versions whose identifiers are still kept."""
        return self._current_parts(source, "linkage")

    def _current_parts(self, source: str, kind: PartKind) -> list[CurrentPart]:
        catalog = self._read_catalog()
        periods: dict[str, list[str]] = {}
        for (src, period), vid in sorted(catalog.current().items()):
            if src == source:
                periods.setdefault(vid, []).append(period)
        parts: list[CurrentPart] = []
        for rec in catalog.records:
            if rec.id in periods and not (kind == "linkage" and rec.linkage_deleted):
                parts.extend(CurrentPart(path, tuple(periods[rec.id]), rec.id)
                             for path in self._paths(rec, kind))
        return parts

    def version_files(self, version_id: str, kind: PartKind = "data") -> list[Path]:
        """The parts of one version (for example its quarantined rows, to review them)."""
        rec = _known(self._read_catalog(), version_id)
        gone = rec.linkage_deleted if kind == "linkage" else rec.deleted
        if rec.deleted or gone:
            raise StoreError(f"The {kind} of version {version_id} was deleted under the "
                             "retention policy.")
        return self._paths(rec, kind)

    def _paths(self, rec: _Record, kind: PartKind) -> list[Path]:
        if kind == "linkage":
            base = self._linkage_dir(rec.source, rec.id)
        else:
            base = self._version_dir(rec.source, rec.id) / kind
        return [base / name for name in rec.files.get(kind, {})]

    # writing a version
    def stage(self, source: str) -> Staged:
        """A staging folder for a new version; takes the lock until committed or closed."""
        if not _SOURCE.match(source):
            raise StoreError(f"'{source}' cannot name a source in the store: use lower-case "
                             "letters, digits, '-' and '_'.")
        self._acquire(600)
        try:
            version_id = self._new_version_id(self._read_catalog())
            path = self._staging_root / uuid.uuid4().hex
            staged = Staged(self, source, version_id, path)
            for folder in (staged.data_dir, staged.quarantine_dir, staged.linkage_dir):
                folder.mkdir(parents=True)
        except BaseException:
            self._release()
            raise
        self._staging.add(path)
        return staged

    def _end_stage(self, staged: Staged) -> None:
        self._staging.discard(staged.path)
        self._release()

    def _new_version_id(self, catalog: _Catalog) -> str:
        # Under the lock, and never before the newest id: ids sort in commit order even if
        # the clock steps back.
        newest = max([self._last_id, *(r.id for r in catalog.records)]).split("-")[0]
        stamp = datetime.now(UTC).strftime(_ID_STAMP)
        if newest and stamp <= newest:
            later = datetime.strptime(newest, _ID_STAMP) + timedelta(microseconds=1)
            stamp = later.strftime(_ID_STAMP)
        self._last_id = f"{stamp}-{secrets.token_hex(3)}"
        return self._last_id

    def commit(self, staged: Staged, manifest: Manifest) -> VersionInfo:
        """Make the staged folders a version, atomically; it becomes current for its periods."""
        if staged.store is not self or not staged._open or staged.committed:
            raise StoreError("This staged version was already committed or discarded.")
        if manifest.source != staged.source or manifest.version_id not in ("",
                                                                         staged.version_id):
            raise StoreError(f"The manifest (source {manifest.source}, version "
                             f"{manifest.version_id}) does not match the staged version "
                             f"({staged.source}, {staged.version_id}).")
        manifest = replace(manifest, version_id=staged.version_id)
        with self.lock():
            catalog = self._read_catalog()
            if any(r.id >= manifest.version_id for r in catalog.records):
                raise StoreError(f"Version {manifest.version_id} would not be the newest in the "
                                 "store; stage it again.")
            staged_version = staged.path / "version"
            _write_json(staged_version / "manifest.json", manifest.to_dict())
            files = {"data": _sizes(staged.data_dir), "quarantine": _sizes(staged.quarantine_dir),
                     "linkage": _sizes(staged.linkage_dir)}
            _fsync_tree(staged.path)
            _step("staged files fsynced")
            _move(staged_version, self._version_dir(manifest.source, manifest.version_id))
            _move(staged.linkage_dir, self._linkage_dir(manifest.source, manifest.version_id))
            record = _Record(manifest, files, _now())
            before = catalog.current()
            events: list[dict[str, Any]] = [_load_event(manifest)]
            events.extend(_supersede_events(manifest, before))
            catalog = self._publish(catalog, (*catalog.records, record), events)
            staged.committed = True
            shutil.rmtree(staged.path)
            _step("staging removed")
            staged.close()
            return _info(record, catalog.current())

    def _publish(self, catalog: _Catalog, records: tuple[_Record, ...],
                 events: list[dict[str, Any]]) -> _Catalog:
        """Swap in the next catalog, then append its audit events (kept in it until then)."""
        generation = catalog.generation + 1
        at = _now()
        stamped = tuple({"at": at, **e, "generation": generation} for e in events)
        new = _Catalog(generation, records, stamped)
        _makedirs(self._staging_root)
        tmp = self._staging_root / f"catalog-{uuid.uuid4().hex}.json"
        _write_bytes(tmp, _dumps(new.to_json()))
        _step("catalog written")
        os.replace(tmp, self.root / "catalog.json")  # the moment the change happens
        _step("catalog replaced")
        _fsync_dir(self.root)
        _step("store folder fsynced")
        self._append_audit(stamped)
        _step("audit appended")
        return new

    # rollback and retention
    def rollback(self, version_id: str, by: str) -> VersionInfo:
        """Make a version current again for all its periods; newer ones become rolled back for
        them (one that accumulated, for all of its own: it was built on the target)."""
        with self.lock():
            catalog = self._read_catalog()
            target = _known(catalog, version_id)
            if target.deleted is not None:
                raise StoreError(f"Version {version_id} was deleted under the retention policy "
                                 f"on {target.deleted['at'][:10]} and cannot be restored.")
            periods = set(target.manifest.periods)
            newer = False
            records: list[_Record] = []
            demoted: dict[str, list[str]] = {}
            for rec in catalog.records:
                if rec is target:
                    newer = True
                    rec = replace(rec, rolled_back=rec.rolled_back - periods)
                elif newer and rec.source == target.source:
                    # A version that accumulated holds the target's rows too: all of it goes.
                    hit = ((set(rec.manifest.periods) if rec.manifest.accumulated else periods)
                           & set(rec.manifest.periods)) - rec.rolled_back
                    if hit:
                        demoted[rec.id] = sorted(hit)
                        rec = replace(rec, rolled_back=rec.rolled_back | hit)
                records.append(rec)
            if tuple(records) != catalog.records:
                catalog = self._publish(catalog, tuple(records), [{
                    "event": "rollback", "version_id": version_id, "source": target.source,
                    "periods": sorted(periods), "rolled_back": demoted, "by": by}])
            return _info(_known(catalog, version_id), catalog.current())

    def apply_retention(self, today: date, by: str, apply: bool) -> list[Deletion]:
        """What retention deletes as of `today`; with apply, delete it (catalog first)."""
        with self.lock():
            catalog = self._read_catalog()
            deletions = self._retention_due(catalog, today)
            if not apply or not deletions:
                return deletions
            at = _now()
            by_id: dict[str, list[Deletion]] = {}
            for d in deletions:
                by_id.setdefault(d.version_id, []).append(d)
            records = []
            for rec in catalog.records:
                for d in by_id.get(rec.id, []):
                    mark = {"at": at, "by": by, "reason": d.reason}
                    rec = (replace(rec, deleted=mark) if d.kind == "analytic"
                           else replace(rec, linkage_deleted=mark))
                records.append(rec)
            events = [{"event": "retention deletion", "what": d.kind, "version_id": d.version_id,
                       "source": d.source, "file_name": d.file_name,
                       "path": str(d.path.relative_to(self.root)),
                       "retention_until": d.retention_until.isoformat(),
                       "today": today.isoformat(), "reason": d.reason, "by": by}
                      for d in deletions]
            self._publish(catalog, tuple(records), events)
            for d in deletions:
                _remove(d.path)
                _step("retention folder removed")
            return deletions

    def _retention_due(self, catalog: _Catalog, today: date) -> list[Deletion]:
        due = []
        for rec in catalog.records:
            m = rec.manifest
            analytic = rec.deleted is None and m.retention_until < today
            if analytic:
                due.append(Deletion("analytic", rec.id, m.source, m.file_name,
                                    self._version_dir(m.source, rec.id), m.retention_until,
                                    f"its retention ended on {m.retention_until}"))
            if rec.linkage_deleted is None and (analytic or m.linkage_retention_until < today):
                reason = (f"its linkage retention ended on {m.linkage_retention_until}"
                          if m.linkage_retention_until < today
                          else "its analytic data is deleted")
                due.append(Deletion("linkage", rec.id, m.source, m.file_name,
                                    self._linkage_dir(m.source, rec.id),
                                    m.linkage_retention_until, reason))
        return due

    # recovery
    def recover(self) -> list[Path]:
        """Remove what an interrupted run left behind; return the paths removed."""
        if self._depth:
            return self._recover()
        self._acquire(600, recover=False)
        try:
            return self._recover()
        finally:
            self._release()

    def _recover(self) -> list[Path]:
        removed: list[Path] = []
        if self._staging_root.is_dir():
            for child in sorted(self._staging_root.iterdir()):
                if child not in self._staging:  # our own open stages are not leftovers
                    _remove(child)
                    removed.append(child)
        catalog = self._read_catalog()
        kept = {
            "versions": {(r.source, r.id) for r in catalog.records if r.deleted is None},
            "linkage": {(r.source, r.id) for r in catalog.records if r.linkage_deleted is None},
        }
        for area, live in kept.items():
            base = self.root / area
            if not base.is_dir():
                continue
            for source_dir in sorted(base.iterdir()):
                children = sorted(source_dir.iterdir()) if source_dir.is_dir() else []
                for child in children:
                    if (source_dir.name, child.name) not in live:
                        _remove(child)
                        removed.append(child)
                if not source_dir.is_dir() or not any(source_dir.iterdir()):
                    _remove(source_dir)
        if removed:
            _fsync_dir(self.root)
        self._repair_audit(catalog)
        return removed

    # audit
    def audit(self, event: Mapping[str, object]) -> None:
        """Append an event (a dict with an "event" name) to the audit log, durably."""
        if not isinstance(event.get("event"), str) or "generation" in event:
            raise ValueError("An audit event needs an 'event' name and no 'generation'.")
        with self.lock():  # so a crash repair never truncates a line being written
            self._append_audit([{"at": _now(), **event}])

    def audit_events(self) -> list[dict[str, Any]]:
        """Every audit event, oldest first (a line cut short by a crash is skipped)."""
        try:
            text = (self.root / "audit.jsonl").read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines(keepends=True)
                if line.endswith("\n") and line.strip()]

    def _append_audit(self, events: Iterable[Mapping[str, Any]]) -> None:
        data = b"".join(_dumps(dict(e), indent=None) + b"\n" for e in events)
        path = self.root / "audit.jsonl"
        new = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(data)
            while view:  # one write in practice; O_APPEND keeps writers' lines whole
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if new:
            _fsync_dir(self.root)

    def _repair_audit(self, catalog: _Catalog) -> None:
        """Cut a half-written last line; append the last change's events if a crash lost them."""
        path = self.root / "audit.jsonl"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            data = b""
        if data and not data.endswith(b"\n"):
            with open(path, "r+b") as fh:
                fh.truncate(data.rfind(b"\n") + 1)
                fh.flush()
                os.fsync(fh.fileno())
            data = data[: data.rfind(b"\n") + 1]
        logged = max((json.loads(line).get("generation", 0) for line in data.splitlines()
                      if line.strip()), default=0)
        if catalog.generation > logged and catalog.last_events:
            self._append_audit(catalog.last_events)


def open_store(workspace: Path) -> Store:
    """The store of a workspace (created on first write)."""
    return Store(workspace / ".outcomes" / "store")


# --- helpers ------------------------------------------------------------------------------


def _info(rec: _Record, current: Mapping[tuple[str, str], str]) -> VersionInfo:
    periods = tuple(p for p in rec.manifest.periods if current.get((rec.source, p)) == rec.id)
    status: Status
    if rec.deleted is not None:
        status = "deleted (retention)"
    elif periods:
        status = "current"
    elif rec.rolled_back:
        status = "rolled back"
    else:
        status = "superseded"
    return VersionInfo(rec.manifest, status, periods, tuple(sorted(rec.rolled_back)),
                       rec.committed_at, rec.deleted["at"] if rec.deleted else None,
                       rec.linkage_deleted["at"] if rec.linkage_deleted else None)


def _known(catalog: _Catalog, version_id: str) -> _Record:
    rec = catalog.get(version_id)
    if rec is None:
        raise StoreError(f"There is no version {version_id} in the store; 'outcomes history' "
                         "lists them.")
    return rec


def _load_event(m: Manifest) -> dict[str, Any]:
    return {"event": "load", "version_id": m.version_id, "source": m.source,
            "file_name": m.file_name, "sha256": m.sha256, "partner": m.partner,
            "agreement": m.agreement, "periods": list(m.periods), "rows_read": m.rows_read,
            "rows_accepted": m.rows_accepted, "rows_quarantined": m.rows_quarantined,
            "policy": m.policy, "by": m.loaded_by,
            **({"areas_from": m.areas_from} if m.areas_from else {}),
            **({"reassigned_from": m.reassigned_from} if m.reassigned_from else {})}


def _supersede_events(m: Manifest, before: Mapping[tuple[str, str], str]) -> list[dict[str, Any]]:
    replaced: dict[str, list[str]] = {}
    for period in m.periods:
        old = before.get((m.source, period))
        if old is not None:
            replaced.setdefault(old, []).append(period)
    return [{"event": "supersede", "version_id": old, "source": m.source,
             "superseded_by": m.version_id, "periods": periods, "by": m.loaded_by}
            for old, periods in replaced.items()]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _dumps(data: Mapping[str, Any], indent: int | None = 1) -> bytes:
    return json.dumps(data, indent=indent, ensure_ascii=False, default=str).encode("utf-8")


def _sizes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_size
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    _write_bytes(path, _dumps(data))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """Files first, then folders bottom-up, so the whole tree is on disk before it is named."""
    for folder, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            _fsync_dir(Path(folder) / name)  # read-only fsync works for files too
        _fsync_dir(Path(folder))


def _makedirs(path: Path) -> None:
    """mkdir -p, with each new entry fsynced into its parent."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        _fsync_dir(folder.parent)


def _move(src: Path, dst: Path) -> None:
    """Rename a fully written folder into place (orphaned until a catalog names it)."""
    _makedirs(dst.parent)
    os.rename(src, dst)
    _step(f"renamed into {dst.parent.parent.name}")
    _fsync_dir(dst.parent)
    _fsync_dir(src.parent)
    _step(f"{dst.parent.parent.name} fsynced")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
