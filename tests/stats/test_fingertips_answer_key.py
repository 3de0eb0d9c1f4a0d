"""THE answer key: our crude rates and Byar's limits against a real Fingertips export.

The carried table fingertips-injury-admissions (reference/data/comparators/
la_hospital_admissions_2324.csv, every row of the published export, with the columns the
product reads, numbers exactly as exported) is Fingertips indicator 90284
(hospital admissions caused by injuries in children aged 0-14, crude rate per 10,000), every
upper-tier LA and England, 2010/11 to 2023/24, Persons/Male/Female.

Export precision (inspected): 2010/11 and 2011/12 print about 10 significant figures; later
years print 5 decimal places with trailing zeros dropped (a few England rows keep 10
significant figures). Some 5-decimal values are double-rounded (to 10 significant figures,
then to 5 places: 137.69830495 exports as 137.69831). A number therefore "matches" when it is
within half a unit of the 5th decimal place (or of the last printed place, if finer) plus half
a unit of the 10th significant figure. No row has a count below 10, so every interval is
Byar's (phe_rate's exact branch is not exercised by this key).
"""

from __future__ import annotations

import csv
import math
from collections import Counter

import numpy as np
import pytest

from common_outcomes import reference
from common_outcomes.stats.intervals import crude_rate

EXPORT = reference.path("fingertips-injury-admissions")
MULTIPLIER = 10000
UNPERTURBED_YEARS = {"2010/11", "2011/12"}
SHIFTS = (0, -1, 1, -2, 2)


def _rows() -> list[dict[str, str]]:
    with EXPORT.open(encoding="utf-8-sig", newline="") as f:
        return [r for r in csv.DictReader(f) if r["Count"] and r["Denominator"]]


def _tolerance(text: str) -> float:
    """Half a unit of the export's last place, allowing for its double rounding."""
    x = abs(float(text))
    decimals = len(text.split(".")[1]) if "." in text else 0
    sig10 = 0.5 * 10 ** (math.floor(math.log10(x)) + 1 - 10) if x else 0.0
    return 0.5 * 10 ** -max(decimals, 5) + sig10 + 1e-12 * x


def _matches(ours: float, text: str) -> bool:
    return abs(ours - float(text)) <= _tolerance(text)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return _rows()


def test_every_value_is_count_over_denominator_times_10000(rows: list[dict[str, str]]) -> None:
    counts = np.array([float(r["Count"]) for r in rows])
    dens = np.array([float(r["Denominator"]) for r in rows])
    value, _, _ = crude_rate(counts, dens, MULTIPLIER)
    exported = np.array([float(r["Value"]) for r in rows])
    bad = [f"{r['Time period']} {r['Area Name']} {r['Sex']} {r['Category']}: "
           f"{r['Count']}/{r['Denominator']} -> {ours!r}, exported {r['Value']}"
           for r, ours in zip(rows, value, strict=True) if not _matches(float(ours), r["Value"])]
    rel = np.abs(value - exported) / exported
    print(f"\nValue: {len(rows)} rows, max relative difference {rel.max():.2e} "
          f"(export rounding), {len(bad)} outside export precision")
    assert not bad, "\n".join(bad[:20])


def _classify(row: dict[str, str]) -> str:
    count = float(row["Count"])
    den = float(row["Denominator"])
    for k in SHIFTS:
        _, lower, upper = crude_rate([count + k], [den], MULTIPLIER, confidence=0.95)
        if (_matches(float(lower[0]), row["Lower CI 95.0 limit"])
                and _matches(float(upper[0]), row["Upper CI 95.0 limit"])):
            return "exact" if k == 0 else f"perturbed by {k:+d}"
    return "unexplained"


def _limits_998_match(row: dict[str, str], cls: str) -> bool:
    k = 0 if cls == "exact" else int(cls.removeprefix("perturbed by "))
    _, lower, upper = crude_rate([float(row["Count"]) + k], [float(row["Denominator"])],
                                 MULTIPLIER, confidence=0.998)
    return (_matches(float(lower[0]), row["Lower CI 99.8 limit"])
            and _matches(float(upper[0]), row["Upper CI 99.8 limit"]))


def test_every_interval_is_byars_for_the_count_or_a_disclosure_perturbed_count(
    rows: list[dict[str, str]],
) -> None:
    with_limits = [r for r in rows if r["Lower CI 95.0 limit"] and r["Upper CI 95.0 limit"]]
    classes = {id(r): _classify(r) for r in with_limits}
    table = Counter(classes.values())
    by_year = Counter((r["Time period"], classes[id(r)]) for r in with_limits)
    with_998 = [r for r in with_limits if r["Lower CI 99.8 limit"]]
    ok_998 = sum(_limits_998_match(r, classes[id(r)]) for r in with_998
                 if classes[id(r)] != "unexplained")

    print(f"\nFingertips 90284: {len(with_limits)} rows with a count and 95% limits")
    print(f"{'class':<16}{'rows':>7}")
    for name in ["exact", *(f"perturbed by {k:+d}" for k in SHIFTS[1:]), "unexplained"]:
        print(f"{name:<16}{table.get(name, 0):>7}")
    print(f"{'period':<10}" + "".join(f"{k:>8}" for k in ("exact", "-2", "-1", "+1", "+2")))
    for year in sorted({y for y, _ in by_year}):
        cells = [by_year.get((year, "exact"), 0)] + [
            by_year.get((year, f"perturbed by {k:+d}"), 0) for k in (-2, -1, 1, 2)]
        print(f"{year:<10}" + "".join(f"{c:>8}" for c in cells))
    print(f"99.8% limits: {ok_998} of {len(with_998)} match Byar's at the same count")

    exact = table["exact"]
    perturbed = sum(v for k, v in table.items() if k.startswith("perturbed"))
    assert len(with_limits) == 6787
    assert exact == 1741
    assert perturbed == 5046
    assert exact + perturbed == len(with_limits)
    assert table["unexplained"] == 0, [
        (r["Time period"], r["Area Name"], r["Sex"], r["Count"]) for r in with_limits
        if classes[id(r)] == "unexplained"][:20]
    early = [r for r in with_limits if r["Time period"] in UNPERTURBED_YEARS]
    assert early and all(classes[id(r)] == "exact" for r in early)
    assert ok_998 == len(with_998)


def test_redcar_and_cleveland_2012_13_is_byars_for_213(rows: list[dict[str, str]]) -> None:
    # the example (boys): exported count 215, interval is Byar's for 213
    row = next(r for r in rows if r["Area Name"] == "Redcar and Cleveland"
               and r["Time period"] == "2012/13" and r["Sex"] == "Male" and not r["Category"])
    assert row["Count"] == "215"
    assert _classify(row) == "perturbed by -2"
