"""The disclosure guard refuses every kind of leak, names the cell, and passes a safe table.

Tables are built by hand with the results table's columns: a borough with two localities of
two wards each, for one indicator, so that every planted leak is one edit away from safe.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common_outcomes.engine.publish import (
    DisclosureError,
    ExportFormat,
    find_leaks,
    publishable,
    write_results,
)
from common_outcomes.periods import PeriodType, parse_period
from common_outcomes.results.table import COLUMNS
from common_outcomes.stats.disclosure import Rule
from common_outcomes.stats.disclosure import publishable as shown_by_suppression

RULES = {"births": Rule(suppress_below=5)}
FY = ("2024/25", "financial_year", date(2024, 4, 1), date(2025, 3, 31))
QUARTERS = [(p.label, "quarter", p.start, p.end)
            for p in (parse_period(f"2024/25 Q{q}", PeriodType.QUARTER) for q in (1, 2, 3, 4))]
FLOATS = {"numerator", "denominator", "value", "lower_95", "upper_95", "lower_998",
          "upper_998", "baseline", "target"}


def row(area: str, parent: str | None, numerator: float | None, *, hidden: bool = False,
        period: tuple[str, str, date, date] = FY, breakdown: str = "all",
        method: str = "Wilson score", indicator: str = "births",
        denominator: float | None = 200.0) -> dict[str, object]:
    label, ptype, start, end = period
    value = None if numerator is None else numerator / 2
    return {"indicator_id": indicator, "indicator_name": "Births", "area_code": area,
            "area_name": area, "area_type": "ward" if parent and parent != "la" else "x",
            "parent_code": parent, "period": label, "period_type": ptype,
            "period_start": start, "period_end": end, "breakdown": breakdown,
            "numerator": None if hidden else numerator, "denominator": denominator,
            "value": None if hidden else value, "lower_95": None if hidden else value,
            "upper_95": None if hidden else value, "lower_998": None if hidden else value,
            "upper_998": None if hidden else value, "method": method, "value_note": None,
            "suppressed": hidden, "benchmark_code": None, "compared_to_benchmark": None,
            "recent_trend": None, "baseline": None, "target": None, "target_status": None}


def table(rows: list[dict[str, object]]) -> pa.Table:
    types = {c: pa.float64() if c in FLOATS else pa.string() for c in COLUMNS} | {
        "period_start": pa.date32(), "period_end": pa.date32(), "suppressed": pa.bool_()}
    return pa.table({c: pa.array([r[c] for r in rows], types[c]) for c in COLUMNS})


def safe() -> list[dict[str, object]]:
    """la = north (w1 + w2) + south (w3 + w4); w1 and w2 both hidden (w1 is 3)."""
    return [row("la", None, 100), row("north", "la", 40), row("south", "la", 60),
            row("w1", "north", 3, hidden=True), row("w2", "north", 37, hidden=True),
            row("w3", "south", 30), row("w4", "south", 30)]


def refused(rows: list[dict[str, object]], rules: dict[str, Rule] = RULES) -> str:
    with pytest.raises(DisclosureError) as caught:
        publishable(table(rows), rules)
    return str(caught.value) + "\n" + "\n".join(map(str, caught.value.issues))


def test_a_safe_table_is_returned_unchanged() -> None:
    t = table(safe())
    assert publishable(t, RULES) is t


def test_a_small_count_is_refused_with_its_cell_named() -> None:
    rows = safe()
    rows[5] = row("w3", "south", 4)
    rows[6] = row("w4", "south", 56)
    message = refused(rows)
    assert "indicator births, area w3, period 2024/25 (financial_year), breakdown all" in message
    assert "[disclosure.small-count]" in message and "(numerator 4)" in message
    # The same count is safe once the threshold is below it, and 0 is never hidden.
    assert publishable(table(rows), {"births": Rule(suppress_below=3)}) is not None
    rows[5] = row("w3", "south", 0)
    rows[6] = row("w4", "south", 60)
    assert len(find_leaks(table(rows), RULES)) == 0


def test_a_value_left_on_a_suppressed_row_is_refused() -> None:
    rows = safe()
    rows[4] = {**rows[4], "upper_998": 18.5}
    message = refused(rows)
    assert "[disclosure.shown-when-hidden] indicator births, area w2" in message


def test_a_lone_hidden_child_is_recoverable_from_its_parent() -> None:
    rows = safe()
    rows[4] = row("w2", "north", 37)  # locality 40 minus ward 37 gives ward w1's 3
    message = refused(rows)
    assert "[disclosure.recoverable-area] indicator births, area w1, period 2024/25" in message


def test_a_hidden_parent_is_recoverable_as_the_sum_of_its_children() -> None:
    rows = [row("la", None, 12, hidden=True), row("north", "la", 6), row("south", "la", 6)]
    assert "[disclosure.recoverable-area] indicator births, area la," in refused(rows)


def test_a_lone_hidden_breakdown_value_is_recoverable_from_the_total() -> None:
    rows = [*safe(), row("la", None, 60, breakdown="sex: F"),
            row("la", None, 37, breakdown="sex: M"),
            row("la", None, 3, breakdown="sex: unknown", hidden=True)]
    message = refused(rows)
    assert "[disclosure.recoverable-breakdown] indicator births, area la" in message
    assert "breakdown sex: unknown" in message
    # Another dimension is another family: hiding an age band does not protect sex: unknown.
    rows.append(row("la", None, 4, breakdown="age: 40+", hidden=True))
    rows.append(row("la", None, 96, breakdown="age: under 40", hidden=True))
    assert "breakdown sex: unknown" in refused(rows)
    rows[-4] = row("la", None, 37, breakdown="sex: M", hidden=True)
    assert len(find_leaks(table(rows), RULES)) == 0


def test_a_lone_hidden_quarter_is_recoverable_from_its_year() -> None:
    # As found in the example's early booking: the year and three quarters shown.
    quarters = [row("la", None, x, period=q) for x, q in zip((40, 30, 27), QUARTERS[:3],
                                                              strict=True)]
    rows = [*safe(), *quarters, row("la", None, 3, period=QUARTERS[3], hidden=True)]
    message = refused(rows)
    assert ("[disclosure.recoverable-period] indicator births, area la, period 2024/25 Q4 "
            "(quarter)") in message
    rows[-2] = row("la", None, 27, period=QUARTERS[2], hidden=True)
    assert len(find_leaks(table(rows), RULES)) == 0


def test_quarters_do_not_tile_an_academic_year() -> None:
    academic = ("2024/25", "academic_year", date(2024, 9, 1), date(2025, 8, 31))
    rows = [row("la", None, 100, period=academic),
            *[row("la", None, 25, period=q) for q in QUARTERS[:3]],
            row("la", None, 3, period=QUARTERS[3], hidden=True)]
    assert len(find_leaks(table(rows), RULES)) == 0


def test_quarters_tile_a_rolling_year_that_ends_with_one() -> None:
    rolling = parse_period("12 months to Jun 2025", PeriodType.ROLLING_12_MONTHS)
    q1 = parse_period("2025/26 Q1", PeriodType.QUARTER)
    rows = [row("la", None, 100, period=(rolling.label, "rolling_12_months", rolling.start,
                                         rolling.end)),
            *[row("la", None, 30, period=q) for q in QUARTERS[1:]],
            row("la", None, 10, period=(q1.label, "quarter", q1.start, q1.end), hidden=True)]
    assert "[disclosure.recoverable-period] indicator births, area la, period 2025/26 Q1" \
        in refused(rows)


def test_a_stock_is_one_count_at_each_period_end_not_a_sum() -> None:
    # Children looked after at 31 March: the year's count is the fourth quarter's.
    stocks = {"births"}
    rows = [*safe(), *[row("la", None, 100 + q, period=p) for q, p in enumerate(QUARTERS[:3])],
            row("la", None, 100, period=QUARTERS[3])]
    rows[-2] = row("la", None, 102, period=QUARTERS[2], hidden=True)
    assert len(find_leaks(table(rows), RULES, stocks)) == 0  # no sum to subtract from
    assert "[disclosure.recoverable-period]" in refused(rows)  # were it a count of events
    rows[-1] = row("la", None, 100, period=QUARTERS[3], hidden=True)
    with pytest.raises(DisclosureError, match=r"area la, period 2024/25 Q4 \(quarter\), "
                                              r"breakdown all, is hidden, but the same count"):
        publishable(table(rows), RULES, stocks)


def test_a_cell_hidden_in_one_row_and_shown_in_another_is_refused() -> None:
    rolling = ("12 months to Mar 2025", "rolling_12_months", FY[2], FY[3])
    rows = [row("w9", None, 9), row("w9", None, 9, period=rolling, hidden=True)]
    assert "[disclosure.shown-elsewhere] indicator births, area w9, period 12 months to Mar " \
           "2025" in refused(rows)


def test_published_comparators_may_show_small_counts_but_not_reveal_hidden_ones() -> None:
    comparator = row("E12000007", None, 3, method="published (DfE)", indicator="dfe-only")
    assert len(find_leaks(table([*safe(), comparator]), RULES)) == 0
    # A published total over two computed areas, one of them hidden, gives it away.
    rows = [row("E12000007", None, 50, method="published (Fingertips)"),
            row("la", "E12000007", 45), row("lb", "E12000007", 5, hidden=True)]
    assert "[disclosure.recoverable-area] indicator births, area lb" in refused(rows)


def test_indicators_are_checked_in_batches_and_leaks_keep_their_rows(
        monkeypatch: pytest.MonkeyPatch) -> None:
    leaky = safe()
    leaky[4] = row("w2", "north", 37)  # w1 recoverable
    other = [{**r, "indicator_id": "deaths"} for r in safe()]
    # A small count, which also leaves w2 the only hidden ward of its locality.
    other[3] = {**row("w1", "north", 3), "indicator_id": "deaths"}
    rows = [r for pair in zip(other, leaky, strict=True) for r in pair]  # interleaved
    rules = RULES | {"deaths": Rule(5)}
    whole = find_leaks(table(rows), rules)
    monkeypatch.setattr("common_outcomes.engine.publish.BATCH_ROWS", 1)
    batched = find_leaks(table(rows), rules)
    # Rows 1 and 3 are births' la and north: 100 minus the published wards (37, 30, 30) and
    # 40 minus 37 both leave w1's 3.
    assert batched.rows.tolist() == whole.rows.tolist() == [1, 3, 6, 7, 8]
    assert [batched.kinds[k][0] for k in batched.kind.tolist()] == [
        "disclosure.small-difference", "disclosure.small-difference", "disclosure.small-count",
        "disclosure.recoverable-area", "disclosure.recoverable-area"]


def test_an_indicator_without_a_rule_cannot_be_checked() -> None:
    assert "no rule for indicator births" in refused(safe(), {})


def test_a_rounding_rule_is_kept() -> None:
    rules = {"births": Rule(suppress_below=5, round_to=5)}
    # 37 is hidden; 100, 40, 60 and 30 are multiples of 5.
    assert len(find_leaks(table(safe()), rules)) == 0
    rows = safe()
    rows[0] = row("la", None, 101)
    assert "[disclosure.not-rounded] indicator births, area la" in refused(rows, rules)


def test_a_small_denominator_is_refused_even_on_a_suppressed_row() -> None:
    rows = safe()
    rows[3] = row("w1", "north", 3, hidden=True, denominator=4)  # 0..4 of 4: about 4 people
    assert ("[disclosure.small-denominator] indicator births, area w1, period 2024/25"
            in refused(rows))
    rows[3] = row("w1", "north", 3, hidden=True, denominator=None)
    rows[4] = row("w2", "north", 37, hidden=True, denominator=None)
    assert len(find_leaks(table(rows), RULES)) == 0  # two hidden denominators of north


def test_a_small_complement_of_a_proportion_is_refused() -> None:
    rows = safe()
    rows[5] = row("w3", "south", 30, denominator=33)  # 30 of 33: 3 did not
    assert "[disclosure.small-complement] indicator births, area w3" in refused(rows)
    rows[5] = row("w3", "south", 30, denominator=33, method="count")  # not a proportion
    assert len(find_leaks(table(rows), RULES)) == 0


def test_the_only_hidden_denominator_of_a_family_is_refused() -> None:
    rows = safe()  # w1 and w2 are hidden; only w1's denominator is
    rows[3] = row("w1", "north", 3, hidden=True, denominator=None)
    assert "[disclosure.recoverable-denominator] indicator births, area w1" in refused(rows)
    # A count publishes no denominator anywhere: nothing is given away by w1 having none.
    counts = [r | {"denominator": None, "method": "count"} for r in rows]
    assert len(find_leaks(table(counts), RULES)) == 0


def test_the_export_refuses_a_leaking_table_and_leaves_no_file(tmp_path: Path) -> None:
    rows = safe()
    rows[4] = row("w2", "north", 37)
    for fmt in ExportFormat:
        target = tmp_path / f"out.{fmt.value}"
        # The borough (100) minus its published wards gives w1: the first row named is la.
        with pytest.raises(DisclosureError, match=r"area la,.*can be worked out"):
            write_results(table(rows), RULES, target, fmt)
        assert list(tmp_path.iterdir()) == []
    assert write_results(table(safe()), RULES, tmp_path / "ok.csv", ExportFormat.csv) == 7
    text = (tmp_path / "ok.csv").read_text(encoding="utf-8-sig").splitlines()
    assert text[0].startswith('"indicator_id","indicator_name","area_code"')
    assert '"w3","w3","ward","south","2024/25","financial_year","2024-04-01","2025-03-31","all",' \
           '"30","200"' in text[6]  # whole counts are written as integers


@st.composite
def hierarchies(draw: st.DrawFn) -> tuple[list[float], list[int]]:
    """A borough, its localities and their wards, with ward counts that add up to the
    localities; the borough also counts records in no ward (no small area), 0 to 9 of them."""
    wards = [draw(st.lists(st.integers(0, 30), min_size=1, max_size=5))
             for _ in range(draw(st.integers(1, 4)))]
    unplaced = draw(st.integers(0, 9))
    counts = [float(sum(map(sum, wards)) + unplaced)] + [float(sum(w)) for w in wards]
    parent = [-1] + [0] * len(wards)
    for i, ward_counts in enumerate(wards):
        counts += map(float, ward_counts)
        parent += [1 + i] * len(ward_counts)
    return counts, parent


@settings(max_examples=200, deadline=None)
@given(hierarchies(), st.integers(1, 8))
def test_the_guard_accepts_what_suppression_makes_and_refuses_one_cell_less(
        case: tuple[list[float], list[int]], threshold: int) -> None:
    counts, parent = case
    shown = shown_by_suppression(counts, parent, Rule(threshold))
    names = ["la", *[f"a{i}" for i in range(1, len(counts))]]

    def rows(published: set[int]) -> list[dict[str, object]]:
        # Counts, not proportions: the fixed denominator of 200 would be below some sums.
        return [row(names[i], names[p] if p >= 0 else None, counts[i],
                    hidden=not (shown[i] or i in published), method="count")
                for i, p in enumerate(parent)]

    rules = {"births": Rule(threshold)}
    assert len(find_leaks(table(rows(set())), rules)) == 0
    # Showing one hidden cell leaks exactly when it is small, or when it was one of only two
    # hidden cells of a family, or when it leaves a published head whose count minus its
    # published members' (the hidden ones and the records in no member) is small.
    # The families: each parent with its children, and the borough with all the wards.
    families = [[h, *(k for k in range(len(counts)) if parent[k] == h)]
                for h in set(parent) - {-1}]
    families.append([0, *(k for k in range(len(counts)) if parent[k] > 0)])
    for i in np.flatnonzero(~shown).tolist():
        pairs = any(i in f and sum(not shown[k] for k in f) == 2 for f in families)
        now = shown | (np.arange(len(counts)) == i)
        differences = [counts[f[0]] - sum(counts[k] for k in f[1:] if now[k])
                       for f in families if now[f[0]]]
        small_difference = any(1 <= d <= threshold for d in differences)
        leaks = len(find_leaks(table(rows({i})), rules)) > 0
        assert leaks == (1 <= counts[i] <= threshold or pairs or small_difference), (
            counts, parent, i)


def test_a_small_residual_of_a_borough_over_its_localities_or_wards_is_refused() -> None:
    # Every cell is large and shown, but the borough has 3 records in no ward.
    rows = [row("la", None, 103), row("north", "la", 40), row("south", "la", 60),
            row("w1", "north", 10), row("w2", "north", 30), row("w3", "south", 30),
            row("w4", "south", 30)]
    message = refused(rows)
    assert "[disclosure.small-difference] indicator births, area la, period 2024/25" in message
    assert "area north" not in message and "area w1" not in message
    # Over the wards alone (no localities) it is the same leak.
    assert "area la," in refused([rows[0], *(r | {"parent_code": "la"} for r in rows[3:])])
    for residual in (0, 7):  # nothing to work out, or nothing small
        rows[0] = row("la", None, 100 + residual)
        assert len(find_leaks(table(rows), RULES)) == 0
    # With counts published rounded a difference is no count.
    rows[0] = row("la", None, 105)
    rounded_rows = [r | {"numerator": r["numerator"] and 5 * round(r["numerator"] / 5)}
                    for r in rows]
    assert len(find_leaks(table(rounded_rows), {"births": Rule(5, round_to=5)})) == 0


def test_hidden_cells_whose_total_is_small_are_refused() -> None:
    # w1's 3 is hidden beside a 0: two hidden cells, but 40 - 37 still gives 3.
    rows = [row("la", None, 100), row("north", "la", 40), row("south", "la", 60),
            row("w1", "north", 3, hidden=True), row("w2", "north", 0, hidden=True),
            row("w5", "north", 37), row("w3", "south", 30), row("w4", "south", 30)]
    message = refused(rows)
    assert "[disclosure.small-difference] indicator births, area north," in message
    assert "recoverable" not in message  # no family has a lone hidden cell
    rows[5] = row("w5", "north", 37, hidden=True)  # 40 - 0 is 3 + 0 + 37: safe
    assert len(find_leaks(table(rows), RULES)) == 0


def test_small_differences_of_denominators_and_complements_are_refused() -> None:
    # Numerators add up; denominators leave 3 (200 - 197).
    rows = [row("la", None, 100), row("north", "la", 40, denominator=80),
            row("south", "la", 60, denominator=117)]
    assert "[disclosure.small-difference] indicator births, area la" in refused(rows)
    # Denominators add up (80 + 120); the numerators are 3 over the borough's (43 + 60: a
    # difference below 1), so the complements leave 3 (100 - 37 - 60). As counts, with no
    # complement, it is safe.
    rows = [row("la", None, 100), row("north", "la", 43, denominator=80),
            row("south", "la", 60, denominator=120)]
    assert "[disclosure.small-difference] indicator births, area la" in refused(rows)
    assert len(find_leaks(table([r | {"method": "count"} for r in rows]), RULES)) == 0
