"""Charts and maps as Vega-Lite specs: plain JSON, drawn in the browser by vega-embed (served
by the app, npm-pinned) and, later, by vl-convert for print from the same spec. Every value in
a spec comes from published rows (they have passed the disclosure guard); a suppressed row or
one without a value is left out, and the page's table beside each chart says why.

Nothing here knows about HTTP: a spec is a function of rows, so print can call the same ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from markupsafe import Markup

from common_outcomes.reports.results_view import Value
from common_outcomes.reports.sentences import Benchmark
from common_outcomes.web.formats import SUFFIX, area_label, interval, number

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


# At most this many periods are labelled on a time axis; fewer still where labels would
# overlap (a phone), as Vega drops every other one until none does.
MOST_LABELS = 6


def _ticks(periods: Sequence[str]) -> list[str]:
    """The periods a time axis labels: all when few; else the first of each year (a
    quarter's Q1, April's month, a rolling year to March) when that is few enough; else
    evenly spaced, ending at the newest."""
    if len(periods) <= MOST_LABELS:
        return list(periods)
    starts = [p for p in periods if _starts_year(p)]
    if 1 < len(starts) <= MOST_LABELS:
        return starts
    step = -(-len(periods) // MOST_LABELS)
    return list(periods)[::-1][::step][::-1]


def _starts_year(period: str) -> bool:
    # The financial year's first quarter, month or rolling year (periods.Period.label).
    return period.endswith(" Q1") or period.startswith("Apr ") or " to Mar " in period


ROLLING = "12 months to "


def _tick(period: str) -> str:
    """A period as its axis names it: a rolling year by its last month (the axis's title
    says they are rolling years)."""
    return period.removeprefix(ROLLING)


def _time_axis(periods: Sequence[str]) -> Spec:
    """A period axis (on each point's `tick`) whose labels never run into each other: a
    tick at every period, a label only at `_ticks` (a year axis with quarter ticks, say),
    level, the outer two flush with the chart's edges, and dropped in turn by Vega where the
    chart is too narrow even for those. The labels are chosen by an expression, not the
    axis's `values`, which Vega filters by position: at some widths it loses the first."""
    rolling = bool(periods) and all(p.startswith(ROLLING) for p in periods)
    labelled = [_tick(p) for p in _ticks(periods)]
    return {"field": "tick", "type": "ordinal",
            "title": "Rolling 12 months to" if rolling else "Period",
            "sort": [_tick(p) for p in periods],
            "axis": {"labelAngle": 0, "labelOverlap": "greedy", "labelSeparation": 8,
                     "labelFlush": True,
                     "labelExpr": f"indexof({json.dumps(labelled)}, datum.label) >= 0 "
                                  "? datum.label : ''"}}


def _label(row: Value, unit: str) -> str:
    """What a point says on hover, on focus and to a screen reader: its period, value and
    interval."""
    shown = number(row.value, unit)
    spread = interval(row, unit)
    return f"{row.period}: {shown}" + ("" if spread == "-" else f" (95% CI {spread})")


def _spec(description: str, body: Spec) -> Spec:
    return {"$schema": SCHEMA, "description": description, "config": CONFIG,
            "width": "container", "autosize": {"type": "fit-x", "contains": "padding"}, **body}


def series(rows: Sequence[Value], unit: str, description: str,
           better: str | None = None) -> Spec | None:
    """Values over time with their 95% intervals, the baseline and the target trajectory;
    None when no period has a value to draw. `better` (which way is better, in words) goes
    in the value axis's title."""
    drawn = [r for r in rows if r.value is not None and not r.suppressed]
    if not drawn:
        return None
    points: list[Spec] = []
    for r in drawn:
        tick = _tick(r.period)
        points.append({"period": r.period, "tick": tick, "measure": "Value", "y": r.value,
                       "lower": r.lower_95, "upper": r.upper_95, "label": _label(r, unit)})
        if r.target is not None:
            points.append({"period": r.period, "tick": tick, "measure": "Target trajectory",
                           "y": r.target,
                           "label": f"{r.period}: target trajectory {number(r.target, unit)}"})
        if r.baseline is not None:
            points.append({"period": r.period, "tick": tick, "measure": "Baseline",
                           "y": r.baseline,
                           "label": f"{r.period}: baseline {number(r.baseline, unit)}"})
    fmt = _number_format(unit)
    x = _time_axis([r.period for r in drawn])
    title = _axis_title(unit) + (f" ({better})" if better else "")
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
                 "y": {"field": "y", "type": "quantitative", "title": title,
                       "axis": {"format": fmt}, "scale": {"zero": False}},
                 "tooltip": {"field": "label"}, "description": {"field": "label"},
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
        # `label` is the comparison word that picks the colour; `tip` is what the point
        # says on hover, on focus and to a screen reader (its area, value and interval).
        points.append({"area": name, "value": r.value, "lower": r.lower_95,
                       "upper": r.upper_95, "comparison": said,
                       "label": "" if own else r.compared_to_benchmark or "",
                       "tip": _label(r, unit).replace(r.period, name, 1)})
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
             "y": y, "tooltip": {"field": "tip"},
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
               unit: str, legend: str, description: str,
               domain: tuple[float, float] | None = None) -> Spec | None:
    """Shapes (GeoJSON features with `code` and `name` properties) filled by their value on
    one colour scale (over `domain`, so that two maps of one indicator share it; else over
    these values), those without a value in grey; None when none has a value. Each shape
    says its name and value on hover and focus."""
    features = []
    for shape in shapes:
        name, value = shape["properties"]["name"], values.get(shape["properties"]["code"])
        features.append({"type": "Feature", "geometry": shape["geometry"], "properties": {
            "name": name, "value": value,
            "label": f"{name}: {number(value, unit) if value is not None else 'no value'}"}})
    if not any(f["properties"]["value"] is not None for f in features):
        return None
    data = {"values": features, "format": {"type": "json"}}
    layers: list[Spec] = [
        # Shapes without a value in grey, each shape once (one label each); only when
        # there are some (an empty layer is an unlabelled group to a screen reader).
        {"transform": [{"filter": {"not": {"field": "properties.value", "valid": True}}}],
         "mark": {"type": "geoshape", "fill": "#f3f2f1", "stroke": "#b1b4b6",
                  "strokeWidth": 1},
         "encoding": {"description": {"field": "properties.label"},
                      "tooltip": {"field": "properties.label"}}},
        {"transform": [{"filter": {"field": "properties.value", "valid": True}}],
         "mark": {"type": "geoshape", "stroke": "#ffffff", "strokeWidth": 1},
         "encoding": {"color": {"field": "properties.value", "type": "quantitative",
                                "title": legend, "scale": {
                                    "scheme": "blues",
                                    **({"domain": list(domain)} if domain else {})},
                                "legend": {"format": _number_format(unit),
                                           "orient": "right", "titleLimit": 0}},
                      "description": {"field": "properties.label"},
                      "tooltip": {"field": "properties.label"}}},
    ]
    if all(f["properties"]["value"] is not None for f in features):
        layers.pop(0)
    return _spec(description, {
        "height": 360,
        "projection": {"type": "mercator"},
        "data": data,
        "layer": layers,
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
                     "description": {"field": "properties.label"},
                     "tooltip": {"field": "properties.label"}},
    })


