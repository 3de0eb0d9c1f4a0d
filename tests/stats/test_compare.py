"""Comparisons, recent trends, quantiles and funnels against the public sources' own tests.

Sources: ukhsa-collaboration/fingertips-open PholioVisualisationWS/AnalysisTest
(DoubleOverlappingCIsComparerTest.cs, SingleOverlappingCIsForTwoCILevelsComparerTest.cs,
TrendMarkerCalculatorTest.cs); dhsc-govuk/FingertipsNext trend-analysis/
TrendAnalysisApp.UnitTests/Calculator (TrendCalculatorTests.cs, IndicatorTestData.cs, values as
published on Fingertips); PHEindicatormethods R/Quantiles.R, R/Funnels.R and R/utils.R.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats  # type: ignore[import-untyped]

from common_outcomes.stats.compare import (
    CI95_WIDTH_IN_SE,
    _chi2_for_trend,
    _take_last,
    _wls,
    compare_overlap,
    compare_to_benchmark,
    compare_two_level,
    funnel_limits_proportion,
    funnel_limits_rate,
    funnel_limits_ratio,
    funnel_significance,
    quantiles,
    recent_trend,
    z_for,
)

NAN = float("nan")

# --- compared with benchmark ----------------------------------------------------------------


def test_single_ci_method_limits_inclusive_and_polarity() -> None:
    lower, upper = [2.0, 2.0, 2.0, 2.0, 2.0], [3.0, 3.0, 3.0, 3.0, 3.0]
    benchmark = [2.0, 3.0, 1.9, 3.1, 2.5]  # on a limit counts as inside (val <= UpperCI ...)
    assert compare_to_benchmark(lower, upper, benchmark, "high_is_good").tolist() == [
        "Similar", "Similar", "Better", "Worse", "Similar"]
    assert compare_to_benchmark(lower, upper, benchmark, "low_is_good").tolist() == [
        "Similar", "Similar", "Worse", "Better", "Similar"]
    assert compare_to_benchmark(lower, upper, benchmark, "no_judgement").tolist() == [
        "Similar", "Similar", "Higher", "Lower", "Similar"]


def test_single_ci_method_not_compared_when_anything_is_missing() -> None:
    out = compare_to_benchmark([NAN, 1, 1, 1], [2, NAN, 2, 2], [5, 5, NAN, 5], "low_is_good",
                               value=[1.5, 1.5, 1.5, NAN])
    assert out.tolist() == ["Not compared"] * 4
    with pytest.raises(ValueError, match="polarity"):
        compare_to_benchmark([1], [2], [3], "rag")


def test_double_overlapping_cis_fingertips_open_cases() -> None:
    # DoubleOverlappingCIsComparerTest: polarity 0 is RagLowIsGood
    d1, d2 = (3.0, 2.7, 3.6), (4.0, 3.5, 4.5)
    assert compare_overlap(d2[1], d2[2], d1[1], d1[2], "low_is_good", d2[0], d1[0]) == "Similar"
    assert compare_overlap(d1[1], d1[2], d2[1], d2[2], "low_is_good", d1[0], d2[0]) == "Similar"
    d1 = (3.0, 2.7, 3.1)
    assert compare_overlap(d2[1], d2[2], d1[1], d1[2], "low_is_good", d2[0], d1[0]) == "Worse"
    assert compare_overlap(d1[1], d1[2], d2[1], d2[2], "low_is_good", d1[0], d2[0]) == "Better"
    assert compare_overlap(NAN, 3.1, 3.5, 4.5, "low_is_good") == "Not compared"


@pytest.mark.parametrize(
    ("benchmark", "low_is_good", "high_is_good"),
    [(3.0, "Best", "Worst"), (2.8, "Better", "Worse"), (2.6, "Similar", "Similar"),
     (2.4, "Worse", "Better"), (2.2, "Worst", "Best")],
)
def test_two_ci_levels_fingertips_open_cases(benchmark: float, low_is_good: str,
                                             high_is_good: str) -> None:
    # SingleOverlappingCIsForTwoCILevelsComparerTest at fingertips-open 678089724a
    args = (2.5, 2.7, 2.3, 2.9, benchmark)
    assert compare_two_level(*args, "low_is_good", value=2.6) == low_is_good
    assert compare_two_level(*args, "high_is_good", value=2.6) == high_is_good
    assert compare_two_level(*args, "high_is_good") == high_is_good


def test_two_ci_levels_missing_and_no_judgement() -> None:
    assert compare_two_level(2.5, 2.7, NAN, 2.9, 2.6, "high_is_good") == "Not compared"
    out = compare_two_level([2.5] * 3, [2.7] * 3, [2.3] * 3, [2.9] * 3, [3.0, 2.4, 2.6],
                            "no_judgement")
    assert out.tolist() == ["Lower", "Higher", "Similar"]


# --- recent trend ---------------------------------------------------------------------------

# fingertips-open TrendMarkerCalculatorTest GetTrendData_Set1 (oldest first)
SET1 = {
    "count": [994, 1023, 1199, 1332, 1367], "denom": [40299, 41527, 42811, 44064, 44701],
    "value": [24.67, 24.6, 28, 30.2, 30.6], "lower": [23.16, 23.15, 26.44, 28.63, 28.98],
    "upper": [26.25, 26.19, 29.64, 31.9, 32.25],
}
SET2 = {
    "count": [209, 213, 213, 239, 210], "denom": [1017, 1087, 1119, 1117, 1139],
    "value": [20.5506, 19.5952, 19.0349, 21.3966, 18.4372],
    "lower": [18.1803, 17.3444, 16.8421, 19.0918, 16.2925],
    "upper": [23.1427, 22.0602, 21.4394, 23.8975, 20.7941],
}


def _trend(data: dict[str, list[float]], value_type: str, polarity: str, **kw: object) -> str:
    out = recent_trend([data["value"]], [data["count"]], [data["denom"]], value_type, 100,
                       polarity, lower95=[data["lower"]], upper95=[data["upper"]],
                       **kw)
    return str(out[0])


def weighted_trend_chi2(values: list[float], lower: list[float], upper: list[float],
                        ci_width_in_se: float) -> float:
    """Fingertips' technical guidance, recent trend for values with intervals: weighted
    least squares of the value on time 1..5, weights 1/SE^2 with SE = (upper - lower) /
    width; chi^2 = slope^2 / var(slope), from the normal equations in matrix form."""
    t = np.arange(1.0, len(values) + 1)
    se = (np.asarray(upper) - np.asarray(lower)) / ci_width_in_se
    x = np.column_stack([np.ones_like(t), t])
    w = np.diag(1 / se**2)
    covariance = np.linalg.inv(x.T @ w @ x)
    slope = (covariance @ x.T @ w @ np.asarray(values))[1]
    return float(slope**2 / covariance[1, 1])


def test_fingertips_open_trend_statistics() -> None:
    """The published method with Fingertips' 2 x 1.96 = 3.92 gives its own test's 46.77
    (TestIsSignificantReturnsTrue); 2 x norm.ppf(0.975) = 3.919928 would give 46.76, the
    figure this test once copied from our output. Ours is the published one exactly."""
    expected = weighted_trend_chi2(SET1["value"], SET1["lower"], SET1["upper"], 3.92)
    assert round(expected, 2) == 46.77
    assert round(weighted_trend_chi2(SET1["value"], SET1["lower"], SET1["upper"],
                                     2 * float(stats.norm.ppf(0.975))), 2) == 46.76
    chosen, counter = _take_last(np.ones((1, 5), dtype=bool), 5)
    v, lo, up = (np.array([SET1[k]]) for k in ("value", "lower", "upper"))
    _, chi2 = _wls(v, ((up - lo) / CI95_WIDTH_IN_SE) ** 2, chosen, counter)
    assert float(chi2[0]) == pytest.approx(expected, rel=1e-12)
    chi2p, _ = _chi2_for_trend(np.array([SET1["count"]], dtype=float),
                            np.array([SET1["denom"]], dtype=float), chosen, counter)
    assert round(float(chi2p[0]), 1) == 47.9  # TestIsSignificantForProportionsReturnsTrue
    assert math.isclose(stats.chi2.ppf(0.998, 1), 9.54953570608324, rel_tol=1e-12)


def test_fingertips_open_trend_markers() -> None:
    assert _trend(SET1, "proportion", "no_judgement", use_proportion_method=False) == "Increasing"
    assert _trend(SET1, "proportion", "no_judgement") == "Increasing"
    assert _trend(SET2, "proportion", "high_is_good", use_proportion_method=False) == (
        "No significant change")
    # GetTrendDataForProportion_Set2: count == denominator -> CannotBeCalculated
    tiny = {"count": [5, 3, 1, 1, 2], "denom": [5, 5, 5, 4, 4], "value": [100, 60, 20, 25, 50],
            "lower": [0] * 5, "upper": [0] * 5}
    assert _trend(tiny, "proportion", "high_is_good") == "Cannot be calculated"


Point = tuple[int, float, float, float | None, float | None, float]


def _fnext(points: list[Point], value_type: str, polarity: str,
           proportions: bool = False) -> str:
    points = sorted(points, key=lambda p: p[0])  # (year, count, value, lower, upper, denom)
    count = [p[1] for p in points]
    value = [p[2] for p in points]
    lower = [NAN if p[3] is None else p[3] for p in points]
    upper = [NAN if p[4] is None else p[4] for p in points]
    denom = [p[5] for p in points]
    out = recent_trend([value], [count], [denom], value_type, 100, polarity, lower95=[lower],
                       upper95=[upper], use_proportion_method=proportions)
    return str(out[0])


# FingertipsNext IndicatorTestData.cs: (year, count, value, lower, upper, denominator)
DIABETES: list[Point] = [(2024, 3938080, 7.6554, 7.6481, 7.6669, 51441896),
            (2023, 3774801, 7.4528, 7.4456, 7.4643, 50649129),
            (2022, 3625401, 7.2571, 7.2499, 7.2684, 49956777),
            (2021, 3491868, 7.1085, 7.1013, 7.1199, 49122259),
            (2020, 3455176, 7.0826, 7.0754, 7.094, 48783947)]
GP_OVER_65: list[Point] = [(2024, 11246440, 17.7872, None, None, 63227624),
              (2023, 11034431, 17.6782, None, None, 62418295),
              (2022, 10851467, 17.6087, None, None, 61625745),
              (2021, 10547929, 17.3646, None, None, 60744002),
              (2020, 10588957, 17.5144, None, None, 60458658)]
MMR_YORKSHIRE: list[Point] = [(2024, 53185, 90.1013, 89.8578, 90.3396, 59028),
                 (2023, 51767, 90.017, 89.7694, 90.2594, 57508),
                 (2022, 53681, 90.8708, 90.6358, 91.1004, 59074),
                 (2021, 55865, 92.3221, 92.1072, 92.5315, 60511),
                 (2020, 57274, 92.6254, 92.4168, 92.8288, 61834)]
EYE_DISEASE: list[Point] = [(2024, 1502, 3.0121, 2.8616, 3.1683, 49866388),
               (2023, 1415, 2.8701, 2.7225, 3.0237, 49300918),
               (2022, 1344, 2.7567, 2.6113, 2.9082, 48753376),
               (2021, 935, 1.93028, 1.8085, 2.058, 48440507),
               (2020, 1416, 2.935, 2.7841, 3.0919, 48246126)]
CANCER_U75: list[Point] = [(2023, 59423, 0.0, 119.8035, 121.7507, 52380101),  # C# 120/7742 == 0
              (2022, 60192, 122.3782, 121.4012, 123.361, 51966274),
              (2021, 60202, 121.5234, 120.5533, 122.4993, 51653460),
              (2020, 61740, 125.829, 124.8371, 126.8268, 51530437),
              (2019, 61807, 126.9341, 125.9343, 127.94, 51510878)]


def test_fingertips_next_trend_calculator_cases() -> None:
    # expected markers are those the site showed (TrendCalculatorTests.cs)
    assert _fnext(DIABETES, "proportion", "no_judgement") == "Increasing"
    assert _fnext(DIABETES, "proportion", "no_judgement", True) == "Increasing"
    assert _fnext(GP_OVER_65, "proportion", "no_judgement") == "No significant change"
    assert _fnext(MMR_YORKSHIRE, "proportion", "high_is_good") == (
        "Decreasing and getting worse")
    assert _fnext(EYE_DISEASE, "rate", "low_is_good") == "Increasing and getting worse"
    assert _fnext(CANCER_U75, "rate", "low_is_good") == "Decreasing and getting better"
    # TestTrendCannotBeCalculatedWhenInsufficientDataPointsProvided: Skip(1)
    assert _fnext(CANCER_U75[1:], "rate", "low_is_good") == "Cannot be calculated"
    with pytest.raises(ValueError, match="value_type"):  # indirectly standardised: no trend
        _fnext(CANCER_U75, "indirectly standardised proportion", "low_is_good")


def test_trend_polarity_wording_and_vectorised_rows() -> None:
    up = SET1
    down = {k: v[::-1] for k, v in SET1.items()}
    values = [up["value"], down["value"]]
    args = ([up["count"], down["count"]], [up["denom"], down["denom"]], "rate", 100)
    ci = {"lower95": [up["lower"], down["lower"]], "upper95": [up["upper"], down["upper"]]}
    assert recent_trend(values, *args, "high_is_good", **ci).tolist() == [
        "Increasing and getting better", "Decreasing and getting worse"]
    assert recent_trend(values, *args, "low_is_good", **ci).tolist() == [
        "Increasing and getting worse", "Decreasing and getting better"]
    assert recent_trend(values, *args, "no_judgement", **ci).tolist() == [
        "Increasing", "Decreasing"]
    with pytest.raises(ValueError, match="lower95"):
        recent_trend(values, *args, "no_judgement")


def test_trend_missing_points_and_unbroken_rule() -> None:
    seven = {k: [v[0], *v, v[-1]] for k, v in SET1.items()}  # 7 points, all valid
    broken = {k: list(v) for k, v in seven.items()}
    broken["value"][4] = NAN  # a suppressed year inside the last five
    assert _trend(seven, "rate", "no_judgement") == "Increasing"
    # FingertipsNext: invalid years are skipped, 6 valid points remain
    assert _trend(broken, "rate", "no_judgement") != "Cannot be calculated"
    # fingertips-open: the run back from the latest stops at the suppressed year (2 points)
    assert _trend(broken, "rate", "no_judgement", require_unbroken=True) == (
        "Cannot be calculated")
    few = {k: v[:4] for k, v in SET1.items()}
    assert _trend(few, "rate", "no_judgement") == "Cannot be calculated"
    zero_denominator = {k: list(v) for k, v in SET1.items()}
    zero_denominator["denom"][2] = 0
    assert _trend(zero_denominator, "rate", "no_judgement") == "Cannot be calculated"


@pytest.mark.parametrize("counts", [[0, 40, 45, 60, 80], [80, 60, 45, 40, 0],
                                    [0, 0, 45, 60, 80]])
def test_a_proportion_trend_through_a_count_of_zero_follows_its_values(counts: list[int]
                                                                       ) -> None:
    """A count of 0 makes a logit infinite and the logits' slope undefined (it read as
    falling); the direction is then the chi-squared statistic's own, which follows the
    values' least-squares slope."""
    denominators = [500] * 5
    values = [100 * c / d for c, d in zip(counts, denominators, strict=True)]
    got = str(recent_trend([values], [counts], [denominators], "proportion", 100,
                           "no_judgement")[0])
    assert got in ("Increasing", "Decreasing")
    rising = np.polyfit(np.arange(5), values, 1)[0] > 0
    assert got == ("Increasing" if rising else "Decreasing")


