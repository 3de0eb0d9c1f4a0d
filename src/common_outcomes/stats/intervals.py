"""Confidence intervals exactly as OHID computes them (PHEindicatormethods, Fingertips).

Every function is vectorised over numpy arrays and mirrors one function of the R package
PHEindicatormethods (ukhsa-collaboration/PHEindicatormethods), formula for formula:

- ``wilson``                -> ``wilson_lower`` / ``wilson_upper`` in R/utils.R (``phe_proportion``)
- ``byars``                 -> ``byars_lower`` / ``byars_upper`` in R/utils.R
- ``exact_poisson``         -> the ``qchisq`` branch of ``phe_rate`` in R/Rates.R
- ``poisson_count_limits``  -> the ``if_else(x < 10, exact, byars)`` rule of ``phe_rate``
- ``crude_rate``            -> ``phe_rate`` (R/Rates.R)
- ``dsr``                   -> ``phe_dsr`` / ``calculate_dsr`` and ``dsr_inner`` (R/DSR.R)
- ``isr``                   -> ``calculate_ISRatio`` / ``calculate_ISRate`` (R/ISR*.R)
- ``mean_ci``               -> ``phe_mean`` (R/Means.R)

Conventions. Inputs are array-like floats; outputs are float64 arrays broadcast to the
inputs' shape. NaN in, NaN out; a result that cannot be computed (zero denominator, a Byar's
lower limit that goes negative, a DSR on fewer than 10 events, a mean of fewer than two values)
is NaN, as the R package returns NA. Inputs the R package rejects with ``stop()`` (negative
counts, a numerator above its denominator, a confidence level outside 0.9-1 or 90-100) raise
``ValueError``. ``z = Phi^-1(1 - (1 - confidence) / 2)``, never the constant 1.96.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

# scipy.special, not scipy.stats: the same functions scipy.stats calls, at a third of the
# import time (the CLI starts in under two seconds on a borough).
from common_outcomes.stats import special

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "ISRResult",
    "byars",
    "crude_rate",
    "dsr",
    "exact_poisson",
    "expected_events",
    "isr",
    "mean_ci",
    "poisson_count_limits",
    "reference_rate",
    "wilson",
    "z_value",
]

#: phe_rate, calculate_ISRatio and calculate_ISRate use exact Poisson limits below this count
#: and Byar's from it (``if_else(x < 10, exact, byars)``); phe_dsr suppresses totals below it.
SMALL_COUNT = 10


def _confidence(confidence: float) -> float:
    """Validate and scale a confidence level as every PHEindicatormethods function does."""
    c = float(confidence)
    if not (0.9 <= c <= 1 or 90 <= c <= 100):
        raise ValueError("confidence level must be between 90 and 100 or between 0.9 and 1")
    return c / 100 if c >= 90 else c


def z_value(confidence: float) -> float:
    """The two-sided normal quantile: ``norm.ppf(1 - (1 - confidence) / 2)``."""
    c = _confidence(confidence)
    return float(special().ndtri(1 - (1 - c) / 2))


def _arr(values: npt.ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def _no_negative(values: FloatArray, what: str) -> None:
    if np.any(values < 0):  # NaN compares False, so missing values pass through
        raise ValueError(f"{what} must all be greater than or equal to zero")


def wilson(
    numerator: npt.ArrayLike, denominator: npt.ArrayLike, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Wilson score limits for a proportion, on the 0-1 scale.

    Mirrors PHEindicatormethods ``wilson_lower`` / ``wilson_upper`` (R/utils.R), used by
    ``phe_proportion`` (R/Proportions.R), method "Wilson"::

        lower, upper = (2x + z^2 -/+ z * sqrt(z^2 + 4x(1 - x/n))) / 2 / (n + z^2)

    At confidence 1 the limits are 0 and 1, as in R. A zero denominator gives NaN.
    """
    x = _arr(numerator)
    n = _arr(denominator)
    c = _confidence(confidence)
    _no_negative(x, "observed events")
    _no_negative(n, "sample sizes")
    if np.any(x > n):
        raise ValueError("numerators must be less than or equal to denominator for a Wilson score")
    shape = np.broadcast(x, n).shape
    if c == 1:
        nan = np.isnan(x) | np.isnan(n)
        return np.where(nan, np.nan, np.zeros(shape)), np.where(nan, np.nan, np.ones(shape))
    z = z_value(c)
    with np.errstate(divide="ignore", invalid="ignore"):
        root = z * np.sqrt(z**2 + 4 * x * (1 - (x / n)))
        lower = (2 * x + z**2 - root) / 2 / (n + z**2)
        upper = (2 * x + z**2 + root) / 2 / (n + z**2)
    bad = ~(n > 0)
    return np.where(bad, np.nan, lower), np.where(bad, np.nan, upper)


