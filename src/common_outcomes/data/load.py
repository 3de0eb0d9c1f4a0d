"""`outcomes load`: a partner's file, checked, pseudonymised and stored as a new version.

The flow for one file: inspect it (format, encoding, hash) -> a no-op if this exact file
was loaded before -> check its header against the source declaration -> read it in chunks,
checking every row lazily -> protect identifiers -> write accepted rows to a staged version
(and raw identifiers to linkage staging) -> under the source's policy, reject the file or
quarantine the failing rows -> commit atomically, or leave the store untouched. Every
outcome is audited, and problems go to an error report the analyst can send back.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from common_outcomes.data import protect
from common_outcomes.data.builtin import part_of
from common_outcomes.data.declarations import Identifier, SourceDeclaration, Unpivot
from common_outcomes.data.declare import look_alike
from common_outcomes.data.readers import FileInfo, ReadError, inspect, read_chunks
from common_outcomes.data.returns import (
    Merged,
    NoReturnYear,
    SetAside,
    accumulate,
    file_year,
    set_aside,
)
from common_outcomes.data.spreadsheets import write_csv, write_xlsx
from common_outcomes.data.store import Manifest, Store, StoreError
from common_outcomes.data.validate import Problem, SeenKeys, check_chunk
from common_outcomes.geography.postcodes import POSTCODES
from common_outcomes.indicators.evaluate import holds
from common_outcomes.periods import period_containing

log = logging.getLogger(__name__)

REPORT_COLUMNS = ("row", "column", "value", "code", "message")
ABSENT, EXTRA = "file.absent-column", "file.extra-column"
# Notes about the file's columns: reported, never a reason to refuse or quarantine.
NOTES = {ABSENT, EXTRA}


@dataclass
class LoadResult:
    source: str
    file: str
    status: str  # loaded | unchanged | rejected | quarantined
    message: str
    encoding: str | None = None
    version_id: str | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    problems: list[Problem] = field(default_factory=list)
    reports: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # rows left out by the declaration, why
    without_area: int = 0  # accepted rows whose postcode found no small area

    @property
    def by_code(self) -> dict[str, int]:
        return dict(Counter(p.code for p in self.problems).most_common())


@dataclass(frozen=True)
class PostcodeDirectory:
    postcodes: pa.Array
    areas: pa.Array
    # What the areas were derived with (a hash of the directory's files): a version records
    # it, so that a new directory makes the same file load again (and --reassign finds it).
    version: str = ""

    @classmethod
    def from_files(cls, files: Iterable[Path]) -> PostcodeDirectory | None:
        files = list(files)
        tables = [pq.read_table(f, columns=["postcode", "area_code"]) for f in files]
        if not tables:
            return None
        digest = hashlib.sha256()
        for f in files:
            digest.update(hashlib.sha256(f.read_bytes()).digest())
        t = pa.concat_tables(tables)
        return cls(protect.normalise_postcode(t.column("postcode").combine_chunks()),
                   t.column("area_code").combine_chunks(), digest.hexdigest()[:16])

    def lsoa(self, postcodes: pa.Array) -> pa.Array:
        index = pc.index_in(protect.normalise_postcode(postcodes), value_set=self.postcodes)
        return pc.take(self.areas, index)


def postcode_directory(workspace: Path) -> PostcodeDirectory | None:
    """The postcode directory the council holds: incoming/postcode_directory (written by
    `outcomes synth` for its synthetic postcodes) or reference/postcodes/."""
    files = sorted((workspace / "incoming" / "postcode_directory").glob("*.parquet")) + sorted(
        (workspace / POSTCODES).glob("*.parquet"))
    return PostcodeDirectory.from_files(files)


def postcode_columns(decl: SourceDeclaration) -> list[str]:
    """The declared columns whose postcodes place a record in a small area."""
    return [c.name for c in decl.columns if c.identifier is Identifier.POSTCODE]


def areas_version(decl: SourceDeclaration, directory: PostcodeDirectory | None) -> str:
    """The postcode directory a version of this source is placed with ('' when its records
    are not placed by postcode, or there is no directory)."""
    return directory.version if directory is not None and postcode_columns(decl) else ""


def unplaced(analytic: dict[str, pa.Array], postcodes: list[str]) -> tuple[int, int]:
    """(rows with no small area, of them those whose postcode is one but not in the
    directory): the rest have no postcode, or free text in its place."""
    if not postcodes:
        return 0, 0
    n = len(analytic[f"{postcodes[0]}_lsoa"])
    placed = np.zeros(n, dtype=bool)
    shaped = np.zeros(n, dtype=bool)
    for name in postcodes:
        placed |= np.asarray(pc.is_valid(analytic[f"{name}_lsoa"]))
        shaped |= np.asarray(pc.is_valid(analytic[f"{name}_sector"]))
    return int((~placed).sum()), int((~placed & shaped).sum())


def unplaced_note(without: int, unmatched: int, rows: int,
                  directory: PostcodeDirectory | None) -> str:
    """What a load says of its records without a small area."""
    counts = "they count for the borough as a whole but in no ward or locality"
    if directory is None:
        return (f"{without:,} of {rows:,} records have no small area, since no postcode "
                "directory is installed ('outcomes geography --postcodes FILE' installs "
                f"ONS's): {counts}")
    missing = without - unmatched
    return (f"{unmatched:,} of {rows:,} records have a postcode not in the postcode directory"
            + (f" and {missing:,} have no postcode" if missing else "") + f": {counts}")


def _period_labels(decl: SourceDeclaration, dates: pa.Array) -> pa.Array:
    if decl.period is None:
        return pa.array(["all"] * len(dates), pa.string())
    distinct = pc.unique(dates).drop_null()
    labels = [period_containing(d, decl.period.type).label for d in distinct.to_pylist()]
    return pc.take(pa.array(labels, pa.string()), pc.index_in(dates, value_set=distinct))


def protect_columns(decl: SourceDeclaration, columns: dict[str, pa.Array], key: bytes,
                    directory: PostcodeDirectory | None) -> tuple[dict[str, pa.Array],
                                                                  dict[str, pa.Array]]:
    """(analytic columns, linkage columns): identifiers protected, raw values set aside."""
    declared = {c.name for c in decl.columns}
    # Columns the checks derived (such as published markers' notes) go with the data.
    analytic: dict[str, pa.Array] = {k: v for k, v in columns.items() if k not in declared}
    linkage: dict[str, pa.Array] = {}
    for col in decl.columns:
        values = columns[col.name]
        kind = col.identifier
        if kind is None:
            analytic[col.name] = values
            continue
        linkage[col.name] = pc.cast(values, pa.string()) if kind is not Identifier.DATE_OF_BIRTH \
            else values
        if kind is Identifier.RECORD_ID:
            analytic[col.name] = linkage[f"{col.name}_pseudonym"] = protect.pseudonymise(
                values, key)
        elif kind in (Identifier.NHS_NUMBER, Identifier.UPN, Identifier.CASE_ID):
            pseudonym = protect.pseudonymise(values, key)
            analytic[f"{col.name}_pseudonym"] = pseudonym
            linkage[f"{col.name}_pseudonym"] = pseudonym
        elif kind is Identifier.DATE_OF_BIRTH:
            analytic[f"{col.name}_month"] = protect.month_of(values)
        elif kind is Identifier.POSTCODE:
            analytic[f"{col.name}_sector"] = protect.postcode_sector(values)
            analytic[f"{col.name}_lsoa"] = (directory.lsoa(values) if directory is not None
                                            else pa.nulls(len(values), pa.string()))
        # Names go to linkage only.
    for derived in decl.derived:
        # On the raw values, which go no further than linkage staging.
        analytic[derived.name] = holds(derived.test, pa.table(columns))
    return analytic, linkage


def needed_columns(decl: SourceDeclaration) -> set[str]:
    """The columns a file cannot do without: required ones, the key and the period's date."""
    return ({c.name for c in decl.columns if c.required} | set(decl.key)
            | ({decl.period.column} if decl.period else set()))


