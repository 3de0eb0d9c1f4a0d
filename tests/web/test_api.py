"""The JSON API: its OpenAPI document, and results filtered by indicator, area and period that
are exactly the published rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import openpyxl
import pyarrow.compute as pc
from fastapi import FastAPI
from fastapi.testclient import TestClient

from common_outcomes.reports.results_view import FIELDS
from common_outcomes.results.table import COLUMNS

Client = Callable[[str | None], TestClient]
BASE = "/api/v1/workspaces/tower-hamlets"


def test_the_openapi_document_describes_every_api_route(client: Client) -> None:
    document = client(None).get("/api/v1/openapi.json").json()
    assert set(document["paths"]) == {
        "/api/v1/workspaces", "/api/v1/workspaces/{workspace}",
        "/api/v1/workspaces/{workspace}/framework", "/api/v1/workspaces/{workspace}/results",
        "/api/v1/workspaces/{workspace}/narratives", "/api/v1/workspaces/{workspace}/actions",
        "/api/v1/workspaces/{workspace}/actions/{number}",
        "/api/v1/workspaces/{workspace}/maturity-model", "/api/v1/workspaces/{workspace}/rounds",
        "/api/v1/workspaces/{workspace}/rounds/{number}",
        "/api/v1/workspaces/{workspace}/conditions",
        "/api/v1/workspaces/{workspace}/reviews", "/api/v1/workspaces/{workspace}/reviews/{number}",
        "/api/v1/workspaces/{workspace}/reviews/{number}/sign-off",
        "/api/v1/workspaces/{workspace}/strategy/history"}
    # No page is in it: the pages are HTML, not API.
    assert not any(p.startswith("/w/") for p in document["paths"])


def test_a_result_row_has_every_column_of_the_results_table() -> None:
    assert FIELDS == COLUMNS


def test_results_are_filtered_by_indicator_area_and_period(app: FastAPI, client: Client,
                                                           indicator: str) -> None:
    viewer = client("viewer@example.org")
    table = app.state.site.workspaces["tower-hamlets"].results()
    wanted = table.filter(pc.and_(pc.equal(table["indicator_id"], indicator),
                                  pc.equal(table["area_code"], "E09000030")))
    period = wanted["period"][0].as_py()
    got = viewer.get(f"{BASE}/results", params={
        "indicator": indicator, "area": "E09000030", "period": period}).json()
    expected = wanted.filter(pc.equal(wanted["period"], period)).to_pylist()
    assert got["total"] == len(expected) >= 1
    assert [r["value"] for r in got["rows"]] == [r["value"] for r in expected]
    assert {r["indicator_id"] for r in got["rows"]} == {indicator}


def test_results_are_paged(client: Client) -> None:
    viewer = client("viewer@example.org")
    first = viewer.get(f"{BASE}/results", params={"limit": 5}).json()
    second = viewer.get(f"{BASE}/results", params={"limit": 5, "offset": 5}).json()
    assert len(first["rows"]) == len(second["rows"]) == 5
    assert first["total"] == second["total"] > 10
    assert first["rows"][0] != second["rows"][0]
    assert viewer.get(f"{BASE}/results", params={"limit": 0}).status_code == 422


def test_framework_and_workspace(client: Client) -> None:
    viewer = client("viewer@example.org")
    framework = viewer.get(f"{BASE}/framework").json()
    assert {d["id"] for d in framework["domains"]} >= {"safe", "healthy"}
    workspace = viewer.get(BASE).json()
    assert workspace["format"] == "common-outcomes/strategy-map@1"
    assert workspace["workspace"]["id"] == "tower-hamlets"


def test_downloads_hold_every_published_row_of_the_indicator(app: FastAPI, client: Client,
                                                            indicator: str) -> None:
    viewer = client("viewer@example.org")
    table = app.state.site.workspaces["tower-hamlets"].results()
    expected = table.filter(pc.equal(table["indicator_id"], indicator)).num_rows
    path = f"/w/tower-hamlets/indicators/{indicator}/download"
    got = viewer.get(f"{path}.csv")
    assert got.headers["content-type"].startswith("text/csv")
    assert "attachment" in got.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == COLUMNS and len(rows) - 1 == expected
    book = openpyxl.load_workbook(io.BytesIO(viewer.get(f"{path}.xlsx").content), read_only=True)
    assert sum(1 for _ in book.worksheets[0].iter_rows()) - 1 == expected
    assert viewer.get(f"{path}.pdf").status_code == 404


def test_every_indicator_shown_passes_the_guard_and_the_example_withholds_none(
        app: FastAPI) -> None:
    """Each indicator shown passes the guard on its own; the example's results leak nothing,
    so none is withheld (test_withheld.py serves results that leak, and checks every page,
    download and API answer withholds the indicator)."""
    from common_outcomes.engine.publish import publishable

    served = app.state.site.workspaces["tower-hamlets"]
    table = served.results()
    rules, stocks = served.project.disclosure.rules, served.project.disclosure.stocks
    indicators = set(table["indicator_id"].to_pylist())
    assert len(indicators) > 5
    for shown in indicators:
        publishable(table.filter(pc.equal(table["indicator_id"], shown)), rules, stocks)
    assert served.withheld == {}
