"""The strategy map: the framework with the borough's priorities in it, the contribution
matrix (partners and services x outcomes) and every priority's golden thread
activity -> output measures -> outcome measures -> outcome, with the gaps `check` found.

`strategy_map` builds a plain, JSON-ready view-model; `render_html` turns it into one
self-contained accessible page. The JSON is the contract (golden-tested); the page only
presents it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from common_outcomes.errors import Issues
from common_outcomes.framework.models import Framework, Indicator
from common_outcomes.reports.results_view import Value, number
from common_outcomes.stats import compare
from common_outcomes.strategy import Workspace
from common_outcomes.strategy.models import Activity, Delivery
from common_outcomes.tracking.comparators import comparator_areas

FORMAT = "common-outcomes/strategy-map@1"


def strategy_map(ws: Workspace, framework: Framework, issues: Issues) -> dict[str, Any]:
    indicators: dict[str, Indicator] = {i.id: i for i in framework.indicators}
    indicators.update({i.id: i for i in ws.indicators})
    outcome_of = {i.id: o.id for o in framework.outcomes for i in o.indicators}
    outcome_of.update({i.id: i.outcome for i in ws.indicators if i.outcome})
    priority_outcomes: dict[str, list[dict[str, Any]]] = {}
    for pr in ws.priorities:
        for oid in pr.outcomes:
            priority_outcomes.setdefault(oid, []).append({"id": pr.id, "order": pr.order})
    # The headline measures (the priorities' own) that evidence each outcome.
    headline: dict[str, list[str]] = {}
    for m in dict.fromkeys(m for pr in ws.priorities for m in pr.measures):
        if m in outcome_of:
            headline.setdefault(outcome_of[m], []).append(m)
    return {
        "format": FORMAT,
        "workspace": {
            "id": ws.settings.id,
            "title": ws.settings.title,
            "borough": {"name": ws.settings.borough.name, "code": ws.settings.borough.code},
            "framework": framework.pin,
            "strategy_period": ws.settings.strategy_period.model_dump()
            if ws.settings.strategy_period else None,
            "description": ws.settings.description,
        },
        "framework": _overview(framework, priority_outcomes, headline),
        "priorities": [_priority(ws, pr.id, indicators, outcome_of, framework)
                       for pr in ws.priorities],
        "contribution_matrix": _matrix(ws, framework, outcome_of),
        "localities": [_locality(ws, loc.id) for loc in ws.localities],
        "locality_notes": list(ws.locality_notes),
        "gaps": [i.to_dict() for i in issues.sorted()],
        "missing": _missing(ws, framework, headline),
    }


def _overview(
    framework: Framework, priority_outcomes: dict[str, list[dict[str, Any]]],
    headline: dict[str, list[str]],
) -> dict[str, Any]:
    return {
        "pin": framework.pin,
        "title": framework.title,
        "layers": [{"id": x.id, "name": x.name} for x in framework.layers],
        "domains": [{"id": x.id, "name": x.name} for x in framework.domains],
        "grid": [
            {
                "layer": layer.id,
                "domain": domain.id,
                "outcomes": [
                    {
                        "id": o.id,
                        "statement": o.statement,
                        "priorities": priority_outcomes.get(o.id, []),
                        "indicators": [i.id for i in o.indicators],
                        "headline": headline.get(o.id, []),
                    }
                    for o in framework.cell(layer.id, domain.id)
                ],
            }
            for layer in framework.layers
            for domain in framework.domains
        ],
        "indicator_count": len(framework.indicators),
    }


def _indicator(ind: Indicator, local: bool) -> dict[str, Any]:
    return {
        "id": ind.id,
        "name": ind.name,
        "local": local,
        "unit": ind.unit.value,
        "polarity": ind.polarity.value,
        "period_type": ind.period_type.value,
        "data_source": ind.data_source.name if ind.data_source else None,
        "fingertips": ind.references.fingertips,
    }


def _delivery(ws: Workspace, d: Delivery) -> dict[str, Any]:
    partner = ws.partner(d.partner)
    service = next((s for s in partner.services if s.id == d.service), None) if partner else None
    return {
        "partner": d.partner,
        "partner_name": partner.name if partner else d.partner,
        "sector": partner.sector.value if partner else None,
        "service": d.service,
        "service_name": service.name if service else None,
    }


def _chain(ws: Workspace, act: Activity, indicators: dict[str, Indicator],
           outcome_of: dict[str, str], framework: Framework) -> dict[str, Any]:
    def statement(oid: str | None) -> str | None:
        outcome = framework.outcome(oid) if oid else None
        return outcome.statement if outcome else None

    return {
        "activity": act.id,
        "name": act.name,
        "lead": _delivery(ws, act.lead),
        "with_partners": [_delivery(ws, d) for d in act.with_partners],
        "localities": act.localities if act.localities == "all" else list(act.localities),
        "hubs": list(act.hubs),
        "cohort": act.cohort,
        "evidence": act.evidence.value,
        "review_date": act.review_date.isoformat() if act.review_date else None,
        "start": act.start.isoformat() if act.start else None,
        "end": act.end.isoformat() if act.end else None,
        "running": running(act),
        "output_measures": [
            {"id": m.id, "name": m.name, "type": m.type, "indicator": m.indicator,
             "unit": indicators[m.indicator].unit.value
             if m.indicator and m.indicator in indicators else None}
            for m in act.output_measures
        ],
        "outcome_measures": [
            {
                "indicator": link.indicator,
                "name": indicators[link.indicator].name if link.indicator in indicators else None,
                "unit": indicators[link.indicator].unit.value
                if link.indicator in indicators else None,
                "direction": link.direction.value,
                "outcome": outcome_of.get(link.indicator),
                "outcome_statement": statement(outcome_of.get(link.indicator)),
            }
            for link in act.outcome_measures
        ],
    }


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def running(act: Activity) -> str:
    """An activity's dates in words, as the golden thread shows them."""
    since = f"Since {_day(act.start)}" if act.start else "Start date not recorded"
    if act.end is None:
        return f"{since}; running"
    last = act.end - timedelta(days=1)
    return (f"From {_day(act.start)} to {_day(last)}" if act.start
            else f"Until {_day(last)}") + f"; stopped on {_day(act.end)}"


