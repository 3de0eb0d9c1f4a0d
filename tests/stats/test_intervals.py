"""The interval functions against PHEindicatormethods, to 1e-8 relative.

Sources: the inputs are those of PHEindicatormethods' own tests and examples
(ukhsa-collaboration/PHEindicatormethods: tests/testthat/testByars.R, testWilson.R, and the
@examples of R/Rates.R, R/Means.R). Their expected outputs live in binary spreadsheets
(tests/testthat/testdata_*.xlsx) that cannot be read here, so each expectation is computed by
an oracle independent of the code under test and of scipy: the R formula evaluated with the
standard library (``statistics.NormalDist``), or the defining equation of the interval (the
Poisson tail sums for exact limits, the score equation for Wilson). The Fingertips answer key
(test_fingertips_answer_key.py) checks the same code against published OHID output.
"""

from __future__ import annotations

import math
from statistics import NormalDist, stdev

import numpy as np
import pytest

from common_outcomes.stats.intervals import (
    byars,
    crude_rate,
    dsr,
    exact_poisson,
    expected_events,
    isr,
    mean_ci,
    poisson_count_limits,
    reference_rate,
    wilson,
    z_value,
)

REL = 1e-8


def z(conf: float) -> float:
    return NormalDist().inv_cdf(1 - (1 - conf) / 2)


def r_byars_lower(x: float, conf: float) -> float:
    """byars_lower in R/utils.R, in plain Python."""
    low = x * (1 - 1 / (9 * x) - z(conf) / (3 * math.sqrt(x))) ** 3
    return math.nan if low < 0 else low


def r_byars_upper(x: float, conf: float) -> float:
    """byars_upper in R/utils.R, in plain Python."""
    return (x + 1) * (1 - 1 / (9 * (x + 1)) + z(conf) / (3 * math.sqrt(x + 1))) ** 3


def poisson_cdf(k: int, mu: float) -> float:
    """P(X <= k) for X ~ Poisson(mu), summed term by term."""
    term = math.exp(-mu)
    total = term
    for i in range(1, k + 1):
        term *= mu / i
        total += term
    return total


# --- z ----------------------------------------------------------------------------------------

def test_z_is_the_normal_quantile_not_1_96() -> None:
    assert z_value(0.95) == pytest.approx(NormalDist().inv_cdf(0.975), rel=1e-12)
    assert z_value(0.998) == pytest.approx(NormalDist().inv_cdf(0.999), rel=1e-12)
    assert z_value(99.8) == z_value(0.998)  # R scales 90-100 to 0.9-1
    assert z_value(0.95) != 1.96


@pytest.mark.parametrize("bad", [0.7, 14, 125])
def test_confidence_outside_r_range_is_refused(bad: float) -> None:
    # testByars.R / testWilson.R: 0.7, 14 and 125 are errors
    with pytest.raises(ValueError, match="confidence level"):
        byars([65, 80, 1000], bad)
    with pytest.raises(ValueError, match="confidence level"):
        wilson([65, 80, 1000], [100, 100, 5000], bad)


# --- Byar's -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("counts", "conf"), [
    ([65, 1045, 1], 0.95),      # testByars.R: byars_lower(c(65,1045,1))
    ([65, 1045, 10], 0.998),    # testByars.R: byars_upper(c(65,1045,10), confidence=0.998)
    ([65, 1045, 10], 99.8),     # testByars.R: confidence=99.8
])
def test_byars_matches_r_formula(counts: list[float], conf: float) -> None:
    c = conf / 100 if conf > 1 else conf
    lower, upper = byars(counts, conf)
    np.testing.assert_allclose(lower, [r_byars_lower(x, c) for x in counts], rtol=REL)
    np.testing.assert_allclose(upper, [r_byars_upper(x, c) for x in counts], rtol=REL)


def test_byars_lower_is_nan_where_r_gives_na() -> None:
    lower, upper = byars([0, 1, 2], 0.998)
    assert np.isnan(lower).tolist() == [True, True, False]  # negative -> NA; 0 -> NaN
    assert upper[0] == pytest.approx(r_byars_upper(0, 0.998), rel=REL)


def test_negative_counts_are_refused() -> None:
    # testByars.R: byars_lower(c(65,0,-4)) is an error
    with pytest.raises(ValueError, match="greater than or equal to zero"):
        byars([65, 0, -4])
    with pytest.raises(ValueError, match="greater than or equal to zero"):
        exact_poisson([-1])


# --- exact Poisson ----------------------------------------------------------------------------

