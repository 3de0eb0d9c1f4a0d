"""No output contains an unsuppressed small count, or one that could be worked out.

One run of the example end to end (synthetic borough, fixed seed: synth, load, run, export as
CSV and XLSX, map, quality, explain for every indicator, history), then a sweep of every file
written in the workspace outside the record-level store and the generator's truth, and of
every command's output: each table of results found (Parquet, CSV, XLSX, JSON, HTML) is
checked row by row here, independently of both the engine's suppression and the guard
(`engine/publish.py`), with a deliberately plain algorithm over dictionaries.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from openpyxl import load_workbook
from typer.testing import CliRunner

from common_outcomes.cli import app
from common_outcomes.project import Project

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(".outcomes") / "results" / "indicator_values.parquet"
# What marks a table as results: the columns a reader would need to see a count.
MARKS = {"indicator_id", "area_code", "period", "numerator", "suppressed"}
SHOWN = ("numerator", "value", "lower_95", "upper_95", "lower_998", "upper_998")
# Files that hold no tables; any other kind of file fails the sweep until it is taught to read it.
PLAIN = {".yaml", ".yml", ".md", ".txt"}
# The months a period type's periods start in, for deciding which periods tile which.
STARTS = {"month": set(range(1, 13)), "quarter": {1, 4, 7, 10}, "financial_year": {4},
          "calendar_year": {1}, "academic_year": {9}}

Row = dict[str, object]


def outcomes(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("outcomes")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=600,
                          check=False)


@dataclass
class Outputs:
    workspace: Path
    said: dict[str, tuple[int, str, str]] = field(default_factory=dict)  # exit, stdout, stderr


@pytest.fixture(scope="session")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Outputs:
    root = tmp_path_factory.mktemp("sweep")
    ws = root / "ws"
    shutil.copytree(ROOT / "examples" / "tower-hamlets", ws, ignore=shutil.ignore_patterns(
        "incoming", "synth-truth", ".outcomes", ".synth-staging-*"))
    key = root / "key"
    key.write_text("k" * 64)
    found = Outputs(ws)
    # The steps that make data, in real processes as a user runs them.
    for name, args in {
        "synth": ("synth", str(ws), "--years", "2", "--seed", "5"),
        "load": ("load", str(ws), "--all", "--key-file", str(key)),
        "run": ("run", str(ws)),
    }.items():
        done = outcomes(*args)
        found.said[name] = (done.returncode, done.stdout, done.stderr)
    # The outputs, in this process (the same code, without a second of start-up each).
    runner = CliRunner()
    reads = {
        "export csv": ["export", str(ws)],
        "export xlsx": ["export", str(ws), "--format", "xlsx"],
        "check": ["check", str(ws), "--format", "json"],
        "map html": ["map", str(ws), "--out", str(ws / "build" / "map.html")],
        "map json": ["map", str(ws), "--out", str(ws / "build" / "map.json"), "--format",
                     "json"],
        "quality": ["quality", str(ws)],
        "quality json": ["quality", str(ws), "--format", "json"],
        "history": ["history", str(ws)],
        "history json": ["history", str(ws), "--format", "json"],
    }
    results = ws / RESULTS
    indicators = sorted(set(pq.read_table(results).column("indicator_id").to_pylist())
                        ) if results.is_file() else []
    reads |= {f"explain {i}": ["explain", str(ws), i] for i in indicators}
    for name, args in reads.items():
        said = runner.invoke(app, args)
        problem = "" if said.exception is None else repr(said.exception)
        found.said[name] = (said.exit_code, said.stdout, said.stderr + problem)
    return found


def test_every_command_of_the_run_succeeded(outputs: Outputs) -> None:
    failed = {name: err or out for name, (code, out, err) in outputs.said.items() if code}
    assert failed == {}
    assert sum(name.startswith("explain ") for name in outputs.said) >= 10


def test_no_output_discloses_a_small_count(outputs: Outputs) -> None:
    tables = list(_every_table(outputs))
    kinds = {where.split(":")[0] for where, _ in tables}
    rows = sum(len(t) for _, t in tables)
    # Not vacuous: every kind of output that holds results was found and read.
    assert {"parquet", "csv", "xlsx"} <= kinds, kinds
    assert any("passes" in where for where, _ in tables), "the per-pass cache was not swept"
    assert any(where.endswith("indicator_values.csv") for where, _ in tables)
    assert any(where.endswith("indicator_values.xlsx") for where, _ in tables)
    assert rows > 1000
    hidden = sum(_truth(r["suppressed"]) for _, t in tables for r in t)
    assert hidden > 0, "nothing was suppressed, so the sweep proves little"
    rules = _rules(outputs.workspace)
    leaks = [f"{where}: {leak}" for where, t in tables for leak in _leaks(t, rules)]
    assert leaks == [], f"{len(leaks)} leaks, the first:\n" + "\n".join(leaks[:20])


def test_the_exports_hold_the_whole_results_table(outputs: Outputs) -> None:
    results = pq.read_table(outputs.workspace / RESULTS)
    exports = outputs.workspace / ".outcomes" / "exports"
    with open(exports / "indicator_values.csv", encoding="utf-8-sig", newline="") as fh:
        header, *body = list(csv.reader(fh))
    assert header == results.column_names and len(body) == results.num_rows
    sheet = load_workbook(exports / "indicator_values.xlsx", read_only=True).worksheets[0]
    assert sum(1 for _ in sheet.iter_rows()) == results.num_rows + 1


def test_the_export_refuses_a_planted_leak_and_writes_nothing(outputs: Outputs,
                                                             tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(outputs.workspace, ws, ignore=shutil.ignore_patterns(
        "store", "incoming", "synth-truth", "exports"))
    results = pq.read_table(ws / RESULTS)
    first = next(r for r in results.to_pylist() if r["suppressed"] and r["area_type"] == "ward")
    # One indicator and period type, so that the planted leak is the table's only one.
    rows = [r for r in results.to_pylist() if (r["indicator_id"], r["period_type"])
            == (first["indicator_id"], first["period_type"])]
    at = rows.index(first)
    rows[at] |= {"suppressed": False, "numerator": 3.0, "value": 1.5}
    pq.write_table(pa.Table.from_pylist(rows, schema=results.schema), ws / RESULTS)
    for fmt in ("csv", "xlsx"):
        done = outcomes("export", str(ws), "--format", fmt)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert (f"[disclosure.small-count] indicator {first['indicator_id']}, area "
                f"{first['area_code']}, period {first['period']}") in done.stderr
        assert not (ws / ".outcomes" / "exports").exists()


@dataclass(frozen=True)
class Rule:
    below: int  # counts 1..below are hidden
    base: int | None  # published counts are multiples of this
    stock: bool  # counted at each period's end: a year is its last quarter, not their sum


def _rules(ws: Path) -> dict[str, Rule]:
    """Each defined indicator's rule, from its definition and its source's declaration."""
    sources = Project.open(ws).sources
    out = {}
    for path in (ws / "definitions").glob("*.yaml"):
        for d in yaml.safe_load(path.read_text())["definitions"]:
            rule = sources[d["source"]].disclosure
            out[d["indicator"]] = Rule(rule.suppress_below, rule.round_to, "open_until" in d)
    return out


def _every_table(outputs: Outputs) -> Iterator[tuple[str, list[Row]]]:
    ws = outputs.workspace
    skip = (ws / ".outcomes" / "store", ws / "synth-truth")
    files = [p for p in sorted(ws.rglob("*")) if p.is_file()
             and not any(p.is_relative_to(s) for s in skip)]
    assert files
    for path in files:
        yield from _tables_in(path, str(path.relative_to(ws)))
    for name, (_, out, err) in outputs.said.items():
        for stream, text in (("stdout", out), ("stderr", err)):
            yield from _tables_in_text(text, f"{name} {stream}")


def _tables_in(path: Path, where: str) -> Iterator[tuple[str, list[Row]]]:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        if set(pq.read_schema(path).names) >= MARKS:
            yield f"parquet:{where}", pq.read_table(path).to_pylist()
    elif suffix == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as fh:
            yield from _csv_tables(csv.reader(fh), f"csv:{where}")
    elif suffix == ".xlsx":
        book = load_workbook(path, read_only=True, data_only=True)
        for sheet in book.worksheets:
            yield from _csv_tables(sheet.iter_rows(values_only=True), f"xlsx:{where}")
        book.close()
    elif suffix in (".json", ".jsonl", ".geojson"):  # a map's shapes are JSON too
        yield from _tables_in_text(path.read_text(encoding="utf-8"), f"json:{where}")
    elif suffix == ".html":
        yield from _html_tables(path.read_text(encoding="utf-8"), f"html:{where}")
    else:
        assert suffix in PLAIN, f"the sweep cannot read {where}: teach it this kind of file"


def _csv_tables(lines: Iterator[list[str]] | Iterator[tuple[object, ...]],
                where: str) -> Iterator[tuple[str, list[Row]]]:
    header = [str(h) for h in next(iter(lines), ())]
    if set(header) >= MARKS:
        # A spreadsheet row stops at its last filled cell.
        yield where, [dict(zip(header, [*line, *[None] * (len(header) - len(line))],
                               strict=True)) for line in lines]


def _tables_in_text(text: str, where: str) -> Iterator[tuple[str, list[Row]]]:
    """JSON (a document or one per line) holding lists of result rows anywhere, or CSV."""
    documents = []
    try:
        documents = [json.loads(text)]
    except ValueError:
        for line in text.splitlines():
            try:
                documents.append(json.loads(line))
            except ValueError:
                continue
    for doc in documents:
        yield from ((where, t) for t in _json_tables(doc))
    if not documents and text.strip():
        yield from _csv_tables(csv.reader(text.splitlines()), where)


def _json_tables(doc: object) -> Iterator[list[Row]]:
    if isinstance(doc, list) and doc and all(isinstance(d, dict) for d in doc) \
            and set(doc[0]) >= MARKS:
        yield doc
    children = doc.values() if isinstance(doc, dict) else doc if isinstance(doc, list) else ()
    for child in children:
        yield from _json_tables(child)


class _Tables(HTMLParser):
    """Every <table> as rows of cell text, and the text of every JSON <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.scripts: list[str] = []
        self._cell: list[str] | None = None
        self._script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "script" and "json" in (dict(attrs).get("type") or ""):
            self._script = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables \
                and self.tables[-1]:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "script":
            self._script = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._script:
            self.scripts[-1] += data