def renames(decl: SourceDeclaration, header: tuple[str, ...]) -> dict[str, str]:
    """The file's columns that hold a declared column under another name (`from:`), each
    to the declared name: only when the file lacks the declared name itself."""
    out: dict[str, str] = {}
    for column in decl.columns:
        found = next((n for n in column.renamed_from if n in header), None)
        if column.name not in header and found is not None:
            out[found] = column.name
    return out


RELEASE = "release "  # a release's store period: "release 2025", its latest period


def release_of(decl: SourceDeclaration, info: FileInfo, renamed: dict[str, str],
               chunk_rows: int) -> str | None:
    """The store period of a file that is a release of a publication: 'release ' and the
    latest period it covers (the greatest value of the release's column, numbers compared as
    numbers), so that releases to different periods stay current side by side and a file
    for the same latest period supersedes the earlier one as a corrected release."""
    rule = decl.release
    if rule is None or rule.column is None or decl.period is not None:
        return None
    if decl.unpivot is not None and rule.column == decl.unpivot.period:
        found = [p for _, p in wide_columns(decl.unpivot, info.columns)]
    else:
        name = next((old for old, new in renamed.items() if new == rule.column), rule.column)
        if name not in info.columns:
            return None  # the header check names the missing column
        column = decl.column(rule.column)
        markers = set(column.markers) if column is not None else set()
        found = []
        for chunk in read_chunks(info, chunk_rows):
            values = pc.utf8_trim_whitespace(pc.cast(chunk.table.column(name), pa.string()))
            found.extend(v for v in pc.unique(values).drop_null().to_pylist()
                         if v and v not in markers)
    if not found:
        return None
    return RELEASE + max(found, key=period_order)