@pytest.mark.parametrize("conf", [0.95, 0.998])
@pytest.mark.parametrize("count", [1, 2, 5, 9, 25])
def test_exact_poisson_solves_the_poisson_tail_equations(count: int, conf: float) -> None:
    lower, upper = exact_poisson([count], conf)
    alpha = 1 - conf
    # P(X >= x; lower) = alpha/2 and P(X <= x; upper) = alpha/2
    assert 1 - poisson_cdf(count - 1, float(lower[0])) == pytest.approx(alpha / 2, rel=REL)
    assert poisson_cdf(count, float(upper[0])) == pytest.approx(alpha / 2, rel=REL)


def test_exact_poisson_at_zero_and_one_in_closed_form() -> None:
    lower, upper = exact_poisson([0, 1], 0.95)
    assert lower[0] == 0.0  # R: qchisq(p, 0) is 0
    assert upper[0] == pytest.approx(-math.log(0.025), rel=1e-12)   # 3.68887945...
    assert lower[1] == pytest.approx(-math.log(0.975), rel=1e-12)   # 0.02531780...


def test_phe_rate_switches_from_exact_to_byars_at_ten() -> None:
    lower, upper = poisson_count_limits([9, 10], 0.95)
    exact_lo, exact_up = exact_poisson([9], 0.95)
    assert (lower[0], upper[0]) == (exact_lo[0], exact_up[0])  # if_else(x < 10, exact, ...)
    assert lower[1] == pytest.approx(r_byars_lower(10, 0.95), rel=REL)
    assert upper[1] == pytest.approx(r_byars_upper(10, 0.95), rel=REL)


# --- Wilson -----------------------------------------------------------------------------------

@pytest.mark.parametrize("conf", [0.95, 0.998])
def test_wilson_limits_solve_the_score_equation(conf: float) -> None:
    # testWilson.R: wilson_lower(c(65,1045,0.445), c(100,5000,1))
    x = np.array([65, 1045, 0.445])
    n = np.array([100, 5000, 1])
    lower, upper = wilson(x, n, conf)
    zz = z(conf) ** 2
    for p in (lower, upper):  # (x/n - p)^2 = z^2 p (1 - p) / n
        np.testing.assert_allclose((x / n - p) ** 2, zz * p * (1 - p) / n, rtol=1e-7)
    assert np.all(lower < x / n) and np.all(x / n < upper)


def test_wilson_matches_r_formula_to_1e8() -> None:
    x, n, zz = 65.0, 100.0, z(0.95)
    root = zz * math.sqrt(zz**2 + 4 * x * (1 - x / n))
    lower, upper = wilson([x], [n])
    assert lower[0] == pytest.approx((2 * x + zz**2 - root) / 2 / (n + zz**2), rel=REL)
    assert upper[0] == pytest.approx((2 * x + zz**2 + root) / 2 / (n + zz**2), rel=REL)


def test_wilson_edges() -> None:
    zz = z(0.95) ** 2
    lower, upper = wilson([0, 50], [50, 50])
    assert abs(lower[0]) < 1e-15 and upper[0] == pytest.approx(zz / (50 + zz), rel=REL)
    assert upper[1] == pytest.approx(1.0, rel=1e-12)
    assert lower[1] == pytest.approx(50 / (50 + zz), rel=REL)
    lower, upper = wilson([65, 1045], [100, 5000], confidence=1)  # testWilson.R: 0 and 1
    assert lower.tolist() == [0.0, 0.0] and upper.tolist() == [1.0, 1.0]
    lower, upper = wilson([0, np.nan], [0, 10])
    assert np.isnan(lower).all() and np.isnan(upper).all()


def test_wilson_refuses_what_r_refuses() -> None:
    with pytest.raises(ValueError, match="less than or equal to denominator"):
        wilson([65, 80, 1000], [100, 50, 5000])
    with pytest.raises(ValueError, match="sample sizes"):
        wilson([65, 80, 1000], [100, 5000, -6])


# --- crude rates ------------------------------------------------------------------------------

def test_crude_rate_on_the_phe_rate_example() -> None:
    # R/Rates.R @examples: obs = c(NA,82,9,48, 6500,8200,10000,10000,8,7,750,900),
    # pop = rep(c(100,10000,10000,10000), each = 3); phe_rate(df, obs, pop, 99.8, 100)
    obs = np.array([np.nan, 82, 9, 48, 6500, 8200, 10000, 10000, 8, 7, 750, 900])
    pop = np.repeat([100, 10000, 10000, 10000], 3)
    value, lower, upper = crude_rate(obs, pop, 100, confidence=99.8)
    assert np.isnan([value[0], lower[0], upper[0]]).all()
    np.testing.assert_allclose(value[1:], obs[1:] / pop[1:] * 100, rtol=1e-15)
    for i in range(1, len(obs)):
        x = float(obs[i])
        if x < 10:
            lo, up = exact_poisson([x], 0.998)
            want = (lo[0], up[0])
        else:
            want = (r_byars_lower(x, 0.998), r_byars_upper(x, 0.998))
        assert lower[i] == pytest.approx(want[0] / pop[i] * 100, rel=REL)
        assert upper[i] == pytest.approx(want[1] / pop[i] * 100, rel=REL)


