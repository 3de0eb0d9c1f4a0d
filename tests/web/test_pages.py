"""Every page follows the GOV.UK page rules: valid HTML, one h1, a title that starts with it,
unique ids, and an error summary that links to each invalid field."""

from __future__ import annotations

import re
from collections.abc import Callable
from xml.etree.ElementTree import Element

import html5lib
import pytest
from fastapi.testclient import TestClient

NS = {"h": "http://www.w3.org/1999/xhtml"}
Client = Callable[[str | None], TestClient]
Csrf = Callable[[str], str]
VISITOR = "analyst@example.org"


def text(el: Element) -> str:
    return re.sub(r"\s+", " ", "".join(el.itertext())).strip()


def parse(html: str) -> Element:
    # strict: any parse error (unclosed or misnested tags, bad attributes) fails the test
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=True).parse(html)


def check_page_rules(html: str) -> Element:
    page = parse(html)
    h1s = page.findall(".//h:h1", NS)
    assert len(h1s) == 1, [text(h) for h in h1s]
    title = page.find(".//h:title", NS)
    assert title is not None
    assert re.sub(r"^Error: ", "", text(title)).startswith(text(h1s[0]))
    ids = [el.get("id") for el in page.iter() if el.get("id")]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert page.get("lang") == "en-GB"
    # No inline script: every script is a file from this site.
    for script in page.iter(f"{{{NS['h']}}}script"):
        assert script.get("src", "").startswith("/") and not text(script)
    return page


def error_summary_links(page: Element) -> list[str]:
    summary = page.find(".//h:div[@class='govuk-error-summary']", NS)
    assert summary is not None, "an invalid form shows no error summary"
    links = [a.get("href", "") for a in summary.iter(f"{{{NS['h']}}}a")]
    ids = {el.get("id") for el in page.iter()}
    assert links and all(href[1:] in ids for href in links)
    return links


def test_every_page_follows_the_page_rules(paths: list[str], client: Client) -> None:
    visitor = client(VISITOR)
    assert len(paths) >= 15
    for path in paths:
        response = visitor.get(path)
        assert response.status_code == 200, path
        check_page_rules(response.text)


def test_the_sign_in_and_error_pages_follow_the_rules_too(client: Client) -> None:
    anonymous = client(None)
    check_page_rules(anonymous.get("/sign-in").text)
    missing = client(VISITOR).get("/w/tower-hamlets/priorities/no-such-priority")
    assert missing.status_code == 404
    check_page_rules(missing.text)


def test_an_invalid_sign_in_shows_an_error_summary(client: Client, csrf: Csrf) -> None:
    anonymous = client(None)
    token = csrf(anonymous.get("/sign-in").text)
    empty = anonymous.post("/sign-in", data={"email": "", "password": "", "csrf_token": token})
    assert empty.status_code == 400
    page = check_page_rules(empty.text)
    assert error_summary_links(page) == ["#email", "#password"]
    title = page.find(".//h:title", NS)
    assert title is not None and text(title).startswith("Error: ")


def test_an_invalid_narrative_shows_an_error_summary(client: Client, csrf: Csrf,
                                                    indicator: str) -> None:
    contributor = client("contributor@example.org")
    path = f"/w/tower-hamlets/indicators/{indicator}"
    token = csrf(contributor.get(path).text)
    empty = contributor.post(f"{path}/narrative",
                             data={"period": "", "text": "  ", "csrf_token": token})
    assert empty.status_code == 400
    assert error_summary_links(check_page_rules(empty.text)) == ["#period", "#text"]
    # A period the indicator has no value for (here, one far too long to store) is refused
    # the same way, with the story kept in the form.
    odd = contributor.post(f"{path}/narrative", data={
        "period": "2024/25" * 40, "text": "Kept while the period is fixed", "csrf_token": token})
    assert odd.status_code == 400
    assert error_summary_links(check_page_rules(odd.text)) == ["#period"]
    assert "Kept while the period is fixed" in odd.text


@pytest.mark.parametrize("path", ["/w/tower-hamlets/indicators/no-such-thing",
                                  "/w/tower-hamlets/localities/nowhere"])
def test_unknown_things_are_not_found(client: Client, path: str) -> None:
    assert client(VISITOR).get(path).status_code == 404