def period_order(text: str) -> tuple[int, float, str]:
    """Periods as a publication writes them, in order: numbers as numbers (2024 < 202324 is
    never compared: one publication writes one kind), other labels as text (2022/23)."""
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


def wide_columns(rule: Unpivot, header: Iterable[str]) -> list[tuple[str, str]]:
    """The wide columns (name, period) of a header: names matching the pattern in full, the
    period being its first group, or the whole name without one."""
    pattern = re.compile(rule.columns)
    out = []
    for name in header:
        match = pattern.fullmatch(name.strip())
        if match is not None:
            out.append((name, match.group(1) if pattern.groups else match.group(0)))
    return out


def long_header(decl: SourceDeclaration, header: tuple[str, ...]) -> tuple[str, ...]:
    """The header as the declaration sees it once a wide table is unpivoted."""
    if decl.unpivot is None:
        return header
    wide = {name for name, _ in wide_columns(decl.unpivot, header)}
    return (*(c for c in header if c not in wide), decl.unpivot.period, decl.unpivot.value)


def unpivoted(rule: Unpivot, table: pa.Table, numbers: npt.NDArray[np.int64]
              ) -> tuple[pa.Table, npt.NDArray[np.int64]]:
    """A chunk of a wide table long: each row once for each wide column, in the file's
    order, with that column's period and value; and each long row's row in the file."""
    wide = wide_columns(rule, table.column_names)
    n, k = table.num_rows, len(wide)
    kept = table.drop_columns([name for name, _ in wide])
    order = (np.arange(k)[None, :] * n + np.arange(n)[:, None]).ravel()
    values = pa.concat_arrays([pc.cast(table.column(name).combine_chunks(), pa.string())
                               for name, _ in wide]) if k else pa.array([], pa.string())
    columns = {name: pc.take(kept.column(name), pa.array(np.repeat(np.arange(n), k)))
               for name in kept.column_names}
    columns[rule.period] = pa.array(np.tile([p for _, p in wide], n).tolist(), pa.string())
    columns[rule.value] = pc.take(values, pa.array(order))
    return pa.table(columns), np.repeat(numbers, k)


def _header_problems(decl: SourceDeclaration, header: tuple[str, ...]
                     ) -> tuple[list[Problem], bool]:
    """Problems with the file's columns (as renamed by `from:`); True when the file cannot
    be loaded at all. An optional column the file lacks loads as empty, and a column nobody
    declared is kept out of the store; both are noted, neither stops the load."""
    problems: list[Problem] = []
    declared = {c.name for c in decl.columns}
    needed = needed_columns(decl)
    absent = [c.name for c in decl.columns if c.name not in header]
    for name in absent:
        earlier = decl.column(name)
        also = (f" (nor {' or '.join(repr(n) for n in earlier.renamed_from)})"
                if earlier is not None and earlier.renamed_from else "")
        if name in needed:
            problems.append(Problem(0, name, "", "file.missing-column",
                                    f"the file has no column '{name}'{also}, which {decl.id} "
                                    "needs; add it to the file"))
        else:
            problems.append(Problem(0, name, "", ABSENT, f"the file has no column '{name}'"
                                    f"{also}, which is optional for {decl.id}; it was loaded "
                                    "as empty"))
    for name in header:
        if name not in declared:
            problems.append(Problem(0, name, "", EXTRA,
                                    f"column '{name}' is not declared for {decl.id}; it was "
                                    "kept out of the store (declare it to load it)"))
    return problems, any(name in needed for name in absent)


