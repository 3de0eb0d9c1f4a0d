"""Template filters: how numbers, intervals and labels read on a page (views stay thin)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# The number's wording is the reports' (the strategy map writes numbers too).
from common_outcomes.reports.results_view import SUFFIX as SUFFIX
from common_outcomes.reports.results_view import Value
from common_outcomes.reports.results_view import number as number
from common_outcomes.reports.sentences import trend_words
from common_outcomes.results.coverage import is_provisional

# GOV.UK tag colours for what a status means (the words carry the meaning; colour only helps).
TAGS = {
    "Better": "govuk-tag--green", "Worse": "govuk-tag--red", "Similar": "govuk-tag--grey",
    "Best": "govuk-tag--green", "Worst": "govuk-tag--red",
    "on track": "govuk-tag--green", "off track": "govuk-tag--red", "met": "govuk-tag--green",
    # An action's status.
    "open": "govuk-tag--blue", "in progress": "govuk-tag--yellow", "done": "govuk-tag--green",
    "dropped": "govuk-tag--grey",
}


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
    if is_provisional(row.value_note):
        # Part of a period: said beside the number, wherever it is shown.
        return f"{number(row.value, unit)} ({row.value_note})"
    return number(row.value, unit)


def words(text: object) -> str:
    return str(text).replace("_", " ").replace("-", " ")


AREA_KINDS = {"la": "borough", "locality": "Family Hub locality", "ward": "ward",
              "region": "region", "england": "country"}


def area_kind(area_type: str) -> str:
    return AREA_KINDS.get(area_type, words(area_type))


def area_label(row: Value, neighbours: frozenset[str] = frozenset()) -> str:
    """"Hackney (statistical neighbour)", "Bow East (ward)": what an area is, in a label."""
    kind = "statistical neighbour" if row.area_code in neighbours else area_kind(row.area_type)
    return f"{row.area_name} ({kind})"


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
    """A status's colour (for a comparison, give its label: "Better", not the words)."""
    return TAGS.get(text or "", "govuk-tag--grey")


FILTERS: dict[str, Callable[..., Any]] = {
    "number": number, "count": count, "interval": interval, "shown": shown, "words": words,
    "tag": tag, "area_kind": area_kind, "area_label": area_label,
    "trend": trend_words, "partner_name": partner_name, "better": better,
    "period_kind": period_kind,
}
