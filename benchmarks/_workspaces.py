"""What the engine benchmarks share: synthetic workspaces at a scale, every LA's parts, and a
child process's wall time and peak memory.

A workspace is a copy of the Tower Hamlets example with synthetic data (`outcomes synth
--scale S --years N --seed 1`) loaded into its store by `outcomes load`, as a user would load
it: every source, or only those a benchmark reads (England's maternity loads in about a
minute; all of England's 220 million records would take most of an hour). Each LA's file is
loaded as a version of its own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from common_outcomes.engine.plan import Part
    from common_outcomes.engine.results import Areas

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).with_name("outcomes"))
ENGLAND = "E92000001"
LONDON = "E12000007"
# Synthetic files that must sit in the workspace's incoming/ when others load: the council's
# postcode directory (load derives postcode LSOAs from it).
DIRECTORY = "postcode_directory"


def workspace(workdir: Path, scale: str, years: int, sources: Sequence[str] = (),
              raw: Path | None = None) -> tuple[Path, dict[str, float]]:
    """The example with synthetic data at `scale` loaded into its store (reused if there).

    `sources`: load only these (default: every source). `raw`: a workspace where the same
    `outcomes synth` already ran; its incoming/ files are loaded from where they are (read,
    never changed) instead of synthesising them again."""
    ws = workdir / "-".join([scale, f"{years}y", *sources])
    if (ws / ".outcomes" / "store" / "catalog.json").is_file():
        return ws, {}
    shutil.rmtree(ws, ignore_errors=True)
    shutil.copytree(ROOT / "examples" / "tower-hamlets", ws, ignore=shutil.ignore_patterns(
        "incoming", "synth-truth", ".outcomes", ".synth-staging-*"))
    key = workdir / "key"
    key.write_text("k" * 64)
    took = {}
    incoming = ws / "incoming"
    if raw is None:
        took["synth"] = _outcomes("synth", str(ws), "--scale", scale, "--years", str(years),
                                  "--seed", "1")
    else:
        incoming = raw / "incoming"
        shutil.copytree(incoming / DIRECTORY, ws / "incoming" / DIRECTORY)
    if sources:
        took["load"] = sum(_outcomes("load", str(ws), source, *map(str, files),
                                     "--key-file", str(key))
                           for source, files in _waiting(ws, incoming, sources).items())
    else:
        took["load"] = _outcomes("load", str(ws), "--all", "--key-file", str(key))
    shutil.rmtree(ws / "incoming")  # loaded; only the store is read from here on
    return ws, took


def add_published(ws: Path, published: Sequence[Path]) -> float:
    """Load the published comparators (files like those `make demo` loads: DfE, Fingertips) into a
    workspace made by `workspace`, which synthesises and loads partners' data only: each
    source with a file among them and nothing loaded yet. Returns the seconds it took."""
    from common_outcomes.data.store import open_store
    from common_outcomes.project import Project

    incoming = ws / "incoming"
    (incoming / "comparators").mkdir(parents=True, exist_ok=True)
    for path in published:
        shutil.copy(path, incoming / "comparators" / path.name)
    store = open_store(ws)
    waiting = {source: files for source, files in _waiting(
        ws, incoming, sorted(Project.view(ws).sources)).items()
        if files and not store.current_files(source)}
    took = sum(_outcomes("load", str(ws), source, *map(str, files),
                         "--key-file", str(ws.parent / "key"))
               for source, files in waiting.items())
    shutil.rmtree(incoming)
    return took


def _waiting(ws: Path, incoming: Path, sources: Sequence[str]) -> dict[str, list[Path]]:
    """Each source's files in `incoming`, by its declaration's file pattern."""
    from common_outcomes.project import Project

    declared = Project.view(ws).sources
    return {s: sorted(p for p in incoming.glob(declared[s].files) if p.is_file())
            for s in sources}


def _outcomes(*args: str) -> float:
    start = time.perf_counter()
    done = subprocess.run([EXE, *args], capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):  # 1: some rows quarantined, as partners' data has
        raise SystemExit(f"outcomes {args[0]} failed: {done.stderr.strip()[-2000:]}")
    return time.perf_counter() - start


def every_part(ws: Path) -> dict[str, tuple[Part, ...]]:
    """Each source's parts in every loaded version. A workspace's store is one borough's: each
    LA's file loaded at London or England scale is a version covering the same periods, and
    the newest would supersede the rest. A store holding every LA (the London issue's many
    boroughs on one instance) would make all of them current: so do these."""
    from common_outcomes.data.store import open_store
    from common_outcomes.engine.plan import Part

    store = open_store(ws)
    every: dict[str, list[Part]] = {}
    for v in store.history():
        # The store's layout (data/store.py) rather than version_files, which reads the whole
        # catalog again for each version: minutes for England's 2,600.
        every.setdefault(v.source, []).extend(
            Part(path, v.manifest.periods) for path in sorted(
                (store.root / "versions" / v.source / v.version_id / "data").glob("*.parquet")))
    return {source: tuple(parts) for source, parts in every.items()}


def every_la(ws: Path) -> Callable[[tuple[Part, ...]], tuple[Part, ...]]:
    """Parts -> the parts of every loaded version of their source (see `every_part`)."""
    every = every_part(ws)
    source_of = {part.path: source for source, parts in every.items() for part in parts}

    def widen(parts: tuple[Part, ...]) -> tuple[Part, ...]:
        return every[source_of[parts[0].path]] if parts else parts

    return widen


def areas(scale: str, ws: Path, *, localities: bool = False, england: bool = True) -> Areas:
    """Each small area's ward, locality, LA, region and England, as the scale has them.

    Borough: the workspace's own (ward -> locality -> la), as `outcomes run` uses them.
    London: every LSOA -> ward -> la -> region (-> England unless `england` is False), from
    the shipped reference geography; with `localities`, the workspace's Family Hub localities
    over its own LSOAs too. England: every MSOA -> la -> region -> England (the synthetic
    England places people in MSOAs, which have no wards)."""
    from common_outcomes.engine.results import Areas
    from common_outcomes.engine.run import areas_of
    from common_outcomes.geography import reference as ref
    from common_outcomes.project import Project

    def own() -> Areas:
        return areas_of(Project.view(ws).workspace)

    if scale == "borough":
        return own()
    regions = {la.region_code: la.region_name for la in ref.local_authorities()}
    if scale == "london":
        lsoas = ref.london_lsoas()
        within = {"ward": {r.lsoa_code: r.ward_code for r in lsoas},
                  "la": {r.lsoa_code: r.la_code for r in lsoas},
                  "region": {r.lsoa_code: LONDON for r in lsoas}}
        names = ({r.ward_code: r.ward_name for r in lsoas} | {r.la_code: r.la_name for r in lsoas}
                 | {LONDON: regions[LONDON]})
        if england:
            within["england"] = {r.lsoa_code: ENGLAND for r in lsoas}
            names[ENGLAND] = "England"
        if localities:
            borough = own()
            within["locality"] = dict(borough.within["locality"])
            # Sorted: the areas are part of each pass's cache key, and a set's order is not.
            names |= {code: borough.names[code]
                      for code in sorted(set(within["locality"].values())) if code}
        return Areas(within, names)
    msoas = ref.england_msoas()
    return Areas({"la": {r.msoa_code: r.utla_code for r in msoas},
                  "region": {r.msoa_code: r.region_code for r in msoas},
                  "england": {r.msoa_code: ENGLAND for r in msoas}},
                 {r.utla_code: r.utla_name for r in msoas}
                 | {r.region_code: r.region_name for r in msoas} | {ENGLAND: "England"})


def tree_rss(root: int) -> int:
    """Resident bytes of a process and all its descendants, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += parents.get(pid, [])
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    return total


@dataclass(frozen=True)
class Child:
    """What a child process printed, its wall time and the peak memory of its process tree."""

    out: str
    wall: float
    peak_mb: float


def measure(command: Sequence[str], what: str) -> Child:
    """Run `command`, sampling the resident memory of it and its children every 50 ms."""
    start = time.perf_counter()
    proc = subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed: {err.strip()[-2000:]}")
    return Child(out, wall, peak[0] / 2**20)
