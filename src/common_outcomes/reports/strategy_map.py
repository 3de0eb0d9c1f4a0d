"""The strategy map: the framework with the borough's priorities in it, the contribution
matrix (partners and services x outcomes) and every priority's golden thread
activity -> output measures -> outcome measures -> outcome, with the gaps `check` found.

`strategy_map` builds a plain, JSON-ready view-model; `render_html` turns it into one
self-contained accessible page. The JSON is the contract (golden-tested); the page only
presents it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from common_outcomes.errors import Issues
from common_outcomes.framework.models import Framework, Indicator
from common_outcomes.strategy import Workspace
from common_outcomes.strategy.models import Activity, Delivery

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
        "framework": _overview(framework, priority_outcomes),
        "priorities": [_priority(ws, pr.id, indicators, outcome_of, framework)
                       for pr in ws.priorities],
        "contribution_matrix": _matrix(ws, framework, outcome_of),
        "localities": [_locality(ws, loc.id) for loc in ws.localities],
        "locality_notes": list(ws.locality_notes),
        "gaps": [i.to_dict() for i in issues.sorted()],
    }


def _overview(
    framework: Framework, priority_outcomes: dict[str, list[dict[str, Any]]]
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
            {"id": m.id, "name": m.name, "type": m.type, "indicator": m.indicator}
            for m in act.output_measures
        ],
        "outcome_measures": [
            {
                "indicator": link.indicator,
                "name": indicators[link.indicator].name if link.indicator in indicators else None,
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
    """One self-contained, accessible HTML page (no scripts, no external assets)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("common_outcomes.reports", "templates"),
        autoescape=select_autoescape(["html", "jinja"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["words"] = lambda s: str(s).replace("_", " ")
    return env.get_template("strategy_map.html.jinja").render(m=view)