# --- quantiles ------------------------------------------------------------------------------


def test_phe_quantile_formula_ties_and_missing() -> None:
    values = np.arange(1.0, 11.0)
    assert quantiles(values, 5, "low_is_good").tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert quantiles(values, 5, "high_is_good").tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # ties share the minimum rank (R ties.method = "min"), which pulls tied values down a
    # quantile: the package advises manual review when ties straddle a boundary
    q = quantiles([5, 5, 1, 2, 9, NAN], 2, "high_is_good")
    assert q[:5].tolist() == [1, 1, 1, 1, 2] and math.isnan(q[5])  # NaN: none, not counted
    assert quantiles([5, 5, 5, 1, 2], 2, "high_is_good").tolist() == [1, 1, 1, 1, 1]
    assert np.isnan(quantiles([1.0, 2.0, NAN], 3, "high_is_good")).all()
    assert quantiles(values, 10, "no_judgement", invert=True).tolist() == list(range(10, 0, -1))


# --- funnels --------------------------------------------------------------------------------


def _wilson(x: np.ndarray, n: np.ndarray, level: float, upper: bool) -> np.ndarray:
    z = z_for(level)
    sign = 1 if upper else -1
    return (2 * x + z**2 + sign * z * np.sqrt(z**2 + 4 * x * (1 - x / n))) / 2 / (n + z**2)