def _priority(ws: Workspace, pid: str, indicators: dict[str, Indicator],
              outcome_of: dict[str, str], framework: Framework) -> dict[str, Any]:
    pr = next(p for p in ws.priorities if p.id == pid)
    local = {i.id for i in ws.indicators}
    activities = [a for a in ws.activities if pid in a.priorities]
    return {
        "id": pr.id,
        "order": pr.order,
        "title": pr.title,
        "description": pr.description,
        "lead": pr.lead,
        "outcomes": [
            {"id": oid, "statement": o.statement if (o := framework.outcome(oid)) else None}
            for oid in pr.outcomes
        ],
        "measures": [
            {
                **(_indicator(indicators[m], m in local) if m in indicators else {"id": m}),
                "moved_by": [a.id for a in ws.activities
                             if any(x.indicator == m for x in a.outcome_measures)],
                "targets": [
                    {"area": t.area, "period": t.period, "value": t.value}
                    for t, _ in ws.targets if t.indicator == m
                ],
            }
            for m in pr.measures
        ],
        "chains": [_chain(ws, a, indicators, outcome_of, framework) for a in activities],
    }


def _missing(ws: Workspace, framework: Framework,
             headline: dict[str, list[str]]) -> dict[str, list[dict[str, Any]]]:
    """What the strategy does not yet measure or aim at (the measures without data are added
    by `with_status`, from the results)."""
    chosen = dict.fromkeys(oid for pr in ws.priorities for oid in pr.outcomes)
    targeted = {t.indicator for t, _ in ws.targets}
    return {
        "outcomes_without_measure": [
            {"id": oid, "statement": o.statement if (o := framework.outcome(oid)) else oid}
            for oid in chosen if not headline.get(oid)],
        "priorities_without_target": [
            {"id": pr.id, "order": pr.order, "title": pr.title}
            for pr in ws.priorities if not targeted & set(pr.measures)],
        "activities_without_output": [
            {"id": a.id, "name": a.name, "priorities": list(a.priorities)}
            for a in ws.activities if not a.output_measures],
    }


def _deliveries(act: Activity) -> Iterable[Delivery]:
    yield act.lead
    yield from act.with_partners


