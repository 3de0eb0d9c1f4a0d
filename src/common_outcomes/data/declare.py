"""`outcomes declare`: a source declaration drafted from a partner's file, for the analyst to
check and finish; and `resembles`, which recognises a file shaped like a built-in (the same
comparison tells `outcomes load` that a refused file is another table than the one declared).

The draft is guesses from the header and a bounded sample of rows (the first 10,000): each
column's type (integer, number, date with the formats seen, or text), a code list for a text
column with few distinct values, `required` where no value was empty, personal identifiers
by their names, and a key when one column (or two together) is unique. Every guess carries a
comment saying what to check. Nothing is stored: the draft is the only thing written.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from common_outcomes.data.builtin import templates
from common_outcomes.data.declarations import Column, ColumnType, Identifier, SourceTemplate
from common_outcomes.data.readers import FileInfo, inspect, read_chunks
from common_outcomes.data.validate import as_text, parse_date
from common_outcomes.errors import UserError

SAMPLE_ROWS = 10_000
# A text column with at most this many distinct values (and each seen at least twice on
# average) gets a code list.
MAX_CODES = 15
# The date formats a draft recognises, in the order tried (as `date_formats` reads them).
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%b-%Y", "%d-%m-%Y", "%Y/%m/%d", "%d.%m.%Y")
# Longer runs of digits are ids, not quantities (and may not fit a 64-bit integer).
MAX_DIGITS = 15
# How many leading columns a two-column key is looked for among (pairs grow as the square).
KEY_PAIR_COLUMNS = 20
# When a header is convincingly a built-in's (see `resembles`).
MIN_SHARED, MIN_NEEDED_SHARE, MIN_HEADER_SHARE = 3, 0.8, 0.5

_INTEGER = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)$")
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


# --- recognising a built-in's table -------------------------------------------------------


@dataclass(frozen=True)
class Resemblance:
    """How far a file's header is a built-in table's: the columns the built-in needs
    (required, key, the period's date) found in it and missing from it, and how many of the
    header's columns are the built-in's."""

    builtin: str  # "ssda903/episodes"
    template: SourceTemplate
    found: tuple[str, ...]
    missing: tuple[str, ...]
    shared: int

    @property
    def exact(self) -> bool:
        return not self.missing

    def sentence(self) -> str:
        return (f"this looks like the built-in {self.template.name} table; declare "
                f"`builtin: {self.builtin}`")


def needed_by(template: SourceTemplate) -> tuple[str, ...]:
    """The columns a file of this built-in cannot do without (as `load` needs them)."""
    names = [c.name for c in template.columns if c.required] + list(template.key)
    if template.period is not None:
        names.append(template.period.column)
    return tuple(dict.fromkeys(names))


def own_file(template: SourceTemplate) -> bool:
    """A built-in read from a file of its own, with a header to compare; not one table out
    of a file holding several (a CIN census XML's, whose templates name their `table`)."""
    return getattr(template, "table", None) is None


def resembles(header: Sequence[str]) -> Resemblance | None:
    """The built-in table this header most resembles, when the match is convincing: at least
    3 of the built-in's columns are in the header, they are at least 80% of the columns the
    built-in needs, and at least half of the header's columns are the built-in's. A column
    counts under its name or one of its `from:` names. Of several, the one with most of its
    needed columns, then most columns in common, then most of its own columns present."""
    present = set(header)
    best: tuple[tuple[float, int, float], Resemblance] | None = None
    for builtin, template in templates().items():
        if not own_file(template):
            continue
        names = {c.name: {c.name, *c.renamed_from} for c in template.columns}
        has = {name for name, spellings in names.items() if spellings & present}
        need = needed_by(template)
        found = tuple(n for n in need if n in has)
        share = len(found) / len(need) if need else 1.0
        if (len(has) < MIN_SHARED or share < MIN_NEEDED_SHARE
                or len(has) < MIN_HEADER_SHARE * len(present)):
            continue
        match = Resemblance(builtin, template, found,
                            tuple(n for n in need if n not in has), len(has))
        score = (share, len(has), len(has) / len(names))
        if best is None or score > best[0]:
            best = (score, match)
    return None if best is None else best[1]


def look_alike(declared: str | None, header: Sequence[str]) -> Resemblance | None:
    """The other built-in a refused file's header resembles, for the load's sentence: none
    when it is the declared built-in's own table, or when the declared built-in is one table
    of a file holding several (its columns come from that file's reader, not a header)."""
    if declared is not None and declared in templates() and not own_file(
            templates()[declared]):
        return None
    match = resembles(header)
    return None if match is None or match.builtin == declared else match


# --- drafting a declaration ---------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """What `outcomes declare` wrote (or would write)."""

    text: str
    file: str
    rows_sampled: int
    columns: int
    builtin: str | None  # the built-in adopted, when the header is one's
    key: tuple[str, ...]
    identifiers: dict[str, Identifier]


def identifier_of(name: str) -> Identifier | None:
    """The kind of personal identifier a column's name says it holds, if any (a guess the
    draft comments on): NHS numbers, UPNs, dates of birth, postcodes, names, and the person
    and case ids of case systems and health records (CHILD, LAchildID, person_id, LPID)."""
    flat = re.sub(r"[^a-z0-9]", "", name.lower())
    words = {w.lower() for w in _WORDS.findall(name)}
    if any(w in flat for w in ("status", "flag", "valid")):
        return None  # NHSNumberStatusBaby, ValidNHSNoFlagMother: about an identifier
    if "nhs" in flat and any(w in flat for w in ("number", "num", "no")):
        return Identifier.NHS_NUMBER
    if flat.endswith("upn") or "pupilnumber" in flat:
        return Identifier.UPN
    if flat.endswith("dob") or any(w in flat for w in ("dateofbirth", "birthdate")):
        return Identifier.DATE_OF_BIRTH
    if not any(w in flat for w in ("district", "sector", "lsoa")) and (
            "postcode" in flat or words & {"post", "pcode"}):
        return Identifier.POSTCODE
    if any(w in flat for w in ("forename", "surname", "firstname", "lastname", "givenname",
                               "familyname", "fullname", "middlename")):
        return Identifier.NAME
    if flat == "child" or flat.endswith("childid") or flat.startswith("lpid") or any(
            w in flat for w in ("personid", "patientid", "clientid", "caseid", "familyid")):
        return Identifier.CASE_ID
    return None


_IDENTIFIERS = {
    Identifier.NHS_NUMBER: ("an NHS number",
                            "checked (Modulus 11) and replaced by a pseudonym at load"),
    Identifier.UPN: ("a UPN", "checked (check letter) and replaced by a pseudonym at load"),
    Identifier.CASE_ID: ("a person or case id",
                         "replaced by a pseudonym at load (records still link)"),
    Identifier.NAME: ("a name", "never stored for analysis (linkage staging only)"),
    Identifier.DATE_OF_BIRTH: ("a date of birth", "stored as the month of birth only"),
    Identifier.POSTCODE: ("a postcode", "stored as its sector and LSOA only"),
}


@dataclass(frozen=True)
class _Guess:
    column: Column
    note: str


def _sample(info: FileInfo) -> pa.Table:
    """The file's first rows (at most SAMPLE_ROWS); rows a reader sets aside are skipped."""
    parts: list[pa.Table] = []
    size = 0
    for chunk in read_chunks(info, SAMPLE_ROWS):
        parts.append(chunk.table.slice(0, SAMPLE_ROWS - size))
        size += parts[-1].num_rows
        if size >= SAMPLE_ROWS:
            break
    return pa.concat_tables(parts) if parts else pa.table({c: pa.array([], pa.string())
                                                           for c in info.columns})


def _values(column: pa.ChunkedArray) -> list[str | None]:
    text = pc.utf8_trim_whitespace(as_text(column.combine_chunks()))
    return [v or None for v in text.to_pylist()]


def _date_formats(values: list[str]) -> tuple[str, ...] | None:
    """The formats the values are written in, most used first, if every one is a date."""
    used: Counter[str] = Counter()
    for value in set(values):
        read = parse_date(value, DATE_FORMATS)
        if read is None:
            return None
        used[read[1]] += 1
    return tuple(f for f, _ in used.most_common())


def _typed(arrow: pa.DataType, values: list[str]) -> tuple[ColumnType, tuple[str, ...], str]:
    """(type, date formats, what was seen) from a column's non-empty values."""
    if pa.types.is_integer(arrow):
        return ColumnType.INTEGER, (), "whole numbers in the file's own types"
    if pa.types.is_floating(arrow) or pa.types.is_decimal(arrow):
        return ColumnType.NUMBER, (), "numbers in the file's own types"
    if pa.types.is_date(arrow) or pa.types.is_timestamp(arrow):
        return ColumnType.DATE, (), "dates in the file's own types"
    if all(_INTEGER.match(v) for v in values):
        if any(len(v.lstrip("+-")) > 1 and v.lstrip("+-").startswith("0") for v in values):
            return ColumnType.STRING, (), "digits with leading zeros (kept as text)"
        if any(len(v.lstrip("+-")) > MAX_DIGITS for v in values):
            return ColumnType.STRING, (), "long strings of digits, such as ids (kept as text)"
        return ColumnType.INTEGER, (), "whole numbers"
    if all(_NUMBER.match(v) for v in values):
        return ColumnType.NUMBER, (), "numbers"
    formats = _date_formats(values)
    if formats is not None:
        return ColumnType.DATE, formats, f"dates written {' and '.join(formats)}"
    return ColumnType.STRING, (), "text"


def _guess(name: str, column: pa.ChunkedArray, rows: int) -> _Guess:
    values = _values(column)
    present = [v for v in values if v is not None]
    kind = identifier_of(name)
    notes: list[str] = []
    if not present:
        dob = kind is Identifier.DATE_OF_BIRTH  # protected as a date, so declared one
        return _Guess(Column(name=name, type=ColumnType.DATE if dob else ColumnType.STRING,
                             identifier=kind),
                      f"every value empty in {rows:,} rows: its type is unknown "
                      f"({'a date, as a date of birth' if dob else 'text'})")
    ctype, formats, seen = _typed(column.type, present)
    if kind is not None and kind is not Identifier.DATE_OF_BIRTH:
        # An identifier is text, whatever its digits (an NHS number is not a quantity).
        ctype, formats, seen = ColumnType.STRING, (), "text (an identifier)"
    if kind is Identifier.DATE_OF_BIRTH and ctype is not ColumnType.DATE:
        notes.append(f"named like a date of birth but holds {seen}: check it")
        kind = None
    else:
        notes.append(seen)
    required = len(present) == len(values)
    notes.append(f"required: no empty value in {rows:,} rows" if required
                 else f"optional: {len(values) - len(present):,} of {rows:,} empty")
    distinct = sorted(set(present))
    codes: tuple[str, ...] = ()
    if (ctype is ColumnType.STRING and kind is None and len(distinct) <= MAX_CODES
            and len(present) >= 2 * len(distinct)):
        codes = tuple(distinct)
        notes.append(f"codes: the {len(codes)} values seen; add any others the partner uses")
    if kind is not None:
        label, protection = _IDENTIFIERS[kind]
        notes.append(f"{label} by its name: {protection}; remove `identifier` if it is not "
                     "one")
    col = Column(name=name, type=ctype, required=required, codes=codes, identifier=kind)
    return _Guess(col.model_copy(update={"date_formats": formats}) if formats else col,
                  "; ".join(notes))


def _key(sample: pa.Table, guesses: Sequence[_Guess]) -> tuple[str, ...]:
    """One column unique over the sample with no empty value (an id-like name first), or
    else two such together; () if none is."""
    rows = sample.num_rows
    if rows < 2:
        return ()
    full = [g.column.name for g in guesses if g.column.required]
    values = {n: _values(sample.column(n)) for n in full}
    idlike = sorted(full, key=lambda n: not re.search(r"(?i)id$|_id|^id|number|ref", n))
    for name in idlike:
        if len(set(values[name])) == rows:
            return (name,)
    for a, b in combinations(full[:KEY_PAIR_COLUMNS], 2):
        if len(set(zip(values[a], values[b], strict=True))) == rows:
            return (a, b)
    return ()


def _yaml(value: object) -> str:
    """One YAML scalar or flow collection, as the declaration's other lines write them."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True)
    return text.removesuffix("\n...\n").strip()


def _head(name: str, source: str, schema: str | None, lines: Sequence[str]) -> list[str]:
    out = [f"# yaml-language-server: $schema={schema}"] if schema else []
    out += [f"# Drafted by `outcomes declare` from {name}. {lines[0]}", *(f"# {x}"
                                                                          for x in lines[1:])]
    return [*out, "kind: source", "version: 1", f"id: {_yaml(source)}"]


def _owner(source: str, suffix: str) -> list[str]:
    """What only the council knows: partner and agreement (left empty, so that `outcomes
    check` refuses the draft until they are filled in), retention and where files arrive."""
    return [
        "partner: null            # FILL IN: the id of the partner that sends this file "
        "(from the partners file)",
        "agreement:",
        "  reference: null        # FILL IN: the data-sharing agreement's reference",
        "retention:               # a guess: set what the agreement says",
        "  analytic_years: 7",
        "  linkage_months: 12",
        f"files: {_yaml(f'{source}/*{suffix}')}   # where its files arrive, under incoming/",
    ]


def _builtin_draft(info: FileInfo, source: str, schema: str | None,
                   match: Resemblance) -> str:
    template = match.template
    declared = {n for c in template.columns for n in (c.name, *c.renamed_from)}
    extra = [c for c in info.columns if c not in declared]
    lines = _head(info.name, source, schema, [
        f"Its header has every column the built-in {match.builtin} needs,",
        "which brings the columns, codes, identifiers, key, period and schedule: fill in",
        "partner and agreement, check retention and files, then run `outcomes check`."])
    lines += [f"builtin: {match.builtin}", f"name: {_yaml(template.name)}",
              *_owner(source, info.path.suffix.lower())]
    if template.family == "ssda903" and "YEAR" in extra:
        lines.append("latest_return: {year: YEAR}   # the file has a YEAR column: a multi-year "
                     "extract keeps each record's latest return")
        extra.remove("YEAR")
    if template.family == "ssda903" and "LA" in extra:
        lines.append("la_filter: LA                 # the file has an LA column: only this "
                     "workspace's own rows are loaded")
        extra.remove("LA")
    if extra:
        lines.append(f"# The file also has {', '.join(extra)}, which the built-in does not "
                     "declare: kept out of the store unless declared under `columns:`.")
    return "\n".join(lines) + "\n"


def _full_draft(info: FileInfo, source: str, schema: str | None,
                near: Resemblance | None) -> tuple[str, list[_Guess], tuple[str, ...], int]:
    sample = _sample(info)
    rows = sample.num_rows
    guesses = [_guess(name, sample.column(name), rows) for name in info.columns]
    key = _key(sample, guesses)
    lines = _head(info.name, source, schema, [
        f"Every guess below is from the header and the first {rows:,} rows",
        "and says what to check: fill in partner and agreement, check each guess, then run",
        "`outcomes check`."])
    if near is not None:
        lines.insert(-3, f"# Near the built-in {near.builtin} ({near.template.name}) but "
                         f"without {', '.join(near.missing)}: if it is one, declare "
                         f"`builtin: {near.builtin}` instead.")
    stem = info.path.stem.replace("_", " ").replace("-", " ")
    lines += [f"name: {_yaml(stem[:1].upper() + stem[1:])}   # a guess: the name people "
              "know it by", *_owner(source, info.path.suffix.lower()),
              "policy: quarantine        # rows that fail are set aside and the rest loaded "
              "(reject: refuse the whole file)",
              "schedule:                 # a guess: how often it comes, and how many days after "
              "a period ends it is due",
              "  every: month", "  due_days: 30"]
    dated = [g.column.name for g in guesses if g.column.type is ColumnType.DATE
             and g.column.required and g.column.identifier is None]
    if dated:
        lines += [f"# period:                 # if each row belongs to a reporting period, "
                  f"dated by a column ({', '.join(dated)}):",
                  f"#   column: {dated[0]}", "#   type: financial_year"]
    if key:
        lines.append(f"key: {_yaml(list(key))}   # unique in the {rows:,} rows sampled: check "
                     "it is unique in every file")
    else:
        lines.append(f"# key: no column (or two together) is unique in the {rows:,} rows "
                     "sampled; name the columns that identify a row if some do")
    lines.append("columns:")
    for g in guesses:
        lines += [f"  # {g.note}", *_column_lines(g.column)]
    return "\n".join(lines) + "\n", guesses, key, rows


def _column_lines(col: Column) -> Iterator[str]:
    yield f"  - name: {_yaml(col.name)}"
    yield f"    type: {col.type.value}"
    if col.required:
        yield "    required: true"
    if col.date_formats != Column.model_fields["date_formats"].default:
        yield f"    date_formats: {_yaml(list(col.date_formats))}"
    if col.codes:
        yield f"    codes: {_yaml(list(col.codes))}"
    if col.identifier is not None:
        yield f"    identifier: {col.identifier.value}"


def draft(path: Path, source: str, schema: str | None = None) -> Draft:
    """A declaration of source `source` for a file like `path`: the short `builtin:` form
    when its header has every column a built-in needs, else every column guessed from a
    sample. `schema` is the $schema path the editor line gives (None: no line)."""
    info = inspect(path)
    match = resembles(info.columns)
    if match is not None and match.exact:
        text = _builtin_draft(info, source, schema, match)
        return Draft(text, info.name, 0, len(info.columns), match.builtin, (), {})
    text, guesses, key, rows = _full_draft(info, source, schema, match)
    found = {g.column.name: g.column.identifier for g in guesses
             if g.column.identifier is not None}
    return Draft(text, info.name, rows, len(info.columns), None, key,
                 {k: v for k, v in found.items() if v is not None})


def write_new(path: Path, text: str, force: bool = False) -> None:
    """Write `text` to `path` whole or not at all; an existing file is kept unless `force`
    (linking the finished file into place fails, rather than replaces, if one appeared)."""
    if path.exists() and not force:
        raise UserError(f"{path} already exists; choose another --out, or give --force to "
                        "write over it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise UserError(f"{path} already exists; choose another --out, or give "
                                "--force to write over it.") from None
            except OSError:  # a file system without hard links: checked above, so replace
                os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