@pytest.mark.parametrize("level", [0.95, 0.998])
def test_proportion_funnel_is_the_wilson_interval_turned_round(level: float) -> None:
    n = np.array([50.0, 500.0, 5000.0, 50000.0])
    lo, hi = funnel_limits_proportion(n, 0.3, level)
    # an area on the lower limit has the benchmark as its Wilson upper limit, and vice versa
    np.testing.assert_allclose(_wilson(lo * n, n, level, upper=True), 0.3, rtol=1e-9)
    np.testing.assert_allclose(_wilson(hi * n, n, level, upper=False), 0.3, rtol=1e-9)
    lo100, hi100 = funnel_limits_proportion(n, 0.3, level, multiplier=100)
    np.testing.assert_allclose([lo100, hi100], [lo * 100, hi * 100])
    assert (np.diff(lo) > 0).all() and (np.diff(hi) < 0).all()


@pytest.mark.parametrize("level", [0.95, 0.998])
def test_ratio_funnel_lies_on_the_packages_poisson_curve(level: float) -> None:
    p = (1 - level) / 2
    observed = np.array([1.0, 4.0, 10.0, 57.0, 400.0])
    # poisson_funnel(obs, p, "high"): the mean with P(X <= obs) = p; "low": P(X >= obs) = p
    e_high = stats.chi2.ppf(1 - p, 2 * observed + 2) / 2
    e_low = stats.chi2.ppf(p, 2 * observed) / 2
    lower, _ = funnel_limits_ratio(e_high, level)
    _, upper = funnel_limits_ratio(e_low, level)
    np.testing.assert_allclose(lower, observed / e_high, rtol=1e-8)
    np.testing.assert_allclose(upper, observed / e_low, rtol=1e-8)