def _matrix(ws: Workspace, framework: Framework, outcome_of: dict[str, str]) -> dict[str, Any]:
    cells: dict[tuple[str, str | None], dict[str, list[str]]] = {}
    touched: set[str] = set()
    for act in ws.activities:
        outcomes = {outcome_of[m.indicator] for m in act.outcome_measures
                    if m.indicator in outcome_of}
        touched |= outcomes
        for d in _deliveries(act):
            row = cells.setdefault((d.partner, d.service), {})
            for oid in outcomes:
                row.setdefault(oid, [])
                if act.id not in row[oid]:
                    row[oid].append(act.id)
    columns = [o for o in framework.outcomes if o.id in touched]
    return {
        "activities": {a.id: a.name for a in ws.activities},
        "columns": [{"id": o.id, "statement": o.statement, "layer": o.layer, "domain": o.domain}
                    for o in columns],
        "rows": [
            {**_delivery(ws, Delivery(partner=p, service=s)),
             "cells": {o.id: sorted(row.get(o.id, [])) for o in columns}}
            for (p, s), row in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
        ],
    }


def _locality(ws: Workspace, lid: str) -> dict[str, Any]:
    loc = next(x for x in ws.localities if x.id == lid)
    names = {w.code: w.name for w in ws.geography.wards} if ws.geography else {}
    return {
        "id": loc.id,
        "name": loc.name,
        "wards": [{"code": c, "name": names.get(c, c)} for c in loc.wards],
        "lsoas": list(loc.lsoas),
        "hubs": [{"id": h.id, "name": h.name, "kind": h.kind} for h in loc.hubs],
        "activities": [a.id for a in ws.activities
                       if a.localities == "all" or lid in a.localities],
    }


def render_html(view: dict[str, Any]) -> str:
    """One self-contained, accessible HTML page (no scripts, no external assets), with the
    diagrams the pages draw (statuses too when the view has them, see `with_status`)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    from common_outcomes.reports import diagrams

    links = diagrams.Links(activity=None, indicator=None, outcome="#outcome-{}")
    status = view.get("status", {})
    by_partner = diagrams.partners_by_outcome(view["contribution_matrix"])
    drawn = {"contribution": diagrams.contribution(by_partner, "contribution"),
             "threads": {p["id"]: diagrams.golden_thread(p, status, links, f"thread-{p['id']}")
                         for p in view["priorities"]}}

    env = Environment(
        loader=PackageLoader("common_outcomes.reports", "templates"),
        autoescape=select_autoescape(["html", "jinja"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["words"] = lambda s: str(s).replace("_", " ")
    return env.get_template("strategy_map.html.jinja").render(m=view, drawn=drawn)


# The map with the published results: each measure's latest status, each outcome's, the
# summary line and the measures without data. The web pages and `outcomes map` both call this
# on the one view-model, so the diagrams say the same wherever they are drawn.

# A trend as its direction (symbol) and what it means (words): the arrow says which way the
# value moves, the word whether that is better (never colour alone).
TRENDS: dict[str, tuple[str, str]] = {
    compare.INCREASING_BETTER: ("↑", "improving"),
    compare.DECREASING_BETTER: ("↓", "improving"),
    compare.INCREASING_WORSE: ("↑", "worsening"),
    compare.DECREASING_WORSE: ("↓", "worsening"),
    compare.INCREASING: ("↑", "increasing"),
    compare.DECREASING: ("↓", "decreasing"),
    compare.NO_CHANGE: ("→", "no significant change"),
}
NO_TREND = ("·", "trend not yet calculable")
NO_DATA = ("\u2013", "no data yet")
WITHHELD = ("\u2013", "withheld")
COMPARISONS: dict[str, tuple[str, str]] = {
    compare.BETTER: ("+", "better than"), compare.SIMILAR: ("=", "similar to"),
    compare.WORSE: ("\u2212", "worse than"), compare.HIGHER: (">", "higher than"),
    compare.LOWER: ("<", "lower than"), compare.BEST: ("+", "best of"),
    compare.WORST: ("\u2212", "worst of"),
}
NOT_COMPARED = ("·", "not compared")


def with_status(view: dict[str, Any], latest: Mapping[str, Value],
                withheld: Mapping[str, str]) -> dict[str, Any]:
    """The view-model with the borough's latest published value of every measure it names,
    each outcome's status and the summary line (a new dict; the view is not changed)."""
    names = {code: about[1] for code, about in
             comparator_areas(view["workspace"]["borough"]["code"]).areas.items()}
    units = {m["id"]: m.get("unit") for p in view["priorities"] for m in p["measures"]}
    for c in (c for p in view["priorities"] for c in p["chains"]):
        units.update({m["indicator"]: m["unit"] for m in c["outcome_measures"]})
        units.update({m["indicator"]: m["unit"] for m in c["output_measures"] if m["indicator"]})
    status = {i: _status(latest.get(i), u or "percent", withheld.get(i), names)
              for i, u in units.items()}
    headline = list(dict.fromkeys(m["id"] for p in view["priorities"] for m in p["measures"]))
    grid = [{**cell, "outcomes": [{**o, "status": _outcome_status(o["headline"], status)}
                                  for o in cell["outcomes"]]}
            for cell in view["framework"]["grid"]]
    missing = {**view["missing"], "measures_without_data": [
        {"id": i, "name": next(m.get("name") or i for p in view["priorities"]
                               for m in p["measures"] if m["id"] == i)}
        for i in headline if not status[i]["has_data"]]}
    return {**view, "framework": {**view["framework"], "grid": grid}, "status": status,
            "summary": _summary(len(view["priorities"]), [status[i] for i in headline]),
            "missing": missing}


