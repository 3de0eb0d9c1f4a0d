"""Charts and maps as Vega-Lite specs: plain JSON, drawn in the browser by vega-embed (served
by the app, npm-pinned) and, later, by vl-convert for print from the same spec. Every value in
a spec comes from published rows (they have passed the disclosure guard); a suppressed row or
one without a value is left out, and the page's table beside each chart says why.

Nothing here knows about HTTP: a spec is a function of rows, so print can call the same ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from markupsafe import Markup

from common_outcomes.reports.results_view import Value
from common_outcomes.reports.sentences import Benchmark
from common_outcomes.web.formats import SUFFIX, area_label, number

Spec = dict[str, Any]
SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
# GOV.UK Design System colours; each series also differs by dash or shape, never colour alone.
BLUE, GREEN, GREY, BLACK, RED = "#1d70b8", "#00703c", "#505a5f", "#0b0c0c", "#d4351c"
COMPARISON = {"Better": GREEN, "Best": GREEN, "Similar": GREY, "Worse": RED, "Worst": RED,
              "Higher": BLUE, "Lower": BLUE}
MEASURES = ("Value", "Target trajectory", "Baseline")
FONT = "GDS Transport, arial, sans-serif"
CONFIG: Spec = {
    "font": FONT,
    "axis": {"labelFontSize": 14, "titleFontSize": 14, "labelColor": BLACK,
             "titleColor": BLACK, "gridColor": "#b1b4b6"},
    "legend": {"labelFontSize": 14, "titleFontSize": 14, "orient": "bottom", "labelLimit": 0,
               "titleLimit": 0},
    "view": {"stroke": None},
    "background": "#ffffff",
}


def _number_format(unit: str) -> str:
    return ",.0f" if unit == "count" else ",.1f"


def _axis_title(unit: str) -> str:
    return {"percent": "Per cent"}.get(unit, SUFFIX.get(unit, "").strip().capitalize()
                                       or unit.replace("_", " ").capitalize())


def _spec(description: str, body: Spec) -> Spec:
    return {"$schema": SCHEMA, "description": description, "config": CONFIG,
            "width": "container", "autosize": {"type": "fit-x", "contains": "padding"}, **body}


def series(rows: Sequence[Value], unit: str, description: str) -> Spec | None:
    """Values over time with their 95% intervals, the baseline and the target trajectory;
    None when no period has a value to draw."""
    drawn = [r for r in rows if r.value is not None and not r.suppressed]
    if not drawn:
        return None
    points: list[Spec] = []
    for r in drawn:
        points.append({"period": r.period, "measure": "Value", "y": r.value,
                       "lower": r.lower_95, "upper": r.upper_95})
        if r.target is not None:
            points.append({"period": r.period, "measure": "Target trajectory", "y": r.target})
        if r.baseline is not None:
            points.append({"period": r.period, "measure": "Baseline", "y": r.baseline})
    fmt = _number_format(unit)
    x = {"field": "period", "type": "ordinal", "title": "Period",
         "sort": [r.period for r in drawn], "axis": {"labelAngle": 0}}
    shown = [m for m in MEASURES if any(p["measure"] == m for p in points)]
    return _spec(description, {
        "height": 300,
        "data": {"values": points},
        "encoding": {"x": x},
        "layer": [
            {"transform": [{"filter": {"field": "measure", "equal": "Value"}},
                           {"filter": {"field": "lower", "valid": True}}],
             "mark": {"type": "rule", "color": BLUE, "strokeWidth": 2},
             "encoding": {"y": {"field": "lower", "type": "quantitative"},
                          "y2": {"field": "upper"}}},
            {"mark": {"type": "line", "point": {"filled": True, "size": 60}, "strokeWidth": 3},
             "encoding": {
                 "y": {"field": "y", "type": "quantitative", "title": _axis_title(unit),
                       "axis": {"format": fmt}, "scale": {"zero": False}},
                 "color": {"field": "measure", "type": "nominal", "title": None,
                           "scale": {"domain": shown,
                                     "range": [_MEASURE_COLOUR[m] for m in shown]}},
                 "strokeDash": {"field": "measure", "type": "nominal", "title": None,
                                "scale": {"domain": shown,
                                          "range": [_MEASURE_DASH[m] for m in shown]}},
                 "shape": {"field": "measure", "type": "nominal", "title": None,
                           "scale": {"domain": shown,
                                     "range": [_MEASURE_SHAPE[m] for m in shown]}}}},
        ],
    })


_MEASURE_COLOUR = {"Value": BLUE, "Target trajectory": GREEN, "Baseline": GREY}
_MEASURE_DASH = {"Value": [1, 0], "Target trajectory": [8, 4], "Baseline": [2, 3]}
_MEASURE_SHAPE = {"Value": "circle", "Target trajectory": "diamond", "Baseline": "square"}


def areas(rows: Sequence[Value], unit: str, benchmark: Benchmark, comparisons: Mapping[str, str],
          neighbours: frozenset[str], description: str) -> Spec | None:
    """Each area's value with its 95% interval, marked by its comparison with the benchmark
    they are all judged against (named: "Similar to England"), and that benchmark's value as
    a dashed line named in the legend; None when no area has a value. `comparisons`: each
    area's comparison in words (sentences.comparison), by area code."""
    drawn = [r for r in rows if r.value is not None and not r.suppressed]
    if not drawn:
        return None
    line = benchmark.row.value if benchmark.row is not None and not benchmark.row.suppressed \
        else None
    names = [area_label(r, neighbours) for r in drawn]
    points: list[Spec] = []
    for name, r in zip(names, drawn, strict=True):
        own = r.area_code == benchmark.code
        said = ("The benchmark" if own else
                comparisons.get(r.area_code) or f"Not compared with {benchmark.name}")
        points.append({"area": name, "value": r.value, "lower": r.lower_95,
                       "upper": r.upper_95, "comparison": said,
                       "label": "" if own else r.compared_to_benchmark or ""})
    # Known comparisons in their own order, others by words: the same spec in every process.
    colour = {p["comparison"]: p["label"] for p in points}
    kinds = sorted(colour, key=lambda c: (
        list(COMPARISON).index(colour[c]) if colour[c] in COMPARISON else len(COMPARISON), c))
    title = f"Compared with {benchmark.name}"
    y = {"field": "area", "type": "nominal", "title": None, "sort": names,
         "axis": {"labelLimit": 0}}
    layers: list[Spec] = [
        {"transform": [{"filter": {"field": "lower", "valid": True}}],
         "mark": {"type": "rule", "color": GREY, "strokeWidth": 2},
         "encoding": {"y": y, "x": {"field": "lower", "type": "quantitative"},
                      "x2": {"field": "upper"}}},
        {"mark": {"type": "point", "filled": True, "size": 90},
         "encoding": {
             "y": y,
             "x": {"field": "value", "type": "quantitative", "title": _axis_title(unit),
                   "axis": {"format": _number_format(unit)}, "scale": {"zero": False}},
             "color": {"field": "comparison", "type": "nominal", "title": title,
                       "legend": {"direction": "vertical"},
                       "scale": {"domain": kinds,
                                 "range": [COMPARISON.get(colour[k], BLACK) for k in kinds]}},
             "shape": {"field": "comparison", "type": "nominal", "title": title,
                       "scale": {"domain": kinds, "range": [
                           _COMPARISON_SHAPE.get(colour[k], "circle") for k in kinds]}}}},
    ]
    if line is not None:
        named = f"{benchmark.name}: {number(line, unit)}"
        layers.insert(0, {"data": {"values": [{"benchmark": line, "line": named}]},
                          "mark": {"type": "rule", "color": BLACK, "strokeWidth": 2},
                          "encoding": {
                              "x": {"field": "benchmark", "type": "quantitative"},
                              "strokeDash": {"field": "line", "type": "nominal",
                                             "title": "The benchmark (dashed line)",
                                             "scale": {"domain": [named],
                                                       "range": [[6, 4]]}}}})
    return _spec(description, {
        "height": {"step": 22},
        "data": {"values": points},
        "layer": layers,
    })


