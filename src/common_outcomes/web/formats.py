"""Template filters: how numbers, intervals and labels read on a page (views stay thin)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common_outcomes.reports.results_view import Value

SUFFIX = {"percent": "%", "rate_per_1000": " per 1,000", "rate_per_10000": " per 10,000",
          "rate_per_100000": " per 100,000"}
# GOV.UK tag colours for what a status means (the words carry the meaning; colour only helps).
TAGS = {
    "Better": "govuk-tag--green", "Worse": "govuk-tag--red", "Similar": "govuk-tag--grey",
    "on track": "govuk-tag--green", "off track": "govuk-tag--red",
    "achieved": "govuk-tag--green", "not achieved": "govuk-tag--red",
    # An action's status.
    "open": "govuk-tag--blue", "in progress": "govuk-tag--yellow", "done": "govuk-tag--green",
    "dropped": "govuk-tag--grey",
}


def number(value: float | None, unit: str = "percent") -> str:
    if value is None:
        return "-"
    decimals = 0 if unit == "count" else 1
    return f"{value:,.{decimals}f}{SUFFIX.get(unit, '')}"


def count(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def interval(row: Value, unit: str = "percent") -> str:
    if row.lower_95 is None or row.upper_95 is None:
        return "-"
    return f"{number(row.lower_95, unit)} to {number(row.upper_95, unit)}"


def shown(row: Value | None, unit: str = "percent") -> str:
    """The value, or why there is none."""
    if row is None:
        return "No data yet"
    if row.suppressed:
        return "Suppressed (small number)"
    if row.value is None:
        return row.value_note or "No value"
    return number(row.value, unit)


def words(text: object) -> str:
    return str(text).replace("_", " ").replace("-", " ")


AREA_KINDS = {"la": "borough", "locality": "Family Hub locality", "ward": "ward",
              "region": "region", "england": "country"}


def area_kind(area_type: str) -> str:
    return AREA_KINDS.get(area_type, words(area_type))


def partner_name(partner: str, partners: dict[str, str]) -> str:
    """A partner's name, or its id when the workspace no longer has it."""
    return partners.get(partner, partner)


# A group of periods in a Period list, by their type (periods.PeriodType).
PERIOD_KINDS = {"financial_year": "Financial years", "academic_year": "Academic years",
                "calendar_year": "Calendar years", "quarter": "Quarters (financial year)",
                "month": "Months", "rolling_12_months": "Rolling 12 months"}


def period_kind(period_type: str) -> str:
    return PERIOD_KINDS.get(period_type, words(period_type).capitalize())


# Which way is better, by an indicator's polarity (framework.models.Polarity), for legends.
BETTER = {"high_is_good": "higher is better", "low_is_good": "lower is better",
          "no_judgement": "neither higher nor lower is better"}


def better(polarity: object) -> str:
    return BETTER.get(str(polarity), "")


def tag(text: str | None) -> str:
    return TAGS.get(text or "", "govuk-tag--grey")


FILTERS: dict[str, Callable[..., Any]] = {
    "number": number, "count": count, "interval": interval, "shown": shown, "words": words,
    "tag": tag, "area_kind": area_kind, "partner_name": partner_name, "better": better,
    "period_kind": period_kind,
}