def _looks_like(decl: SourceDeclaration, header: tuple[str, ...]) -> str:
    """'; this looks like an SSDA903 episodes table; declare `builtin: ...`' when the
    refused file's header is convincingly another built-in's (see declare.look_alike)."""
    match = look_alike(decl.builtin, header)
    return "" if match is None else f"; {match.sentence()}"


def _column_notes(problems: list[Problem]) -> str:
    """What the load says about the file's columns, e.g. ', pers_forename absent (loaded
    as empty), 1 extra column kept out (notes)'."""
    parts = []
    for code, what in ((ABSENT, "optional {} absent, loaded as empty"),
                       (EXTRA, "{} not declared, kept out of the store")):
        names = [p.column or "" for p in problems if p.code == code]
        if names:
            noun = f"column{'s' if len(names) > 1 else ''} {', '.join(names)}"
            parts.append(what.format(noun))
    return "".join(f"; {p}" for p in parts)


def load_file(workspace: Path, store: Store, decl: SourceDeclaration, path: Path, key: bytes,
              directory: PostcodeDirectory | None, today: date | None = None,
              chunk_rows: int = 200_000, borough: str | None = None) -> LoadResult:
    """Load one file for one source. The caller holds the store's lock; `borough` is the
    workspace's LA (ONS code), which a source with an LA filter keeps."""
    today = today or date.today()
    try:
        info = inspect(path, part_of(decl))
    except ReadError as exc:
        problem = Problem(exc.row or 0, None, "", exc.code, exc.message)
        return _refused(workspace, store, decl, path.name, None, [problem], 0,
                        f"{path.name} cannot be read: {exc.message}")
    earlier = store.find_by_hash(decl.id, info.sha256)
    placed_with = areas_version(decl, directory)
    again = earlier is not None and earlier.manifest.areas_from != placed_with
    if earlier is not None and not again:
        log.info("%s: %s unchanged since version %s", decl.id, info.name, earlier.version_id)
        store.audit({"event": "unchanged", "source": decl.id, "file": info.name,
                     "sha256": info.sha256, "by": _user(), "version_id": earlier.version_id})
        return LoadResult(decl.id, info.name, "unchanged",
                          f"{info.name} was already loaded as version {earlier.version_id}; "
                          "nothing to do", info.encoding, earlier.version_id)
    if decl.unpivot is not None and not wide_columns(decl.unpivot, info.columns):
        problem = Problem(0, None, "", "file.no-wide-columns",
                          f"no column of {info.name} matches the unpivot pattern "
                          f"'{decl.unpivot.columns}' of {decl.id}; check the file is the wide "
                          "table, or correct the pattern")
        return _refused(workspace, store, decl, info.name, info, [problem], 0,
                        problem.message[0].upper() + problem.message[1:])
    renamed = renames(decl, long_header(decl, info.columns))
    header = tuple(renamed.get(c, c) for c in long_header(decl, info.columns))
    rule = decl.latest_return
    try:
        year = file_year(rule, info.name, header)  # one return a file: its year filled in
    except NoReturnYear as exc:
        return _refused(workspace, store, decl, info.name, info,
                        [Problem(0, rule.year if rule else None, "", "file.no-return-year",
                                 str(exc))], 0, f"{exc}, so nothing was loaded")
    if rule is not None and year is not None:
        header += (rule.year,)
    problems, fatal = _header_problems(decl, header)
    if fatal:
        return _refused(workspace, store, decl, info.name, info, problems, 0,
                        f"{info.name} has no column "
                        + ", ".join(f"'{p.column}'" for p in problems
                                    if p.code == "file.missing-column")
                        + f", which {decl.id} needs (required, key or period), so nothing "
                          "was loaded" + _looks_like(decl, info.columns))
    rows_read = accepted = without = unmatched = 0
    postcodes = postcode_columns(decl)
    periods: set[str] = set()
    seen = SeenKeys()
    aside = SetAside()
    with store.stage(decl.id) as staged:
        try:
            # Before any check: another LA's rows and superseded returns are not ours to
            # check (a repeated episode is not a duplicate key).
            aside = set_aside(decl, info, borough, chunk_rows)
            release = release_of(decl, info, renamed, chunk_rows)
            for part, chunk in enumerate(read_chunks(info, chunk_rows)):
                problems.extend(Problem(b.row, b.column, "", b.code, b.message)
                                for b in chunk.bad_rows)
                kept = ~aside.in_chunk(chunk.first_row, chunk.table.num_rows)
                numbers = np.arange(chunk.first_row, chunk.first_row + chunk.table.num_rows)[kept]
                table = chunk.table.filter(pa.array(kept))
                if decl.unpivot is not None:
                    table, numbers = unpivoted(decl.unpivot, table, numbers)
                table = table.rename_columns([renamed.get(c, c) for c in table.column_names])
                if rule is not None and year is not None:
                    table = table.append_column(rule.year, pa.array(
                        np.full(table.num_rows, year, np.int64)))
                checked = check_chunk(decl, table, 0, seen)
                problems.extend(replace(p, row=int(numbers[p.row])) for p in checked.problems)
                # Rows the reader could not split into the header's columns count as read
                # (and quarantined): nothing a partner sent goes uncounted.
                rows_read += table.num_rows + len({b.row for b in chunk.bad_rows})
                good = pa.array(~checked.bad)
                columns = {k: pc.filter(v, good) for k, v in checked.columns.items()}
                n = int((~checked.bad).sum())
                if n == 0:
                    continue
                period_dates = columns[decl.period.column] if decl.period else pa.nulls(n)
                labels = (_period_labels(decl, period_dates) if release is None
                          else pa.array([release] * n, pa.string()))
                periods.update(pc.unique(labels).drop_null().to_pylist())
                analytic, linkage = protect_columns(decl, columns, key, directory)
                none, not_found = unplaced(analytic, postcodes)
                without, unmatched = without + none, unmatched + not_found
                analytic["period"] = labels
                linkage["source_row"] = pc.filter(pa.array(numbers), good)
                pq.write_table(pa.table(analytic), staged.data_dir / f"part-{part:05d}.parquet",
                               compression="zstd")
                pq.write_table(pa.table(linkage),
                               staged.linkage_dir / f"part-{part:05d}.parquet",
                               compression="zstd")
                accepted += n
        except ReadError as exc:
            problems.append(Problem(exc.row or 0, None, "", exc.code, exc.message))
            return _refused(workspace, store, decl, info.name, info, problems, rows_read,
                            f"{info.name} stopped being readable part-way: {exc.message}")
        quarantined = rows_read - accepted
        errors = [p for p in problems if p.code not in NOTES]
        if errors and (decl.policy == "reject" or accepted == 0):
            refused = _refused(workspace, store, decl, info.name, info, problems, rows_read,
                               f"{info.name} was rejected: {len(errors):,} problems in "
                               f"{quarantined:,} rows (policy: {decl.policy})")
            refused.notes = aside.notes()
            return refused
        if accepted == 0:
            # Only possible when every row is another LA's: nothing of ours to store.
            problems.append(Problem(0, decl.la_filter, "", "file.no-own-rows",
                                    f"no row of {info.name} is for {borough}; "
                                    + "; ".join(aside.notes())))
            refused = _refused(workspace, store, decl, info.name, info, problems, rows_read,
                               f"{info.name} has no rows for this workspace's LA ({borough}), "
                               "so nothing was loaded")
            refused.notes = aside.notes()
            return refused
        # Under the latest-return rule the file merges with the stored returns.
        merged: Merged | None = None
        if rule is not None:
            merged = accumulate(decl, store, staged.data_dir, staged.linkage_dir)
            periods.update(merged.periods if merged else ())
        manifest = replace(_manifest(decl, info, sorted(periods), rows_read, accepted,
                                     quarantined, today, staged.data_dir,
                                     accumulated=rule is not None),
                           areas_from=placed_with, rows_without_area=without)
        version = store.commit(staged, manifest)
    if problems:
        store.audit({"event": "problems", "version_id": version.version_id, "source": decl.id,
                     "codes": dict(Counter(p.code for p in problems))})
    if merged is not None:
        store.audit({"event": "accumulate", "version_id": version.version_id,
                     "source": decl.id, "kept": merged.kept, "superseded": merged.superseded,
                     "older": merged.older, "from_versions": list(merged.versions)})
    if len(aside.rows):
        store.audit({"event": "set-aside", "version_id": version.version_id, "source": decl.id,
                     "rows": len(aside.rows), "other_las": aside.other_las,
                     "superseded": aside.superseded, "notes": aside.notes()})
    result = LoadResult(decl.id, info.name, "quarantined" if quarantined else "loaded",
                        f"{info.name}: {accepted:,} rows loaded as version "
                        f"{version.version_id}"
                        + (f", {quarantined:,} rows quarantined" if quarantined else "")
                        + _column_notes(problems)
                        + (f", {len(aside.rows):,} rows set aside" if len(aside.rows) else "")
                        + (merged.message() if merged else ""),
                        info.encoding, version.version_id, rows_read, accepted, quarantined,
                        problems, notes=aside.notes(), without_area=without)
    if again and earlier is not None:
        result.notes.insert(0, f"loaded again, though version {earlier.version_id} holds the "
                               "same file: the postcode directory changed since")
    if without:
        result.notes.append(unplaced_note(without, unmatched, accepted, directory))
    if renamed:
        result.message += "; read " + ", ".join(f"'{old}' as '{new}'"
                                                for old, new in renamed.items())
    if problems:
        result.reports = write_report(workspace, decl.id, info.name, info.sha256, problems)
    log.info("%s: accepted %s", decl.id, result.message)
    return result


