"""Charts and maps: each is a Vega-Lite spec in its figure's data attribute, and every number
it draws is one the published results hold (so it has passed disclosure control); the maps'
ward shapes are built from the ONS boundaries by `outcomes boundaries`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from html import unescape
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from common_outcomes.geography.boundaries import BOUNDARIES, _douglas_peucker
from common_outcomes.reports import results_view as rv
from common_outcomes.web.site import Served

ROOT = Path(__file__).resolve().parents[2]
EXE = Path(sys.executable).with_name("outcomes")
IGNORE = shutil.ignore_patterns("incoming", "synth-truth", ".outcomes", ".synth-staging-*")

SPEC = re.compile(r"data-vega-lite='([^']*)'")
NUMBERS = ("value", "lower_95", "upper_95", "baseline", "target")


def specs(html: str) -> list[dict[str, Any]]:
    return [json.loads(unescape(m)) for m in SPEC.findall(html)]


def drawn_numbers(spec: dict[str, Any]) -> Iterator[float]:
    """The numbers in a spec's data (not its geometry, which is the map's outline)."""
    def walk(node: Any) -> Iterator[float]:
        if isinstance(node, dict):
            for key, item in node.items():
                if key != "geometry":
                    yield from walk(item)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)
        elif isinstance(node, float | int) and not isinstance(node, bool):
            yield float(node)
    for layer in (spec, *spec.get("layer", [])):
        yield from walk(layer.get("data", {}).get("values", []))


def test_every_number_a_chart_draws_is_published(
        client: Callable[[str | None], TestClient], example: Served, indicator: str) -> None:
    viewer = client("viewer@example.org")
    table = example.results()
    assert table is not None
    rows = rv.values(rv.select(table, indicator=indicator))
    published = {getattr(r, n) for r in rows for n in NUMBERS} - {None}
    html = viewer.get(f"/w/{example.id}/indicators/{indicator}").text
    found = specs(html)
    # Values over time and areas compared (and the map, when the workspace has boundaries).
    assert len(found) >= 2
    for spec in found:
        assert spec["$schema"].endswith("vega-lite/v6.json")
        numbers = list(drawn_numbers(spec))
        assert numbers, spec["description"]
        assert set(numbers) <= published, spec["description"]


def test_maps_of_wards_and_localities_are_drawn_from_the_workspace_boundaries(
        client: Callable[[str | None], TestClient], example: Served, indicator: str) -> None:
    viewer = client("viewer@example.org")
    html = viewer.get(f"/w/{example.id}/indicators/{indicator}").text
    maps = [s for s in specs(html) if "projection" in s]
    assert [s["description"].split("'s ")[1].split(",")[0] for s in maps] == [
        "Family Hub localities", "wards"]
    for spec in maps:
        features = spec["data"]["values"]
        assert {f["properties"]["name"] for f in features} == {
            w["name"] for loc in example.map["localities"] for w in loc["wards"]}
    locality = example.map["localities"][0]
    page = viewer.get(f"/w/{example.id}/localities/{locality['id']}").text
    [where] = [s for s in specs(page) if "projection" in s]  # beside the measures' trends
    filled = {f["properties"]["name"] for f in where["data"]["values"]
              if f["properties"]["where"] == locality["name"]}
    assert filled == {w["name"] for w in locality["wards"]}


def test_outcomes_boundaries_writes_simplified_ward_shapes(
        ons_geography: Path, tmp_path: Path) -> None:
    """From an ONS-shaped ward boundary file, `outcomes boundaries` writes each ward's code,
    name and simplified shape: points put into edges (straight runs) change nothing
    it writes, every point it keeps is one it was given, and every ring stays closed. (That
    the example's file is what it writes from the real ONS boundaries is checked by the
    provenance step, which has them.)"""
    written = {}
    for name, source in (("densified", ons_geography), ("plain", ons_geography / "plain")):
        folder = tmp_path / name
        shutil.copytree(ROOT / "examples" / "tower-hamlets", folder, ignore=IGNORE)
        (folder / BOUNDARIES).unlink()
        done = subprocess.run([str(EXE), "boundaries", str(folder), "--from", str(source)],
                              capture_output=True, text=True, check=False, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "20 wards" in done.stdout
        written[name] = (folder / BOUNDARIES).read_text()
    assert written["densified"] == written["plain"]
    given = json.loads((ons_geography / "boundaries" / "ward" / "E09000030.geojson").read_text())
    given_points = {tuple(p) for f in given["features"] for ring in f["geometry"]["coordinates"]
                    for p in ring}
    out = json.loads(written["plain"])["features"]
    shipped = json.loads((ROOT / "examples" / "tower-hamlets" / BOUNDARIES).read_text())
    assert [f["properties"] for f in out] == [f["properties"] for f in shipped["features"]]
    kept = [tuple(p) for f in out for ring in f["geometry"]["coordinates"] for p in ring]
    plain = json.loads((ons_geography / "plain" / "boundaries" / "ward" /
                        "E09000030.geojson").read_text())
    added = given_points - {tuple(p) for f in plain["features"]
                            for ring in f["geometry"]["coordinates"] for p in ring}
    assert len(added) > 50 and not added & set(kept)  # every point put in was taken out
    assert set(kept) <= given_points
    for feature in out:
        for ring in feature["geometry"]["coordinates"]:
            assert ring[0] == ring[-1] and len(ring) >= 4
    square = [(0.0, 0.0), (0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)]
    assert _douglas_peucker(square, 1e-6) == [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0),
                                              (0.0, 0.0)]
    wrong = subprocess.run([str(EXE), "boundaries", str(tmp_path / "plain"), "--la",
                            "E06000001", "--from", str(ons_geography)],
                           capture_output=True, text=True, check=False, timeout=60)
    assert wrong.returncode == 2 and "No ward boundaries for E06000001" in wrong.stderr


def test_a_charts_comparison_legend_is_the_same_in_every_process() -> None:
    """Kept pages are made by each worker process: a legend must not follow a set's order,
    which changes with the process's hash seed (comparisons outside Better/Similar/Worse,
    such as a quintile's 'Higher' and 'Lower', used to)."""
    program = """
import json
from dataclasses import replace
from datetime import date
from common_outcomes.reports.results_view import Value
from common_outcomes.reports.sentences import Benchmark, comparison
from common_outcomes.web import charts
base = Value("x", "X", "E05000001", "Ward", "ward", None, "2024/25", "financial_year",
             date(2024, 4, 1), date(2025, 3, 31), "all", 5, 10, 50.0, 30.0, 70.0, None, None,
             None, None, False, "E09000030", None, None, None, None, None)
rows = [replace(base, area_code=f"E0500000{i}", area_name=f"Ward {i}",
                compared_to_benchmark=c)
        for i, c in enumerate(["Lower", "Worse", "Higher", None, "Better", "Middle"])]
bench = Benchmark("E09000030", "Tower Hamlets", None)
said = {r.area_code: comparison(r, bench) for r in rows}
spec = charts.areas(rows, "percentage", bench, said, frozenset(), "A chart.")
print(json.dumps(spec["layer"][1]["encoding"]["color"]["scale"]["domain"]))
"""
    legends = {subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                              check=True, env={"PYTHONHASHSEED": str(seed)}).stdout.strip()
               for seed in range(6)}
    assert legends == {'["Better than Tower Hamlets", "Worse than Tower Hamlets", '
                       '"Higher than Tower Hamlets", "Lower than Tower Hamlets", '
                       '"Not compared with Tower Hamlets"]'}


