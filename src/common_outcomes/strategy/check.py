"""Cross-checks of a workspace against its framework and its own geography.

Each check adds issues and never stops the others, so one run reports everything.
Codes are stable (docs/checks.md lists them all); severities: errors make
`outcomes check` exit 1, warnings are gaps worth a look.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from common_outcomes.documents import Found
from common_outcomes.errors import Issues, Location
from common_outcomes.framework.models import Framework, Indicator, Polarity
from common_outcomes.ids import parse_pin
from common_outcomes.periods import PeriodType, parse_period
from common_outcomes.strategy.load import Workspace
from common_outcomes.strategy.models import Direction


@dataclass(frozen=True)
class Catalogue:
    """Every indicator a workspace can name: the framework's and its own."""

    framework: Framework
    workspace: Workspace

    def find(self, indicator_id: str) -> Indicator | None:
        return self.framework.indicator(indicator_id) or next(
            (i for i in self.workspace.indicators if i.id == indicator_id), None)

    def period_type(self, indicator_id: str) -> PeriodType | None:
        found = self.find(indicator_id)
        return found.period_type if found else None

    def polarity(self, indicator_id: str) -> Polarity | None:
        found = self.find(indicator_id)
        return found.polarity if found else None

    def has_source(self, indicator_id: str) -> bool:
        found = self.find(indicator_id)
        return found is not None and found.data_source is not None

    def outcome_of(self, indicator_id: str) -> str | None:
        outcome = self.framework.outcome_of(indicator_id)
        if outcome:
            return outcome.id
        local = next((i for i in self.workspace.indicators if i.id == indicator_id), None)
        return local.outcome if local else None

    def __contains__(self, indicator_id: object) -> bool:
        return isinstance(indicator_id, str) and self.period_type(indicator_id) is not None

    def ids(self) -> list[str]:
        return [i.id for i in self.framework.indicators] + [i.id for i in self.workspace.indicators]


def _unknown(issues: Issues, code: str, what: str, value: str, where: Location | None,
             known: Iterable[str]) -> None:
    close = difflib.get_close_matches(value, list(known), n=1)
    issues.error(code, f"Unknown {what} '{value}'.", where,
                 f"did you mean '{close[0]}'?" if close else f"no {what} has that id")


def check_framework_pin(workspace: Workspace, available: Sequence[str], issues: Issues) -> None:
    pin = workspace.settings.framework
    where = workspace.settings_source.source.locate(("framework",))
    try:
        name, _ = parse_pin(pin)
    except ValueError as exc:
        issues.error("framework.bad-pin", f"{exc}.", where)
        return
    if pin not in available:
        same = [a for a in available if a.startswith(f"{name}@")]
        issues.error(
            "framework.unavailable",
            f"This release of common-outcomes cannot use framework {pin}.",
            where,
            f"available: {', '.join(same or available) or 'none'}",
        )


def check_workspace(workspace: Workspace, framework: Framework, issues: Issues) -> None:
    """Every cross-check; the framework is the one the workspace pins."""
    catalogue = Catalogue(framework, workspace)
    _check_geography(workspace, issues)
    _check_localities(workspace, issues)
    _check_indicators(workspace, framework, issues)
    _check_priorities(workspace, catalogue, issues)
    _check_activities(workspace, catalogue, issues)
    _check_targets(workspace, catalogue, issues)


def _check_geography(ws: Workspace, issues: Issues) -> None:
    where = ws.settings_source.source.locate(("borough", "code"))
    if ws.geography is None:
        issues.error("geography.missing", "The workspace has no geography file.", where,
                     "run 'outcomes geography DIR --from <ONS lookups>' to write one")
    elif ws.geography.la.code != ws.settings.borough.code:
        issues.error("geography.mismatch",
                     f"The borough is {ws.settings.borough.code} but geography.yaml is for "
                     f"{ws.geography.la.code}.", where,
                     "regenerate geography.yaml for this borough")


