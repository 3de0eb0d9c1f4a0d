"""The calibration report: for every calibrated measure, LA and period, the generated
rate beside the published one it aimed at, and whether it is within tolerance.

Tolerances are statistical, not arbitrary: a generated rate is a sample, so it differs from
its target by sampling noise. A row passes when the gap is within z standard errors of a
sample of that size drawn at the published rate, with z chosen so that, over the whole report,
the chance of any row failing by noise alone is 0.1% (Bonferroni), and a small floor.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import NormalDist

from common_outcomes.synth.context import Observation

# How each measure's value is scaled, and the smallest tolerance worth having.
_SCALES = {
    "percent": (100.0, 0.5),
    "per_1000": (1000.0, 1.0),
    "per_10k": (10_000.0, 2.0),
}
# Births are solved from the mid-year estimates; the rest is migration the model leaves out.
RELATIVE_POPULATION_TOLERANCE = 0.04
FAMILYWISE_FALSE_ALARM = 0.001


@dataclass(frozen=True)
class ReportRow:
    measure: str
    la_code: str
    period: str
    generated: float
    numerator: float
    denominator: float
    published: float
    published_period: str
    published_la: str
    tolerance: float
    source: str

    @property
    def within(self) -> bool:
        return abs(self.generated - self.published) <= self.tolerance


def _scale(measure: str) -> tuple[float, float]:
    for suffix, scale in _SCALES.items():
        if measure.endswith(suffix):
            return scale
    return (1.0, 0.0)


def _z(rows: int) -> float:
    """The two-sided normal quantile for a familywise false-alarm rate over `rows` tests."""
    return NormalDist().inv_cdf(1 - FAMILYWISE_FALSE_ALARM / (2 * max(rows, 1)))


def build_report(observations: Iterable[Observation]) -> list[ReportRow]:
    rows: list[ReportRow] = []
    kept = [o for o in observations if o.denominator > 0]
    z = _z(len(kept))
    for o in kept:
        scale, floor = _scale(o.measure)
        value = scale * o.numerator / o.denominator
        if o.measure == "population_0_17":
            # Births are Poisson: a small borough's population varies by its square root.
            tolerance = max(RELATIVE_POPULATION_TOLERANCE * o.target.value,
                            z * math.sqrt(o.target.value))
        else:
            # The sampling error of a rate whose true value is the published one.
            p = min(max(o.target.value / scale, 1e-9), 1.0 - 1e-9)
            se = scale * math.sqrt(p * (1 - p) / o.denominator)
            tolerance = max(z * se, floor)
        rows.append(ReportRow(o.measure, o.la_code, o.period, value, o.numerator,
                              o.denominator, o.target.value, o.target.period, o.target.la_code,
                              tolerance, o.target.source))
    return sorted(rows, key=lambda r: (r.measure, r.la_code, r.period))


def report_csv(rows: list[ReportRow]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["measure", "la_code", "period", "generated", "numerator", "denominator",
                "published", "published_period", "published_la", "tolerance", "within",
                "source"])
    for r in rows:
        w.writerow([r.measure, r.la_code, r.period, f"{r.generated:.4f}", f"{r.numerator:.1f}",
                    f"{r.denominator:.1f}", f"{r.published:.4f}", r.published_period,
                    r.published_la, f"{r.tolerance:.4f}", "yes" if r.within else "no",
                    r.source])
    return out.getvalue()