def _values(periods: list[str], period_type: str) -> list[rv.Value]:
    """Borough values with intervals for these periods (any other column left empty)."""
    blank: dict[str, Any] = dict.fromkeys(rv.FIELDS)
    return [rv.Value(**{**blank, "indicator_id": "x", "indicator_name": "X",
                        "area_code": "E09000030", "area_name": "Borough", "area_type": "la",
                        "period": p, "period_type": period_type, "breakdown": "all",
                        "value": 50.0 + n, "lower_95": 45.0 + n, "upper_95": 55.0 + n,
                        "suppressed": False})
            for n, p in enumerate(periods)]


def test_a_time_axis_labels_a_few_periods_however_many_there_are() -> None:
    """Every period is labelled only when there are few; quarters, months and rolling years
    are labelled at the start of each financial year, anything else evenly to the newest;
    Vega drops more where even those would touch (greedy), and never tilts them."""
    from common_outcomes.web import charts

    years = [f"{y}/{(y + 1) % 100:02d}" for y in range(2010, 2024)]
    quarters = [f"{y} Q{q}" for y in years[-6:] for q in range(1, 5)]
    months = [f"{m} {y}" for y in (2022, 2023, 2024) for m in ("Jan", "Feb", "Mar", "Apr",
                                                                 "May", "Jun", "Jul", "Aug")]
    rolling = [f"12 months to {m}" for m in months]
    cases = {
        "financial_year": (years[-5:], years[-5:]),
        "quarter": (quarters, [q for q in quarters if q.endswith("Q1")]),
        "month": (months, [m for m in months if m.startswith("Apr")]),
        # A rolling year to March is a financial year.
        "rolling_12_months": (rolling, [r for r in rolling if "to Mar" in r]),
        "academic_year": (years, years[1::3]),
    }
    for kind, (periods, labelled) in cases.items():
        spec = charts.series(_values(periods, kind), "percent", "A chart.",
                             "higher is better")
        assert spec is not None
        x = spec["encoding"]["x"]
        if kind == "rolling_12_months":
            # Named by their last month; the title says what they are.
            assert x["title"] == "Rolling 12 months to"
            periods = [p.removeprefix("12 months to ") for p in periods]
            labelled = [p.removeprefix("12 months to ") for p in labelled]
            assert periods[0] == "Jan 2022"
        assert x["sort"] == periods == [p["tick"] for p in spec["data"]["values"]], kind
        assert x["axis"]["labelExpr"] == (f"indexof({json.dumps(labelled)}, datum.label) "
                                          ">= 0 ? datum.label : ''"), kind
        assert 1 < len(labelled) <= charts.MOST_LABELS
        assert x["axis"]["labelOverlap"] == "greedy" and x["axis"]["labelAngle"] == 0
    # Evenly spaced periods end at the newest.
    assert charts._ticks(years)[-1] == years[-1]