def test_crude_rate_edges_and_shape() -> None:
    value, lower, upper = crude_rate([[0, 5], [12, 3]], [[1000, 0], [1000, 1000]], 100000)
    assert value.shape == lower.shape == upper.shape == (2, 2)
    assert value[0, 0] == 0 and lower[0, 0] == 0
    assert upper[0, 0] == pytest.approx(-math.log(0.025) / 1000 * 100000, rel=1e-12)
    assert np.isnan([value[0, 1], lower[0, 1], upper[0, 1]]).all()  # denominator 0


# --- DSR --------------------------------------------------------------------------------------

ESP_4 = np.array([5000.0, 5500, 5500, 5500])


def r_dsr(x: list[float], n: list[float], w: list[float], conf: float, mult: float
          ) -> tuple[float, float, float]:
    """dsr_inner in R/DSR.R, in plain Python, for one group."""
    total = sum(x)
    value = sum(xi * wi / ni for xi, wi, ni in zip(x, w, n, strict=True)) / sum(w) * mult
    var = sum(xi * (wi / ni) ** 2 for xi, wi, ni in zip(x, w, n, strict=True)) / sum(w) ** 2
    spread = math.sqrt(var / total) * mult
    return (value, value + spread * (r_byars_lower(total, conf) - total),
            value + spread * (r_byars_upper(total, conf) - total))


def test_dsr_matches_dobson_for_each_group() -> None:
    # the counts/populations of the early R/SMR.R test data (testobs, testpop), first 4 bands
    counts = np.array([[27, 45, 55, 100], [12, 0, 7, 30], [1, 2, 3, 2]], dtype=float)
    pops = np.array([84935, 80367, 72122, 79259], dtype=float)
    for conf in (0.95, 0.998):
        value, lower, upper = dsr(counts, pops, ESP_4, confidence=conf)
        assert value.shape == (3,)
        for g in range(2):
            want = r_dsr(counts[g].tolist(), pops.tolist(), ESP_4.tolist(), conf, 100000)
            np.testing.assert_allclose([value[g], lower[g], upper[g]], want, rtol=REL)
        assert np.isnan([value[2], lower[2], upper[2]]).all()  # total 8 < 10: suppressed


def test_dsr_of_one_band_is_the_crude_rate_with_byars_limits() -> None:
    value, lower, upper = dsr([[250.0]], [[40000.0]], [1.0], multiplier=10000)
    v, lo, up = crude_rate([250.0], [40000.0], 10000)
    np.testing.assert_allclose([value[0], lower[0], upper[0]], [v[0], lo[0], up[0]], rtol=1e-12)


def test_dsr_counts_missing_as_zero_and_suppresses_below_ten() -> None:
    a = dsr([np.nan, 20, 30, 5], [1000, 2000, 3000, 4000], ESP_4)
    b = dsr([0, 20, 30, 5], [1000, 2000, 3000, 4000], ESP_4)
    np.testing.assert_allclose(a, b, rtol=1e-15)
    assert np.isnan(dsr([9, 0, 0, 0], [1000, 2000, 3000, 4000], ESP_4)[0])
    assert not np.isnan(dsr([10, 0, 0, 0], [1000, 2000, 3000, 4000], ESP_4)[0])