def _check_localities(ws: Workspace, issues: Issues) -> None:
    geo = ws.geography
    if geo is None or not ws.localities:
        return
    wards = {w.code: w.name for w in geo.wards}
    lsoas = {a.code: a for a in geo.lsoas}
    by_lsoa = any(loc.lsoas for loc in ws.localities)
    owner: dict[str, str] = {}
    for loc in ws.localities:
        field = "lsoas" if loc.lsoas else "wards"
        known = lsoas if loc.lsoas else wards
        for i, code in enumerate(loc.lsoas or loc.wards):
            where = ws.locate("Locality", loc.id, field, i)
            if code not in known:
                _unknown(issues, "ref.unknown-area", f"{field[:-1].replace('lsoa', 'LSOA')} code "
                         f"in {ws.settings.borough.name}", code, where, known)
                continue
            units = [code] if not by_lsoa or loc.lsoas else [
                a.code for a in geo.lsoas if a.ward == code]
            for unit in units:
                if unit in owner and owner[unit] != loc.id:
                    name = wards.get(unit) or unit
                    issues.error("locality.overlap",
                                 f"{name} ({unit}) is already in locality '{owner[unit]}' and "
                                 f"is listed again in '{loc.id}'.",
                                 where, "each ward or LSOA belongs to exactly one locality")
                    break
                owner.setdefault(unit, loc.id)
    universe = list(lsoas) if by_lsoa else list(wards)
    missing = [u for u in universe if u not in owner]
    if missing:
        names = [wards.get(u) or u for u in missing]
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        unit = ("LSOA" if by_lsoa else "ward") + ("s" if len(missing) > 1 else "")
        issues.error("locality.unassigned",
                     f"{len(missing)} {unit} belong{'s' * (len(missing) == 1)} to no locality: "
                     f"{shown}.", ws.locate("Locality", ws.localities[0].id),
                     "add each to the locality whose Family Hub serves it")


def _check_indicators(ws: Workspace, framework: Framework, issues: Issues) -> None:
    outcomes = [o.id for o in framework.outcomes]
    for ind in ws.indicators:
        if framework.indicator(ind.id):
            issues.error("ref.duplicate-id",
                         f"Local indicator '{ind.id}' has the id of a framework indicator.",
                         ws.locate("LocalIndicator", ind.id, "id"),
                         "give the local indicator its own id, or use the framework's")
        if ind.outcome and ind.outcome not in outcomes:
            _unknown(issues, "ref.unknown-outcome", "framework outcome", ind.outcome,
                     ws.locate("LocalIndicator", ind.id, "outcome"), outcomes)
        known_sf = [sf.id for sf in framework.supporting_families]
        for i, sf in enumerate(ind.supporting_families):
            if sf not in known_sf:
                _unknown(issues, "ref.unknown-supporting-families",
                         "Supporting Families outcome", sf,
                         ws.locate("LocalIndicator", ind.id, "supporting_families", i), known_sf)
        if ind.data_source is None:
            issues.error("indicator.no-source", f"Local indicator '{ind.id}' has no data source.",
                         ws.locate("LocalIndicator", ind.id),
                         "add 'data_source:' with the collection and partner return it comes from")


