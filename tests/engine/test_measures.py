"""Measure kinds: every measure a definition can name has one, and none falls back silently."""

from __future__ import annotations

import numpy as np
import pytest

from common_outcomes.engine.measures import KINDS, kind_of, statistics
from common_outcomes.errors import InternalError
from common_outcomes.indicators.definitions import Measure


@pytest.mark.parametrize("measure", list(Measure))
def test_every_measure_a_definition_can_name_has_a_kind(measure: Measure) -> None:
    kind = kind_of(measure)
    assert kind.measure is measure and kind.method
    # A standardised measure's statistics come from its standardisation.
    computes_itself = kind.standardise is not None
    assert computes_itself == (measure in (Measure.DIRECTLY_STANDARDISED_RATE,
                                           Measure.INDIRECTLY_STANDARDISED_RATIO))


def test_a_measure_without_a_kind_is_an_internal_error_not_a_count() -> None:
    # Before the registry, an unknown measure was published as a count, method "count".
    unknown = "median"
    assert unknown not in KINDS
    with pytest.raises(InternalError, match=r"^The measure 'median' has no kind in "
                                            r"engine/measures\.py"):
        statistics(np.array([3.0]), np.array([10.0]), unknown, 1.0)  # type: ignore[arg-type]


def test_only_kinds_with_a_denominator_note_it_and_only_bounded_ones_hide_complements() -> None:
    assert [m for m, k in KINDS.items() if not k.has_denominator] == [Measure.COUNT]
    assert [m for m, k in KINDS.items() if k.bounded] == [Measure.PROPORTION]
    assert {m: k.trend for m, k in KINDS.items() if k.trend} == {
        Measure.PROPORTION: "proportion", Measure.CRUDE_RATE: "rate"}