def _manifest(decl: SourceDeclaration, info: FileInfo, periods: list[str], rows_read: int,
              accepted: int, quarantined: int, today: date, data_dir: Path,
              accumulated: bool = False) -> Manifest:
    schema = pq.read_schema(next(iter(sorted(data_dir.glob("part-*.parquet")))))
    return Manifest(
        source=decl.id, file_name=info.name, sha256=info.sha256, size_bytes=info.size_bytes,
        encoding=info.encoding or "", format=info.format,
        loaded_at=datetime.now(UTC).isoformat(timespec="seconds"),
        loaded_by=_user(), agreement=decl.agreement.reference, partner=decl.partner,
        periods=tuple(periods), rows_read=rows_read, rows_accepted=accepted,
        rows_quarantined=quarantined,
        retention_until=_add_months(today, 12 * decl.retention.analytic_years),
        linkage_retention_until=_add_months(today, decl.retention.linkage_months),
        policy=decl.policy, columns={f.name: str(f.type) for f in schema},
        accumulated=accumulated,
    )


def _add_months(d: date, months: int) -> date:
    month = d.month - 1 + months
    year = d.year + month // 12
    day = min(d.day, 28)
    return date(year, month % 12 + 1, day)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _refused(workspace: Path, store: Store, decl: SourceDeclaration, name: str,
             info: FileInfo | None, problems: list[Problem], rows_read: int,
             message: str) -> LoadResult:
    log.info("%s: rejected %s", decl.id, message)
    store.audit({"event": "rejected", "source": decl.id, "file": name,
                 "sha256": info.sha256 if info else None, "by": _user(),
                 "agreement": decl.agreement.reference, "rows_read": rows_read,
                 "rows_accepted": 0, "problems": len(problems),
                 "codes": dict(Counter(p.code for p in problems))})
    result = LoadResult(decl.id, name, "rejected", message,
                        info.encoding if info else None, None, rows_read, 0, rows_read,
                        problems)
    # An unreadable file has no hash to name its report by; the report says so.
    result.reports = write_report(workspace, decl.id, name, info.sha256 if info else None,
                                  problems)
    return result