def test_rate_funnel_is_the_ratio_funnel_scaled() -> None:
    denominators = np.array([1_000.0, 20_000.0, 300_000.0])
    lo, hi = funnel_limits_rate(denominators, 115.0, 10_000, 0.95)
    rlo, rhi = funnel_limits_ratio(denominators * 115.0 / 10_000, 0.95)
    np.testing.assert_allclose(lo, rlo * 115.0)
    np.testing.assert_allclose(hi, rhi * 115.0)
    assert (lo < 115).all() and (hi > 115).all()


def test_funnel_significance_labels() -> None:
    # R/Funnels.R @examples data
    num = [10232, 12321, 15123, 13213]
    den = [15232, 16123, 17932, 18475]
    assert funnel_significance(num, den).tolist() == [
        "Low (0.001)", "High (0.001)", "High (0.001)", "Low (0.001)"]
    ratio = funnel_significance([5, 30, 100, 100], [5.0, 20.0, 80.0, 100.0], "ratio")
    assert ratio.tolist() == ["Not significant", "High (0.025)", "High (0.025)",
                              "Not significant"]
    dsr = funnel_significance([5, 200, 400], [1000, 100_000, 100_000], "rate",
                              rate=[500.0, 200.0, 400.0], rate_type="dsr", multiplier=100_000)
    assert dsr[0] == "Not applicable for events less than 10 for dsrs"
    assert dsr[1].startswith("Low") and dsr[2].startswith("High")
    with pytest.raises(ValueError, match="denominators"):
        funnel_significance([1, 2], [3, 0])
    with pytest.raises(ValueError, match="less than or equal"):
        funnel_significance([5], [3])
