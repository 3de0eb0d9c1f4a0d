"""Ward shapes for the web app's maps (`outcomes boundaries`): the ONS ward polygons of a
borough, simplified (Douglas-Peucker) and reduced to each ward's code and name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from common_outcomes.errors import UserError

BOUNDARIES = Path("boundaries") / "wards.geojson"
# Degrees: about 5 m on the ground at London's latitude (1e-4 of longitude is ~7 m), far
# below what a map a screen wide shows, and it halves the file.
SIMPLIFY_TOLERANCE = 5e-5


def write_boundaries(folder: Path, source: Path, la_code: str) -> tuple[Path, int, int]:
    """`outcomes boundaries`: the borough's ward polygons from the ONS boundaries in
    `source` (boundaries/ward/CODE.geojson), simplified (Douglas-Peucker), rounded to 5
    decimal places (~1 m) and reduced to each ward's code and name, written to the
    workspace's boundaries/wards.geojson for its maps; returns the path, the wards and the
    points kept."""
    path = source / "boundaries" / "ward" / f"{la_code}.geojson"
    if not path.is_file():
        raise UserError(f"No ward boundaries for {la_code} in {path.parent}; they are "
                        "shipped for London boroughs only.")
    try:
        features = json.loads(path.read_text(encoding="utf-8"))["features"]
        shapes: list[dict[str, Any]] = [
            {"type": "Feature",
             "properties": {"code": f["properties"]["WD25CD"], "name": f["properties"]["WD25NM"]},
             "geometry": _simplified(f["geometry"])} for f in features]
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"{path} is not an ONS ward boundary file with WD25CD and WD25NM "
                        f"properties ({e}).") from None
    shapes.sort(key=lambda f: f["properties"]["code"])
    collection = {"type": "FeatureCollection", "provenance": (
        f"ONS ward boundaries (WD25), Open Government Licence v3, from {path.name}; "
        f"simplified to {SIMPLIFY_TOLERANCE:g} degrees by `outcomes boundaries`; regenerate "
        "rather than edit."), "features": shapes}
    out = folder / BOUNDARIES
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(collection, separators=(",", ":")) + "\n", encoding="utf-8")
    points = sum(len(ring) for f in shapes for ring in _rings(f["geometry"]))
    return out, len(shapes), points


def ward_shapes(folder: Path) -> list[dict[str, Any]]:
    """The workspace's ward polygons (GeoJSON features with code and name), or none when
    `outcomes boundaries` has not written them."""
    path = folder / BOUNDARIES
    if not path.is_file():
        return []
    features: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["features"]
    return features


def _rings(geometry: dict[str, Any]) -> list[list[list[float]]]:
    if geometry["type"] == "Polygon":
        return list(geometry["coordinates"])
    return [ring for polygon in geometry["coordinates"] for ring in polygon]


def _simplified(geometry: dict[str, Any]) -> dict[str, Any]:
    if geometry["type"] == "Polygon":
        return {"type": "Polygon", "coordinates": [_ring(r) for r in geometry["coordinates"]]}
    if geometry["type"] == "MultiPolygon":
        return {"type": "MultiPolygon",
                "coordinates": [[_ring(r) for r in p] for p in geometry["coordinates"]]}
    raise ValueError(f"a {geometry['type']} is not a polygon")


def _ring(ring: list[list[float]]) -> list[list[float]]:
    """A closed ring simplified (Douglas-Peucker), keeping at least a triangle."""
    points = [(round(x, 5), round(y, 5)) for x, y, *_ in ring]
    kept = _douglas_peucker(points, SIMPLIFY_TOLERANCE)
    if len(kept) < 4:
        kept = points
    return [[x, y] for x, y in kept]


def _douglas_peucker(points: list[tuple[float, float]], tolerance: float
                     ) -> list[tuple[float, float]]:
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (ax, ay), (bx, by) = points[first], points[last]
        length = ((bx - ax) ** 2 + (by - ay) ** 2) ** 0.5
        far, index = 0.0, -1
        for i in range(first + 1, last):
            px, py = points[i]
            # Distance to the chord, or to its end when the chord is a point (a closed ring).
            d = (abs((bx - ax) * (ay - py) - (ax - px) * (by - ay)) / length if length
                 else ((px - ax) ** 2 + (py - ay) ** 2) ** 0.5)
            if d > far:
                far, index = d, i
        if far > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [p for p, k in zip(points, keep, strict=True) if k]