def _check_priorities(ws: Workspace, cat: Catalogue, issues: Issues) -> None:
    outcomes = [o.id for o in cat.framework.outcomes]
    served = {p for a in ws.activities for p in a.priorities}
    moved = {m.indicator for a in ws.activities for m in a.outcome_measures}
    orders: dict[int, str] = {}
    for pr in ws.priorities:
        for i, outcome in enumerate(pr.outcomes):
            if outcome not in outcomes:
                _unknown(issues, "ref.unknown-outcome", "framework outcome", outcome,
                         ws.locate("Priority", pr.id, "outcomes", i), outcomes)
        if not pr.measures:
            issues.error("priority.no-measure", f"Priority '{pr.id}' has no measure.",
                         ws.locate("Priority", pr.id),
                         "list the indicators that show whether families are better off under "
                         "'measures:'")
        for i, measure in enumerate(pr.measures):
            where = ws.locate("Priority", pr.id, "measures", i)
            if measure not in cat:
                _unknown(issues, "ref.unknown-indicator", "indicator", measure, where, cat.ids())
                continue
            if not cat.has_source(measure):
                issues.error("indicator.no-source",
                             f"Measure '{measure}' of priority '{pr.id}' has no data source.",
                             where, "give the indicator a data_source")
            evidenced = cat.outcome_of(measure)
            if evidenced and evidenced not in pr.outcomes:
                issues.warning("priority.measure-outside-outcomes",
                               f"Measure '{measure}' evidences outcome '{evidenced}', which is not "
                               f"among the outcomes of priority '{pr.id}'.", where,
                               f"add '{evidenced}' to the priority's outcomes, or choose another "
                               "measure")
            if measure not in moved:
                issues.warning("priority.measure-unmoved",
                               f"No activity is expected to move measure '{measure}' of priority "
                               f"'{pr.id}'.", where,
                               "link an activity's outcome_measures to it, or drop the measure")
        if pr.id not in served:
            issues.error("priority.no-activity", f"Priority '{pr.id}' has no activity.",
                         ws.locate("Priority", pr.id),
                         "name this priority in the 'priorities:' of at least one activity")
        if pr.order in orders:
            issues.warning("priority.duplicate-order",
                           f"Priorities '{orders[pr.order]}' and '{pr.id}' share order "
                           f"{pr.order}.", ws.locate("Priority", pr.id, "order"))
        orders.setdefault(pr.order, pr.id)


def _check_activities(ws: Workspace, cat: Catalogue, issues: Issues) -> None:
    priorities = [p.id for p in ws.priorities]
    partners = {p.id: p for p in ws.partners}
    localities = {loc.id: loc for loc in ws.localities}
    hubs = {h.id: loc.id for loc in ws.localities for h in loc.hubs}
    local = [i.id for i in ws.indicators]
    for act in ws.activities:
        def at(*sub: str | int, _id: str = act.id) -> Location | None:
            return ws.locate("Activity", _id, *sub)

        for i, pid in enumerate(act.priorities):
            if pid not in priorities:
                _unknown(issues, "ref.unknown-priority", "priority", pid,
                         at("priorities", i), priorities)
        deliveries = [("lead", act.lead), *(
            (("with_partners", i), d) for i, d in enumerate(act.with_partners))]
        for key, delivery in deliveries:
            path = key if isinstance(key, tuple) else (key,)
            partner = partners.get(delivery.partner)
            if partner is None:
                _unknown(issues, "ref.unknown-partner", "partner", delivery.partner,
                         at(*path, "partner"), partners)
            elif delivery.service and delivery.service not in {s.id for s in partner.services}:
                _unknown(issues, "ref.unknown-service", f"service of '{partner.id}'",
                         delivery.service, at(*path, "service"), [s.id for s in partner.services])
        if act.localities != "all":
            for i, lid in enumerate(act.localities):
                if lid not in localities:
                    _unknown(issues, "ref.unknown-locality", "locality", lid,
                             at("localities", i), localities)
        for i, hub in enumerate(act.hubs):
            if hub not in hubs:
                _unknown(issues, "ref.unknown-hub", "hub", hub, at("hubs", i), hubs)
            elif act.localities != "all" and hubs[hub] not in act.localities:
                issues.warning("activity.hub-outside-localities",
                               f"Hub '{hub}' is in locality '{hubs[hub]}', which activity "
                               f"'{act.id}' does not cover.", at("hubs", i))
        if act.start and act.end and act.end <= act.start:
            issues.error("activity.dates", f"Activity '{act.id}' stops on {act.end} but "
                         f"starts on {act.start}.", at("end"),
                         "an activity stops after the day it starts")
        for i, out in enumerate(act.output_measures):
            if out.indicator and out.indicator not in local:
                _unknown(issues, "ref.unknown-indicator", "local indicator", out.indicator,
                         at("output_measures", i, "indicator"), local)
        if not act.output_measures:
            issues.warning("activity.no-output", f"Activity '{act.id}' has no output measure.",
                           at(), "say how much is done and how well under 'output_measures:'")
        if not act.outcome_measures:
            issues.error("activity.no-outcome",
                         f"Activity '{act.id}' has no outcome measure (activity without outcome).",
                         at(), "name the indicators it should move under 'outcome_measures:'")
        for i, link in enumerate(act.outcome_measures):
            where = at("outcome_measures", i, "indicator")
            if link.indicator not in cat:
                _unknown(issues, "ref.unknown-indicator", "indicator", link.indicator, where,
                         cat.ids())
                continue
            polarity = cat.polarity(link.indicator)
            worse = (Direction.INCREASE if polarity is Polarity.LOW_IS_GOOD else
                     Direction.DECREASE if polarity is Polarity.HIGH_IS_GOOD else None)
            if link.direction is worse:
                issues.warning("activity.direction-against-polarity",
                               f"Activity '{act.id}' expects '{link.indicator}' to "
                               f"{link.direction.value}, but for it "
                               f"{polarity.value.replace('_', ' ') if polarity else ''}.",
                               at("outcome_measures", i, "direction"),
                               "check the expected direction")


