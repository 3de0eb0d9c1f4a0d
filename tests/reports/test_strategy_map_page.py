"""The strategy map page: valid HTML that follows the GOV.UK page rules."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from xml.etree.ElementTree import Element

import html5lib
import pytest

from common_outcomes.project import Project
from common_outcomes.reports.strategy_map import render_html

ROOT = Path(__file__).resolve().parents[2]
NS = {"h": "http://www.w3.org/1999/xhtml"}


def text(el: Element) -> str:
    return re.sub(r"\s+", " ", "".join(el.itertext())).strip()


@pytest.fixture(scope="module")
def page() -> Element:
    view = Project.view(ROOT / "examples" / "tower-hamlets").map()
    html = render_html(view)
    # strict: any parse error (unclosed or misnested tags, bad attributes) fails the test
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=True).parse(html)


def test_one_h1_and_a_title_that_starts_with_it(page: Element) -> None:
    h1s = page.findall(".//h:h1", NS)
    assert len(h1s) == 1
    title = page.find(".//h:title", NS)
    assert title is not None and text(title).startswith(text(h1s[0]))


def test_ids_are_unique_and_every_link_has_a_target(page: Element) -> None:
    ids = [el.get("id") for el in page.iter() if el.get("id")]
    assert len(ids) == len(set(ids))
    targets = [a.get("href", "")[1:] for a in page.iter(f"{{{NS['h']}}}a")
               if a.get("href", "").startswith("#")]
    assert targets and set(targets) <= set(ids)


def test_the_page_declares_its_language_and_skips_to_content(page: Element) -> None:
    assert page.get("lang") == "en-GB"
    first_link = page.find(".//h:body//h:a", NS)
    assert first_link is not None and first_link.get("href") == "#main"


def test_every_table_has_a_caption_and_scoped_headers(page: Element) -> None:
    tables = page.findall(".//h:table", NS)
    assert len(tables) >= 4
    for table in tables:
        assert table.find("h:caption", NS) is not None
        for th in table.iter(f"{{{NS['h']}}}th"):
            assert th.get("scope") in {"col", "row"}


def test_headings_do_not_skip_levels(page: Element) -> None:
    levels = [int(el.tag[-1]) for el in page.iter()
              if re.fullmatch(r"\{[^}]+\}h[1-6]", str(el.tag))]
    assert levels[0] == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels))


def test_the_page_carries_no_script(page: Element) -> None:
    assert page.findall(".//h:script", NS) == []
