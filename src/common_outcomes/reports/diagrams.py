"""The two diagrams drawn from the strategy map's view-model (with `with_status`): a
priority's golden thread, left to right (activities -> output measures with their latest
values -> outcome measures with their status -> outcomes), and the contribution view
(partners by the outcomes their activities are expected to move).

Each is server-rendered SVG, `role="img"` and named by its own title and description; the
same content, with links, is the list or table the page puts beside it. The nodes are links
for a mouse too: a second, `aria-hidden` layer of transparent link areas over the picture,
out of the tab order (keyboard and screen reader users follow the list's links), so no
link is nested inside the image. Status is in symbols and words, never colour alone.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

WIDTH = 960  # GOV.UK's page width: the diagram fits at 1280 px and scrolls in its box below
COLUMN, GAP, MARGIN = 200, 52, 2
PAD, LINE, FONT = 8, 16, 13
CHARS = 28  # what fits in a column at 13 px Arial
SPACE = 10  # between nodes in a column
TOP = 44  # the columns' headings
# Drawn with presentation attributes, not a style sheet: the same in the app and in the
# strategy map's self-contained page. GOV.UK's text colour, blue and dark grey.
FACE = f'font-family="arial, sans-serif" font-size="{FONT}"'
TEXT = f'{FACE} fill="#0b0c0c"'
BOLD = ' font-weight="bold"'
EDGE = 'fill="none" stroke="#505a5f" stroke-width="1.5"'
STROKES = ("#1d70b8", "#505a5f", "#0b0c0c", "#1d70b8")
HEADINGS = ("What we do", "Outputs: how much, how well", "Outcome measures: is anyone "
            "better off?", "Outcomes")


@dataclass(frozen=True)
class Links:
    """Where each kind of node links to: a format string taking the id, or None for no
    link (the strategy map's one page has no indicator pages)."""

    activity: str | None
    indicator: str | None
    outcome: str | None

    def of(self, kind: str, key: str) -> str | None:
        pattern: str | None = getattr(self, kind)
        return pattern.format(key) if pattern else None


@dataclass
class Node:
    kind: str  # activity, indicator or outcome (what it links to)
    key: str
    column: int
    lines: list[tuple[str, bool]]  # text and whether it is bold
    tip: str
    y: float = 0
    gap: bool = False
    edges: list[Node] = field(default_factory=list)

    @property
    def height(self) -> float:
        return 2 * PAD + LINE * len(self.lines)

    @property
    def x(self) -> float:
        return MARGIN + self.column * (COLUMN + GAP)


def _wrap(text: str, bold: bool = False) -> list[tuple[str, bool]]:
    return [(line, bold) for line in textwrap.wrap(text, CHARS) or [""]]


def _output_lines(m: Mapping[str, Any], status: Mapping[str, Any]) -> list[tuple[str, bool]]:
    lines = _wrap(m["name"], True)
    if not m.get("indicator"):
        return [*lines, ("Not measured yet", False), ("(no indicator)", False)]
    s = status.get(m["indicator"])
    if s is None or not s["has_data"]:
        return [*lines, ((s or {}).get("shown", "No data yet"), False)]
    return [*lines, (f"{s['shown']} in {s['period']}", False)]


def _measure_lines(name: str, s: Mapping[str, Any] | None) -> list[tuple[str, bool]]:
    lines = _wrap(name, True)
    if s is None or not s["has_data"]:
        return [*lines, ((s or {}).get("shown", "No data yet"), False)]
    lines += [(f"{s['shown']} in {s['period']}", False),
              *_wrap(f"{s['trend']['symbol']} {s['trend']['words']}"),
              *_wrap(f"{s['comparison']['symbol']} {s['comparison']['words']}")]
    if s["target"]:
        lines.append((f"Target: {s['target']}", False))
    return lines


def golden_thread(priority: Mapping[str, Any], status: Mapping[str, Mapping[str, Any]],
                  links: Links, ident: str) -> Markup:
    """A priority's golden thread as accessible SVG (`ident` makes its ids unique)."""
    bands: list[tuple[Node, list[Node]]] = []
    measures: dict[str, Node] = {}
    outcomes: dict[str, Node] = {}
    for c in priority["chains"]:
        act = Node("activity", c["activity"], 0, _wrap(c["name"], True) + _wrap(
            f"Led by {c['lead']['partner_name']}"), c["name"])
        outs = [Node("indicator" if m.get("indicator") else "activity",
                     m.get("indicator") or c["activity"], 1, _output_lines(m, status),
                     m["name"]) for m in c["output_measures"]]
        if not outs:
            outs = [Node("activity", c["activity"], 1, [("No output measure yet", True)],
                         "No output measure yet", gap=True)]
        for om in c["outcome_measures"]:
            name = om["name"] or om["indicator"]
            node = measures.setdefault(om["indicator"], Node(
                "indicator", om["indicator"], 2,
                _measure_lines(name, status.get(om["indicator"])), name))
            outs[0].edges.append(node)
            if om["outcome"]:
                out = outcomes.setdefault(om["outcome"], Node(
                    "outcome", om["outcome"], 3, _wrap(om["outcome_statement"] or om["outcome"]),
                    om["outcome_statement"] or om["outcome"]))
                if out not in node.edges:
                    node.edges.append(out)
        act.edges = outs
        bands.append((act, outs))
    # The activities and their outputs in bands, top to bottom; the measures and outcomes
    # stacked in the order they are first reached (fewer crossings).
    y = float(TOP)
    for act, outs in bands:
        act.y, top = y, y
        for o in outs:
            o.y, top = top, top + o.height + SPACE / 2
        y = max(act.y + act.height, top - SPACE / 2) + 2 * SPACE
    heights = [y - 2 * SPACE, _stack(list(measures.values()), {})]
    # Each outcome beside the measures that evidence it, as far as the others allow.
    towards: dict[str, list[float]] = {}
    for m in measures.values():
        for o in m.edges:
            towards.setdefault(o.key, []).append(m.y + m.height / 2)
    heights.append(_stack(list(outcomes.values()), {
        k: sum(v) / len(v) for k, v in towards.items()}))
    height = max(heights) + PAD
    nodes = [n for act, outs in bands for n in (act, *outs)]
    nodes += [*measures.values(), *outcomes.values()]
    paths = []
    for act, outs in bands:
        for o in outs:
            paths.append(_edge(act, o, ident))
        # The outputs together lead to the activity's outcome measures: a bracket on their
        # right, and a line from its middle to each measure.
        first, last = outs[0], outs[-1]
        bx = first.x + COLUMN + 8
        mid = (first.y + last.y + last.height) / 2
        if len(outs) > 1:
            paths.append(f'<path {EDGE} d="M{bx - 8},{first.y + 6:.0f} '
                         f'H{bx} V{last.y + last.height - 6:.0f} H{bx - 8}"/>')
        for m in first.edges:
            paths.append(_curve(bx, mid, m.x, m.y + m.height / 2, ident))
    for m in measures.values():
        paths.extend(_edge(m, o, ident) for o in m.edges)
    title = f"The golden thread for priority {priority['order']}: {priority['title']}"
    desc = (f"{len(bands)} activit{'y' if len(bands) == 1 else 'ies'}, their output "
            f"measures, the {len(measures)} outcome measure{'' if len(measures) == 1 else 's'}"
            f" they should move and the {len(outcomes)} outcome"
            f"{'' if len(outcomes) == 1 else 's'} those evidence, left to right. The list "
            "that follows holds the same, with links.")
    return _svg(ident, title, desc, height, nodes, paths, links, _headings())


def _stack(column: list[Node], wanted: Mapping[str, float]) -> float:
    """Place a column's nodes top to bottom, each at its wanted middle if there is room
    (else just below the one above); the column's bottom."""
    at = float(TOP)
    for n in column:
        n.y = max(at, wanted.get(n.key, 0) - n.height / 2)
        at = n.y + n.height + SPACE
    return at - SPACE


def _headings() -> list[str]:
    return [f'<text {TEXT} font-weight="bold" x="{MARGIN + i * (COLUMN + GAP)}" y="{LINE}">'
            + "".join(f'<tspan x="{MARGIN + i * (COLUMN + GAP)}" dy="{0 if j == 0 else LINE}">'
                      f"{escape(line)}</tspan>"
                      for j, line in enumerate(textwrap.wrap(h, CHARS + 4)))
            + "</text>" for i, h in enumerate(HEADINGS)]


def _edge(a: Node, b: Node, ident: str) -> str:
    return _curve(a.x + COLUMN, a.y + a.height / 2, b.x, b.y + b.height / 2, ident)


def _curve(x1: float, y1: float, x2: float, y2: float, ident: str) -> str:
    bend = (x2 - x1) / 2
    arrow = f' marker-end="url(#{ident}-arrow)"'
    return (f'<path {EDGE} d="M{x1:.0f},{y1:.0f} C{x1 + bend:.0f},{y1:.0f}'
            f' {x2 - bend:.0f},{y2:.0f} {x2 - 2:.0f},{y2:.0f}"{arrow}/>')


def _node(n: Node) -> str:
    text = "".join(
        f'<tspan x="{n.x + PAD}" y="{n.y + PAD + LINE * (i + 1) - 4:.0f}"'
        f'{BOLD if bold else ""}>{escape(line)}</tspan>'
        for i, (line, bold) in enumerate(n.lines))
    dash = ' stroke-dasharray="5 3"' if n.gap else ""
    return (f'<g><rect x="{n.x}" y="{n.y:.0f}" width="{COLUMN}" height="{n.height:.0f}" '
            f'rx="3" fill="#ffffff" stroke="{STROKES[n.column]}" stroke-width="2"{dash}/>'
            f"<text {TEXT}>{text}</text></g>")


def _svg(ident: str, title: str, desc: str, height: float, nodes: Sequence[Node],
         paths: Sequence[str], links: Links, extra: Sequence[str]) -> Markup:
    size = f'width="{WIDTH}" height="{height:.0f}" viewBox="0 0 {WIDTH} {height:.0f}"'
    picture = (
        f'<svg class="app-diagram__picture" role="img" aria-labelledby="{ident}-title '
        f'{ident}-desc" {size} xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(desc)}</desc>'
        f'<defs><marker id="{ident}-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#505a5f"/></marker></defs>'
        + "".join(extra) + "".join(paths) + "".join(_node(n) for n in nodes) + "</svg>")
    areas = []
    for n in nodes:
        href = links.of(n.kind, n.key)
        if href:
            areas.append(f'<a href="{escape(href)}" tabindex="-1"><title>{escape(n.tip)}'
                         f'</title><rect x="{n.x}" y="{n.y:.0f}" width="{COLUMN}" '
                         f'height="{n.height:.0f}" fill="transparent"/></a>')
    # The link areas: for a mouse only (see the module's docstring).
    overlay = (f'<svg class="app-diagram__links" aria-hidden="true" focusable="false" {size}'
               f' xmlns="http://www.w3.org/2000/svg">{"".join(areas)}</svg>')
    return Markup('<div class="app-diagram__canvas">'
                  f"{picture}{overlay}</div>")


# The contribution view ---------------------------------------------------------------------

CELL, ROW = 34, 38
HEAD = 170  # the outcomes' names, at an angle
RIGHT = 100  # room for the last names' ends


def partners_by_outcome(matrix: Mapping[str, Any]) -> dict[str, Any]:
    """The contribution matrix by partner (its services together): each partner's activities
    for each outcome, for the drawing and its table alike."""
    rows: dict[str, dict[str, Any]] = {}
    for r in matrix["rows"]:
        row = rows.setdefault(r["partner"], {"partner": r["partner"], "name": r["partner_name"],
                                             "sector": r["sector"], "cells": {}})
        for oid, acts in r["cells"].items():
            held = row["cells"].setdefault(oid, [])
            held.extend(a for a in acts if a not in held)
    return {"columns": matrix["columns"], "activities": matrix["activities"],
            "rows": sorted(rows.values(), key=lambda r: r["name"])}


def contribution(view: Mapping[str, Any], ident: str,
                 label: Callable[[str], str] = lambda oid: oid.replace("-", " ")) -> Markup:
    """Partners (rows) by outcomes (columns): a dot where a partner's activities are expected
    to move the outcome, with the number of those activities in it."""
    columns, rows = view["columns"], view["rows"]
    height = HEAD + ROW * len(rows) + PAD
    # The partners' names take what the columns leave (at least a quarter of the width).
    left = max(WIDTH // 4, WIDTH - RIGHT - CELL * len(columns))
    width = left + CELL * len(columns) + RIGHT
    chars = int((left - 2 * PAD) / 6.5)
    parts = []
    for j, c in enumerate(columns):
        x = left + CELL * j + CELL / 2
        parts.append(f'<text {TEXT} transform="translate({x:.0f},'
                     f'{HEAD - 8}) rotate(-55)">{escape(label(c["id"]))}</text>')
    for i, r in enumerate(rows):
        y = HEAD + ROW * i
        if i % 2 == 0:
            parts.append(f'<rect x="0" y="{y}" width="{width}" height="{ROW}" '
                         'fill="#f3f2f1"/>')
        name = textwrap.wrap(r["name"], chars)
        if len(name) > 2:
            name = [name[0], name[1][:chars - 1] + "…"]
        top = y + ROW / 2 + 5 - (LINE / 2 if len(name) > 1 else 0)
        parts.append(f'<text {TEXT}>' + "".join(
            f'<tspan x="{PAD}" y="{top + LINE * k:.0f}">{escape(line)}</tspan>'
            for k, line in enumerate(name)) + "</text>")
        for j, c in enumerate(columns):
            acts = r["cells"].get(c["id"], [])
            if not acts:
                continue
            x, cy = left + CELL * j + CELL / 2, y + ROW / 2
            names = "; ".join(view["activities"].get(a, a) for a in acts)
            parts.append(
                f'<g><title>{escape(r["name"])}, '
                f'{escape(c["statement"])}: {escape(names)}</title>'
                f'<circle cx="{x:.0f}" cy="{cy:.0f}" r="{min(9 + 2 * len(acts), 15)}" '
                'fill="#1d70b8"/>'
                f'<text {FACE} fill="#ffffff" font-weight="bold" x="{x:.0f}" y="{cy + 5:.0f}" '
                f'text-anchor="middle">{len(acts)}</text></g>')
    title = "Who contributes to which outcome"
    desc = (f"{len(rows)} partners (rows) by the {len(columns)} outcomes their activities are "
            "expected to move (columns); each dot holds the number of the partner's "
            "activities for that outcome. The table that follows holds the same.")
    size = f'width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
    return Markup(
        '<div class="app-diagram__canvas">'
        f'<svg class="app-diagram__picture" role="img" aria-labelledby="{ident}-title '
        f'{ident}-desc" {size} xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(desc)}</desc>{"".join(parts)}</svg></div>')
