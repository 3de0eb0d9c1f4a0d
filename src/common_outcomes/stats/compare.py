"""Comparisons, recent trends, quantiles and funnel plots, as OHID Fingertips computes them.

Every function mirrors a named public source; where the source has a quirk we kept or fixed,
the docstring says so. z values come from ``scipy.stats.norm.ppf(1 - (1 - level) / 2)``.

Sources read (public repositories):

- Compared with benchmark: ukhsa-collaboration/fingertips-open
  ``PholioVisualisationWS/Analysis/SingleOverlappingCIsComparer.cs`` (95% CI method),
  ``SingleOverlappingCIsForTwoCILevelsComparer.cs`` and its test
  ``PholioVisualisationWS/AnalysisTest/SingleOverlappingCIsForTwoCILevelsComparerTest.cs``,
  ``DoubleOverlappingCIsComparer.cs`` (+ ``AnalysisTest/DoubleOverlappingCIsComparerTest.cs``),
  ``IndicatorComparer.cs`` (polarity), and the label text in the front end's
  ``SignificanceFormatter`` ('Better', 'Similar', 'Worse', 'Best', 'Worst', 'Higher', 'Lower',
  'Not compared').
- Recent trend: fingertips-open ``PholioVisualisationWS/Analysis/TrendMarkers/
  TrendMarkerCalculator.cs`` and ``TrendRequest.cs``; dhsc-govuk/FingertipsNext
  ``trend-analysis/TrendAnalysisApp/Calculator/Legacy/TrendMarkerCalculator.cs``,
  ``TrendRequest.cs``, ``Mapper/LegacyMapper.cs`` and the unit tests
  ``TrendAnalysisApp.UnitTests/Calculator/TrendCalculatorTests.cs`` / ``IndicatorTestData.cs``
  (polarity wording: ``TrendCalculator.AdjustForPolarity``).
- Quantiles: ukhsa-collaboration/PHEindicatormethods ``R/Quantiles.R`` (``phe_quantile``).
- Funnels: PHEindicatormethods ``R/Funnels.R`` (``sigma_adjustment``, ``phe_funnels`` /
  ``calculate_funnel_limits``, ``phe_funnel_significance`` / ``assign_funnel_significance``) and
  ``R/utils.R`` (``poisson_funnel``, ``funnel_ratio_significance``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from common_outcomes.stats import special

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]

Polarity = Literal["high_is_good", "low_is_good", "no_judgement"]
POLARITIES: tuple[str, ...] = ("high_is_good", "low_is_good", "no_judgement")

BETTER, SIMILAR, WORSE = "Better", "Similar", "Worse"
BEST, WORST = "Best", "Worst"
HIGHER, LOWER = "Higher", "Lower"
NOT_COMPARED = "Not compared"

INCREASING_BETTER = "Increasing and getting better"
INCREASING_WORSE = "Increasing and getting worse"
DECREASING_BETTER = "Decreasing and getting better"
DECREASING_WORSE = "Decreasing and getting worse"
INCREASING, DECREASING = "Increasing", "Decreasing"
NO_CHANGE = "No significant change"
CANNOT_CALCULATE = "Cannot be calculated"

TREND_POINTS = 5  # TrendMarkerCalculator.PointsToUse
TREND_LEVEL = 0.998  # ChiSquareConfidence = 9.54953570608324 = chi2.ppf(0.998, df=1)
# A 95% interval's width in standard errors, as TrendMarkerCalculator hard-codes it (2 x 1.96,
# not 2 x norm.ppf(0.975) = 3.919928): chi^2 is then Fingertips' own to the last digit.
CI95_WIDTH_IN_SE = 3.92


def z_for(level: float) -> float:
    """Two-sided z for a confidence level (0.95 -> 1.959964...)."""
    return float(special().ndtri(1 - (1 - level) / 2))


def _f(x: npt.ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def _check_polarity(polarity: str) -> None:
    if polarity not in POLARITIES:
        raise ValueError(f"polarity must be one of {', '.join(POLARITIES)}; got {polarity!r}")


def _direction_labels(polarity: str) -> tuple[str, str]:
    """(label when the area is above the benchmark, label when below)."""
    _check_polarity(polarity)
    if polarity == "high_is_good":
        return BETTER, WORSE
    if polarity == "low_is_good":
        return WORSE, BETTER
    return HIGHER, LOWER


# --------------------------------------------------------------------------------------------
# Compared with benchmark
# --------------------------------------------------------------------------------------------


def compare_to_benchmark(
    lower: npt.ArrayLike,
    upper: npt.ArrayLike,
    benchmark: npt.ArrayLike,
    polarity: str,
    value: npt.ArrayLike | None = None,
) -> StrArray:
    """Fingertips' "compared with benchmark" by the area's 95% interval (one CI level).

    ``SingleOverlappingCIsComparer``: the benchmark *value* inside the area's interval,
    limits included (``val <= UpperCI && val >= LowerCI``), is "Similar"; otherwise the area
    is "Better"/"Worse" by polarity ("Higher"/"Lower" for no judgement, Fingertips'
    blue-orange-blue). The side is decided by ``value < benchmark`` when ``value`` is given,
    as Fingertips does; without it, by which side of the interval the benchmark lies.
    "Not compared" when a limit, the benchmark or a given value is missing (NaN).
    """
    lo, up, bm = np.broadcast_arrays(_f(lower), _f(upper), _f(benchmark))
    above, below = _direction_labels(polarity)
    missing = ~(np.isfinite(lo) & np.isfinite(up) & np.isfinite(bm))
    if value is None:
        area_below = bm > up
    else:
        v = np.broadcast_to(_f(value), lo.shape)
        missing |= ~np.isfinite(v)
        area_below = v < bm
    with np.errstate(invalid="ignore"):
        inside = (bm <= up) & (bm >= lo)
    out = np.where(area_below, below, above).astype(object)
    out[inside] = SIMILAR
    out[missing] = NOT_COMPARED
    return out.astype(str)


def compare_two_level(
    lower95: npt.ArrayLike,
    upper95: npt.ArrayLike,
    lower998: npt.ArrayLike,
    upper998: npt.ArrayLike,
    benchmark: npt.ArrayLike,
    polarity: str,
    value: npt.ArrayLike | None = None,
) -> StrArray:
    """Fingertips' 95% / 99.8% comparison ("single overlapping CIs for two CI levels", RAG5).

    Benchmark inside the 95% interval: "Similar". Outside the 95% but inside the 99.8%
    interval: "Better"/"Worse". Outside the 99.8% interval: "Best"/"Worst" - the label text
    of fingertips-open's ``SignificanceFormatter`` (the legend shows them as better/worse at
    99.8%). Direction and polarity follow ``SingleOverlappingCIsForTwoCILevelsComparerTest``
    at fingertips-open 678089724a (benchmark 2.4 below an interval 2.5-2.7 with 99.8% limits
    2.3-2.9: "Better" when high is good, "Worse" when low is good). The comparer class stored
    at bffd3f011c labels the 95%-only bands the other way round; its newer test shows that was
    a defect, so we follow the test. No judgement: "Higher"/"Lower" at either level (the
    formatter has no blue-orange-blue text for the 99.8% level). Any limit missing:
    "Not compared" (the comparer needs both CI levels valid).
    """
    l95, u95, l998, u998, bm = np.broadcast_arrays(
        _f(lower95), _f(upper95), _f(lower998), _f(upper998), _f(benchmark)
    )
    _check_polarity(polarity)
    missing = ~(
        np.isfinite(l95) & np.isfinite(u95) & np.isfinite(l998) & np.isfinite(u998)
        & np.isfinite(bm)
    )
    if value is None:
        area_below = bm > u95
    else:
        v = np.broadcast_to(_f(value), bm.shape)
        missing |= ~np.isfinite(v)
        area_below = v < bm
    with np.errstate(invalid="ignore"):
        inside95 = (bm <= u95) & (bm >= l95)
        inside998 = (bm <= u998) & (bm >= l998)
    if polarity == "no_judgement":
        up1 = up2 = HIGHER
        down1 = down2 = LOWER
    elif polarity == "high_is_good":
        up1, up2, down1, down2 = BETTER, BEST, WORSE, WORST
    else:
        up1, up2, down1, down2 = WORSE, WORST, BETTER, BEST
    out = np.where(
        area_below, np.where(inside998, down1, down2), np.where(inside998, up1, up2)
    ).astype(object)
    out[inside95] = SIMILAR
    out[missing] = NOT_COMPARED
    return out.astype(str)


def compare_overlap(
    l1: npt.ArrayLike,
    u1: npt.ArrayLike,
    l2: npt.ArrayLike,
    u2: npt.ArrayLike,
    polarity: str,
    v1: npt.ArrayLike | None = None,
    v2: npt.ArrayLike | None = None,
) -> StrArray:
    """Fingertips' "double overlapping CIs": area 1 (l1-u1) against comparator 2 (l2-u2).

    ``DoubleOverlappingCIsComparer``: intervals that overlap, touching included, are
    "Similar"; otherwise the area is "Better"/"Worse" by polarity (area value below the
    comparator's: "Worse" when high is good). Values default to the interval mid-points;
    missing limits give "Not compared".
    """
    a_lo, a_up, c_lo, c_up = np.broadcast_arrays(_f(l1), _f(u1), _f(l2), _f(u2))
    above, below = _direction_labels(polarity)
    a_v = (a_lo + a_up) / 2 if v1 is None else np.broadcast_to(_f(v1), a_lo.shape)
    c_v = (c_lo + c_up) / 2 if v2 is None else np.broadcast_to(_f(v2), a_lo.shape)
    missing = ~(
        np.isfinite(a_lo) & np.isfinite(a_up) & np.isfinite(c_lo) & np.isfinite(c_up)
        & np.isfinite(a_v) & np.isfinite(c_v)
    )
    with np.errstate(invalid="ignore"):
        # DoCIsOverlap(comparator, data)
        overlap = np.where(c_v < a_v, a_lo <= c_up, c_lo <= a_up)
    out = np.where(a_v < c_v, below, above).astype(object)
    out[overlap] = SIMILAR
    out[missing] = NOT_COMPARED
    return out.astype(str)


# --------------------------------------------------------------------------------------------
# Recent trend
# --------------------------------------------------------------------------------------------


def _polarised_trend(marker: npt.NDArray[np.int8], polarity: str) -> StrArray:
    """Marker codes (0 cannot, 1 up, 2 down, 3 no change) -> Fingertips wording."""
    _check_polarity(polarity)
    up, down = {
        "high_is_good": (INCREASING_BETTER, DECREASING_WORSE),
        "low_is_good": (INCREASING_WORSE, DECREASING_BETTER),
        "no_judgement": (INCREASING, DECREASING),
    }[polarity]
    table = np.array([CANNOT_CALCULATE, up, down, NO_CHANGE])
    out: StrArray = table[marker]
    return out


def _last_run(present: BoolArray, valid: BoolArray, unbroken: bool) -> BoolArray:
    """The valid points a trend may use (``TrendRequest.GetValidDataList``).

    FingertipsNext keeps every valid point ("Years don't need to be consecutive"); the older
    fingertips-open walks back from the latest record and stops at the first invalid one
    (``unbroken``). A period with no record at all (everything NaN) is never a break.
    """
    if not unbroken:
        return valid
    t = present.shape[1]
    broken = present & ~valid
    idx = np.arange(t)
    last_broken = np.where(broken, idx, -1).max(axis=1, initial=-1)
    run: BoolArray = valid & (idx[None, :] > last_broken[:, None])
    return run


def _take_last(mask: BoolArray, k: int) -> tuple[BoolArray, FloatArray]:
    """The k most recent True points per row and their position 1..m in time order."""
    from_end = np.cumsum(mask[:, ::-1], axis=1)[:, ::-1]
    chosen: BoolArray = mask & (from_end <= k)
    m = chosen.sum(axis=1, keepdims=True)
    counter = np.where(chosen, m - from_end + 1, 0).astype(np.float64)
    return chosen, counter


def _wls(values: FloatArray, se2: FloatArray, use: BoolArray, counter: FloatArray
         ) -> tuple[FloatArray, FloatArray]:
    """Slope and chi-squared of ``IsSignificant``/``NoOutliersCheck`` (weights 1/se^2)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(use, 1.0 / se2, 0.0)
        y = np.where(use, values, 0.0)
        s1 = w.sum(axis=1)
        s2 = (w * y * counter).sum(axis=1)
        s3 = (w * counter).sum(axis=1)
        s4 = (w * y).sum(axis=1)
        s5 = (w * counter**2).sum(axis=1)
        det = s1 * s5 - s3**2
        slope = (s1 * s2 - s3 * s4) / det
        beta = np.sqrt(s1 / det)
        chi2 = (slope / beta) ** 2
    return slope, chi2


def _ls_logit(logit: FloatArray, use: BoolArray, counter: FloatArray) -> FloatArray:
    """Unweighted least-squares slope of logits on 1..5 (``NoOutliersCheckForProportion``)."""
    with np.errstate(invalid="ignore"):
        n = use.sum(axis=1).astype(np.float64)
        y = np.where(use, logit, 0.0)
        t = np.where(use, counter, 0.0)
        slope: FloatArray = (n * (y * t).sum(axis=1) - y.sum(axis=1) * t.sum(axis=1)) / (
            n * (t**2).sum(axis=1) - t.sum(axis=1) ** 2
        )
    return slope


def _chi2_for_trend(num: FloatArray, den: FloatArray, use: BoolArray, counter: FloatArray
                    ) -> tuple[FloatArray, FloatArray]:
    """Chi-squared for trend in proportions (``IsSignificantForProportions``), and the
    statistic before it is squared (N Σrt - R Σnt), whose sign is the trend's direction."""
    r = np.where(use, num, 0.0)
    n = np.where(use, den, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        big_n, big_r = n.sum(axis=1), r.sum(axis=1)
        rt, nt = (r * counter).sum(axis=1), (n * counter).sum(axis=1)
        nt2 = (n * counter**2).sum(axis=1)
        lead: FloatArray = big_n * rt - big_r * nt
        chi2: FloatArray = big_n * lead**2 / (
            big_r * (big_n - big_r) * (big_n * nt2 - nt**2))
    return chi2, lead


def _proportion_slope(logit: FloatArray, num: FloatArray, den: FloatArray, use: BoolArray,
                      counter: FloatArray) -> FloatArray:
    """The least-squares slope of the logits; where a count of 0 (or all) makes a logit
    infinite and the slope undefined, the chi-squared statistic's own direction instead (a
    series rising from 0 read as falling before)."""
    slope = _ls_logit(logit, use, counter)
    return np.where(np.isfinite(slope), slope, _chi2_for_trend(num, den, use, counter)[1])


def recent_trend(
    values_by_period: npt.ArrayLike,
    numerators: npt.ArrayLike,
    denominators: npt.ArrayLike,
    value_type: str,
    multiplier: float,
    polarity: str,
    *,
    lower95: npt.ArrayLike | None = None,
    upper95: npt.ArrayLike | None = None,
    use_proportion_method: bool | None = None,
    require_unbroken: bool = False,
) -> StrArray:
    """Fingertips' recent-trend marker, one label per series (row; columns oldest -> newest).

    Mirrors fingertips-open ``TrendMarkers/TrendMarkerCalculator.cs`` + ``TrendRequest.cs``
    (and the FingertipsNext copy under ``trend-analysis/.../Calculator/Legacy``):

    *Cannot be calculated* (``TrendRequest.IsValid``) when the series has fewer than 5
    records; or fewer than 5 valid points (valid: value present, count present, denominator
    > 0); or any valid point has count == denominator. There is no small-count threshold.
    Which valid points count: FingertipsNext's ``TrendRequest`` keeps all of them, skipping
    invalid years; fingertips-open's stops at the first invalid record back from the latest
    (``require_unbroken=True``). The published Fingertips export agrees with the former
    (Rutland, Male, 2023/24: a suppressed 2021/22 and "No significant change"). Only
    yearly, non-overlapping periods qualify - the caller's job; the value type must be a
    proportion or a rate (``value_type``).

    *Significance*, two methods (the technical guidance: proportions, everything else):

    - default (``IsSignificant``): the 5 most recent points of the run that have both 95%
      limits, weighted least squares of value on 1..5 with weights 1/SE^2, SE = (upper -
      lower) / (2 z95); chi^2 = (slope / SE(slope))^2 must exceed chi2.ppf(0.998, 1)
      (= 9.5495...) and the slope must keep its sign when each point in turn is dropped
      (``NoOutliersCheck``). 2 z95 is 3.92, as the C# hard-codes it (CI95_WIDTH_IN_SE).
    - proportions (``IsSignificantForProportions``, Fingertips' "SPC for proportions"
      comparator; ``use_proportion_method`` defaults to ``value_type == "proportion"``):
      chi-squared for trend from counts r and denominators n over t = 1..5,
      chi^2 = N (N Σrt - R Σnt)^2 / (R (N - R) (N Σnt^2 - (Σnt)^2)), with the same
      leave-one-out sign check on the least-squares slope of logit(r / (n - r)). The slope
      sign from that fit gives the direction: fingertips-open never assigns ``_slope`` on
      this path (so every significant proportion trend would read "Decreasing"); we take the
      sign the method computes.

    Significant: "Increasing"/"Decreasing" (slope > 0 is increasing), worded by polarity as
    FingertipsNext's ``AdjustForPolarity`` ("Increasing and getting worse" when low is good,
    ...); not significant: "No significant change". ``multiplier`` is accepted for the
    indicator's record but, as in the current Fingertips code, does not enter the test.
    """
    del multiplier  # kept in the signature: the published calculator does not use UnitValue
    vals = np.atleast_2d(_f(values_by_period))
    num = np.broadcast_to(np.atleast_2d(_f(numerators)), vals.shape)
    den = np.broadcast_to(np.atleast_2d(_f(denominators)), vals.shape)
    if value_type not in ("proportion", "rate"):
        raise ValueError(f"value_type must be 'proportion' or 'rate'; got {value_type!r}")
    _check_polarity(polarity)
    proportion_method = (
        value_type == "proportion" if use_proportion_method is None else use_proportion_method
    )
    present = np.isfinite(vals) | np.isfinite(num) | np.isfinite(den)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(vals) & np.isfinite(num) & (den > 0)
    run = _last_run(present, valid, require_unbroken)
    with np.errstate(invalid="ignore"):
        equal = (run & (num == den)).any(axis=1)
    can = (present.sum(axis=1) >= TREND_POINTS) & (run.sum(axis=1) >= TREND_POINTS) & ~equal
    crit = float(2 * special().gammaincinv(0.5, TREND_LEVEL))  # chi2.ppf(0.998, df=1)

    if proportion_method:
        usable = run
        if lower95 is not None and upper95 is not None:  # GetMostRecentData filters on CIs
            lo = np.broadcast_to(np.atleast_2d(_f(lower95)), vals.shape)
            up = np.broadcast_to(np.atleast_2d(_f(upper95)), vals.shape)
            usable = run & np.isfinite(lo) & np.isfinite(up)
        chosen, counter = _take_last(usable, TREND_POINTS)
        chi2, _ = _chi2_for_trend(num, den, chosen, counter)
        with np.errstate(divide="ignore", invalid="ignore"):
            logit = np.log(num / (den - num))
        slope = _proportion_slope(logit, num, den, chosen, counter)
        signs = np.where(slope < 0, -1, 1)
        for drop in range(1, TREND_POINTS + 1):
            keep = chosen & (counter != drop)
            signs = signs + np.where(_proportion_slope(logit, num, den, keep, counter) < 0,
                                     -1, 1)
    else:
        if lower95 is None or upper95 is None:
            raise ValueError("the recent trend of a non-proportion needs lower95 and upper95")
        lo = np.broadcast_to(np.atleast_2d(_f(lower95)), vals.shape)
        up = np.broadcast_to(np.atleast_2d(_f(upper95)), vals.shape)
        # GetMostRecentData: CIs present and value valid, 5 most recent of the run
        chosen, counter = _take_last(run & np.isfinite(lo) & np.isfinite(up), TREND_POINTS)
        se2 = ((up - lo) / CI95_WIDTH_IN_SE) ** 2
        slope, chi2 = _wls(vals, se2, chosen, counter)
        signs = np.where(slope < 0, -1, 1)
        for drop in range(1, TREND_POINTS + 1):
            drop_slope, _ = _wls(vals, se2, chosen & (counter != drop), counter)
            signs = signs + np.where(drop_slope < 0, -1, 1)

    no_outliers = np.abs(signs) == TREND_POINTS + 1
    with np.errstate(invalid="ignore"):
        significant = no_outliers & (chi2 > crit)
    marker = np.full(vals.shape[0], 3, dtype=np.int8)
    marker[significant & (slope > 0)] = 1
    marker[significant & ~(slope > 0)] = 2
    marker[~can] = 0
    return _polarised_trend(marker, polarity)


# --------------------------------------------------------------------------------------------
# Quantiles
# --------------------------------------------------------------------------------------------


def _rank_min(values: FloatArray) -> FloatArray:
    """Ranks with ties at the lowest rank (scipy.stats.rankdata(method="min"))."""
    ordered = np.sort(values)
    ranks: FloatArray = (np.searchsorted(ordered, values, side="left") + 1).astype(np.float64)
    return ranks


def quantiles(
    values: npt.ArrayLike, n: int, polarity: str, *, invert: bool | None = None
) -> FloatArray:
    """PHEindicatormethods ``phe_quantile`` (R/Quantiles.R), one group at a time.

    NaN values get no quantile and do not count. With fewer valued areas than ``n`` every
    quantile is NaN. Otherwise: rank with ties at the minimum rank (R ``ties.method="min"``)
    of ``max(values) - values`` when inverted, else of ``values``; quantile =
    floor((n + 1) - ceiling(((N + 1) - rank) / (N / n))), and 0 becomes 1.

    ``invert`` defaults from polarity so that quantile 1 is always the worst end: low is good
    -> inverted (highest values in quantile 1, like the package default and IMD decile 1 =
    most deprived); high is good -> lowest values in quantile 1; no judgement -> lowest values
    in quantile 1 (Fingertips' own quintile categories count up from the lowest values).
    """
    v = _f(values)
    _check_polarity(polarity)
    if invert is None:
        invert = polarity == "low_is_good"
    has = np.isfinite(v)
    count = int(has.sum())
    out = np.full(v.shape, np.nan)
    if count < n or count == 0:
        return out
    adj = np.nanmax(v) - v if invert else v
    ranks = _rank_min(np.where(has, adj, np.inf))
    q = np.floor((n + 1) - np.ceil(((count + 1) - ranks) / (count / n)))
    q[q == 0] = 1
    out[has] = q[has]
    return out


# --------------------------------------------------------------------------------------------
# Funnel plots
# --------------------------------------------------------------------------------------------


def _sigma_adjustment(p: float, population: FloatArray, average: float, side: str
                      ) -> FloatArray:
    """``sigma_adjustment`` of R/Funnels.R, on the 0-1 scale."""
    z2 = special().ndtri(p) ** 2
    first = average * (population / z2 + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        adj = np.sqrt(
            (-8 * average * (population / z2 + 1)) ** 2
            - 64 * (1 / z2 + 1 / population) * average
            * (population * (average * (population / z2 + 2) - 1) + z2 * (average - 1))
        )
        last = 1 / z2 + 1 / population
        limit = (first - adj / 8) / last if side == "low" else (first + adj / 8) / last
        result: FloatArray = limit / population
    return result


def funnel_limits_proportion(
    denominators: npt.ArrayLike,
    benchmark_proportion: float,
    confidence: float = 0.95,
    multiplier: float = 1.0,
) -> tuple[FloatArray, FloatArray]:
    """Control limits of a proportion funnel at each denominator (R/Funnels.R).

    ``sigma_adjustment(p, population, average_proportion, side)`` with p = 1 - (1 -
    confidence) / 2 (0.975 and 0.999 in the package): the Wilson-score limits around the
    benchmark. Returned on the multiplier's scale (1 = proportion, 100 = percentage) and
    clipped to [0, multiplier] as ``phe_funnels`` clips to [0, 100].
    """
    pop = _f(denominators)
    p = 1 - (1 - confidence) / 2
    lo = _sigma_adjustment(p, pop, benchmark_proportion, "low") * multiplier
    hi = _sigma_adjustment(p, pop, benchmark_proportion, "high") * multiplier
    return np.clip(lo, 0, multiplier), np.clip(hi, 0, multiplier)


def _poisson_event_limits(expected: FloatArray, confidence: float
                          ) -> tuple[FloatArray, FloatArray]:
    """Observed counts o on the edge of significance for a Poisson mean ``expected``.

    PHEindicatormethods ``poisson_funnel(obs, p, side)`` finds, for an integer count, the mean
    E with P(X <= obs | E) = p ("high") or P(X >= obs | E) = p ("low"); ``phe_funnels``
    plots obs / E. Here the same curve is evaluated at a given E: o solves
    Q(o + 1, E) = p (lower) and P(o, E) = p (upper) with the regularised incomplete gamma
    functions (continuous in o), so (E, o / E) lies on the package's curve. Solved by
    vectorised bisection to machine precision.
    """
    p = (1 - confidence) / 2
    e = _f(expected)
    hi_bound = e + 40 * np.sqrt(e) + 100

    def solve(f: object, increasing: bool) -> FloatArray:
        lo_o, hi_o = np.zeros_like(e), hi_bound.copy()
        for _ in range(200):
            mid = (lo_o + hi_o) / 2
            val = f(mid)  # type: ignore[operator]
            go_up = (val < p) if increasing else (val > p)
            lo_o = np.where(go_up, mid, lo_o)
            hi_o = np.where(go_up, hi_o, mid)
        out: FloatArray = (lo_o + hi_o) / 2
        return out

    lower = solve(lambda o: special().gammaincc(o + 1, e), increasing=True)
    lower = np.where(np.exp(-e) >= p, 0.0, lower)  # even 0 events is not significant
    upper = solve(lambda o: special().gammainc(np.maximum(o, 1e-300), e), increasing=False)
    return lower, upper


def funnel_limits_ratio(
    expected: npt.ArrayLike, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Control limits of an observed/expected ratio funnel at each expected count.

    The exact-Poisson curve of ``phe_funnels(statistic = "ratio")`` (R/Funnels.R with
    ``poisson_funnel`` in R/utils.R), re-parametrised by expected events: the package tabulates
    integer observed counts O against O / E*(O); this returns the ratio limits at any E.
    Ratios are plain O/E (the package's ``ratio_type = "isr"`` multiplies by 100, ``"count"``
    subtracts 1).
    """
    e = _f(expected)
    lo, hi = _poisson_event_limits(e, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        return lo / e, hi / e


def funnel_limits_rate(
    denominators: npt.ArrayLike,
    benchmark_rate: float,
    multiplier: float,
    confidence: float = 0.95,
) -> tuple[FloatArray, FloatArray]:
    """Control limits of a rate funnel (per ``multiplier``) at each denominator (person-years).

    ``phe_funnels(statistic = "rate")``: expected events = denominator x benchmark rate /
    multiplier, exact Poisson limits on the events, back to a rate. The package's
    ``years_of_data`` only rescales the population axis for display (population per year).
    """
    n = _f(denominators)
    av = benchmark_rate / multiplier
    lo, hi = _poisson_event_limits(n * av, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        return lo / n * multiplier, hi / n * multiplier


def _ratio_ci(obs: FloatArray, level: float, side: str) -> FloatArray:
    """``funnel_ratio_significance`` numerator: exact (< 10 events) or Byar's limits."""
    z = special().ndtri(0.5 + level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if side == "low":
            exact = special().gammainccinv(obs, 0.5 + level / 2)  # chi2.isf(q, 2 obs) / 2
            byar = obs * (1 - 1 / (9 * obs) - z / 3 / np.sqrt(obs)) ** 3
            res = np.where(obs < 10, exact, byar)
            res = np.where(obs == 0, 0.0, res)
        else:
            exact = special().gammaincinv(obs + 1, 0.5 + level / 2)  # chi2.ppf(q, 2 obs + 2) / 2
            o1 = obs + 1
            byar = o1 * (1 - 1 / (9 * o1) + z / 3 / np.sqrt(o1)) ** 3
            res = np.where(obs < 10, exact, byar)
    out: FloatArray = res
    return out


def funnel_significance(
    numerators: npt.ArrayLike,
    denominators: npt.ArrayLike,
    statistic: str = "proportion",
    *,
    rate: npt.ArrayLike | None = None,
    rate_type: str | None = None,
    multiplier: float | None = None,
    levels: tuple[float, float] = (0.95, 0.998),
) -> StrArray:
    """``phe_funnel_significance`` / ``assign_funnel_significance`` (R/Funnels.R).

    Labels "High (0.001)", "High (0.025)", "Low (0.001)", "Low (0.025)", "Not significant"
    (and, for DSRs with fewer than 10 events, "Not applicable for events less than 10 for
    dsrs"), checked outer level first. The benchmark is the data's own average, sum of
    numerators over sum of denominators, as in the package.

    - proportion: the point's proportion against ``sigma_adjustment`` limits.
    - ratio (numerators observed, denominators expected): 1 against the point's exact/Byar's
      interval for O/E (``funnel_ratio_significance``).
    - rate: denominators derived as numerator / rate x multiplier (for crude rates with 0
      events, the given denominator; for DSRs with 0 events, none); the weighted average
      against the point's interval.
    """
    num = _f(numerators)
    den = _f(denominators)
    inner, outer = levels
    tag_outer = f"({(1 - outer) / 2:.3f})"
    tag_inner = f"({(1 - inner) / 2:.3f})"
    if np.any(num < 0):
        raise ValueError("numerators must be greater than or equal to zero")
    if np.any(den <= 0):
        raise ValueError("denominators must be greater than zero")
    out = np.full(num.shape, "Not significant", dtype=object)
    if statistic == "proportion":
        if np.any(num > den):
            raise ValueError("numerators must be less than or equal to denominator")
        average = float(num.sum() / den.sum())
        prop = num / den
        hi_o = _sigma_adjustment(1 - (1 - outer) / 2, den, average, "high")
        hi_i = _sigma_adjustment(1 - (1 - inner) / 2, den, average, "high")
        lo_o = _sigma_adjustment(1 - (1 - outer) / 2, den, average, "low")
        lo_i = _sigma_adjustment(1 - (1 - inner) / 2, den, average, "low")
        conds = [(prop < lo_o, f"Low {tag_outer}"), (prop < lo_i, f"Low {tag_inner}"),
                 (prop > hi_o, f"High {tag_outer}"), (prop > hi_i, f"High {tag_inner}")]
    elif statistic in ("ratio", "rate"):
        if statistic == "ratio":
            expected, target = den, np.ones_like(num)
        else:
            if rate is None or rate_type not in ("dsr", "crude") or multiplier is None:
                raise ValueError("rates need rate, rate_type ('dsr' or 'crude') and multiplier")
            r = _f(rate)
            with np.errstate(divide="ignore", invalid="ignore"):
                derived = num / r * multiplier
            zero = rate_type == "crude"
            derived = np.where(num == 0, den if zero else np.nan, derived)
            average = float(num.sum() / np.nansum(derived))
            expected, target = derived, np.full(num.shape, average)
        with np.errstate(divide="ignore", invalid="ignore"):
            low_o = _ratio_ci(num, outer, "low") / expected
            low_i = _ratio_ci(num, inner, "low") / expected
            up_o = _ratio_ci(num, outer, "high") / expected
            up_i = _ratio_ci(num, inner, "high") / expected
        conds = [(target < low_o, f"High {tag_outer}"), (target < low_i, f"High {tag_inner}"),
                 (target > up_o, f"Low {tag_outer}"), (target > up_i, f"Low {tag_inner}")]
    else:
        raise ValueError("statistic must be 'proportion', 'ratio' or 'rate'")
    decided = np.zeros(num.shape, dtype=bool)
    for cond, label in conds:
        hit = np.asarray(cond, dtype=bool) & ~decided
        out[hit] = label
        decided |= hit
    if statistic == "rate" and rate_type == "dsr":
        out[num < 10] = "Not applicable for events less than 10 for dsrs"
    return out.astype(str)