def _status(row: Value | None, unit: str, withheld: str | None,
            names: Mapping[str, str]) -> dict[str, Any]:
    if withheld is not None or row is None:
        symbol, word = WITHHELD if withheld is not None else NO_DATA
        return {"has_data": False, "shown": word.capitalize(), "period": None, "unit": unit,
                "value": None, "trend": {"symbol": symbol, "words": word},
                "comparison": {"symbol": "·", "words": word},
                "target": None}
    trend = TRENDS.get(row.recent_trend or "", NO_TREND)
    compared = COMPARISONS.get(row.compared_to_benchmark or "")
    benchmark = names.get(row.benchmark_code or "", row.benchmark_code or "the benchmark")
    shown = ("Suppressed (small number)" if row.suppressed else
             number(row.value, unit) if row.value is not None else row.value_note or "No value")
    return {
        "has_data": True, "shown": shown, "period": row.period, "unit": unit,
        "value": None if row.suppressed else row.value,
        "trend": {"symbol": trend[0], "words": trend[1]},
        "comparison": {"symbol": compared[0], "words": f"{compared[1]} {benchmark}"}
        if compared else {"symbol": NOT_COMPARED[0], "words": NOT_COMPARED[1]},
        "target": row.target_status,
    }


def _tally(items: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """Counted by their words; the symbol is theirs when they share it (measures improving
    as one rises and another falls are both improving, but go both ways: "↕")."""
    counts: dict[str, int] = {}
    symbols: dict[str, str] = {}
    for symbol, words in items:
        counts[words] = counts.get(words, 0) + 1
        symbols[words] = symbol if symbols.get(words, symbol) == symbol else "↕"
    return [{"symbol": symbols[w], "words": w, "count": n} for w, n in counts.items()]


def _outcome_status(measures: list[str], status: Mapping[str, dict[str, Any]]
                    ) -> dict[str, Any]:
    """An outcome's measures, counted by their trend and by their comparison."""
    held = [status[m] for m in measures if m in status]
    return {
        "measures": len(measures),
        "trend": _tally((s["trend"]["symbol"], s["trend"]["words"]) for s in held),
        "comparison": _tally((s["comparison"]["symbol"], s["comparison"]["words"])
                             for s in held if s["has_data"]),
    }


def _summary(priorities: int, headline: list[dict[str, Any]]) -> dict[str, Any]:
    """The overview's one line: every headline measure counted by trend, by comparison and
    by target, so that nothing is left out of the total."""
    trend = _count(s["trend"]["words"] for s in headline)
    compared = _count(s["comparison"]["words"] for s in headline if s["has_data"])
    target = _count(s["target"] or "no target" for s in headline if s["has_data"])
    parts = [f"{trend.pop(w, 0)} {w}" for w in ("improving", "worsening")]
    parts += [f"{n} {w}" for w, n in trend.items()]
    text = (f"{priorities} priorit{'y' if priorities == 1 else 'ies'}, {len(headline)} "
            f"headline measure{'' if len(headline) == 1 else 's'}: {', '.join(parts)}")
    if compared:
        text += "; of those with data, " + ", ".join(f"{n} {w}" for w, n in compared.items())
        text += "; " + ", ".join(f"{n} {w}" for w, n in target.items())
    return {"priorities": priorities, "measures": len(headline), "text": text + ".",
            "trend": _count(s["trend"]["words"] for s in headline), "comparison": compared,
            "target": target}


def _count(words: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
