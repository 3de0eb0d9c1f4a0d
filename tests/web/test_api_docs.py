"""The API's documentation at /docs (Swagger UI from npm, served by the app itself, behind
sign-in, under a policy loosened only for its icons and only there), and what a printed page
keeps: no navigation, forms or buttons; the date and the data version in its footer."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from common_outcomes.web.security import CONTENT_SECURITY_POLICY
from common_outcomes.web.site import OWN_ASSETS, Served

Client = Callable[[str | None], TestClient]


def test_the_api_docs_need_sign_in_and_load_nothing_from_elsewhere(client: Client) -> None:
    anonymous = client(None)
    refused = anonymous.get("/docs", follow_redirects=False)
    assert refused.status_code == 303
    assert refused.headers["location"] == "/sign-in?next=%2Fdocs"

    viewer = client("viewer@example.org")
    answer = viewer.get("/docs")
    assert answer.status_code == 200
    loaded = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', answer.text)
    assert "/swagger-ui/swagger-ui-bundle.js" in loaded and "/static/docs.js" in loaded
    assert "/swagger-ui/swagger-ui.css" in loaded
    assert all(u.startswith("/") and not u.startswith("//") for u in loaded), loaded
    for asset in loaded:
        assert anonymous.get(asset).status_code == 200, asset  # assets, like GOV.UK's
    # Swagger UI reads the API's own description, from this site.
    script = (OWN_ASSETS / "docs.js").read_text()
    assert "url: '/api/v1/openapi.json'" in script and "validatorUrl: null" in script
    assert viewer.get("/api/v1/openapi.json").json()["paths"]

    # Only this page's policy allows data: images (Swagger UI's icons); no script or style
    # is allowed that any other page does not allow.
    policy = answer.headers["content-security-policy"]
    assert policy == CONTENT_SECURITY_POLICY.replace("img-src 'self'", "img-src 'self' data:")
    assert "unsafe" not in policy
    other = viewer.get("/w/tower-hamlets")
    assert other.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_a_printed_page_keeps_its_content_and_says_its_date_and_data_version(
        client: Client, example: Served) -> None:
    css = (OWN_ASSETS / "app.css").read_text()
    printing = css[css.index("@media print"):]
    hidden = re.search(r"\{\s*([^{}]+)\{\s*display:\s*none", printing)
    assert hidden is not None
    for selector in (".govuk-service-navigation", "form", ".govuk-button", ".app-account",
                     ".govuk-breadcrumbs", ".govuk-skip-link"):
        assert selector in [s.strip() for s in hidden.group(1).split(",")], selector
    assert re.search(r"\.app-print-only\s*\{\s*display:\s*block", printing)

    page = client("viewer@example.org").get(f"/w/{example.id}").text
    today = date.today()
    assert (f'app-print-only">Printed from a page made on {today.day} '
            f'{today:%B %Y}.') in page
    version = re.search(r'app-data-version">Data version: ([^<]+)\.<', page)
    assert version is not None
    results = Path(example.project.results_path).stat().st_mtime
    made = datetime.fromtimestamp(results)
    assert version.group(1).startswith(f"results computed {made.day} {made:%B %Y} at "
                                       f"{made:%H:%M}, data last loaded ")
