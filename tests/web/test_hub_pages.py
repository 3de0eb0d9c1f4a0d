"""What a Family Hub manager reads: a locality's page grouped by priority, each measure with
the borough's value beside it, the locality's own target and its trend, and the activities
the workspace says run there; and on every story page, its curve and a Period list a person
can choose from."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html import unescape
from xml.etree.ElementTree import Element

import html5lib
from fastapi.testclient import TestClient

from common_outcomes.web.formats import number, shown
from common_outcomes.web.site import CHOICES, Served

NS = {"h": "http://www.w3.org/1999/xhtml"}
H = "{http://www.w3.org/1999/xhtml}"
Client = Callable[[str | None], TestClient]


def parse(html: str) -> Element:
    return html5lib.HTMLParser(namespaceHTMLElements=True).parse(html)


def text(el: Element) -> str:
    return re.sub(r"\s+", " ", "".join(el.itertext())).strip()


def rows_of(page: Element, caption_starts: str) -> dict[str, list[str]]:
    """A table's body rows by their header cell's text: the other cells' text."""
    for table in page.iter(f"{H}table"):
        caption = table.find("h:caption", NS)
        if caption is not None and text(caption).startswith(caption_starts):
            body = table.find("h:tbody", NS)
            assert body is not None
            return {text(r.find("h:th", NS).find("h:a", NS)):  # type: ignore[union-attr,arg-type]
                    [text(c) for c in r.findall("h:td", NS)] for r in body}
    raise AssertionError(f"no table captioned {caption_starts!r}")


def test_a_locality_page_is_grouped_by_priority_with_the_boroughs_value_and_its_target(
        client: Client, example: Served) -> None:
    viewer = client("viewer@example.org")
    borough = example.latest(example.borough_code)
    targeted = 0
    for loc in example.map["localities"]:
        page = parse(viewer.get(f"/w/{example.id}/localities/{loc['id']}").text)
        headings = [text(h) for h in page.iter(f"{H}h3")]
        priorities = example.map["priorities"]
        assert headings[:len(priorities)] == [f"Priority {p['order']}: {p['title']}"
                                              for p in priorities]
        here = example.latest(loc["id"])
        for p in priorities:
            rows = rows_of(page, f"{p['title']}: {loc['name']}")
            assert list(rows) == [m["name"] for m in p["measures"]]
            for m in p["measures"]:
                unit = example.indicators[m["id"]].unit.value
                cells = rows[m["name"]]
                # The borough's own value beside the locality's.
                assert cells[1].startswith(shown(borough.get(m["id"]), unit)), m["id"]
                if m["id"] in here:
                    assert cells[0].startswith(shown(here[m["id"]], unit))
                # The locality's target where the workspace sets one, else none.
                mine = [t for t in m["targets"] if t["area"] == loc["id"]]
                for t in mine:
                    assert f"{number(t['value'], unit)} by {t['period']}" in cells[2]
                    targeted += 1
                if not mine:
                    assert cells[2].startswith(f"None set for {loc['name']}")
    assert targeted >= 3  # the example's targets.yaml sets three for localities


def test_each_locality_lists_the_activities_run_there(client: Client, example: Served) -> None:
    viewer = client("viewer@example.org")
    activities = example.project.workspace.activities
    listed = {}
    for loc in example.map["localities"]:
        page = parse(viewer.get(f"/w/{example.id}/localities/{loc['id']}").text)
        heading = next(h for h in page.iter(f"{H}h2") if h.get("id") == "activities")
        siblings = list(page.find(".//h:main", NS).iter())  # type: ignore[union-attr]
        after = siblings[siblings.index(heading):]
        items = next(el for el in after if el.tag == f"{H}ul")
        listed[loc["id"]] = {text(li.find("h:span", NS)) for li in items}  # type: ignore[arg-type]
        assert listed[loc["id"]] == {a.name for a in activities
                                     if a.localities == "all" or loc["id"] in a.localities}
    # The example runs some activities in some localities only.
    assert len({frozenset(v) for v in listed.values()}) == len(listed) > 1


def test_a_story_page_draws_its_curve_and_offers_a_short_period_list(
        client: Client, example: Served, indicator: str) -> None:
    contributor = client("contributor@example.org")
    html = contributor.get(f"/w/{example.id}/indicators/{indicator}/story").text
    page = parse(html)
    figure = next(f for f in page.iter(f"{H}figure") if f.get("id") == f"curve-{indicator}")
    spec = json.loads(unescape(figure.get("data-vega-lite", "")))
    usual = example.indicators[indicator].period_type.value
    table = example.of(indicator)
    assert table is not None
    from common_outcomes.reports import results_view as rv

    types = rv.period_types(table, indicator)
    kind = usual if usual in types else types[0]
    expected = [r.period for r in rv.series(table, indicator, example.borough_code, kind)
                if r.value is not None and not r.suppressed]
    assert [p["period"] for p in spec["data"]["values"] if p["measure"] == "Value"] == expected

    # The priority's story offers each period type's newest few, newest first.
    priority = example.map["priorities"][0]
    story = parse(contributor.get(f"/w/{example.id}/priorities/{priority['id']}/story").text)
    select = next(s for s in story.iter(f"{H}select") if s.get("id") == "period")
    groups = select.findall("h:optgroup", NS)
    assert groups
    from common_outcomes.web.story_checks import subject_of

    subject = subject_of(example, "priority", priority["id"])
    assert subject is not None
    every = example.periods(subject.indicators)
    offered = []
    for group in groups:
        options = [o.get("value") for o in group.findall("h:option", NS)]
        assert 0 < len(options) <= CHOICES
        assert options == [p for p in every if p in options]  # newest first
        offered += options
    assert len(offered) == len(set(offered)) and set(offered) <= set(every)
    assert len(offered) < len(every)  # fewer than every period there is