def byars(count: npt.ArrayLike, confidence: float = 0.95) -> tuple[FloatArray, FloatArray]:
    """Byar's approximation to the Poisson limits of an observed count.

    Mirrors PHEindicatormethods ``byars_lower`` / ``byars_upper`` (R/utils.R)::

        lower = x (1 - 1/(9x) - z / (3 sqrt(x)))^3          (NaN where negative, and at x = 0)
        upper = (x + 1) (1 - 1/(9(x + 1)) + z / (3 sqrt(x + 1)))^3
    """
    x = _arr(count)
    _no_negative(x, "observed events")
    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = x * (1 - 1 / (9 * x) - z / (3 * np.sqrt(x))) ** 3
        upper = (x + 1) * (1 - 1 / (9 * (x + 1)) + z / (3 * np.sqrt(x + 1))) ** 3
    lower = np.where(lower < 0, np.nan, lower)  # R: byars_lower[byars_lower < 0] <- NA
    return lower, upper


def exact_poisson(count: npt.ArrayLike, confidence: float = 0.95) -> tuple[FloatArray, FloatArray]:
    """Exact Poisson limits of an observed count from chi-squared quantiles.

    Mirrors the small-count branch of PHEindicatormethods ``phe_rate`` (R/Rates.R), method
    "Exact" (Armitage & Berry)::

        lower = qchisq((1 - c)/2, 2x) / 2        (0 at x = 0, as R's qchisq with 0 df)
        upper = qchisq(c + (1 - c)/2, 2x + 2) / 2
    """
    x = _arr(count)
    _no_negative(x, "observed events")
    c = _confidence(confidence)
    with np.errstate(invalid="ignore"):
        # chi2.ppf(q, k) / 2 == gammaincinv(k / 2, q): the chi-squared quantile, halved.
        lower = np.where(x == 0, 0.0, special().gammaincinv(np.maximum(x, 1e-300), (1 - c) / 2))
        upper = special().gammaincinv(x + 1, c + (1 - c) / 2)
    lower = np.where(np.isnan(x), np.nan, lower)
    return np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)


