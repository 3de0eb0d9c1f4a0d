"""Plain English on the example's pages (issue 17): every comparison names its benchmark,
the areas charts draw the benchmark their areas are judged against, every result on the
priority and indicator pages has its sentence, and every number in a sentence is the
results table's."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from common_outcomes.reference import comparator_files
from common_outcomes.reports import results_view as rv
from common_outcomes.reports.results_view import number
from common_outcomes.state import Role
from common_outcomes.web.app import create_app
from common_outcomes.web.site import Served, Site

ROOT = Path(__file__).resolve().parents[2]
VIEWER = "viewer@example.org"
PASSWORD = "a long synthetic passphrase"
SPEC = re.compile(r"data-vega-lite='([^']*)'")
TAG = re.compile(r"<[^>]+>")
LABELS = ("Similar", "Better", "Worse", "Higher", "Lower", "Best", "Worst", "Not compared")
# A comparison word in a cell or tag, or in a sentence, with what follows it.
SHOUTED = re.compile(r"\b(Similar|Better|Worse|Higher|Lower|Best|Worst|Not compared)\b"
                     r"(?! when)(.{0,60})")
SAID = re.compile(r"\b(similar to|better than|worse than|higher than|lower than|"
                  r"not compared with) (.{0,60})")
SENTENCE = re.compile(r'<(?:li|div) (?:class="[^"]*" )?data-indicator="([^"]+)"'
                      r'(?: data-area="([^"]*)" data-period="([^"]*)")?>(.*?)</(?:li|div)>',
                      re.S)
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def outcomes(*args: str) -> None:
    exe = Path(sys.executable).with_name("outcomes")
    done = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=900,
                          check=False)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Served, TestClient]:
    """The example as `outcomes demo` builds it (synthetic data and the carried published
    comparators: England, London, the statistical neighbours), served to a viewer."""
    root = tmp_path_factory.mktemp("words")
    folder = root / "tower-hamlets"
    shutil.copytree(ROOT / "examples" / "tower-hamlets", folder, ignore=shutil.ignore_patterns(
        "incoming", "synth-truth", ".outcomes", ".synth-staging-*"))
    (root / "key").write_text("k" * 64)
    outcomes("synth", str(folder), "--years", "2", "--seed", "7")
    (folder / "incoming" / "comparators").mkdir(parents=True, exist_ok=True)
    for path in comparator_files():
        shutil.copy(path, folder / "incoming" / "comparators" / path.name)
    outcomes("load", str(folder), "--all", "--key-file", str(root / "key"))
    outcomes("run", str(folder))
    app = create_app([folder], f"sqlite:///{root / 'app.sqlite3'}")
    site: Site = app.state.site
    site.state.add_user(VIEWER, "Viewer", PASSWORD, "tower-hamlets", Role.VIEWER, "tests")
    client = TestClient(app, base_url="https://testserver")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/sign-in").text)
    assert token
    signed = client.post("/sign-in", data={"email": VIEWER, "password": PASSWORD,
                                           "csrf_token": token.group(1), "next": "/"},
                         follow_redirects=False)
    assert signed.status_code == 303
    return site.workspaces["tower-hamlets"], client


def pages_of(example: Served) -> list[str]:
    base = f"/w/{example.id}"
    table = example.results()
    assert table is not None
    return [base, *(f"{base}/priorities/{p['id']}" for p in example.map["priorities"]),
            *(f"{base}/indicators/{i}" for i in sorted(
                set(table.column("indicator_id").to_pylist()) & set(example.indicators))),
            *(f"{base}/localities/{x['id']}" for x in example.map["localities"])]


def visible_text(html: str) -> str:
    return unescape(TAG.sub(" ", SPEC.sub("", html)))


def names_of(example: Served) -> set[str]:
    table = example.results()
    assert table is not None
    return set(table.column("area_name").to_pylist()) | set(example.names.values())


def test_every_comparison_on_every_page_names_its_benchmark(
        served: tuple[Served, TestClient]) -> None:
    example, viewer = served
    names = names_of(example)
    checked = 0
    for path in pages_of(example):
        html = viewer.get(path).text
        text = re.sub(r"\s+", " ", visible_text(html))
        for word, rest in SHOUTED.findall(text):
            assert re.match(r" (to|than|with) ", rest), (path, word + rest)
            assert any(rest.split(" ", 2)[2].startswith(n) for n in names), (path, word + rest)
            checked += 1
        for sentence in SENTENCE.findall(html):
            for _, rest in SAID.findall(unescape(sentence[3])):
                assert any(rest.startswith(n) for n in names), (path, rest)
                checked += 1
        # A chart's comparisons name the benchmark too.
        for spec in (json.loads(unescape(s)) for s in SPEC.findall(html)):
            for point in spec.get("data", {}).get("values", []):
                said = point.get("comparison") if isinstance(point, dict) else None
                if said is not None:
                    assert said == "The benchmark" or any(
                        said.endswith(f" {n}") for n in names), (path, said)
    assert checked > 50


def test_an_areas_chart_draws_the_benchmark_its_areas_are_judged_against(
        served: tuple[Served, TestClient]) -> None:
    """The bug: the dashed line was the borough's value while the borough and its
    comparators were judged against England."""
    example, viewer = served
    table = example.results()
    assert table is not None
    # An indicator with both: boroughs judged against England, wards against the borough.
    kinds: dict[str, set[str]] = {}
    for r in rv.values(table):
        kinds.setdefault(r.indicator_id, set()).add(r.area_type)
    indicator = min(i for i, k in kinds.items() if {"england", "ward"} <= k)
    html = viewer.get(f"/w/{example.id}/indicators/{indicator}").text
    charts = [s for s in (json.loads(unescape(m)) for m in SPEC.findall(html))
              if any((layer.get("encoding", {}).get("strokeDash", {}).get("title") or "")
                     .startswith("The benchmark") for layer in s.get("layer", []))]
    assert len(charts) == 2  # England's comparators; the borough's localities and wards
    judged_against = set()
    for spec in charts:
        line = spec["layer"][0]["data"]["values"][0]
        points = spec["data"]["values"]
        period = next(r.period for r in rv.compared(table, indicator, rv.values(
            rv.select(table, indicator=indicator))[0].period_type, areas=example.shown))
        rows = {f"{r.area_name} ": r for r in rv.values(rv.select(
            table, indicator=indicator, period=period, breakdown=rv.ALL))}
        benchmarks = set()
        for p in points:
            row = next(r for label, r in rows.items() if p["area"].startswith(label))
            if p["comparison"] != "The benchmark":
                benchmarks.add(row.benchmark_code)
        assert len(benchmarks) == 1, benchmarks
        code = benchmarks.pop()
        bench = next(r for r in rows.values() if r.area_code == code)
        # The line is that benchmark's value, named in the legend.
        assert line["benchmark"] == bench.value
        assert line["line"].startswith(f"{bench.area_name}: ")
        judged_against.add(bench.area_name)
    assert judged_against == {"England", example.borough_name}


def test_every_result_on_the_priority_and_indicator_pages_has_its_sentence(
        served: tuple[Served, TestClient]) -> None:
    example, viewer = served
    table = example.results()
    assert table is not None
    latest = example.latest(example.borough_code)
    worded = 0
    for p in example.map["priorities"]:
        html = viewer.get(f"/w/{example.id}/priorities/{p['id']}").text
        said = {m[0] for m in SENTENCE.findall(html)}
        shown = {m["id"] for m in p["measures"] if m["id"] in latest}
        assert shown <= said, p["id"]
        worded += len(shown)
    assert worded > 10
    for indicator in sorted(set(table.column("indicator_id").to_pylist())):
        if indicator not in example.indicators or indicator in example.withheld:
            continue
        usual = example.indicators[indicator].period_type.value
        types = rv.period_types(table, indicator)
        chosen = usual if usual in types else types[0]
        series = rv.series(table, indicator, example.borough_code, chosen)
        areas = rv.compared(table, indicator, chosen, areas=example.shown)
        html = viewer.get(f"/w/{example.id}/indicators/{indicator}").text
        said = {(m[1], m[2]) for m in SENTENCE.findall(html) if m[1]}
        wanted = {(r.area_code, r.period) for r in [*series, *areas]}
        assert wanted and wanted <= said, (indicator, wanted - said)


def test_every_number_in_a_sentence_is_the_results_tables(
        served: tuple[Served, TestClient]) -> None:
    example, viewer = served
    table = example.results()
    assert table is not None
    pages = [f"/w/{example.id}/priorities/{p['id']}" for p in example.map["priorities"]]
    pages += [f"/w/{example.id}/indicators/{i}" for i in sorted(
        set(table.column("indicator_id").to_pylist()) & set(example.indicators))]
    checked = 0
    for path in pages:
        for indicator, area, period, sentence in SENTENCE.findall(viewer.get(path).text):
            if not area:
                continue  # the indicator page's headline repeats a listed one
            rows = rv.values(rv.select(table, indicator=indicator, period=period,
                                       breakdown=rv.ALL))
            row = next(r for r in rows if r.area_code == area)
            unit = example.indicators[indicator].unit.value
            bench = [r for r in rows if r.area_code == row.benchmark_code]
            allowed = {number(getattr(r, n), unit).split(" per")[0].rstrip("%")
                       for r in [row, *bench] for n in ("value", "lower_95", "upper_95")
                       if getattr(r, n) is not None}
            if row.target is not None:
                allowed.add(number(row.target, unit).split(" per")[0].rstrip("%"))
            text = unescape(sentence)
            # The value note is the table's too ("provisional: 7 months of 12").
            for word in (example.indicators[indicator].name, row.area_name, period,
                         row.value_note or ""):
                text = text.replace(word, "")
            # "per 1,000" and "five" are units and words, not figures.
            text = re.sub(r"per [\d,]+", "", text)
            found = NUMBER.findall(text)
            assert set(found) <= allowed, (path, sentence, allowed)
            assert number(row.value, unit).split(" per")[0] in unescape(sentence) \
                if row.value is not None else True
            checked += 1
    assert checked > 100