def _html_tables(text: str, where: str) -> Iterator[tuple[str, list[Row]]]:
    parser = _Tables()
    parser.feed(text)
    for table in parser.tables:
        yield from _csv_tables(iter(table), where)
    for script in parser.scripts:
        yield from _tables_in_text(script, where)


# The independent check: plain Python over rows, one rule at a time.


def _leaks(rows: list[Row], rules: Mapping[str, Rule]) -> Iterator[str]:
    cells = [_read(r) for r in rows]
    for c in cells:
        n = c["denominator"]
        if not c["published"] and isinstance(n, float) \
                and 1 <= n <= rules[str(c["indicator_id"])].below:
            yield f"{_name(c)} shows the small denominator {n:g}"
        if c["hidden"]:
            if any(c[k] is not None for k in SHOWN):
                yield f"{_name(c)} is suppressed but shows a number"
            continue
        if c["published"] or c["numerator"] is None:
            continue
        rule = rules[str(c["indicator_id"])]
        x = c["numerator"]
        assert isinstance(x, float)
        if 1 <= x <= rule.below:
            yield f"{_name(c)} shows the small count {x:g}"
        if rule.base and x % rule.base:
            yield f"{_name(c)} shows {x:g}, not rounded to {rule.base}"
        if c["method"] == "Wilson score" and isinstance(n, float) and 1 <= n - x <= rule.below:
            yield f"{_name(c)} shows {x:g} of {n:g}: the {n - x:g} left out are a small count"
    with_denominators = {c["indicator_id"] for c in cells if c["denominator"] is not None}
    for members in _families(cells, rules):
        yield from _differences(members, rules)
        hidden = [m for m in members if m["hidden"]]
        if len(hidden) == 1:
            yield f"{_name(hidden[0])} is the only hidden cell of a family that adds up"
        # A hidden denominator: a suppressed row without one, where the indicator has them.
        gone = [m for m in hidden if m["denominator"] is None
                and m["indicator_id"] in with_denominators]
        if len(gone) == 1:
            yield f"{_name(gone[0])} is the only hidden denominator of a family that adds up"
    same: dict[tuple[object, ...], list[Row]] = defaultdict(list)
    for c in cells:
        stock = c["indicator_id"] in rules and rules[str(c["indicator_id"])].stock
        start = None if stock else c["start"]
        same[c["indicator_id"], c["area_code"], c["breakdown"], start, c["end"]].append(c)
    for copies in same.values():
        if 0 < sum(bool(c["hidden"]) for c in copies) < len(copies):
            yield f"{_name(copies[0])} is hidden in one row and shown in another"
        if any(c["denominator"] is None for c in copies if c["hidden"]) \
                and any(c["denominator"] is not None for c in copies):
            yield f"{_name(copies[0])}'s denominator is hidden in one row and shown in another"