def test_dsr_non_independent_events() -> None:
    pops = np.array([1000.0, 2000, 3000, 4000])
    people = np.array([[[30, 20, 10, 40],    # people with 1 event, by age band
                        [5, 4, 3, 2],        # people with 2 events
                        [1, 0, 2, 1]]])      # people with 3 events
    freq = np.array([1.0, 2, 3])
    value, lower, upper = dsr(people, pops, ESP_4, independent_events=False,
                              event_frequencies=freq)
    events = (people[0] * freq[:, None]).sum(axis=0)
    # calculate_dsr: vardsr per frequency from people counts, combined as sum f^2 var_f
    w = ESP_4
    var = sum(f**2 * float(np.sum(people[0, i] * (w / pops) ** 2)) / w.sum() ** 2
              for i, f in enumerate(freq))
    total = float(events.sum())
    want_value = float(np.sum(events * w / pops)) / w.sum() * 100000
    spread = math.sqrt(var / total) * 100000
    assert value[0] == pytest.approx(want_value, rel=REL)
    assert lower[0] == pytest.approx(want_value + spread * (r_byars_lower(total, 0.95) - total),
                                     rel=REL)
    assert upper[0] == pytest.approx(want_value + spread * (r_byars_upper(total, 0.95) - total),
                                     rel=REL)
    # the value is the independent-events DSR of the events; the interval is wider
    ind = dsr(events, pops, ESP_4)
    assert value[0] == pytest.approx(float(ind[0]), rel=1e-12)
    assert lower[0] < float(ind[1]) and upper[0] > float(ind[2])


def test_dsr_non_independent_with_single_events_equals_independent() -> None:
    counts = np.array([[27.0, 45, 55, 100], [12, 0, 7, 30]])
    pops = np.array([84935.0, 80367, 72122, 79259])
    got = dsr(counts[:, None, :], pops, ESP_4, independent_events=False, event_frequencies=[1])
    np.testing.assert_allclose(got, dsr(counts, pops, ESP_4), rtol=1e-12)
    with pytest.raises(ValueError, match="event_frequencies"):
        dsr(counts, pops, ESP_4, independent_events=False)


# --- ISR --------------------------------------------------------------------------------------

def test_isr_ratio_and_rate() -> None:
    pops = np.array([[1000.0, 2000, 3000], [500, 800, 900]])
    ref_x = np.array([10.0, 40, 90])
    ref_n = np.array([10000.0, 20000, 15000])
    expected = expected_events(pops, ref_x, ref_n)
    np.testing.assert_allclose(expected, [1 + 4 + 18, 0.5 + 1.6 + 5.4], rtol=1e-15)
    ref_rate = reference_rate(ref_x, ref_n, 100000)
    assert float(ref_rate) == pytest.approx(140 / 45000 * 100000, rel=1e-15)
    observed = np.array([30.0, 6])
    res = isr(observed, expected, refvalue=100, reference_rate=ref_rate)
    np.testing.assert_allclose(res.ratio, observed / expected * 100, rtol=1e-15)
    # O = 30 >= 10: Byar's; O = 6 < 10: exact (calculate_ISRatio's if_else(observed < 10, ...))
    assert res.ratio_lower[0] == pytest.approx(r_byars_lower(30, 0.95) / expected[0] * 100,
                                               rel=REL)
    exact_lo, exact_up = exact_poisson([6])
    assert res.ratio_lower[1] == pytest.approx(exact_lo[0] / expected[1] * 100, rel=REL)
    assert res.ratio_upper[1] == pytest.approx(exact_up[0] / expected[1] * 100, rel=REL)
    np.testing.assert_allclose(res.rate, observed / expected * ref_rate, rtol=1e-15)
    np.testing.assert_allclose(res.rate_lower, res.ratio_lower / 100 * ref_rate, rtol=1e-12)
    assert np.isnan(isr([5.0], [4.0]).rate).all()
    assert np.isnan(isr([5.0], [0.0]).ratio).all()


# --- means ------------------------------------------------------------------------------------

def test_mean_ci_on_the_phe_mean_examples() -> None:
    # R/Means.R @examples: values c(30,40,50,60); and groups c(20,30,40), c(200,300,400)
    groups = [[30.0, 40, 50, 60], [20.0, 30, 40], [200.0, 300, 400]]
    sums = [sum(g) for g in groups]
    sqs = [sum(v * v for v in g) for g in groups]
    ns = [len(g) for g in groups]
    # Student's t 0.975 quantiles: df 3 from tables; df 2 in closed form (2p-1)/sqrt(2p(1-p))
    t_975 = {3: 3.182446305284, 2: 0.95 / math.sqrt(2 * 0.975 * 0.025)}
    mean, lower, upper = mean_ci(sums, sqs, ns)
    for i, g in enumerate(groups):
        half = t_975[len(g) - 1] * stdev(g) / math.sqrt(len(g))
        want = (sum(g) / len(g), sum(g) / len(g) - half, sum(g) / len(g) + half)
        np.testing.assert_allclose([mean[i], lower[i], upper[i]], want, rtol=REL)


def test_mean_ci_needs_two_values() -> None:
    mean, lower, upper = mean_ci([7.0, 0.0], [49.0, 0.0], [1, 0])
    assert mean[0] == 7.0 and np.isnan([lower[0], upper[0], mean[1]]).all()