def test_an_invalid_action_shows_an_error_summary(client: Client, csrf: Csrf) -> None:
    contributor = client("contributor@example.org")
    story = "/w/tower-hamlets/priorities/first-1001-days/story"
    token = csrf(contributor.get(story).text)
    empty = contributor.post("/w/tower-hamlets/priorities/first-1001-days/actions", data={
        "period": "", "description": " ", "owner": "", "due-day": "31", "due-month": "2",
        "due-year": "2026", "csrf_token": token})
    assert empty.status_code == 400
    assert error_summary_links(check_page_rules(empty.text)) == [
        "#action-period", "#description", "#owner", "#due-day"]
    # Changing an action: the same fields, and the status.
    bad = contributor.post("/w/tower-hamlets/actions/1", data={
        "period": "", "description": "Kept in the form", "owner": "Lead",
        "status": "finished", "csrf_token": token})
    assert bad.status_code == 400
    assert error_summary_links(check_page_rules(bad.text)) == [
        "#action-period", "#status", "#due-day"]
    assert "Kept in the form" in bad.text


def test_a_story_with_an_unknown_partner_shows_an_error_summary(client: Client,
                                                                 csrf: Csrf) -> None:
    contributor = client("contributor@example.org")
    story = "/w/tower-hamlets/priorities/first-1001-days"
    page = contributor.get(f"{story}/story").text
    period = re.findall(r'<option value="([^"]+)"', page.split('id="period"')[1])[0]
    odd = contributor.post(f"{story}/narrative", data={
        "period": period, "text": "Kept", "partners": ["no-such-partner"],
        "csrf_token": csrf(page)})
    assert odd.status_code == 400
    assert error_summary_links(check_page_rules(odd.text)) == ["#partners"]


def test_the_overview_draws_the_framework_with_a_summary_gaps_and_contributions(
        client: Client) -> None:
    page = check_page_rules(client(VISITOR).get("/w/tower-hamlets").text)
    summary = page.find(".//h:p[@id='summary']", NS)
    assert summary is not None
    assert re.match(r"6 priorities, 28 headline measures: \d+ improving, \d+ worsening",
                    text(summary))
    ids = {el.get("id") for el in page.iter()}
    # Every outcome of the grid is a target of the gaps' and the diagrams' links.
    assert {"outcome-healthy-pregnancy", "outcome-recovery-from-substance-use"} <= ids
    grid = page.find(".//h:table[@class='govuk-table app-grid']", NS)
    assert grid is not None
    # A priority's number in the grid, not its title (the key below names them).
    assert "The best start in the first 1,001 days" not in text(grid)
    assert "Priority 1" in text(grid) and "measure" in text(grid)
    headings = [text(h) for h in page.iter(f"{{{NS['h']}}}h3")]
    for gap in ("Our outcomes with no headline measure", "Headline measures with no data yet",
                "Priorities with no target", "Activities with no output measure"):
        assert any(h.startswith(gap) for h in headings), gap
    pictures = [s for s in page.iter("{http://www.w3.org/2000/svg}svg")
                if s.get("role") == "img"]
    assert len(pictures) == 1
    labels = (pictures[0].get("aria-labelledby") or "").split()
    assert labels and set(labels) <= ids


def test_the_priority_page_draws_its_golden_thread_and_lists_the_same(
        client: Client) -> None:
    page = check_page_rules(client(VISITOR).get(
        "/w/tower-hamlets/priorities/first-1001-days").text)
    svg = "{http://www.w3.org/2000/svg}"
    picture = next(s for s in page.iter(f"{svg}svg") if s.get("role") == "img")
    assert picture.find(f".//{svg}a") is None
    listed = page.find(".//h:ol[@class='govuk-list app-thread']", NS)
    assert listed is not None
    activities = [li.get("id") for li in listed.findall("h:li", NS)]
    assert "activity-promote-early-antenatal-care" in activities
    # Each node's link area goes where the list's links go.
    overlay = next(s for s in page.iter(f"{svg}svg") if s.get("aria-hidden") == "true")
    areas = {a.get("href") for a in overlay.iter(f"{svg}a")}
    listed_links = {a.get("href") for a in listed.iter(f"{{{NS['h']}}}a")}
    assert {h for h in areas if h and not h.startswith("#")} <= listed_links
    assert {h[1:] for h in areas if h and h.startswith("#")} <= set(activities)
    # An outcome measure's status, in words, in the list as in the picture.
    assert "Early access to maternity care" in text(listed)
