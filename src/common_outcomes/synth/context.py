"""What every source generator of one LA shares: the spec, the frame, the published
targets, the residents and their identities, and the calibration observations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt

from common_outcomes.synth.calibration import Calibration
from common_outcomes.synth.frame import LaFrame
from common_outcomes.synth.identity import Identities
from common_outcomes.synth.people import Population
from common_outcomes.synth.schools import Schools
from common_outcomes.synth.spec import SynthSpec, rng_for


@dataclass(frozen=True)
class Target:
    """A rate the generator aims at, and where it came from."""

    measure: str
    value: float
    period: str
    source: str
    la_code: str


@dataclass(frozen=True)
class Observation:
    """What the generated data gives for a calibrated measure."""

    measure: str
    la_code: str
    period: str
    numerator: float
    denominator: float
    target: Target


@dataclass
class LaContext:
    spec: SynthSpec
    frame: LaFrame
    calibration: Calibration
    population: Population
    identities: Identities
    schools: Schools
    observations: list[Observation] = field(default_factory=list)

    def rng(self, *keys: str) -> np.random.Generator:
        return rng_for(self.spec.seed, self.frame.code, *keys)

    def target(self, measure: str, year: int) -> Target:
        """The LA's published figure for the nearest year, else England's, else national."""
        for la in (self.frame.code, "E92000001"):
            found = self.calibration.nearest(measure, la, year)
            if found is not None:
                return Target(measure, found.value, found.period, found.source, found.la_code)
        p = self.calibration.national_parameter(measure)
        return Target(measure, p.value, p.period, p.source, p.la_code)

    def observe(self, target: Target, period: str, numerator: float, denominator: float) -> None:
        self.observations.append(
            Observation(target.measure, self.frame.code, period, numerator, denominator, target))

    @property
    def window(self) -> tuple[date, date]:
        return self.spec.window_start, self.spec.window_end


def probabilities(
    logit_offsets: npt.NDArray[np.float64], target_rate: float
) -> npt.NDArray[np.float64]:
    """Per-person probabilities whose mean is exactly `target_rate`.

    Individual differences (deprivation, planted effects) enter as logit offsets; the
    intercept is solved by Newton's method so the population rate equals the published
    one, however skewed the offsets are.
    """
    p_target = min(max(target_rate, 1e-6), 1 - 1e-6)
    if len(logit_offsets) == 0:
        return np.zeros(0)
    intercept = float(np.log(p_target / (1 - p_target)))
    for _ in range(30):
        p = 1.0 / (1.0 + np.exp(-(intercept + logit_offsets)))
        gap = float(p.mean()) - p_target
        slope = float((p * (1 - p)).mean())
        if abs(gap) < 1e-12 or slope == 0:
            break
        intercept -= gap / slope
    result: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-(intercept + logit_offsets)))
    return result
