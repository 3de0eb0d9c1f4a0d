"""Charts and maps: each is a Vega-Lite spec in its figure's data attribute, and every number
it draws is one the published results hold (so it has passed disclosure control)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from html import unescape
from typing import Any

from fastapi.testclient import TestClient

from common_outcomes.reports import results_view as rv
from common_outcomes.web.site import Served

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