def _check_targets(ws: Workspace, cat: Catalogue, issues: Issues) -> None:
    areas = _areas(ws)
    for baseline, found in ws.baselines:
        _check_area_period(ws, cat, BASELINE_CODES, baseline.indicator, baseline.area,
                           [("period", baseline.period)] if baseline.period else
                           [(("periods", i), p) for i, p in enumerate(baseline.periods)],
                           found, areas, issues)
    seen: dict[tuple[str, str, str], Found] = {}
    for target, found in ws.targets:
        periods: list[tuple[object, str]] = [("period", target.period)]
        if isinstance(target.trajectory, tuple):
            periods += [(("trajectory", i, "period"), p.period)
                        for i, p in enumerate(target.trajectory)]
        _check_area_period(ws, cat, TARGET_CODES, target.indicator, target.area, periods, found,
                           areas, issues)
        key = (target.indicator, target.area, target.period)
        if key in seen:
            issues.error("target.duplicate",
                         f"A second target for '{target.indicator}' in {target.area} for "
                         f"{target.period}; the first is at {seen[key].locate()}.",
                         found.locate(), "keep one target per indicator, area and period")
        seen.setdefault(key, found)


def _areas(ws: Workspace) -> dict[str, str]:
    """Area codes and locality ids a target may name, with their area type."""
    areas = {loc.id: "locality" for loc in ws.localities}
    areas[ws.settings.borough.code] = "la"
    if ws.geography:
        areas.update({w.code: "ward" for w in ws.geography.wards})
        areas.update({a.code: "lsoa" for a in ws.geography.lsoas})
    return areas


@dataclass(frozen=True)
class _Codes:
    what: str
    unknown_area: str
    unknown_period: str


BASELINE_CODES = _Codes("baseline", "baseline.unknown-area", "baseline.unknown-period")
TARGET_CODES = _Codes("target", "target.unknown-area", "target.unknown-period")


def _check_area_period(
    ws: Workspace, cat: Catalogue, codes: _Codes, indicator: str, area: str,
    periods: list[tuple[object, str]], found: Found, areas: dict[str, str], issues: Issues,
) -> None:
    what = codes.what
    if indicator not in cat:
        _unknown(issues, "ref.unknown-indicator", "indicator", indicator,
                 found.locate("indicator"), cat.ids())
        return
    if area not in areas:
        issues.error(codes.unknown_area,
                     f"The {what} for '{indicator}' names area '{area}', which is not the "
                     f"borough, one of its localities, wards or LSOAs.", found.locate("area"),
                     f"use {ws.settings.borough.code}, a locality id or a ward/LSOA code")
    period_type = cat.period_type(indicator)
    assert period_type is not None
    for path, label in periods:
        sub = path if isinstance(path, tuple) else (str(path),)
        try:
            parse_period(str(label), period_type)
        except ValueError as exc:
            issues.error(codes.unknown_period,
                         f"The {what} for '{indicator}' names period '{label}': {exc}.",
                         found.locate(*sub),
                         f"'{indicator}' is reported by {period_type.value.replace('_', ' ')}")