def write_report(workspace: Path, source: str, file_name: str, sha256: str | None,
                 problems: list[Problem]) -> list[Path]:
    """The error report for the partner: CSV and XLSX, values masked, formulas neutralised."""
    folder = workspace / ".outcomes" / "reports" / source
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{Path(file_name).stem}-{(sha256 or 'unread')[:8]}-problems"
    rows = [(p.row, p.column or "", p.value, p.code, p.message) for p in problems]
    csv_path, xlsx_path = folder / f"{stem}.csv", folder / f"{stem}.xlsx"
    write_csv(csv_path, REPORT_COLUMNS, rows)
    write_xlsx(xlsx_path, {"Problems": (REPORT_COLUMNS, rows)})
    return [csv_path, xlsx_path]


def reassign(store: Store, decl: SourceDeclaration, directory: PostcodeDirectory | None
             ) -> list[LoadResult]:
    """`outcomes load --reassign`: each current version of a source placed again with the
    current postcode directory, as a new version of the periods it is current for. The raw
    postcodes come from the version's linkage copy, so this works while that is kept (the
    source's `linkage_months`); the analytic store keeps only the postcode sector. The caller
    holds the store's lock."""
    postcodes = postcode_columns(decl)
    placed_with = areas_version(decl, directory)
    results: list[LoadResult] = []
    current: dict[str, list[str]] = {}
    for part in store.current_files(decl.id):
        periods = current.setdefault(part.version_id, [])
        periods.extend(p for p in part.periods if p not in periods)
    for version_id, periods in sorted(current.items()):
        m = store.version(version_id).manifest
        if not postcodes or m.areas_from == placed_with:
            results.append(LoadResult(decl.id, m.file_name, "unchanged",
                                      f"version {version_id} is placed with the current "
                                      "postcode directory already; nothing to do",
                                      version_id=version_id))
            continue
        results.append(_reassign_version(store, decl, m, sorted(periods), postcodes,
                                         directory, placed_with))
    return results


