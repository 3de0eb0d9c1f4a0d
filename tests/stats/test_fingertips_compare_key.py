"""The answer key: a real Fingertips export, reproduced by our comparison and trend code.

The carried table fingertips-injury-admissions (every row of the Fingertips "all data" export
with the columns the product reads, numbers exactly as exported) is the export
of indicator 90284 (hospital admissions for injuries, children under 15, crude rate per 10,000,
low is good) for England and every upper-tier LA, 2010/11 to 2023/24, Persons/Male/Female.

Compared to England: every area row (Area Type "Counties & UAs"; none of them has a Category
Type - rows with one are England's deprivation-decile breakdowns) is compared, by its own 95%
interval, with England's value for the same period, sex and age (the England row without a
category). All 5,802 reproduce exactly - including the 24 rows "Not compared" because the value
was not presented (Fingertips needs a valid value, not only limits; their limits read -1,
Fingertips' null).

Recent Trend: published on the 2023/24 row of each series. The issue reports that the
published labels contradict the published values for almost every significant trend. We do
not fit to them: each labelled row is classified as agrees / disagrees / not computable from
the export, and the test prints the table with evidence. What we assert is what is consistent:
a label is computed for every series with five valid points, "Cannot be calculated" exactly
where fewer than five exist, the significance decision (significant or not) agrees with the
published label on every row, and every disagreement is a direction flip of a significant trend
(published "Increasing and getting worse" where the five values fall, and the reverse).
"""

from __future__ import annotations

import collections
import csv

import numpy as np

from common_outcomes import reference
from common_outcomes.stats.compare import (
    CANNOT_CALCULATE,
    NO_CHANGE,
    compare_to_benchmark,
    recent_trend,
)

EXPORT = reference.path("fingertips-injury-admissions")
ENGLAND = "E92000001"
LATEST = "2023/24"


def _rows() -> list[dict[str, str]]:
    with EXPORT.open(newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def _num(text: str) -> float:
    """Export numbers; blank and Fingertips' null (-1) are missing."""
    if not text.strip():
        return float("nan")
    value = float(text)
    return float("nan") if value == -1 else value


def test_compared_to_england_reproduces_every_area_row() -> None:
    rows = _rows()
    england = {
        (r["Time period"], r["Sex"], r["Age"]): _num(r["Value"])
        for r in rows
        if r["Area Code"] == ENGLAND and not r["Category Type"]
    }
    areas = [r for r in rows if r["Area Code"] != ENGLAND]
    assert {r["Category Type"] for r in areas} == {""}
    assert len(areas) == 5802
    ours = compare_to_benchmark(
        [_num(r["Lower CI 95.0 limit"]) for r in areas],
        [_num(r["Upper CI 95.0 limit"]) for r in areas],
        [england[(r["Time period"], r["Sex"], r["Age"])] for r in areas],
        "low_is_good",
        value=[_num(r["Value"]) for r in areas],
    )
    published = [r["Compared to England value or percentiles"] for r in areas]
    wrong = [(r["Area Name"], r["Sex"], r["Time period"], p, str(o))
             for r, p, o in zip(areas, published, ours, strict=True) if p != o]
    assert wrong == [], wrong[:10]
    counts = collections.Counter(published)
    assert counts == {"Better": 2088, "Worse": 1901, "Similar": 1712, "Not compared": 101}


def test_recent_trend_against_the_published_labels() -> None:
    rows = _rows()
    periods = sorted({r["Time period"] for r in rows})
    series: dict[tuple[str, ...], dict[str, dict[str, str]]] = collections.defaultdict(dict)
    for r in rows:  # England rows appear twice (with and without a parent code): keyed apart
        key = (r["Parent Code"], r["Area Code"], r["Area Name"], r["Sex"], r["Age"],
               r["Category Type"], r["Category"])
        series[key][r["Time period"]] = r
    keys = [k for k, v in series.items() if v.get(LATEST, {}).get("Recent Trend")]
    labelled = sum(1 for r in rows if r["Recent Trend"])
    assert len(keys) == labelled == 603

    def grid(column: str) -> np.ndarray:
        return np.array([[_num(series[k][p][column]) if p in series[k] else np.nan
                          for p in periods] for k in keys])

    values, lower, upper = grid("Value"), grid("Lower CI 95.0 limit"), grid("Upper CI 95.0 limit")
    counts, denominators = grid("Count"), grid("Denominator")
    ours = recent_trend(values, counts, denominators, "rate", 10_000, "low_is_good",
                        lower95=lower, upper95=upper)
    published = [series[k][LATEST]["Recent Trend"] for k in keys]

    valid = np.isfinite(values) & np.isfinite(counts) & (denominators > 0)
    five = valid.sum(axis=1) >= 5
    # computed for every series with five valid points, and only there "cannot be calculated"
    assert all((o == CANNOT_CALCULATE) == (not f) for o, f in zip(ours, five, strict=True))

    table: collections.Counter[tuple[str, str, str]] = collections.Counter()
    evidence: list[str] = []
    for k, p, o, f, v in zip(keys, published, ours, five, values, strict=True):
        if not f:
            verdict = "not computable (fewer than 5 valid points)"
        elif p == o:
            verdict = "agrees"
        else:
            verdict = "disagrees"
            if len(evidence) < 5:
                last5 = v[np.isfinite(v)][-5:]
                evidence.append(f"{k[2]} {k[3]} {k[6] or ''}: {np.round(last5, 1).tolist()} "
                                f"published {p!r}, ours {str(o)!r}")
        table[(verdict, p, str(o))] += 1
    print("\nverdict | published | ours | rows")
    for (verdict, p, o), n in sorted(table.items()):
        print(f"{verdict} | {p} | {o} | {n}")
    print("\n".join(evidence))

    # the significance decision agrees everywhere it can be computed
    for k, p, o, f in zip(keys, published, ours, five, strict=True):
        if f:
            assert (p == NO_CHANGE) == (o == NO_CHANGE), (k, p, o)
            assert p != CANNOT_CALCULATE, (k, p, o)
    # every disagreement is a significant trend whose direction the export reverses
    flips = {("Increasing and getting worse", "Decreasing and getting better"),
             ("Decreasing and getting better", "Increasing and getting worse")}
    disagreements = {(p, o) for (verdict, p, o) in table if verdict == "disagrees"}
    assert disagreements <= flips
    agree = sum(n for (verdict, _, _), n in table.items() if verdict == "agrees")
    disagree = sum(n for (verdict, _, _), n in table.items() if verdict == "disagrees")
    uncomputable = sum(n for (verdict, _, _), n in table.items() if verdict.startswith("not"))
    assert (agree, disagree, uncomputable) == (AGREE, DISAGREE, UNCOMPUTABLE)
    # our direction follows the values: a significant fall is "Decreasing", a rise "Increasing"
    for o, v in zip(ours, values, strict=True):
        last5 = v[np.isfinite(v)][-5:]
        if str(o).startswith("Decreasing"):
            assert last5[-1] < last5[0]
        if str(o).startswith("Increasing"):
            assert last5[-1] > last5[0]


AGREE, DISAGREE, UNCOMPUTABLE = 291, 288, 24  # of the 603 published labels
