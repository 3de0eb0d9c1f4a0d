"""Each result's sentence (reports/sentences.py): every case said honestly, the benchmark
named, and every number in a sentence one of the results table's."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest

from common_outcomes.framework.models import Indicator
from common_outcomes.reports.results_view import Value, number
from common_outcomes.reports.sentences import Benchmark, comparison, read, sentence
from common_outcomes.results.table import to_table

BOOKING = Indicator(
    id="early-booking", name="Early access to maternity care", definition="d", numerator="n",
    denominator="d", unit="percent", polarity="high_is_good", period_type="financial_year")
ROW = Value("early-booking", "Early access to maternity care", "E09000030", "Tower Hamlets",
            "la", "E12000007", "2024/25", "financial_year", date(2024, 4, 1),
            date(2025, 3, 31), "all", 828.0, 1428.0, 58.0, 55.4, 60.5, None, None,
            "Wilson score", None, False, "E92000001", "Worse", "No significant change",
            None, 62.0, "off track")
ENGLAND = replace(ROW, area_code="E92000001", area_name="England", area_type="england",
                  parent_code=None, value=61.2, lower_95=61.1, upper_95=61.3,
                  benchmark_code=None, compared_to_benchmark=None, recent_trend=None,
                  target=None, target_status=None)
NAMED = Benchmark("E92000001", "England", ENGLAND)
def like(changes: dict[str, str]) -> Indicator:
    return Indicator.model_validate({**BOOKING.model_dump(), **changes})


NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def numbers_in(text: str, *words: str) -> list[str]:
    """The numbers a sentence states, apart from those in its names and period."""
    for word in words:
        text = text.replace(word, "")
    return NUMBER.findall(text)


def table_numbers(*rows: Value, unit: str = "percent") -> set[str]:
    return {number(getattr(r, n), unit).rstrip("%").split(" ")[0]
            for r in rows for n in ("value", "lower_95", "upper_95", "target")
            if getattr(r, n) is not None}


def test_the_brief_example_reads_as_it_should() -> None:
    said = sentence(ROW, BOOKING, NAMED)
    assert said == (
        "Early access to maternity care in Tower Hamlets, 2024/25: 58.0% (55.4% to 60.5%), "
        "lower than England (61.2%), which is worse; no significant change over the last "
        "five financial years; off track: below the target of 62.0% for this period.")
    assert set(numbers_in(said, ROW.period)) <= table_numbers(ROW, ENGLAND)


@pytest.mark.parametrize(("label", "polarity", "words"), [
    ("Similar", "high_is_good", "similar to England (61.2%)"),
    ("Better", "high_is_good", "higher than England (61.2%), which is better"),
    ("Better", "low_is_good", "lower than England (61.2%), which is better"),
    ("Worse", "low_is_good", "higher than England (61.2%), which is worse"),
    ("Best", "high_is_good", "higher than England (61.2%), which is much better"),
    ("Higher", "no_judgement", "higher than England (61.2%), which is neither better nor "
                               "worse for this measure"),
    ("Lower", "no_judgement", "lower than England (61.2%), which is neither"),
    ("Not compared", "high_is_good", "not compared with England (61.2%)"),
])
def test_a_comparison_names_its_benchmark_and_says_what_it_means(
        label: str, polarity: str, words: str) -> None:
    row = replace(ROW, compared_to_benchmark=label)
    about = like({"polarity": polarity})
    said = sentence(row, about, NAMED)
    assert words in said
    # "better" and "worse" only when the indicator says which way is better.
    judged = said.replace("neither better nor worse", "")
    assert ("better" in judged or "worse" in judged) == (
        polarity != "no_judgement" and label not in ("Similar", "Not compared"))
    short = comparison(row, NAMED)
    assert short is not None and short.endswith("England")


def test_every_case_without_a_number_says_why() -> None:
    withheld = replace(ROW, value=None, lower_95=None, upper_95=None, suppressed=True,
                       compared_to_benchmark=None)
    assert sentence(withheld, BOOKING, NAMED) == (
        "Early access to maternity care in Tower Hamlets, 2024/25: withheld to protect "
        "privacy (a small number, or one that would reveal one).")
    nothing = replace(ROW, value=None, lower_95=None, upper_95=None,
                      value_note="no records in the denominator")
    assert sentence(nothing, BOOKING, NAMED).endswith(
        ": cannot be calculated (no records in the denominator).")
    # No England row for the period; no benchmark code at all; England's value withheld.
    assert "no England figure for this period" in sentence(
        ROW, BOOKING, Benchmark("E92000001", "England", None))
    assert "no England figure for this period" in sentence(
        replace(ROW, benchmark_code=None, compared_to_benchmark=None), BOOKING, None)
    hidden = replace(ENGLAND, value=None, suppressed=True)
    assert "not compared with England, whose value is withheld" in sentence(
        ROW, BOOKING, Benchmark("E92000001", "England", hidden))
    # A ward without a benchmark, and England itself (the benchmark of others).
    ward = replace(ROW, area_type="ward", benchmark_code=None, compared_to_benchmark=None)
    assert "no benchmark to compare with" in sentence(ward, BOOKING, None)
    assert "compare" not in sentence(ENGLAND, BOOKING, None)


def test_no_interval_trend_and_target_cases() -> None:
    bare = replace(ROW, lower_95=None, upper_95=None, compared_to_benchmark="Not compared",
                   recent_trend="Cannot be calculated", target=None, target_status=None)
    said = sentence(bare, BOOKING, NAMED)
    assert "58.0%, not compared with England (61.2%), as there is no confidence interval" in said
    assert "no trend can be calculated yet (it needs five financial years" in said
    assert said.endswith("no target set.")
    met = replace(ROW, target=55.0, target_status="met", recent_trend=None)
    assert sentence(met, BOOKING, NAMED).endswith("; target of 55.0% met.")
    on = replace(ROW, target=58.5, target_status="on track")
    assert "on track for the target (58.5% for this period)" in sentence(on, BOOKING, NAMED)
    smoking = like({"polarity": "low_is_good"})
    above = replace(ROW, target=50.0, target_status="off track")
    assert "off track: above the target of 50.0%" in sentence(above, smoking, NAMED)


def test_a_provisional_period_is_never_compared() -> None:
    part = replace(ROW, value_note="provisional: 6 months of 12")
    said = sentence(part, BOOKING, NAMED)
    assert said == (
        "Early access to maternity care in Tower Hamlets, 2024/25: 58.0% (55.4% to 60.5%), "
        "provisional: 6 months of 12, so not compared with England or a target until the "
        "period's data are complete.")
    assert comparison(part, NAMED) == "Provisional, not compared with England"


def test_counts_rates_and_means_read_in_their_units() -> None:
    visits = like({"unit": "count", "name": "Families given advice"})
    count = replace(ROW, indicator_id="x", value=1234.0, lower_95=None, upper_95=None,
                    benchmark_code=None, compared_to_benchmark=None, recent_trend=None,
                    target=None, target_status=None, area_type="locality")
    assert sentence(count, visits, None).startswith(
        "Families given advice in Tower Hamlets, 2024/25: 1,234, no benchmark")
    rate = like({"unit": "rate_per_10000", "polarity": "no_judgement"})
    per = replace(ROW, value=421.3, lower_95=405.4, upper_95=437.6,
                  compared_to_benchmark="Higher")
    eng = replace(ENGLAND, value=330.3)
    said = sentence(per, rate, Benchmark("E92000001", "England", eng))
    assert "421.3 per 10,000 (405.4 to 437.6 per 10,000), higher than England " \
           "(330.3 per 10,000)" in said
    mean = like({"unit": "mean"})
    assert ": a mean of 58.0 (55.4 to 60.5)," in sentence(ROW, mean, NAMED)


def test_read_finds_the_benchmark_region_and_england_in_the_table() -> None:
    london = replace(ENGLAND, area_code="E12000007", area_name="London", area_type="region",
                     value=59.9)
    ward = replace(ROW, area_code="E05009317", area_name="Bethnal Green East",
                   area_type="ward", benchmark_code="E09000030", compared_to_benchmark="Similar",
                   value=57.5, lower_95=50.0, upper_95=65.0, target=None, target_status=None)
    rows = [ROW, ENGLAND, london, ward]
    table = to_table([r.__dict__ for r in rows])
    read_ = read(table, [ROW, ward], {"early-booking": BOOKING}, {}, "E12000007")
    mine = read_[("early-booking", "E09000030", "financial_year", "2024/25", "all")]
    assert (mine.region, mine.england) == (london, ENGLAND)
    assert mine.comparison == "Worse than England"
    theirs = read_[("early-booking", "E05009317", "financial_year", "2024/25", "all")]
    assert theirs.benchmark == Benchmark("E09000030", "Tower Hamlets", ROW)
    assert "similar to Tower Hamlets (58.0%)" in theirs.sentence
    # Every number in either sentence is one of the table's.
    for said in (mine, theirs):
        assert set(numbers_in(said.sentence, said.row.period)) <= table_numbers(*rows)
