"""Records with no small area count for the borough and in no ward or locality: the borough
minus its wards (or its localities) is a count of its own, the residual. Built here from
hand-made counts, the engine's results never let a small one be worked out, and the guard
passes them."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from common_outcomes.engine.plan import NO_AREA
from common_outcomes.engine.publish import find_leaks
from common_outcomes.engine.results import About, Areas, build_results
from common_outcomes.indicators.definitions import Definition
from common_outcomes.periods import PeriodType
from common_outcomes.stats.disclosure import Rule

# Wards w1-w4, one small area each; w1 and w2 in locality L1, w3 and w4 in L2; one borough,
# which also takes the records with no small area (engine/run.py places them so).
SMALL = ["a1", "a2", "a3", "a4"]
AREAS = Areas({"ward": {a: f"w{a[1]}" for a in SMALL},
               "locality": {a: "L1" if a in ("a1", "a2") else "L2" for a in SMALL},
               "la": dict.fromkeys([*SMALL, NO_AREA], "E09")})
RULE = Rule(5, None)
ABOUT = {"x": About("X", "low_is_good", PeriodType.CALENDAR_YEAR, RULE)}
DEFINITION = Definition.model_validate({
    "indicator": "x", "source": "s", "measure": "count", "numerator": "true", "date": "d",
    "area": "a", "period_types": ["calendar_year"]})
WARDS = {"a1": 20, "a2": 30, "a3": 12, "a4": 40}  # L1 50, L2 52


def results(residual: int, wards: dict[str, int] = WARDS) -> dict[str, dict[str, object]]:
    counts = {**wards, NO_AREA: residual}
    rows = [(a, date(2024, m, 1), n * (m == 1)) for a, n in counts.items() for m in (1, 12)]
    area, month, value = zip(*rows, strict=True)
    table = build_results(pa.table({"area_code": list(area), "month": list(month),
                                    "x__numerator": pa.array(value, pa.int64())}),
                          [DEFINITION], ABOUT, AREAS)
    assert len(find_leaks(table, {"x": RULE})) == 0  # the guard passes every result
    return {str(r["area_code"]): r for r in table.to_pylist() if r["period"] == "2024"}


def hidden(rows: dict[str, dict[str, object]]) -> set[str]:
    return {a for a, r in rows.items() if r["suppressed"]}


def test_a_residual_of_zero_or_above_the_threshold_hides_nothing() -> None:
    for residual in (0, 7):
        rows = results(residual)
        assert hidden(rows) == set()
        assert rows["E09"]["numerator"] == sum(WARDS.values()) + residual


@pytest.mark.parametrize("residual", [1, 3, 5])
def test_a_small_residual_cannot_be_worked_out_from_the_borough_and_its_parts(
        residual: int) -> None:
    rows = results(residual)
    assert rows["E09"]["numerator"] == 102 + residual  # the borough is still shown
    assert hidden(rows)
    for parts in (["L1", "L2"], ["w1", "w2", "w3", "w4"]):
        shown = sum(float(rows[a]["numerator"] or 0) for a in parts)
        left = 102 + residual - shown
        assert not 1 <= left <= 5, (parts, left)
    # Nor any hidden ward from its locality.
    for locality, wards in (("L1", ["w1", "w2"]), ("L2", ["w3", "w4"])):
        members = [locality, *wards]
        assert sum(a in hidden(rows) for a in members) != 1


def test_a_residual_of_three_hides_the_smaller_locality_and_what_then_protects_it() -> None:
    # 105 - (50 + 52) = 3: the smaller locality (L1, 50) is hidden; alone it would be the
    # borough minus L2 (the guard cannot see that 3 more are in it), so L2 goes as well;
    # each locality then takes its smaller ward (w1 20, w3 12).
    assert hidden(results(3)) == {"L1", "L2", "w1", "w3"}


def test_a_small_ward_still_takes_a_sibling_when_nothing_lacks_an_area() -> None:
    # w3 is 3: with no residual the borough minus the other wards would be w3 itself, so its
    # locality's other ward (w4) is hidden with it, as before.
    rows = results(0, {**WARDS, "a3": 3})
    assert hidden(rows) == {"w3", "w4"}
    assert rows["E09"]["numerator"] - sum(
        float(rows[w]["numerator"]) for w in ("w1", "w2")) == 43  # w3 and w4 together
