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
    [where] = specs(page)
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