def poisson_count_limits(
    count: npt.ArrayLike, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Limits of a count as ``phe_rate`` chooses them: exact below 10, Byar's from 10.

    Mirrors ``if_else(x < 10, qchisq(...), byars_...(x))`` in PHEindicatormethods ``phe_rate``
    (R/Rates.R); the same rule is used by ``calculate_ISRatio`` and ``calculate_ISRate``.
    """
    x = _arr(count)
    exact_lo, exact_up = exact_poisson(x, confidence)
    with np.errstate(invalid="ignore"):
        byars_lo, byars_up = byars(np.where(x < SMALL_COUNT, np.nan, x), confidence)
    small = x < SMALL_COUNT
    return np.where(small, exact_lo, byars_lo), np.where(small, exact_up, byars_up)


def crude_rate(
    count: npt.ArrayLike,
    denominator: npt.ArrayLike,
    multiplier: float,
    confidence: float = 0.95,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """A crude rate and its limits, as PHEindicatormethods ``phe_rate`` (R/Rates.R).

    ``value = x / n * multiplier``; limits are ``poisson_count_limits(x) / n * multiplier``
    (exact below 10 events, Byar's from 10). A denominator that is not positive gives NaN.
    """
    x = _arr(count)
    n = _arr(denominator)
    lo, up = poisson_count_limits(x, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(n > 0, multiplier / n, np.nan)
    return x * scale, lo * scale, up * scale


def dsr(
    counts_by_age: npt.ArrayLike,
    pops_by_age: npt.ArrayLike,
    standard_pops: npt.ArrayLike,
    multiplier: float = 100000,
    confidence: float = 0.95,
    independent_events: bool = True,
    event_frequencies: npt.ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Directly standardised rate with Dobson limits, as ``phe_dsr`` / ``calculate_dsr``.

    Mirrors PHEindicatormethods ``calculate_dsr`` and ``dsr_inner`` (R/DSR.R; ``phe_dsr`` in
    older releases), method "Dobson". Age bands are the last axis; leading axes are groups, so
    a (groups x ages) array gives one DSR per group. With ``w = standard_pops``::

        value  = sum(x w / n) / sum(w) * multiplier
        vardsr = sum(x (w / n)^2) / sum(w)^2
        lower  = value + sqrt(vardsr / X) * (byars_lower(X) - X) * multiplier,   X = sum(x)
        upper  = value + sqrt(vardsr / X) * (byars_upper(X) - X) * multiplier

    Missing counts count as 0 (R's ``na.zero``). Groups whose total count is below 10 get NaN
    for the value and both limits ("dsr NA for total count < 10"); so do groups with a
    population that is not positive.

    Non-independent events (``independent_events=False``, method "Dobson, with confidence
    adjusted for non-independent events"): ``counts_by_age`` holds the numbers of unique
    people by event frequency, shape (..., frequencies, ages), and ``event_frequencies`` the
    frequency of each row (1, 2, 3, ...). As ``calculate_dsr`` does, a variance is computed
    per frequency from the people counts and combined as ``sum_f f^2 vardsr_f``; the value and
    the Byar's total use the events, ``sum_f f * people_f`` per age band. Each frequency's
    ``sum(w)`` runs over every age band, i.e. R given a row for every age x frequency.
    """
    pops = _arr(pops_by_age)
    std = _arr(standard_pops)
    _no_negative(std, "standard populations")
    raw = _arr(counts_by_age)
    _no_negative(raw, "numerators")
    people = np.nan_to_num(raw, nan=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        sq_weight = (std / pops) ** 2
        if independent_events:
            if event_frequencies is not None:
                raise ValueError("event_frequencies applies only when independent_events=False")
            events = people
            vardsr = np.sum(events * sq_weight, axis=-1) / np.sum(std, axis=-1) ** 2
        else:
            if event_frequencies is None:
                raise ValueError("independent_events=False needs event_frequencies")
            freq = _arr(event_frequencies)
            if freq.ndim != 1 or people.ndim < 2 or people.shape[-2] != freq.shape[0]:
                raise ValueError("counts must be shaped (..., frequencies, ages) to match "
                                 "event_frequencies")
            # first pass of calculate_dsr: one variance per event frequency, from people counts
            var_f = (np.sum(people * sq_weight[..., None, :], axis=-1)
                     / np.sum(std, axis=-1)[..., None] ** 2)
            vardsr = np.sum(var_f * freq**2, axis=-1)
            events = np.sum(people * freq[:, None], axis=-2)
        total = np.sum(events, axis=-1)
        value = np.sum(events * std / pops, axis=-1) / np.sum(std, axis=-1) * multiplier
        byars_lo, byars_up = byars(total, confidence)
        spread = np.sqrt(vardsr / total) * multiplier
        lower = value + spread * (byars_lo - total)
        upper = value + spread * (byars_up - total)
    bad = (total < SMALL_COUNT) | np.any(~(pops > 0), axis=-1)
    return (np.where(bad, np.nan, value), np.where(bad, np.nan, lower),
            np.where(bad, np.nan, upper))


def expected_events(
    pops_by_age: npt.ArrayLike, ref_counts_by_age: npt.ArrayLike, ref_pops_by_age: npt.ArrayLike
) -> FloatArray:
    """Expected events for indirect standardisation: ``sum(ref_x / ref_n * n)`` over age bands.

    As ``exp_x = na.zero(x_ref) / n_ref * na.zero(n)`` summed per group in
    PHEindicatormethods ``calculate_ISRatio`` / ``calculate_ISRate``. Age bands are the last axis.
    """
    n = np.nan_to_num(_arr(pops_by_age), nan=0.0)
    ref_x = np.nan_to_num(_arr(ref_counts_by_age), nan=0.0)
    ref_n = _arr(ref_pops_by_age)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.sum(ref_x / ref_n * n, axis=-1), dtype=np.float64)


def reference_rate(
    ref_counts_by_age: npt.ArrayLike, ref_pops_by_age: npt.ArrayLike, multiplier: float = 100000
) -> FloatArray:
    """The reference population's crude rate, ``sum(x_ref) / sum(n_ref) * multiplier``.

    As ``ref_rate`` in PHEindicatormethods ``calculate_ISRate`` (R/ISRate.R).
    """
    ref_x = _arr(ref_counts_by_age)
    ref_n = _arr(ref_pops_by_age)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.nansum(ref_x, axis=-1) / np.sum(ref_n, axis=-1) * multiplier
    return np.asarray(rate, dtype=np.float64)


class ISRResult(NamedTuple):
    """An indirectly standardised ratio and, given a reference rate, the rate."""

    ratio: FloatArray
    ratio_lower: FloatArray
    ratio_upper: FloatArray
    rate: FloatArray
    rate_lower: FloatArray
    rate_upper: FloatArray


def isr(
    observed: npt.ArrayLike,
    expected: npt.ArrayLike,
    confidence: float = 0.95,
    refvalue: float = 1.0,
    reference_rate: npt.ArrayLike | None = None,
) -> ISRResult:
    """Indirectly standardised ratio (and rate), as ``calculate_ISRatio`` / ``calculate_ISRate``.

    Mirrors PHEindicatormethods R/ISRatio.R and R/ISRate.R (the ``phe_smr`` / ``phe_isr`` of
    older releases)::

        ratio = O / E * refvalue,   limits = poisson_count_limits(O) / E * refvalue
        rate  = O / E * ref_rate,   limits = poisson_count_limits(O) / E * ref_rate

    with exact Poisson limits for O < 10 and Byar's from 10. ``expected`` comes from
    ``expected_events`` and ``reference_rate`` from ``reference_rate``; without one the rate
    fields are NaN. An expected count that is not positive gives NaN.
    """
    o = _arr(observed)
    e = _arr(expected)
    lo, up = poisson_count_limits(o, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_expected = np.where(e > 0, 1 / e, np.nan)
    ref = np.nan if reference_rate is None else _arr(reference_rate)
    return ISRResult(
        ratio=o * per_expected * refvalue,
        ratio_lower=lo * per_expected * refvalue,
        ratio_upper=up * per_expected * refvalue,
        rate=np.asarray(o * per_expected * ref, dtype=np.float64),
        rate_lower=np.asarray(lo * per_expected * ref, dtype=np.float64),
        rate_upper=np.asarray(up * per_expected * ref, dtype=np.float64),
    )


def mean_ci(
    values_sum: npt.ArrayLike,
    values_sq_sum: npt.ArrayLike,
    n: npt.ArrayLike,
    confidence: float = 0.95,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """A mean and its Student's t limits from aggregates (sum, sum of squares, count).

    Mirrors PHEindicatormethods ``phe_mean`` (R/Means.R), method "Student's t-distribution"::

        mean = S / n,   sd = sqrt((Q - S^2 / n) / (n - 1))            (R's sd(), n - 1 divisor)
        limits = mean -/+ |qt((1 - c)/2, n - 1)| * sd / sqrt(n)

    From aggregates the variance is ``(Q - S^2/n) / (n - 1)``, algebraically R's two-pass
    ``sd()``; a tiny negative from rounding is clipped to 0. Fewer than two values gives NaN
    limits (R's ``sd`` of one value is NA); no values gives a NaN mean.
    """
    s = _arr(values_sum)
    q = _arr(values_sq_sum)
    k = _arr(n)
    c = _confidence(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(k > 0, s / k, np.nan)
        variance = np.maximum((q - s * s / k) / (k - 1), 0.0)
        df = np.where(k >= 2, k - 1, np.nan)
        half = np.abs(special().stdtrit(df, (1 - c) / 2)) * np.sqrt(variance) / np.sqrt(k)
    half = np.where(k >= 2, half, np.nan)
    return mean, mean - half, mean + half