def attribute(spec: Spec | None) -> Markup | None:
    """A spec as the value of a single-quoted HTML attribute (JSON with <, >, & and '
    escaped), made once where the page keeps it rather than on every render."""
    from jinja2.utils import htmlsafe_json_dumps

    return None if spec is None else htmlsafe_json_dumps(spec)


def trend(rows: Sequence[Value], unit: str, description: str) -> Spec | None:
    """A measure's recent values as a small line (a sparkline beside its latest value): no
    axes, each point labelled on hover; None with fewer than two values to join."""
    drawn = [r for r in rows if r.value is not None and not r.suppressed]
    if len(drawn) < 2:
        return None
    points = [{"period": r.period, "y": r.value, "label": _label(r, unit)} for r in drawn]
    return _spec(description, {
        "height": 50,
        "data": {"values": points},
        "mark": {"type": "line", "color": BLUE, "strokeWidth": 2,
                 "point": {"filled": True, "size": 30, "color": BLUE}},
        "encoding": {
            "x": {"field": "period", "type": "ordinal", "sort": [p["period"] for p in points],
                  "axis": None},
            "y": {"field": "y", "type": "quantitative", "axis": None, "scale": {"zero": False}},
            "tooltip": {"field": "label"}, "description": {"field": "label"}},
    })
