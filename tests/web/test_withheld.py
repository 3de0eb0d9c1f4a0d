"""An indicator whose results would disclose a small number is withheld whole, everywhere the
app shows results: in no API answer, no download, no page's table or chart; its page and the
status tables say it is withheld. On a workspace whose results leak one ward's count
(conftest `leaking`), with the state on SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import openpyxl
import pyarrow.compute as pc
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from common_outcomes.engine.publish import DisclosureError, publishable
from common_outcomes.web.site import Served

if TYPE_CHECKING:
    from conftest import Leaking  # tests/web/conftest.py

BASE = "/api/v1/workspaces/tower-hamlets"
# What a status table shows for a withheld indicator: no value, interval, period, London or
# England beside it, comparison, trend or target status.
WITHHELD_ROW = ["Withheld (disclosure control)", "-", "-", "-", "-", "-", "-", "No target"]
# A locality page's row for it, but for its target: here, the borough, the trend.
LOCALITY_WITHHELD = ["Withheld (disclosure control)", "Withheld (disclosure control)", "-"]


def served(app: FastAPI) -> Served:
    found: Served = app.state.site.workspaces["tower-hamlets"]
    return found


def test_the_leak_is_real_and_only_its_indicator_is_withheld(leaky_app: FastAPI,
                                                            leaking: Leaking,
                                                            example: Served) -> None:
    """The guard refuses the leaking indicator's rows; every other indicator is published
    exactly as in the example, and the leaking one not at all."""
    import pyarrow.parquet as pq

    from common_outcomes.results.table import RESULTS

    ws = served(leaky_app)
    written = pq.read_table(leaking.folder / RESULTS)
    rules, stocks = ws.project.disclosure.rules, ws.project.disclosure.stocks
    with pytest.raises(DisclosureError, match="disclose"):
        publishable(written.filter(pc.equal(written["indicator_id"], leaking.indicator)),
                    rules, stocks)
    assert list(ws.withheld) == [leaking.indicator]
    assert "disclose" in ws.withheld[leaking.indicator]
    shown, everything = ws.results(), example.results()
    assert shown is not None and everything is not None
    assert leaking.indicator not in set(shown["indicator_id"].to_pylist())
    others = everything.filter(pc.not_equal(everything["indicator_id"], leaking.indicator))
    assert shown.num_rows == others.num_rows > 0
    assert set(shown["indicator_id"].to_pylist()) == set(others["indicator_id"].to_pylist())


def test_no_api_answer_holds_the_withheld_indicator(leaky_visitor: TestClient,
                                                    leaking: Leaking) -> None:
    asked = leaky_visitor.get(f"{BASE}/results", params={"indicator": leaking.indicator}).json()
    assert asked["total"] == 0 and asked["rows"] == []
    where = leaky_visitor.get(f"{BASE}/results", params={"area": leaking.area,
                                                   "period": leaking.period}).json()
    assert where["total"] > 0  # the ward's other indicators are there
    assert leaking.indicator not in {r["indicator_id"] for r in where["rows"]}
    # Every page of every published row.
    seen, offset = set(), 0
    while True:
        page = leaky_visitor.get(f"{BASE}/results", params={"limit": 1000, "offset": offset}).json()
        seen |= {r["indicator_id"] for r in page["rows"]}
        offset += len(page["rows"])
        if not page["rows"] or offset >= page["total"]:
            break
    assert offset == page["total"] > 0
    assert leaking.indicator not in seen and len(seen) > 1


def test_its_downloads_hold_no_row(leaky_visitor: TestClient, leaking: Leaking) -> None:
    path = f"/w/tower-hamlets/indicators/{leaking.indicator}/download"
    got = leaky_visitor.get(f"{path}.csv")
    assert got.status_code == 200
    rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert len(rows) == 1 and "numerator" in rows[0]  # the header alone
    book = openpyxl.load_workbook(io.BytesIO(leaky_visitor.get(f"{path}.xlsx").content),
                                  read_only=True)
    assert sum(1 for _ in book.worksheets[0].iter_rows()) == 1


def test_its_page_says_it_is_withheld_and_shows_no_value(leaky_visitor: TestClient,
                                                         leaking: Leaking) -> None:
    base = f"/w/tower-hamlets/indicators/{leaking.indicator}"
    for path in (base, f"{base}?area={leaking.area}", f"{base}?period_type=financial_year"):
        page = leaky_visitor.get(path)
        assert page.status_code == 200, path
        assert "Its values are withheld" in page.text, path
        assert "<table" not in page.text and "data-vega-lite" not in page.text, path
        assert "/download." not in page.text, path


def row_cells(html: str, indicator: str) -> list[list[str]]:
    """The cells after the first of each table row that links to the indicator's page."""
    link = re.compile(rf'href="/w/tower-hamlets/indicators/{re.escape(indicator)}[?"]')
    found = []
    for row in re.findall(r"<tr\b.*?</tr>", html, flags=re.S):
        if link.search(row):
            cells = re.findall(r"<td\b[^>]*>(.*?)</td>", row, flags=re.S)
            found.append([re.sub(r"<[^>]+>|\s+", " ", c).strip() for c in cells])
    return found


def test_every_page_shows_it_only_as_withheld(leaky_app: FastAPI, leaky_visitor: TestClient,
                                              leaking: Leaking,
                                              pages: Callable[[Served], list[str]]) -> None:
    """Overview, priorities, localities, stories, the data page: wherever a table lists the
    indicator it says withheld and nothing else (a locality lists its priorities' headline
    measures, this one among them, with the locality's target, a number set in targets.yaml
    and not computed); its story offers no period to write about."""
    ws = served(leaky_app)
    paths = [*pages(ws), f"/w/tower-hamlets/indicators/{leaking.indicator}/story"]
    listed = 0
    for path in paths:
        page = leaky_visitor.get(path)
        assert page.status_code == 200, path
        rows = row_cells(page.text, leaking.indicator)
        if "/localities/" in path:
            assert rows, path
            for cells in rows:
                assert cells[:2] + cells[3:] == LOCALITY_WITHHELD, (path, cells)
                assert re.fullmatch(r"None set for .+|[0-9.,]+%? by \S+", cells[2]), cells
            continue
        assert all(cells == WITHHELD_ROW for cells in rows), (path, rows)
        listed += len(rows)
    # The overview and its priority's page list it (a headline measure).
    assert listed >= 2
    story = leaky_visitor.get(f"/w/tower-hamlets/indicators/{leaking.indicator}/story").text
    assert "once there are published values" in story
