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

Recent Trend: published on the 2023/24 row of each series. Every row's label is reproduced
exactly, once one named rule is applied to the export (published_label_corrected, tested on
its own): its significant labels run against its own values ("Increasing and getting worse"
where the five values fall, and the reverse), so their direction is taken from the values'
slope. "Cannot be calculated" is published exactly where fewer than five valid points exist,
and "No significant change" stands as published.
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
    table: collections.Counter[tuple[str, str, str]] = collections.Counter()
    for k, p, o, f, v in zip(keys, published, ours, five, values, strict=True):
        # Each row's expectation from the export alone: its label, its values and its count
        # of valid points; our label must be exactly that.
        expected = published_label_corrected(p, v[np.isfinite(v)][-5:])
        assert (p == CANNOT_CALCULATE) == (not f), (k, p)
        assert str(o) == expected, (k, p, str(o), np.round(v[np.isfinite(v)][-5:], 1))
        table[(p, str(o))] += 1
    print("\npublished | ours | rows")
    for (p, o), n in sorted(table.items()):
        print(f"{p} | {o} | {n}")
    # Every kind of row is there: not computable, no change, and both directions.
    assert {p for p, _ in table} == {CANNOT_CALCULATE, NO_CHANGE, *REVERSED}


# The export's significant labels run against its own values: "Increasing and getting worse"
# where the five values fall, and the reverse (the issue that added this key reported it).
REVERSED = {"Increasing and getting worse": "Decreasing and getting better",
            "Decreasing and getting better": "Increasing and getting worse"}


def published_label_corrected(published: str, last5: np.ndarray) -> str:
    """What the export's label says once its direction is taken from its values: a
    significant label whose direction contradicts the least-squares slope of the five
    values is reversed; "No significant change" and "Cannot be calculated" stand."""
    if published not in REVERSED:
        return published
    rising = np.polyfit(np.arange(len(last5)), last5, 1)[0] > 0
    says_rising = published.startswith("Increasing")
    return published if rising == says_rising else REVERSED[published]


def test_the_exports_significant_labels_run_against_its_values() -> None:
    """The rule published_label_corrected applies: in the export, every significant label's
    direction is the opposite of its own five values' slope."""
    rows = _rows()
    series: dict[tuple[str, ...], list[dict[str, str]]] = collections.defaultdict(list)
    for r in rows:
        series[(r["Parent Code"], r["Area Code"], r["Sex"], r["Category"])].append(r)
    reversed_labels = 0
    for key, found in series.items():
        latest = [r for r in found if r["Time period"] == LATEST and r["Recent Trend"]]
        if not latest or latest[0]["Recent Trend"] not in REVERSED:
            continue
        values = [_num(r["Value"]) for r in sorted(found, key=lambda r: r["Time period"])]
        last5 = np.array([x for x in values if np.isfinite(x)][-5:])
        label = latest[0]["Recent Trend"]
        assert published_label_corrected(label, last5) == REVERSED[label], (key, label, last5)
        reversed_labels += 1
    assert reversed_labels > 100
    # ... and the rule leaves a label that agrees with its values alone.
    assert published_label_corrected("Increasing and getting worse",
                                     np.array([1.0, 2, 3, 4, 5])) == "Increasing and getting worse"
    assert published_label_corrected(NO_CHANGE, np.array([5.0, 4, 3, 2, 1])) == NO_CHANGE