def _differences(members: list[Row], rules: Mapping[str, Rule]) -> Iterator[str]:
    """A published head minus its published members is the hidden members plus what no
    member covers (records with no small area): it must not be a small count, for the
    numerators, the denominators or a proportion's complements."""
    head, *parts = members
    rule = rules.get(str(head["indicator_id"]))
    if head["published"] or rule is None or rule.base:
        return

    def left(count: Callable[[Row], object], shown: Callable[[Row], bool]) -> float | None:
        values = [count(m) for m in (head, *(p for p in parts if shown(p)))]
        if not all(isinstance(v, float) for v in values):
            return None
        return float(values[0]) - sum(float(v) for v in values[1:])  # type: ignore[arg-type]

    def complement(c: Row) -> object:
        x, n = c["numerator"], c["denominator"]
        return n - x if isinstance(x, float) and isinstance(n, float) else None

    published = {"numerator": (lambda c: c["numerator"], lambda c: not c["hidden"]),
                 "denominator": (lambda c: c["denominator"],
                                 lambda c: not (c["hidden"] and c["denominator"] is None))}
    if head["method"] == "Wilson score":
        published["complement"] = (complement, lambda c: not c["hidden"])
    for name, (count, shown) in published.items():
        if not shown(head):
            continue
        d = left(count, shown)
        if d is not None and 1 <= d <= rule.below:
            yield f"{_name(head)} minus its published parts leaves a {name} of {d:g}"


