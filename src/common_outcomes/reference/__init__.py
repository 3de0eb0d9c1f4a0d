"""The reference tables the product carries, and where a reader finds each one.

Every table derived from a published original (ONS geography, DfE and OHID statistics, the
SSD specification) lives in `data/`, listed in `data/manifest.yaml` with its checksum, row
count, publisher, release and licence; `data/SOURCES.md` says where each came from and how it
was derived (`common_outcomes.provenance` rebuilds them). A council replaces one from a newer
release with `outcomes reference update KIND FILE`: the new table goes into the user's
reference folder (OUTCOMES_REFERENCE, else ~/.local/share/common-outcomes/reference), never
into the installed package, and `path(kind)` looks there first.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from common_outcomes.errors import UserError

DATA = Path(__file__).parent / "data"
MANIFEST = "manifest.yaml"
MANIFEST_KIND = "reference-manifest"
MANIFEST_VERSION = 1
OVERRIDE_ENV = "OUTCOMES_REFERENCE"
FIELDS = ("kind", "file", "sha256", "rows", "publisher", "release", "data_to", "licence",
          "built_from")


@dataclass(frozen=True, slots=True)
class Table:
    """One carried table as its manifest lists it."""

    kind: str
    file: str  # relative to the folder holding the manifest
    sha256: str
    rows: int
    publisher: str
    release: str
    data_to: date | None  # the end of the newest period it covers (None: no periods)
    licence: str
    built_from: str  # the published original(s), with repository@commit where known

    def to_dict(self) -> dict[str, object]:
        data = {name: getattr(self, name) for name in FIELDS}
        data["data_to"] = None if self.data_to is None else self.data_to.isoformat()
        return data


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_atomically(path: Path, data: bytes) -> None:
    """Write beside the target, then rename: a reader never sees a half-written table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a reference table is for every user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _table(entry: object, where: Path, n: int) -> Table:
    if not isinstance(entry, dict) or set(entry) != set(FIELDS):
        raise UserError(f"{where}: table {n} must have exactly the fields {', '.join(FIELDS)}.")
    try:
        data_to = None if entry["data_to"] is None else date.fromisoformat(str(entry["data_to"]))
    except ValueError:
        raise UserError(f"{where}: table {n} has data_to {entry['data_to']!r}, which is not "
                        "a date (YYYY-MM-DD).") from None
    return Table(str(entry["kind"]), str(entry["file"]), str(entry["sha256"]),
                 int(entry["rows"]), str(entry["publisher"]), str(entry["release"]), data_to,
                 str(entry["licence"]), str(entry["built_from"]))


def read_manifest(folder: Path) -> tuple[Table, ...]:
    """The tables listed in `folder`/manifest.yaml; none when there is no manifest."""
    where = folder / MANIFEST
    if not where.is_file():
        return ()
    try:
        doc = yaml.safe_load(where.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise UserError(f"{where} is not valid YAML ({e}).") from None
    if not isinstance(doc, dict) or doc.get("kind") != MANIFEST_KIND or doc.get(
            "version") != MANIFEST_VERSION or not isinstance(doc.get("tables"), list):
        raise UserError(f"{where} must start with kind: {MANIFEST_KIND}, version: "
                        f"{MANIFEST_VERSION} and list its tables under tables:.")
    return tuple(_table(e, where, n) for n, e in enumerate(doc["tables"], 1))


def manifest_text(tables: tuple[Table, ...]) -> str:
    head = ("# The reference tables carried in this folder: what each file is, its checksum\n"
            "# and row count, and the published release it was derived from (SOURCES.md).\n")
    body = {"kind": MANIFEST_KIND, "version": MANIFEST_VERSION,
            "tables": [t.to_dict() for t in sorted(tables, key=lambda t: t.kind)]}
    return head + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)


def write_manifest(folder: Path, tables: tuple[Table, ...]) -> None:
    write_atomically(folder / MANIFEST, manifest_text(tables).encode("utf-8"))


def override_folder() -> Path:
    """Where `outcomes reference update` writes, and where readers look first."""
    configured = os.environ.get(OVERRIDE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "common-outcomes" / "reference"


@dataclass(frozen=True, slots=True)
class Located:
    table: Table
    path: Path
    updated: bool  # True: from the user's reference folder, not the carried one


def located() -> dict[str, Located]:
    """Every kind, with the table a reader uses: the user's update if there is one."""
    found = {t.kind: Located(t, DATA / t.file, False) for t in read_manifest(DATA)}
    folder = override_folder()
    for t in read_manifest(folder):
        found[t.kind] = Located(t, folder / t.file, True)
    return found


def path(kind: str) -> Path:
    """The file a reader should read for `kind`."""
    found = located().get(kind)
    if found is None:
        raise KeyError(f"No reference table {kind!r} is carried.")
    return found.path


def comparator_files() -> list[Path]:
    """The carried published comparators (or the user's updates of them), as files the
    example's comparator sources read."""
    return sorted((found.path for found in located().values()
                   if found.table.file.startswith("comparators/")), key=lambda p: p.name)


def age(data_to: date | None, today: date) -> str:
    """How long ago the newest period a table covers ended, as people say it."""
    if data_to is None:
        return "-"
    days = (today - data_to).days
    return f"{days} days" if abs(days) < 365 else f"{days / 365.25:.1f} years"
