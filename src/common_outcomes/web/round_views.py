"""The system conditions as the pages, exports and API show them: each feature's moderated
level in each closed round and its movement, and each condition's level (that of its least
mature feature: a condition is only as strong as its weakest part). Built from the maturity
model and the rounds alone; moderated levels count only once a round is closed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from common_outcomes.framework.maturity import MaturityModel
from common_outcomes.state import Round
from common_outcomes.web.charts import CONFIG, SCHEMA

# The table's shades (static/app.css .app-level--N), lowest level first; a model with more
# levels than four repeats the darkest.
SHADES = ("#deebf7", "#9ecae1", "#1d70b8", "#003078")

HEADER = ("condition", "condition_name", "feature", "feature_name", "local", "round",
          "period", "moderated_level", "level_number", "rationale", "moderated_by",
          "moderated_at", "movement")


@dataclass(frozen=True)
class Cell:
    """A feature's moderated level in one closed round (level None: not rated then)."""

    round: int
    period: str
    level: str | None
    level_name: str
    rank: int | None


@dataclass(frozen=True)
class FeatureRow:
    condition: str
    feature: str
    name: str
    local: bool
    cells: tuple[Cell, ...]
    movement: int | None  # levels moved between the last two rounds that rated it

    @property
    def moved(self) -> str:
        return movement_words(self.movement)

    @property
    def latest(self) -> Cell | None:
        return next((c for c in reversed(self.cells) if c.level is not None), None)


@dataclass(frozen=True)
class ConditionRow:
    id: str
    name: str
    features: tuple[FeatureRow, ...]
    level: str | None  # in the latest closed round: its least mature feature's level
    level_name: str
    period: str | None
    movement: int | None  # against the same in the round before

    @property
    def moved(self) -> str:
        return movement_words(self.movement)


@dataclass(frozen=True)
class Conditions:
    """The closed rounds (oldest first) and every condition's features across them."""

    levels: tuple[tuple[str, str], ...]  # (id, name), lowest first
    rounds: tuple[tuple[int, str], ...]  # (number, period) of the closed rounds
    conditions: tuple[ConditionRow, ...]


def conditions(model: MaturityModel, rounds: Sequence[Round]) -> Conditions:
    closed = [r for r in rounds if r.closed]
    rows = []
    for condition in model.conditions:
        features = tuple(_feature(model, f.id, f.condition, f.name, f.local, closed)
                         for f in condition.features)
        now = _least(model, [c.cells[-1] for c in features]) if closed else None
        before = _least(model, [c.cells[-2] for c in features]) if len(closed) > 1 else None
        rows.append(ConditionRow(
            condition.id, condition.name, features, now, model.level_name(now or ""),
            closed[-1].period if closed and now else None,
            _moved(model, before, now)))
    return Conditions(tuple((x.id, x.name) for x in model.levels),
                      tuple((r.number, r.period) for r in closed), tuple(rows))


def _feature(model: MaturityModel, feature: str, condition: str, name: str, local: bool,
             closed: Sequence[Round]) -> FeatureRow:
    cells = []
    for r in closed:
        found = r.moderation(feature)
        level = found.level if found else None
        cells.append(Cell(r.number, r.period, level, model.level_name(level or ""),
                          model.rank(level) if level else None))
    rated = [c for c in cells if c.level is not None]
    movement = _moved(model, rated[-2].level, rated[-1].level) if len(rated) > 1 else None
    return FeatureRow(condition, feature, name, local, tuple(cells), movement)


def _least(model: MaturityModel, cells: Sequence[Cell]) -> str | None:
    """The lowest level among the features rated (None when none was)."""
    ranked = [(c.rank, c.level) for c in cells if c.rank is not None and c.level]
    return min(ranked)[1] if ranked else None


def _moved(model: MaturityModel, before: str | None, now: str | None) -> int | None:
    a, b = model.rank(before or ""), model.rank(now or "")
    return None if a is None or b is None else b - a


def movement_words(moved: int | None) -> str:
    """Movement as words, never as colour or an arrow alone."""
    if moved is None:
        return "no earlier round to compare"
    if moved == 0:
        return "no change"
    levels = "level" if abs(moved) == 1 else "levels"
    return f"up {moved} {levels}" if moved > 0 else f"down {-moved} {levels}"


def export_rows(model: MaturityModel, rounds: Sequence[Round]) -> list[list[object]]:
    """One row a feature and closed round, as the CSV and XLSX downloads hold them (text is
    neutralised by data.spreadsheets, so a rationale cannot run as a formula)."""
    view = conditions(model, rounds)
    closed = {r.number: r for r in rounds if r.closed}
    out: list[list[object]] = []
    for condition in view.conditions:
        for f in condition.features:
            previous: int | None = None
            for cell in f.cells:
                found = closed[cell.round].moderation(f.feature)
                moved = (None if previous is None or cell.rank is None
                         else cell.rank - previous)
                out.append([condition.id, condition.name, f.feature, f.name,
                            "yes" if f.local else "no", cell.round, cell.period,
                            cell.level_name if cell.level else "", cell.rank,
                            found.rationale if found else "", found.moderator if found else "",
                            found.at.isoformat(timespec="seconds") if found else "",
                            "" if moved is None else movement_words(moved)])
                previous = cell.rank if cell.rank is not None else previous
    return out


def heat_map(view: Conditions) -> dict[str, Any] | None:
    """A Vega-Lite heat map of features (rows) by round (columns), each cell shaded by its
    level and labelled with the level's name, so that the colour is never alone; the table
    after it on the page holds the same and is its alternative."""
    values = [{"feature": f.name, "period": c.period, "level": c.level_name, "rank": c.rank}
              for row in view.conditions for f in row.features for c in f.cells if c.level]
    if not values:
        return None
    names = [name for _, name in view.levels]
    return {
        "$schema": SCHEMA, "config": CONFIG,
        "description": ("Heat map of each feature's moderated level in each closed "
                        "self-assessment round; darker is more mature, and each cell is "
                        "labelled with its level."),
        "width": {"step": 110}, "height": {"step": 26},
        "data": {"values": values},
        "encoding": {
            "x": {"field": "period", "type": "ordinal", "title": "Round",
                  "sort": [p for _, p in view.rounds],
                  "axis": {"orient": "top", "labelAngle": 0}},
            "y": {"field": "feature", "type": "nominal", "title": None, "sort": None,
                  "axis": {"labelLimit": 360}},
        },
        "layer": [
            {"mark": "rect",
             "encoding": {"color": {"field": "level", "type": "ordinal", "title": "Level",
                                    "sort": names, "scale": {"domain": names, "range": [
                                        SHADES[min(i, len(SHADES) - 1)]
                                        for i in range(len(names))]}},
                          "tooltip": [{"field": "feature"}, {"field": "period"},
                                      {"field": "level"}]}},
            {"mark": {"type": "text", "fontSize": 11},
             "encoding": {"text": {"field": "level"},
                          "color": {"condition": {"test": "datum.rank >= 3",
                                                  "value": "#ffffff"},
                                    "value": "#0b0c0c"}}},
        ],
    }