def _families(cells: list[Row], rules: Mapping[str, Rule]) -> Iterator[list[Row]]:
    """Each parent with the children that add up to it: areas, breakdowns and periods; and
    an area with all the areas of one type further down (the borough and all its wards).
    The head comes first."""
    at = {(c["indicator_id"], c["period_type"], c["period"], c["breakdown"], c["area_code"]): c
          for c in cells}
    groups: dict[tuple[object, ...], list[Row]] = defaultdict(list)
    near: dict[tuple[object, ...], list[Row]] = defaultdict(list)
    series: dict[tuple[object, ...], list[Row]] = defaultdict(list)
    for c in cells:
        here = (c["indicator_id"], c["period_type"], c["period"])
        parent = at.get((*here, c["breakdown"], c["parent_code"]))
        if parent is not None:
            groups["area", id(parent)].append(parent)
            groups["area", id(parent)].append(c)
            # The parent with its children of this type, a family if some are further down.
            near["below", id(parent), c["area_type"]] += [parent, c]
        # Every area further up, through another one.
        up = parent and at.get((*here, c["breakdown"], parent["parent_code"]))
        while up is not None:
            groups["below", id(up), c["area_type"]] += [up, c]
            up = at.get((*here, c["breakdown"], up["parent_code"]))
        total = at.get((*here, "all", c["area_code"]))
        if c["breakdown"] != "all" and total is not None:
            dimension = str(c["breakdown"]).split(": ")[0]
            groups["breakdown", id(total), dimension] += [total, c]
        if c["indicator_id"] not in rules or not rules[str(c["indicator_id"])].stock:
            series[c["indicator_id"], c["area_code"], c["breakdown"]].append(c)
    for rows in series.values():
        by_type: dict[object, list[Row]] = defaultdict(list)
        for c in rows:
            by_type[c["period_type"]].append(c)
        for p in rows:
            for ctype, children in by_type.items():
                inside = [c for c in children if _inside(c, p)]
                if inside and _tiled_by(p, str(ctype)):
                    groups["period", id(p), ctype] += [p, *inside]
    for key in set(near) & set(groups):
        groups[key] = [*near[key], *groups[key]]
    for members in groups.values():
        yield list({id(m): m for m in members}.values())


def _tiled_by(parent: Row, ctype: str) -> bool:
    """Whether the periods of type `ctype` make up `parent` exactly."""
    start, end = parent["start"], parent["end"]
    if ctype not in STARTS or ctype == parent["period_type"] or not (
            isinstance(start, date) and isinstance(end, date)):
        return False
    after = end + timedelta(days=1)
    return (start.day == 1 and start.month in STARTS[ctype] and after.day == 1
            and after.month in STARTS[ctype])


def _inside(child: Row, parent: Row) -> bool:
    span = (child["start"], child["end"])
    return (parent["start"] <= child["start"] and child["end"] <= parent["end"]  # type: ignore[operator]
            and span != (parent["start"], parent["end"]))


def _read(r: Row) -> Row:
    """A row from any format as Python values: numbers, dates, True/False, None for blank."""
    c: Row = {k: _text(r.get(k)) for k in ("indicator_id", "area_code", "area_type",
                                            "parent_code", "period", "period_type",
                                            "breakdown")}
    c |= {k: _number(r.get(k)) for k in (*SHOWN, "denominator")}
    c["method"] = _text(r.get("method"))
    c["hidden"] = _truth(r.get("suppressed"))
    c["published"] = str(r.get("method") or "").startswith("published")
    c["start"], c["end"] = _day(r.get("period_start")), _day(r.get("period_end"))
    c["breakdown"] = c["breakdown"] or "all"
    return c


def _text(v: object) -> str | None:
    return None if v is None or v == "" else str(v)


def _number(v: object) -> float | None:
    return None if v is None or v == "" else float(v)  # type: ignore[arg-type]


def _truth(v: object) -> bool:
    return v is True or str(v).lower() == "true"


def _day(v: object) -> date | None:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    return date.fromisoformat(v) if isinstance(v, str) and v else None


def _name(c: Row) -> str:
    return (f"{c['indicator_id']} {c['area_code']} {c['period']} ({c['period_type']}) "
            f"{c['breakdown']}")