def _reassign_version(store: Store, decl: SourceDeclaration, m: Manifest, periods: list[str],
                      postcodes: list[str], directory: PostcodeDirectory | None,
                      placed_with: str) -> LoadResult:
    try:
        linkage = {p.name: p for p in store.version_files(m.version_id, "linkage")}
        data = store.version_files(m.version_id, "data")
    except StoreError:
        return LoadResult(decl.id, m.file_name, "rejected",
                          f"version {m.version_id} ({m.file_name}) cannot be placed again: its "
                          "raw postcodes were deleted with its linkage copy (kept "
                          f"{decl.retention.linkage_months} months); ask {m.partner} to send "
                          "the file again and load it", version_id=m.version_id)
    rows = without = unmatched = carried = 0
    with store.stage(decl.id) as staged:
        for path in data:
            table = pq.read_table(path)
            keep = pc.is_in(table.column("period"), value_set=pa.array(periods, pa.string()))
            table = table.filter(keep)
            if path.name in linkage:
                raw = pq.read_table(linkage[path.name]).filter(keep)
                for name in postcodes:
                    values = raw.column(name).combine_chunks()
                    lsoa = (directory.lsoa(values) if directory is not None
                            else pa.nulls(len(values), pa.string()))
                    at = table.schema.get_field_index(f"{name}_lsoa")
                    table = table.set_column(at, f"{name}_lsoa", lsoa)
                pq.write_table(raw, staged.linkage_dir / path.name, compression="zstd")
            else:
                # Rows a latest-return load carried from earlier returns: their raw postcodes
                # stay with the version they came in (returns.accumulate), so their areas too.
                carried += table.num_rows
            none, not_found = unplaced({c: table.column(c).combine_chunks()
                                        for c in table.column_names}, postcodes)
            rows, without, unmatched = rows + table.num_rows, without + none, unmatched + not_found
            pq.write_table(table, staged.data_dir / path.name, compression="zstd")
        # The same file's rows, placed again: its retention dates stay the original's.
        manifest = replace(m, version_id="", periods=tuple(periods), rows_accepted=rows,
                           loaded_at=datetime.now(UTC).isoformat(timespec="seconds"),
                           loaded_by=_user(), areas_from=placed_with, rows_without_area=without,
                           reassigned_from=m.version_id)
        version = store.commit(staged, manifest)
    store.audit({"event": "reassign", "source": decl.id, "version_id": version.version_id,
                 "reassigned_from": m.version_id, "areas_from": placed_with,
                 "rows_without_area_before": m.rows_without_area,
                 "rows_without_area": without, "by": _user()})
    result = LoadResult(decl.id, m.file_name, "loaded",
                        f"{m.file_name}: {rows:,} rows of version {m.version_id} placed again "
                        f"with the current postcode directory as version {version.version_id} "
                        f"(without a small area: {m.rows_without_area:,} before, "
                        f"{without:,} now)"
                        + (f"; {carried:,} rows carried from earlier returns keep their areas "
                           "(their raw postcodes are with the versions they came in)"
                           if carried else ""), None, version.version_id, rows, rows,
                        without_area=without)
    if without:
        result.notes.append(unplaced_note(without, unmatched, rows, directory))
    return result
