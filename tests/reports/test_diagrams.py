"""The two diagrams and the status they draw: the strategy map with published values
(`with_status`), the golden thread and the contribution view as accessible SVG."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from common_outcomes.project import Project
from common_outcomes.reports import diagrams
from common_outcomes.reports.results_view import Value
from common_outcomes.reports.strategy_map import render_html, with_status

ROOT = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
LINKS = diagrams.Links(activity="#activity-{}", indicator="/i/{}", outcome="/o#{}")


def value(indicator: str, v: float, trend: str | None = None, compared: str | None = None,
          target: str | None = None, period: str = "2024/25") -> Value:
    return Value(indicator, indicator, "E09000030", "Tower Hamlets", "la", "E12000007", period,
                 "financial_year", date(2024, 4, 1), date(2025, 3, 31), "all", None, None, v,
                 v - 1, v + 1, None, None, None, None, False,
                 "E92000001" if compared else None, compared, trend, None, None, target)


@pytest.fixture(scope="module")
def view() -> dict[str, Any]:
    return Project.view(ROOT / "examples" / "tower-hamlets").map()


@pytest.fixture(scope="module")
def latest() -> dict[str, Value]:
    return {
        # An output measure's own indicator (the antenatal activity's how-well measure).
        "antenatal-session-attendance": value("antenatal-session-attendance", 41.25),
        "early-booking": value("early-booking", 58.4, "Increasing and getting better",
                               "Worse", "off track"),
        "smoking-at-delivery": value("smoking-at-delivery", 7.1,
                                     "Decreasing and getting better", "Similar"),
        "breastfeeding-6-8-weeks": value("breastfeeding-6-8-weeks", 53.9,
                                         "Decreasing and getting worse"),
    }


def test_each_measure_has_its_latest_status_in_symbols_and_words(
        view: dict[str, Any], latest: dict[str, Value]) -> None:
    m = with_status(view, latest, {"perinatal-mental-health-access": "would disclose"})
    s = m["status"]
    assert s["early-booking"]["shown"] == "58.4%" and s["early-booking"]["period"] == "2024/25"
    assert s["early-booking"]["trend"] == {"symbol": "↑", "words": "improving"}
    assert s["smoking-at-delivery"]["trend"] == {"symbol": "↓", "words": "improving"}
    assert s["breastfeeding-6-8-weeks"]["trend"] == {"symbol": "↓", "words": "worsening"}
    assert s["early-booking"]["comparison"]["words"] == "worse than England"
    assert s["smoking-at-delivery"]["comparison"]["words"] == "similar to England"
    assert s["early-booking"]["target"] == "off track"
    assert s["perinatal-mental-health-access"]["shown"] == "Withheld"
    assert s["premature-births"]["shown"] == "No data yet"
    # The output measure's value, found through the indicator that computes it.
    assert s["antenatal-session-attendance"]["shown"] == "41.2%"
    assert "status" not in view  # the view itself is left as it was


def test_the_summary_counts_every_headline_measure_once(
        view: dict[str, Any], latest: dict[str, Value]) -> None:
    summary = with_status(view, latest, {})["summary"]
    headline = {m["id"] for p in view["priorities"] for m in p["measures"]}
    assert summary["measures"] == len(headline) == 28
    assert sum(summary["trend"].values()) == 28
    assert summary["trend"]["improving"] == 2 and summary["trend"]["worsening"] == 1
    assert summary["text"].startswith("6 priorities, 28 headline measures: 2 improving, "
                                      "1 worsening, 24 no data yet")
    bare = with_status(view, {}, {})["summary"]["text"]
    assert bare == "6 priorities, 28 headline measures: 0 improving, 0 worsening, " \
        "28 no data yet."


def test_each_outcome_counts_its_headline_measures(
        view: dict[str, Any], latest: dict[str, Value]) -> None:
    grid = with_status(view, latest, {})["framework"]["grid"]
    outcomes = {o["id"]: o for cell in grid for o in cell["outcomes"]}
    pregnancy = outcomes["healthy-pregnancy"]
    assert set(pregnancy["headline"]) == {"early-booking", "antenatal-session-attendance",
                                          "smoking-at-delivery"}
    trend = {t["words"]: t["count"] for t in pregnancy["status"]["trend"]}
    assert trend == {"improving": 2, "trend not yet calculable": 1}


def test_the_gaps_name_what_is_missing(view: dict[str, Any], latest: dict[str, Value]) -> None:
    missing = with_status(view, latest, {})["missing"]
    assert [o["id"] for o in missing["outcomes_without_measure"]] == [
        "recovery-from-substance-use"]
    assert [p["id"] for p in missing["priorities_without_target"]] == ["connected-communities"]
    without = {m["id"] for m in missing["measures_without_data"]}
    assert "early-booking" not in without and "premature-births" in without
    assert len(without) == 24


def test_an_activity_without_output_measures_is_a_gap(example_copy: Path) -> None:
    with (example_copy / "activities.yaml").open("a") as f:
        f.write("  - id: leaflets\n    name: Leaflets\n    priorities: [first-1001-days]\n"
                "    lead: {partner: maternity-services}\n    cohort: everyone\n"
                "    outcome_measures:\n      - {indicator: early-booking, direction: "
                "increase}\n")
    m = with_status(Project.view(example_copy).map(), {}, {})
    assert [a["id"] for a in m["missing"]["activities_without_output"]] == ["leaflets"]
    p1 = next(p for p in m["priorities"] if p["id"] == "first-1001-days")
    drawn = str(diagrams.golden_thread(p1, m["status"], LINKS, "t"))
    assert "No output measure yet" in drawn


def parse(markup: str) -> ElementTree.Element:
    return ElementTree.fromstring(f"<div>{markup}</div>")


def test_the_golden_thread_is_a_named_picture_with_link_areas_beside_it(
        view: dict[str, Any], latest: dict[str, Value]) -> None:
    m = with_status(view, latest, {})
    p1 = next(p for p in m["priorities"] if p["id"] == "first-1001-days")
    root = parse(diagrams.golden_thread(p1, m["status"], LINKS, "t"))
    picture, overlay = root.iter(f"{SVG}svg")
    assert picture.get("role") == "img" and picture.get("aria-labelledby") == "t-title t-desc"
    ids = {el.get("id") for el in picture.iter()}
    assert {"t-title", "t-desc"} <= ids
    assert picture.find(f".//{SVG}a") is None  # nothing interactive inside the image
    text = " ".join(re.sub(r"\s+", " ", "".join(t.itertext())) for t in picture.iter(f"{SVG}text"))
    for c in p1["chains"]:
        assert c["name"].split()[0] in text
    assert "41.2% in 2024/25" in text  # an output measure's latest value
    assert "↑ improving" in text and "\u2212 worse than England" in text
    assert "Not measured yet" in text and "No data yet" in text
    # Every node links (for a mouse) where the list does, out of the tab order.
    assert overlay.get("aria-hidden") == "true"
    hrefs = {a.get("href") for a in overlay.iter(f"{SVG}a")}
    assert {a.get("tabindex") for a in overlay.iter(f"{SVG}a")} == {"-1"}
    assert {"/i/early-booking", "/i/antenatal-session-attendance",
            "#activity-promote-early-antenatal-care", "/o#healthy-pregnancy"} <= hrefs
    assert float(picture.get("width", 0)) <= diagrams.WIDTH


def test_the_contribution_view_draws_each_partner_and_outcome(view: dict[str, Any]) -> None:
    by_partner = diagrams.partners_by_outcome(view["contribution_matrix"])
    root = parse(diagrams.contribution(by_partner, "c"))
    picture = next(root.iter(f"{SVG}svg"))
    assert picture.get("role") == "img"
    dots = [g for g in picture.iter(f"{SVG}g") if g.find(f"{SVG}circle") is not None]
    expected = sum(1 for r in by_partner["rows"] for acts in r["cells"].values() if acts)
    assert len(dots) == expected > 0
    # A dot's number is how many of the partner's activities move the outcome.
    counts = sorted(int("".join(g.find(f"{SVG}text").itertext())) for g in dots)  # type: ignore[union-attr]
    assert counts == sorted(len(a) for r in by_partner["rows"] for a in r["cells"].values()
                            if a)
    assert float(picture.get("width", 0)) <= diagrams.WIDTH


def test_the_map_page_draws_the_same_diagrams_with_the_results(
        view: dict[str, Any], latest: dict[str, Value]) -> None:
    import html5lib

    page = render_html(with_status(view, latest, {}))
    html5lib.HTMLParser(strict=True).parse(page)
    assert page.count('role="img"') == 1 + len(view["priorities"])
    assert "6 priorities, 28 headline measures: 2 improving" in page
    assert "58.4% in 2024/25" in page


def test_measures_improving_both_ways_are_counted_together(
        view: dict[str, Any], latest: dict[str, Value]) -> None:
    grid = with_status(view, latest, {})["framework"]["grid"]
    pregnancy = next(o for cell in grid for o in cell["outcomes"]
                     if o["id"] == "healthy-pregnancy")
    assert {"symbol": "↕", "words": "improving", "count": 2} in pregnancy["status"]["trend"]
