"""Disclosure control: no small count is shown, and none can be worked out from what is."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from common_outcomes.stats.disclosure import Rule, primary, publishable, rounded, secondary


def test_counts_from_one_to_the_threshold_are_hidden() -> None:
    hidden = primary([0, 1, 5, 6, 100], Rule(suppress_below=5))
    assert hidden.tolist() == [False, True, True, False, False]


def test_a_lone_hidden_child_takes_its_smallest_sibling_with_it() -> None:
    # Borough (index 0) = three localities 1, 2, 3; locality 1 has 3 (hidden).
    counts = [120, 3, 40, 77]
    parent = [-1, 0, 0, 0]
    shown = publishable(counts, parent, Rule(5))
    assert shown.tolist() == [True, False, False, True]  # 40 hidden too: 120-77 = 43, not 3


def test_a_hidden_ward_takes_its_sibling_and_leaves_its_locality_shown() -> None:
    # borough 0 -> localities 1, 2; locality 1 -> wards 3, 4; locality 2 -> wards 5, 6
    counts = [60, 30, 30, 2, 28, 10, 20]
    parent = [-1, 0, 0, 1, 1, 2, 2]
    shown = publishable(counts, parent, Rule(5))
    # Ward 3 (2) and its only sibling; with both wards hidden the locality (30) is safe.
    assert shown.tolist() == [True, True, True, False, False, True, True]


def test_hiding_cascades_across_and_down_the_hierarchy() -> None:
    """Locality 1 (4) is small; hiding it alone would give it away as 54 - 50, so its
    sibling locality 2 is hidden too; then locality 2's wards would give locality 2 away
    as 20 + 30, so its smaller ward is hidden as well: two steps from the first cell."""
    # borough 0 -> localities 1, 2; locality 1 -> wards 3, 4; locality 2 -> wards 5, 6
    counts = [54, 4, 50, 1, 3, 20, 30]
    parent = [-1, 0, 0, 1, 1, 2, 2]
    shown = publishable(counts, parent, Rule(5))
    assert shown.tolist() == [True, False, False, False, False, False, True]
    assert not _recoverable(counts, parent, shown)


def _recoverable(counts: list[int], parent: list[int], shown: np.ndarray) -> bool:
    """Can any hidden cell be worked out from one family's published numbers?"""
    up = np.asarray(parent)
    for p in set(up[up >= 0].tolist()):
        family = [p, *np.flatnonzero(up == p).tolist()]
        if sum(not shown[i] for i in family) == 1:
            return True
    return False


@st.composite
def hierarchies(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    """A borough, its localities and their wards, with ward counts that add up."""
    n_loc = draw(st.integers(1, 5))
    wards = [draw(st.lists(st.integers(0, 40), min_size=1, max_size=6)) for _ in range(n_loc)]
    counts = [sum(map(sum, wards))] + [sum(w) for w in wards]
    parent = [-1] + [0] * n_loc
    for i, ward_counts in enumerate(wards):
        counts += ward_counts
        parent += [1 + i] * len(ward_counts)
    return counts, parent


@settings(max_examples=300, deadline=None)
@given(hierarchies(), st.integers(1, 10))
def test_no_hidden_count_can_be_recovered_by_subtraction(
        tree: tuple[list[int], list[int]], threshold: int) -> None:
    counts, parent = tree
    shown = publishable(counts, parent, Rule(threshold))
    assert not any(shown[i] and 1 <= c <= threshold for i, c in enumerate(counts))
    assert not _recoverable(counts, parent, shown)


def test_secondary_never_unhides() -> None:
    hidden = np.array([False, True, False])
    assert secondary([10, 3, 7], [-1, 0, 0], hidden)[1]


def test_rounding_to_a_base() -> None:
    assert rounded([0, 2, 3, 7, 8, 12], Rule(round_to=5)).tolist() == [0, 0, 5, 5, 10, 10]
    assert rounded([3], Rule()).tolist() == [3]
