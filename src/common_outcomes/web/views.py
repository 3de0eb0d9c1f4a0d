"""What the pages derive from the published results and draw: an indicator's view for an
area and period type (its rows, charts and maps), made once per results version, and the
curves a story page draws. Shared by the routers (pages.py, stories.py); nothing here knows
about HTTP."""

from __future__ import annotations

from functools import partial
from typing import Any

from common_outcomes.framework.models import Indicator
from common_outcomes.reports import results_view as rv
from common_outcomes.reports.sentences import Benchmark, Reading
from common_outcomes.tracking.comparators import ENGLAND
from common_outcomes.web import charts
from common_outcomes.web.formats import better, words
from common_outcomes.web.site import Served


def default_view(ws: Served, indicator: str) -> dict[str, Any]:
    """An indicator page's default view: the borough, the indicator's usual period type."""
    return ws.derived("indicator", f"{indicator}|None|None", partial(
        indicator_view, ws, ws.indicators[indicator], ws.borough_code, None))


def curves(ws: Served, ids: list[str]) -> dict[str, Any]:
    """The curves a story is told about (an indicator's own, or each of a priority's
    headline measures'), in the borough by each one's usual period type, as its page shows
    them first."""
    drawn = []
    for indicator in ids:
        if indicator not in ws.indicators:
            continue
        view = default_view(ws, indicator)
        if view["charts"]["series"] is not None:
            drawn.append({"id": indicator, "name": ws.indicators[indicator].name,
                          "unit": ws.indicators[indicator].unit.value,
                          "rows": view["series"], "spec": view["charts"]["series"],
                          "period_type": view["period_type"], "said": view["said"]})
    return {"curves": drawn, "charts": {"curves": bool(drawn)} if drawn else None}


def indicator_view(ws: Served, about: Indicator, area: str, period_type: str | None
                   ) -> dict[str, Any]:
    """What the indicator page shows of the results for an area and period type."""
    table = ws.of(about.id)
    types = rv.period_types(table, about.id) if table is not None else []
    usual = about.period_type.value
    chosen = period_type if period_type in types else (usual if usual in types else
                                                       (types[0] if types else usual))
    series = rv.series(table, about.id, area, chosen) if table is not None else []
    # The newest period's areas: what the area list offers and the comparison shows (the
    # borough's own and its comparators, not every London borough's wards).
    areas = rv.compared(table, about.id, chosen, areas=ws.shown) if table is not None else []
    area_name = next((a.area_name for a in areas if a.area_code == area), area)
    read = ws.read([*series, *areas])
    said = {f"{k[1]}|{k[3]}": v for k, v in read.items()}
    groups = _judged_against(areas, said)
    specs = _indicator_charts(ws, about, area_name, chosen, series, areas, groups, said)
    return {"types": types, "period_type": chosen, "area": area, "area_name": area_name,
            "areas": areas, "series": series, "compared": areas, "said": said,
            "latest": said.get(f"{area}|{series[-1].period}") if series else None,
            "groups": groups,
            "charts": {k: charts.attribute(v) for k, v in specs.items()}}


def _judged_against(areas: list[rv.Value], said: dict[str, Reading]
                    ) -> list[tuple[Benchmark, list[rv.Value]]]:
    """The areas by the benchmark they are judged against (England for the borough, its
    region and neighbours; the borough for its localities and wards), each group with its
    benchmark's own row first, the most widely used benchmark first."""
    groups: dict[str, tuple[Benchmark, list[rv.Value]]] = {}
    for r in areas:
        reading = said.get(f"{r.area_code}|{r.period}")
        bench = reading.benchmark if reading else None
        if bench is not None:
            groups.setdefault(bench.code, (bench, []))[1].append(r)
    out = []
    for code, (bench, rows) in groups.items():
        own = [r for r in areas if r.area_code == code]
        out.append((bench, own + rows))
    return sorted(out, key=lambda g: g[0].code != ENGLAND)


def _indicator_charts(ws: Served, about: Indicator, area_name: str, period_type: str,
                      series: list[rv.Value], areas: list[rv.Value],
                      groups: list[tuple[Benchmark, list[rv.Value]]],
                      said: dict[str, Reading]) -> dict[str, Any]:
    """The indicator page's charts (None for one with nothing to draw): the series, one
    chart of areas for each benchmark they are judged against, and the maps."""
    unit, name, kind = about.unit.value, about.name, words(period_type)
    period = areas[0].period if areas else ""
    out: dict[str, Any] = {
        "series": charts.series(series, unit, (
            f"{name} in {area_name} by {kind}: the value for each period with its 95% "
            "confidence interval, the baseline and the target trajectory where set."),
            better(about.polarity.value)),
        **_maps(ws, about, areas)}
    for i, (bench, rows) in enumerate(groups):
        comparisons = {r.area_code: c for r in rows
                       if (c := said[f"{r.area_code}|{r.period}"].comparison
                           if f"{r.area_code}|{r.period}" in said else None)}
        out[f"areas-{i}"] = charts.areas(rows, unit, bench, comparisons, ws.neighbours, (
            f"{name}, {period}: each area's value with its 95% confidence interval, marked by "
            f"how it compares with {bench.name}, whose value is the dashed line."))
    return out


def _maps(ws: Served, about: Indicator, areas: list[rv.Value]) -> dict[str, Any]:
    """The newest period's values by ward, and by Family Hub locality (each ward filled with
    its locality's value), on the borough's ward shapes."""
    value = {r.area_code: r.value for r in areas if not r.suppressed}
    period = areas[0].period if areas else ""
    in_locality = {ward: value.get(loc) for ward, loc in ws.locality_of_ward().items()}
    legend = f"{words(about.unit.value).capitalize()} ({better(about.polarity.value)})"
    # One colour scale for both maps: the same shade means the same value on each.
    drawn = [v for v in (*(value.get(s["properties"]["code"]) for s in ws.shapes),
                         *in_locality.values()) if v is not None]
    domain = (min(drawn), max(drawn)) if drawn else None
    return {
        "ward_map": charts.choropleth(ws.shapes, value, about.unit.value, legend, (
            f"Map of {ws.borough_name}'s wards, each shaded by its value of {about.name} in "
            f"{period}; wards without a published value are grey."), domain),
        "locality_map": charts.choropleth(ws.shapes, in_locality, about.unit.value, legend, (
            f"Map of {ws.borough_name}'s Family Hub localities, each locality's wards shaded "
            f"by its value of {about.name} in {period}."), domain) if in_locality else None,
    }