_COMPARISON_SHAPE = {"Better": "triangle-up", "Similar": "circle", "Worse": "triangle-down",
                     "Best": "triangle-up", "Worst": "triangle-down", "Higher": "triangle-up",
                     "Lower": "triangle-down"}


def choropleth(shapes: Iterable[Mapping[str, Any]], values: Mapping[str, float | None],
               unit: str, legend: str, description: str) -> Spec | None:
    """Shapes (GeoJSON features with `code` and `name` properties) filled by their value on
    one colour scale, those without a value in grey; None when none has a value."""
    features = []
    for shape in shapes:
        name, value = shape["properties"]["name"], values.get(shape["properties"]["code"])
        features.append({"type": "Feature", "geometry": shape["geometry"], "properties": {
            "name": name, "value": value,
            "label": f"{name}: {number(value, unit) if value is not None else 'no value'}"}})
    if not any(f["properties"]["value"] is not None for f in features):
        return None
    data = {"values": features, "format": {"type": "json"}}
    return _spec(description, {
        "height": 360,
        "projection": {"type": "mercator"},
        "data": data,
        "layer": [
            # The grey ground shows where there is no value; a screen reader skips it.
            {"mark": {"type": "geoshape", "fill": "#f3f2f1", "stroke": "#ffffff",
                      "strokeWidth": 1, "aria": False}},
            {"transform": [{"filter": {"field": "properties.value", "valid": True}}],
             "mark": {"type": "geoshape", "stroke": "#ffffff", "strokeWidth": 1},
             "encoding": {"color": {"field": "properties.value", "type": "quantitative",
                                    "title": legend, "scale": {"scheme": "blues"},
                                    "legend": {"format": _number_format(unit),
                                               "orient": "right"}},
                          "description": {"field": "properties.label"}}},
        ],
    })


def locator(shapes: Iterable[Mapping[str, Any]], highlighted: set[str], legend: str,
            description: str) -> Spec:
    """Shapes with the highlighted ones filled: where a locality lies in the borough."""
    features = [{"type": "Feature", "geometry": s["geometry"],
                 "properties": {"name": s["properties"]["name"],
                                "where": legend if s["properties"]["code"] in highlighted
                                else "Elsewhere in the borough",
                                "label": s["properties"]["name"] + (
                                    f", in {legend}" if s["properties"]["code"] in highlighted
                                    else "")}}
                for s in shapes]
    domain = [legend, "Elsewhere in the borough"]
    return _spec(description, {
        "height": 360,
        "projection": {"type": "mercator"},
        "data": {"values": features, "format": {"type": "json"}},
        "mark": {"type": "geoshape", "stroke": "#ffffff", "strokeWidth": 1},
        "encoding": {"color": {"field": "properties.where", "type": "nominal", "title": None,
                               "scale": {"domain": domain, "range": [BLUE, "#dddddd"]},
                               "legend": {"orient": "bottom"}},
                     "description": {"field": "properties.label"}},
    })


def attribute(spec: Spec | None) -> Markup | None:
    """A spec as the value of a single-quoted HTML attribute (JSON with <, >, & and '
    escaped), made once where the page keeps it rather than on every render."""
    from jinja2.utils import htmlsafe_json_dumps

    return None if spec is None else htmlsafe_json_dumps(spec)
