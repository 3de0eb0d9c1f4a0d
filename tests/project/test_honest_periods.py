"""Honest periods (issue 17): a workspace whose data end mid-year, and one whose data end
mid-quarter, against the same data uncut. Whatever the cut workspace computes for a period
must be what the whole data give for it (nothing truncated); nothing is shown for a period
after the data end; the latest, partly covered period is either absent or flagged
provisional, and then never judged against a benchmark, a target or as a trend's end."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from common_outcomes.project import Project
from common_outcomes.results import table as results
from common_outcomes.results.coverage import NOT_ASSESSED

BOROUGH = "E09000030"
MID_YEAR = date(2024, 9, 30)  # half way through 2024/25
# Two months into 2024/25 Q3. At the end of a month: the store keeps a month of birth, not the
# date, so data ending part way through a month cannot be told from a whole month.
MID_QUARTER = date(2024, 11, 30)
CUTS = [MID_YEAR, MID_QUARTER]


@pytest.fixture(scope="module")
def whole(copy_loaded: Callable[[Path], Path], tmp_path_factory: pytest.TempPathFactory
          ) -> pa.Table:
    """The results of the same synthetic data, uncut."""
    project = Project.open(copy_loaded(tmp_path_factory.mktemp("whole")))
    project.run()
    table = results.read(project.results_path)
    assert table is not None
    return table


def _computed(table: pa.Table) -> pa.Table:
    """The rows the engine computed (not published figures the comparators add)."""
    return table.filter(pc.invert(pc.starts_with(table.column("method"), "published")))


def _borough_totals(table: pa.Table) -> dict[tuple[str, str, str], tuple[float, float]]:
    rows = _computed(table).filter(pc.and_(pc.equal(table.column("area_code"), BOROUGH),
                                           pc.equal(table.column("breakdown"), "all")))
    return {(r["indicator_id"], r["period_type"], r["period"]): (r["numerator"],
                                                                  r["denominator"])
            for r in rows.to_pylist()}


def _months(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month + 1


def _provisional(row: dict[str, object]) -> bool:
    return str(row["value_note"] or "").startswith("provisional")


@pytest.mark.parametrize("end", CUTS, ids=["mid-year", "mid-quarter"])
def test_a_complete_period_has_every_record_the_whole_data_give_it(
        cut_example: Callable[[date], Path], whole: pa.Table, end: date) -> None:
    cut = results.read(Project.open(cut_example(end)).results_path)
    assert cut is not None
    mine, full = _borough_totals(cut), _borough_totals(whole)
    compared = 0
    for key, (numerator, denominator) in mine.items():
        row = _computed(cut).filter(pc.and_(
            pc.equal(cut.column("indicator_id"), key[0]),
            pc.and_(pc.equal(cut.column("period"), key[2]),
                    pc.equal(cut.column("area_code"), BOROUGH)))).to_pylist()[0]
        if _provisional(row):
            continue
        assert key in full, f"{key} is computed from the cut data only"
        for got, expected in ((numerator, full[key][0]), (denominator, full[key][1])):
            if got is None or expected is None:
                continue
            compared += 1
            # Records recorded months later than their date (a booking, in the return of
            # births) are waited for; the rarest lags (1 in 200, recording errors) are not.
            assert abs(got - expected) <= max(0.01 * expected, 1), (
                f"{key}: {got} in the cut data, {expected} in the whole")
    assert compared > 100


@pytest.mark.parametrize("end", CUTS, ids=["mid-year", "mid-quarter"])
def test_no_period_after_the_data_end_and_a_partial_one_is_provisional_and_unjudged(
        cut_example: Callable[[date], Path], end: date) -> None:
    cut = results.read(Project.open(cut_example(end)).results_path)
    assert cut is not None
    rows = _computed(cut).to_pylist()
    provisional = [r for r in rows if _provisional(r)]
    for r in rows:
        if _provisional(r):
            continue
        assert r["period_end"] <= end, (r["indicator_id"], r["period"], r["area_code"])
    assert provisional, "a fair part of the year is shown, flagged"
    for r in provisional:
        assert r["period_start"] <= end < r["period_end"]
        found = re.match(r"provisional: (\d+) months of (\d+)", str(r["value_note"]))
        assert found, r["value_note"]
        # At least the months up to the data end; more where a record stands for a span (a
        # term's attendance, dated by the term's start, covers the term).
        total = _months(r["period_start"], r["period_end"])
        assert _months(r["period_start"], end) <= int(found[1]) < total == int(found[2])
        assert r["compared_to_benchmark"] is None
        assert r["recent_trend"] is None
        assert r["target_status"] in (None, NOT_ASSESSED)
    # The board's headline: smoking at delivery, dated by the birth, is provisional for
    # 2024/25; early booking, whose bookings are in the return only once the baby is born,
    # has no 2024/25 at all; the 2 to 2½ year review has no quarter after the data end.
    borough = [r for r in rows if r["area_code"] == BOROUGH and r["breakdown"] == "all"]
    smoking = {r["period"]: r for r in borough if r["indicator_id"] == "smoking-at-delivery"
               and r["period_type"] == "financial_year"}
    assert _provisional(smoking["2024/25"])
    months = _months(date(2024, 4, 1), end)
    assert smoking["2024/25"]["value_note"] == f"provisional: {months} months of 12"
    assert smoking["2024/25"]["target"] is not None
    assert smoking["2024/25"]["target_status"] == NOT_ASSESSED
    booking = {r["period"] for r in borough if r["indicator_id"] == "early-booking"}
    # Bookings up to 9 months before the last birth in the data: 2023/24 is not whole yet.
    assert "2024/25" not in booking and "2023/24" not in booking and "2022/23" in booking
    # Born from April 2022, the first children fall due for the 2 to 2½ year review in
    # October 2024: none is due yet in either cut. The 12-month review is due for some.
    assert not [r for r in borough if r["indicator_id"] == "review-2-years"]
    reviews = [r for r in borough if r["indicator_id"] == "review-12-months"]
    assert reviews and max(r["period_end"] for r in reviews) <= end


def test_periods_before_the_data_are_absent(cut_example: Callable[[date], Path]) -> None:
    """Re-referrals within 12 months need the year before: no computed figure for a year
    that starts less than a year after the first referral in the data."""
    project = Project.open(cut_example(MID_YEAR))
    cut = results.read(project.results_path)
    assert cut is not None
    first = min(d for p in project.store.current_files("ssd-cin-episodes")
                for d in pa.parquet.read_table(p.path, columns=["cine_referral_date"])
                .column(0).drop_null().to_pylist())
    rows = _computed(cut).filter(pc.equal(cut.column("indicator_id"),
                                          "re-referrals-12-months")).to_pylist()
    assert rows
    a_year_on = date(first.year + 1, first.month, 1)
    assert min(r["period_start"] for r in rows) >= a_year_on


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_hold_the_same_periods_and_no_judgement_on_a_provisional_one(
        cut_example: Callable[[date], Path], tmp_path: Path, fmt: str) -> None:
    project = Project.open(cut_example(MID_YEAR))
    exported = project.export(fmt, (), tmp_path / f"out.{fmt}")
    if fmt == "csv":
        with exported.path.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    else:
        sheet = openpyxl.load_workbook(exported.path, read_only=True).worksheets[0]
        values = list(sheet.iter_rows(values_only=True))
        header = [str(h) for h in values[0]]
        # A read-only sheet leaves a row's empty cells at the end out.
        rows = [{h: "" if v is None else str(v) for h, v in zip(
            header, [*row, *[None] * (len(header) - len(row))], strict=True)}
            for row in values[1:]]
    table = results.read(project.results_path)
    assert table is not None
    assert len(rows) == table.num_rows
    periods = {(r["indicator_id"], r["period_type"], r["period"]) for r in table.to_pylist()}
    assert {(r["indicator_id"], r["period_type"], r["period"]) for r in rows} == periods
    flagged = [r for r in rows if r["value_note"].startswith("provisional")]
    assert flagged
    for r in flagged:
        assert re.fullmatch(r"provisional: \d+ months of \d+(; .*)?", r["value_note"])
        assert r["compared_to_benchmark"] == "" and r["recent_trend"] == ""
        assert r["target_status"] in ("", NOT_ASSESSED)
