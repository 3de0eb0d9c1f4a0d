"""The calibration report: for every calibrated measure, LA and period, the generated
rate beside the published one it aimed at, and whether it is within tolerance.

Tolerances are statistical, not arbitrary: a generated rate is a sample, so it may differ
from its target by sampling noise. A row passes when the gap is within four standard
errors of the generated rate, or within a small floor for large samples.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass

from common_outcomes.synth.context import Observation

# How each measure's value is scaled, and the smallest tolerance worth having.
_SCALES = {
    "percent": (100.0, 0.5),
    "per_1000": (1000.0, 1.0),
    "per_10k": (10_000.0, 2.0),
}
RELATIVE_POPULATION_TOLERANCE = 0.04  # births track the mid-year estimate / 18


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


def build_report(observations: Iterable[Observation]) -> list[ReportRow]:
    rows: list[ReportRow] = []
    for o in observations:
        if o.denominator <= 0:
            continue
        scale, floor = _scale(o.measure)
        value = scale * o.numerator / o.denominator
        if o.measure == "population_0_17":
            tolerance = RELATIVE_POPULATION_TOLERANCE * o.target.value
        else:
            p = min(max(o.numerator / o.denominator, 0.0), 1.0)
            se = scale * math.sqrt(max(p * (1 - p), 1.0 / o.denominator) / o.denominator)
            tolerance = max(4 * se, floor)
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
