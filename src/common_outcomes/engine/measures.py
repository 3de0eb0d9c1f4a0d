"""Measure kinds: what each measure computes and publishes, one entry per kind in `KINDS`.

A kind says how its value and 95% and 99.8% limits come from the rolled-up counts (or that a
standardisation gave them already), the method the results name, the Fingertips recent-trend
type (none: no trend), which notes its rows can carry and whether a small complement
(denominator minus numerator) discloses as a small numerator does. engine/results.py asks
`kind_of`; a measure with no kind is an internal error, never a silent "count". Adding a kind
is a value in indicators' `Measure`, its functions here and one entry in `KINDS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from common_outcomes.errors import InternalError
from common_outcomes.indicators.definitions import Measure
from common_outcomes.stats.intervals import crude_rate, dsr, expected_events, isr, mean_ci, wilson

Floats = npt.NDArray[np.float64]
LIMITS = ("lower_95", "upper_95", "lower_998", "upper_998")
# Value, then the four limits in LIMITS' order.
Five = tuple[Floats, Floats, Floats, Floats, Floats]
# (numerator, denominator, more sums rolled up with them, multiplier) -> value and limits.
Statistic = Callable[[Floats, Floats, Mapping[str, Floats], float], Five]
# (numerator and denominator by age band, the reference's, the standard population's band
# weights, multiplier) -> the row's denominator, value and limits.
Standardise = Callable[[Floats, Floats, Floats, Floats, Floats, float], tuple[Floats, Five]]


@dataclass(frozen=True)
class Kind:
    """Everything the results know about one measure kind."""

    measure: Measure
    method: str  # the results' `method` column
    statistic: Statistic
    trend: str | None = None  # recent_trend's value type ("proportion", "rate"); None: no trend
    has_denominator: bool = True  # rows note a denominator of 0 or none
    # A numerator above its denominator is not calculated, and a small complement is hidden.
    bounded: bool = False
    standardise: Standardise | None = None


def _proportion(x: Floats, n: Floats, _: Mapping[str, Floats], multiplier: float) -> Five:
    # A numerator above its denominator (possible when the denominator comes from another
    # source) or a missing denominator has no proportion: NaN, and a note on the row.
    fits = (n > 0) & (x <= n) & (x >= 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(fits, x / np.where(fits, n, 1), np.nan) * multiplier
    safe_x, safe_n = np.where(fits, x, 0.0), np.where(fits, n, 1.0)
    lo95, up95 = (v * multiplier for v in wilson(safe_x, safe_n, 0.95))
    lo998, up998 = (v * multiplier for v in wilson(safe_x, safe_n, 0.998))
    return _finite(value, lo95, up95, lo998, up998)


def _crude_rate(x: Floats, n: Floats, _: Mapping[str, Floats], multiplier: float) -> Five:
    value, lo95, up95 = crude_rate(x, n, multiplier, 0.95)
    __, lo998, up998 = crude_rate(x, n, multiplier, 0.998)
    return _finite(value, lo95, up95, lo998, up998)


def _finite(value: Floats, *limits: Floats) -> Five:
    """No limits where the value is not a number."""
    bad = ~np.isfinite(value)
    lo95, up95, lo998, up998 = (np.where(bad, np.nan, limit) for limit in limits)
    return value, lo95, up95, lo998, up998


def _mean(_: Floats, n: Floats, sums: Mapping[str, Floats], __: float) -> Five:
    total, squares = sums["sum"], sums["squares"]
    value, lo95, up95 = mean_ci(total, squares, n, 0.95)
    ___, lo998, up998 = mean_ci(total, squares, n, 0.998)
    return value, lo95, up95, lo998, up998


def _count(x: Floats, _: Floats, __: Mapping[str, Floats], ___: float) -> Five:
    nothing = np.full(len(x), np.nan)
    return _finite(x.copy(), nothing, nothing, nothing, nothing)


def _given(_: Floats, __: Floats, computed: Mapping[str, Floats], ___: float) -> Five:
    """What the standardisation computed (see `Kind.standardise`)."""
    value, lo95, up95, lo998, up998 = (computed[k].copy() for k in ("value", *LIMITS))
    return value, lo95, up95, lo998, up998


def _direct(x: Floats, n: Floats, _: Floats, __: Floats, weights: Floats,
            multiplier: float) -> tuple[Floats, Five]:
    value, lo95, up95 = dsr(x, n, weights, multiplier, 0.95)
    ___, lo998, up998 = dsr(x, n, weights, multiplier, 0.998)
    return n.sum(axis=1), (value, lo95, up95, lo998, up998)


def _indirect(x: Floats, n: Floats, ref_x: Floats, ref_n: Floats, _: Floats,
              multiplier: float) -> tuple[Floats, Five]:
    expected = expected_events(n, ref_x, ref_n)
    observed = x.sum(axis=1)
    wide, narrow = (isr(observed, expected, level, refvalue=multiplier)
                    for level in (0.95, 0.998))
    return expected, (wide.ratio, wide.ratio_lower, wide.ratio_upper, narrow.ratio_lower,
                      narrow.ratio_upper)


KINDS: Mapping[Measure, Kind] = {k.measure: k for k in (
    Kind(Measure.PROPORTION, "Wilson score", _proportion, trend="proportion", bounded=True),
    Kind(Measure.CRUDE_RATE, "Byar's (exact Poisson below 10)", _crude_rate, trend="rate"),
    Kind(Measure.DIRECTLY_STANDARDISED_RATE, "Dobson (European Standard Population 2013)",
         _given, standardise=_direct),
    Kind(Measure.INDIRECTLY_STANDARDISED_RATIO, "Byar's on observed over expected (the "
         "borough's age-specific rates)", _given, standardise=_indirect),
    Kind(Measure.MEAN, "Student's t", _mean),
    Kind(Measure.COUNT, "count", _count, has_denominator=False),
)}


def kind_of(measure: Measure) -> Kind:
    """The measure's kind; a measure nobody registered is a fault here, not the user's."""
    try:
        return KINDS[measure]
    except KeyError:
        raise InternalError(f"The measure '{measure}' has no kind in engine/measures.py, so "
                            "its statistics cannot be computed.") from None


def statistics(x: Floats, n: Floats, measure: Measure, multiplier: float,
               computed: Mapping[str, Floats] | None = None) -> dict[str, Floats]:
    """Value and 95% and 99.8% limits for each row, by the measure's method, from the counts
    and the sums rolled up with them (or the values a standardisation `computed`)."""
    five = kind_of(measure).statistic(x, n, computed or {}, multiplier)
    return dict(zip(("value", *LIMITS), five, strict=True))
