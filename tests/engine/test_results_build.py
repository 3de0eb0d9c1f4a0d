"""Stage two on hand-made counts: people once per period, denominators from another source."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from common_outcomes.engine.results import About, Areas, build_results
from common_outcomes.indicators.definitions import Definition
from common_outcomes.periods import PeriodType
from common_outcomes.stats.disclosure import Rule

AREAS = Areas({"ward": {"a1": "w1", "a2": "w2", "a3": "w2"},
               "locality": {"a1": "L", "a2": "L", "a3": "L"},
               "la": {"a1": "E09", "a2": "E09", "a3": "E09"}})
ABOUT = {"x": About("X", "high_is_good", PeriodType.CALENDAR_YEAR, Rule(0, None))}


def definition(**more: object) -> Definition:
    return Definition.model_validate({"indicator": "x", "source": "s", "measure": "proportion",
                                      "numerator": "true", "date": "d", "area": "a",
                                      "multiplier": 100, "period_types": ["calendar_year"],
                                      **more})


def counts(rows: list[tuple[str, date, str, int]], name: str) -> pa.Table:
    area, month, person, value = zip(*rows, strict=True)
    return pa.table({"area_code": list(area), "month": list(month), "person": list(person),
                     name: pa.array(value, pa.int64())})


def rows_of(table: pa.Table) -> dict[tuple[str, str], dict[str, object]]:
    return {(r["area_code"], r["period"]): r for r in table.to_pylist()
            if r["breakdown"] == "all"}


POPULATION = pa.table({"area_code": ["a1", "a2", "a3", "a1", "a2", "a3"],
                       "month": [date(2023, 6, 1)] * 3 + [date(2024, 6, 1)] * 3,
                       "x__denominator": [100, 200, 50, 110, 210, 60]})


def test_a_person_counts_once_per_period_in_the_area_of_their_first_record() -> None:
    table = counts([("a1", date(2024, 1, 1), "p1", 1), ("a2", date(2024, 2, 1), "p1", 1),
                    ("a2", date(2024, 12, 1), "p2", 1), ("a2", date(2024, 3, 1), "p3", 0)],
                   "x__numerator")
    d = definition(person="p", denominator={"source": "pop", "date": "d", "area": "a"})
    out = rows_of(build_results(table, [d], ABOUT, AREAS, None, {"x": POPULATION}))
    assert out[("E09", "2024")]["numerator"] == 2  # p1 twice, p2 once; p3 not in it
    assert out[("w1", "2024")]["numerator"] == 1 and out[("w2", "2024")]["numerator"] == 1
    # The 2024 mid-year population, not the sum of both years.
    assert out[("E09", "2024")]["denominator"] == 380
    assert out[("E09", "2024")]["value"] == pytest.approx(100 * 2 / 380, rel=1e-12)


def test_an_area_with_a_denominator_and_no_events_counts_zero() -> None:
    table = counts([("a1", date(2024, 1, 1), "p1", 1), ("a1", date(2024, 12, 1), "p2", 1)],
                   "x__numerator")
    d = definition(person="p", denominator={"source": "pop", "date": "d", "area": "a"})
    out = rows_of(build_results(table, [d], ABOUT, AREAS, None, {"x": POPULATION}))
    assert out[("w2", "2024")]["numerator"] == 0
    assert out[("w2", "2024")]["denominator"] == 270


def test_a_period_without_a_snapshot_in_the_year_before_its_end_is_left_out() -> None:
    table = counts([("a1", date(2022, 1, 1), "p1", 1), ("a1", date(2022, 12, 1), "p2", 1)],
                   "x__numerator")
    d = definition(person="p", denominator={"source": "pop", "date": "d", "area": "a"})
    assert build_results(table, [d], ABOUT, AREAS, None, {"x": POPULATION}).num_rows == 0


def test_an_area_without_a_denominator_gets_a_note_not_a_value() -> None:
    table = counts([("a3", date(2024, 1, 1), "p1", 1), ("a1", date(2024, 12, 1), "p2", 1)],
                   "x__numerator")
    only_a1 = POPULATION.filter(pc.equal(POPULATION.column("area_code"), "a1"))
    d = definition(person="p", denominator={"source": "pop", "date": "d", "area": "a"})
    out = rows_of(build_results(table, [d], ABOUT, AREAS, None, {"x": only_a1}))
    row = out[("w2", "2024")]
    assert row["numerator"] == 1 and row["denominator"] is None and row["value"] is None
    assert row["value_note"] == "no denominator for this area and period"
    assert out[("w1", "2024")]["denominator"] == 110


def test_a_flow_denominator_is_summed_over_the_period() -> None:
    table = counts([("a1", date(2024, 1, 1), "p1", 3), ("a1", date(2024, 12, 1), "p2", 2)],
                   "x__numerator").drop_columns(["person"])
    flows = pa.table({"area_code": ["a1", "a1", "a2"],
                      "month": [date(2024, 1, 1), date(2024, 7, 1), date(2025, 1, 1)],
                      "x__denominator": [40, 60, 1000]})
    d = definition(measure="crude_rate", multiplier=1000,
                   denominator={"source": "pop", "date": "d", "area": "a", "snapshot": False})
    out = rows_of(build_results(table, [d], ABOUT, AREAS, None, {"x": flows}))
    assert (out[("E09", "2024")]["numerator"], out[("E09", "2024")]["denominator"]) == (5, 100)
    assert ("E09", "2025") not in out  # the numerator's data do not cover 2025


def test_a_stock_is_counted_at_each_periods_end() -> None:
    """Records open from one month to another, as +1 and -1: open at 31 December or not."""
    rows = [("a1", date(2023, 1, 1), 1), ("a1", date(2024, 6, 1), -1),   # 2023 only
            ("a2", date(2023, 3, 1), 1),                                 # both years
            ("a2", date(2024, 2, 1), 1), ("a2", date(2024, 2, 1), -1),  # never at a year end
            ("a1", date(2024, 12, 1), 1)]                                # 2024 only
    table = pa.table({"area_code": [r[0] for r in rows], "month": [r[1] for r in rows],
                      "x__numerator": [r[2] for r in rows], "x__denominator": [0] * len(rows)})
    d = definition(measure="count", open_until="e")
    out = rows_of(build_results(table, [d], ABOUT, AREAS))
    assert out[("E09", "2023")]["numerator"] == 2
    assert out[("E09", "2024")]["numerator"] == 2
    assert (out[("w1", "2023")]["numerator"], out[("w2", "2024")]["numerator"]) == (1, 1)


def test_expressions_evaluate_on_totals_with_sql_semantics() -> None:
    from common_outcomes.indicators.evaluate import holds

    totals = pa.table({"absent": [1.0, 10.0, None, 5.0], "possible": [100.0, 90.0, 50.0, 0.0],
                       "school": [2112001.0, 2114001.0, -7.0, 3.0]})
    assert holds("absent >= 0.1 * possible", totals).to_pylist() == [False, True, False, True]
    assert holds("not absent is null and possible > 0", totals).to_pylist() == [
        True, True, False, False]
    assert holds("school % 10000 between 2000 and 3999", totals).to_pylist() == [
        True, False, False, False]
    assert holds("school % 10000 = -7 or absent in (1, 5)", totals).to_pylist() == [
        True, False, True, True]
    assert holds("possible / 4 = 25", totals).to_pylist() == [True, False, False, False]


def test_shifted_records_count_in_the_period_they_fall_due() -> None:
    """shift_months: a birth in December 2023 is due its 2-month review in February 2024."""
    table = pa.table({"area_code": ["a1", "a1", "a2", "a2"],
                      "month": [date(2022, 11, 1), date(2023, 12, 1), date(2023, 10, 1),
                                date(2024, 10, 1)],
                      "x__numerator": [1, 1, 1, 1], "x__denominator": [1, 1, 1, 1]})
    d = definition(measure="count", shift_months=2)
    out = rows_of(build_results(table, [d], ABOUT, AREAS))
    assert out[("E09", "2023")]["numerator"] == 2  # November 2022 and October 2023
    assert out[("E09", "2024")]["numerator"] == 2  # December 2023 and October 2024
    assert ("E09", "2022") not in out


def test_a_mean_with_students_t_limits_rolls_up_sums_not_means() -> None:
    from common_outcomes.stats.intervals import mean_ci

    values = {"a1": [3000.0, 3500.0], "a2": [2500.0, 4000.0, 3300.0]}
    rows = [(area, len(v), sum(v), sum(x * x for x in v)) for area, v in values.items()]
    table = pa.table({"area_code": [r[0] for r in rows], "month": [date(2024, 6, 1)] * 2,
                      "x__numerator": [r[1] for r in rows], "x__denominator": [r[1] for r in rows],
                      "x__total__sum": [r[2] for r in rows],
                      "x__total__squares": [r[3] for r in rows]})
    about = {"x": About("X", "high_is_good", PeriodType.MONTH, Rule(0, None))}
    d = definition(measure="mean", value="w", period_types=["month"])
    out = rows_of(build_results(table, [d], about, AREAS))["E09", "Jun 2024"]
    everything = [v for vs in values.values() for v in vs]
    mean, lower, upper = mean_ci(sum(everything), sum(x * x for x in everything),
                                 len(everything))
    assert out["value"] == pytest.approx(float(mean), rel=1e-12)
    assert (out["lower_95"], out["upper_95"]) == pytest.approx((float(lower), float(upper)),
                                                               rel=1e-12)
    assert out["method"] == "Student's t"


def banded(rows: list[tuple[str, int, float]], name: str) -> pa.Table:
    return pa.table({"area_code": [r[0] for r in rows], "month": [date(2024, 6, 1)] * len(rows),
                     "band__": [r[1] for r in rows], name: [r[2] for r in rows]})


EVENTS = [("a1", 0, 30.0), ("a1", 1, 12.0), ("a2", 0, 25.0), ("a2", 1, 40.0), ("a3", 1, 9.0)]
PEOPLE = [("a1", 0, 900.0), ("a1", 1, 1100.0), ("a2", 0, 700.0), ("a2", 1, 1500.0),
          ("a3", 0, 400.0), ("a3", 1, 600.0)]


def test_a_directly_standardised_rate_weights_age_bands_by_the_european_standard() -> None:
    from common_outcomes.engine.results import ESP2013
    from common_outcomes.stats.intervals import dsr

    about = {"x": About("X", "low_is_good", PeriodType.MONTH, Rule(0, None))}
    d = definition(measure="dsr", multiplier=100000, period_types=["month"],
                   standardise={"age": "age", "population_age": "age"},
                   denominator={"source": "pop", "date": "d", "area": "a"})
    table = build_results(banded(EVENTS, "x__numerator"), [d], about, AREAS, None,
                          {"x": banded(PEOPLE, "x__denominator")})
    out = rows_of(table)
    x = np.array([[55.0, 61.0]])
    n = np.array([[2000.0, 3200.0]])
    value, lower, upper = dsr(x, n, ESP2013[:2], 100000)
    borough = out["E09", "Jun 2024"]
    assert (borough["numerator"], borough["denominator"]) == (116, 5200)
    assert borough["value"] == pytest.approx(float(value[0]), rel=1e-12)
    assert (borough["lower_95"], borough["upper_95"]) == pytest.approx(
        (float(lower[0]), float(upper[0])), rel=1e-12)
    assert out["w2", "Jun 2024"]["numerator"] == 74  # a2 and a3: bands folded back


def test_an_indirectly_standardised_ratio_compares_with_the_boroughs_age_specific_rates() -> None:
    from common_outcomes.stats.intervals import isr

    about = {"x": About("X", "low_is_good", PeriodType.MONTH, Rule(0, None))}
    d = definition(measure="isr", multiplier=100, period_types=["month"],
                   standardise={"age": "age", "population_age": "age"},
                   denominator={"source": "pop", "date": "d", "area": "a"})
    out = rows_of(build_results(banded(EVENTS, "x__numerator"), [d], about, AREAS, None,
                                {"x": banded(PEOPLE, "x__denominator")}))
    rates = np.array([55.0 / 2000, 61.0 / 3200])  # the borough's, by band
    expected = 30 * 0 + 900 * rates[0] + 1100 * rates[1]  # ward w1 = a1
    ratio = isr(42.0, expected, 0.95, refvalue=100)
    ward = out["w1", "Jun 2024"]
    assert ward["denominator"] == pytest.approx(expected, rel=1e-12)
    assert ward["value"] == pytest.approx(float(ratio.ratio), rel=1e-12)
    assert ward["upper_95"] == pytest.approx(float(ratio.ratio_upper), rel=1e-12)
    assert out["E09", "Jun 2024"]["value"] == pytest.approx(100.0, rel=1e-12)


def test_a_standardised_rate_with_no_whole_period_gives_no_rows() -> None:
    """Data for part of one year only: nothing to standardise, and no error."""
    about = {"x": About("X", "low_is_good", PeriodType.CALENDAR_YEAR, Rule(0, None))}
    d = definition(measure="isr", multiplier=100, standardise={"age": "age"})
    table = banded(EVENTS, "x__numerator").append_column(
        "x__denominator", pa.array([100.0] * len(EVENTS)))
    assert build_results(table, [d], about, AREAS).num_rows == 0


def test_a_stock_counted_by_opening_and_closing_month_is_the_same_as_its_changes() -> None:
    """The pass counts a stock's records by (month opened, month closed); stage two makes
    those +1 and -1: the same records as the hand-made changes above."""
    table = pa.table({"area_code": ["a1", "a2", "a2", "a1"],
                      "month": [date(2023, 1, 1), date(2023, 3, 1), date(2024, 2, 1),
                                date(2024, 12, 1)],
                      "closed__": [date(2024, 6, 1), None, date(2024, 2, 1), None],
                      "x__numerator": [1, 1, 1, 1], "x__denominator": [0, 0, 0, 0]})
    d = definition(measure="count", open_until="e")
    out = rows_of(build_results(table, [d], ABOUT, AREAS))
    assert (out[("E09", "2023")]["numerator"], out[("E09", "2024")]["numerator"]) == (2, 2)
    assert (out[("w1", "2023")]["numerator"], out[("w2", "2024")]["numerator"]) == (1, 1)


def test_records_without_a_small_area_count_for_the_borough_and_in_no_ward() -> None:
    from common_outcomes.engine.plan import NO_AREA

    areas = Areas({level: {**codes, **({NO_AREA: "E09"} if level == "la" else {})}
                   for level, codes in AREAS.within.items()})
    table = counts([("a1", date(2024, 1, 1), "p1", 1), ("a2", date(2024, 2, 1), "p2", 1),
                    (NO_AREA, date(2024, 3, 1), "p3", 1),
                    # p1 again without an area: still placed in a1 alone, counted once.
                    (NO_AREA, date(2024, 4, 1), "p1", 1), ("a3", date(2024, 12, 1), "p4", 0)],
                   "x__numerator")
    d = definition(person="p", denominator={"source": "pop", "date": "d", "area": "a"})
    out = rows_of(build_results(table, [d], ABOUT, areas, None, {"x": POPULATION}))
    assert out[("E09", "2024")]["numerator"] == 3
    assert out[("w1", "2024")]["numerator"] == 1 and out[("w2", "2024")]["numerator"] == 1
    assert out[("L", "2024")]["numerator"] == 2
    # Without the borough placing them (a scope that does not), they count nowhere.
    assert rows_of(build_results(table, [d], ABOUT, AREAS, None, {"x": POPULATION}))[
        ("E09", "2024")]["numerator"] == 2