def test_each_point_says_its_value_and_interval_on_hover_and_to_a_screen_reader() -> None:
    from common_outcomes.web import charts

    spec = charts.series(_values(["2022/23", "2023/24"], "financial_year"), "percent",
                         "A chart.", "lower is better")
    assert spec is not None
    line = spec["layer"][1]["encoding"]
    assert line["tooltip"] == {"field": "label"} == line["description"]
    assert line["y"]["title"] == "Per cent (lower is better)"
    assert [p["label"] for p in spec["data"]["values"]] == [
        "2022/23: 50.0% (95% CI 45.0% to 55.0%)", "2023/24: 51.0% (95% CI 46.0% to 56.0%)"]


def test_an_areas_point_says_its_area_value_and_interval_apart_from_its_comparison() -> None:
    """The areas chart's `label` is the comparison word that picks a colour; what a point
    says on hover is its own field (`tip`), so neither overwrites the other."""
    from common_outcomes.reports.sentences import Benchmark, comparison
    from common_outcomes.web import charts

    rows = [replace(r, area_code=code, area_name=name, area_type=kind, compared_to_benchmark=c)
            for r, code, name, kind, c in zip(
                _values(["2023/24", "2023/24"], "financial_year"),
                ["E09000030", "E05000001"], ["Borough", "Ward 1"], ["la", "ward"],
                [None, "Worse"], strict=True)]
    bench = Benchmark("E09000030", "Borough", rows[0])
    said = {r.area_code: comparison(r, bench) for r in rows[1:]}
    spec = charts.areas(rows, "percent", bench, said, frozenset(), "A chart.")
    assert spec is not None
    assert spec["layer"][-1]["encoding"]["tooltip"] == {"field": "tip"}
    ward = next(p for p in spec["data"]["values"] if p["area"].startswith("Ward 1"))
    assert ward["label"] == "Worse"
    assert ward["tip"].startswith("Ward 1") and ward["tip"].endswith(
        ": 51.0% (95% CI 46.0% to 56.0%)"), ward["tip"]


def test_the_ward_and_locality_maps_share_one_colour_scale_and_say_which_way_is_better(
        client: Callable[[str | None], TestClient], example: Served) -> None:
    viewer = client("viewer@example.org")
    for indicator, about in example.indicators.items():
        html = viewer.get(f"/w/{example.id}/indicators/{indicator}").text
        maps = [s for s in specs(html) if "projection" in s]
        if len(maps) < 2:
            continue
        scales = [s["layer"][-1]["encoding"]["color"] for s in maps]
        drawn = [f["properties"]["value"] for s in maps for f in s["data"]["values"]
                 if f["properties"]["value"] is not None]
        # One domain for both, from the lowest value either draws to the highest.
        assert scales[0]["scale"]["domain"] == scales[1]["scale"]["domain"] == [
            min(drawn), max(drawn)], indicator
        better = {"high_is_good": "(higher is better)", "low_is_good": "(lower is better)",
                  "no_judgement": "(neither higher nor lower is better)"}
        assert all(s["title"].endswith(better[about.polarity.value]) for s in scales)
        for spec in maps:
            for layer in spec["layer"]:
                assert layer["encoding"]["tooltip"] == {"field": "properties.label"}
            labels = {f["properties"]["label"] for f in spec["data"]["values"]}
            assert len(labels) == len(example.shapes)  # each ward once, by name
        break
    else:
        raise AssertionError("no indicator has both maps")
