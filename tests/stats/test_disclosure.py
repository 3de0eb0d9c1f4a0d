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


def _recoverable(counts: list[int] | list[float], parent: list[int], shown: np.ndarray,
                 threshold: int = 5) -> bool:
    """Can any hidden cell, or a small count, be worked out from one family's published
    numbers? The families: each parent and its children, and the borough (0) and all the
    cells two levels below it (its wards)."""
    up = np.asarray(parent)
    families = [[p, *np.flatnonzero(up == p).tolist()] for p in set(up[up >= 0].tolist())]
    families.append([0, *np.flatnonzero(up > 0).tolist()])
    for head, *members in families:
        if sum(not shown[i] for i in (head, *members)) == 1:
            return True
        left = counts[head] - sum(counts[i] for i in members if shown[i])
        if shown[head] and 1 <= left <= threshold:
            return True
    return False


@st.composite
def hierarchies(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    """A borough, its localities and their wards, with ward counts that add up to the
    localities; the borough also has 0 to 9 records in no ward (no small area)."""
    n_loc = draw(st.integers(1, 5))
    wards = [draw(st.lists(st.integers(0, 40), min_size=1, max_size=6)) for _ in range(n_loc)]
    counts = [sum(map(sum, wards)) + draw(st.integers(0, 9))] + [sum(w) for w in wards]
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
    assert not _recoverable(counts, parent, shown, threshold)


def test_secondary_never_unhides() -> None:
    hidden = np.array([False, True, False])
    assert secondary([10, 3, 7], [-1, 0, 0], hidden)[1]


def test_rounding_to_a_base() -> None:
    assert rounded([0, 2, 3, 7, 8, 12], Rule(round_to=5)).tolist() == [0, 0, 5, 5, 10, 10]
    assert rounded([3], Rule()).tolist() == [3]


# A borough (0) whose three wards (1-3) add up to less than it: the rest are records with no
# small area, counted for the borough only (the residual).
WARDS = [20.0, 15.0, 22.0]


def _borough(residual: int) -> list[float]:
    return [sum(WARDS) + residual, *WARDS]


def _difference(counts: list[float], parent: list[int], shown: np.ndarray, head: int) -> float:
    """What anyone can work out: a published head minus its published children."""
    return counts[head] - sum(c for i, c in enumerate(counts) if parent[i] == head and shown[i])


def test_a_small_residual_hides_wards_so_nothing_small_can_be_differenced() -> None:
    counts, parent = _borough(3), [-1, 0, 0, 0]
    shown = publishable(counts, parent, Rule(5))
    # 60 minus the wards' 57 would be the 3 records without an area. The smallest ward (15)
    # is hidden; 60 - 42 = 18 is then that ward and the 3, which is safe, but a reader of
    # the published figures alone (as the guard is) cannot tell a lone hidden ward beside a
    # residual from one the borough gives away, so the next smallest (20) goes too.
    assert shown.tolist() == [True, False, False, True]
    assert _difference(counts, parent, shown, 0) == 20 + 15 + 3
    assert not _recoverable(counts, parent, shown)


def test_a_residual_of_zero_or_above_the_threshold_changes_nothing() -> None:
    for residual in (0, 7):
        assert publishable(_borough(residual), [-1, 0, 0, 0], Rule(5)).all()
    # The same 7 is small under a threshold of 7.
    assert not publishable(_borough(7), [-1, 0, 0, 0], Rule(7)).all()


def test_a_rounding_rule_turns_the_difference_rule_off() -> None:
    # Differences of counts published rounded are not counts.
    assert publishable(_borough(3), [-1, 0, 0, 0], Rule(5, round_to=5)).all()


def test_a_zero_is_never_the_cell_hidden_to_protect_a_small_one() -> None:
    # Hiding the 0 beside the 3 would leave 20 - 17 = 3 for anyone to work out.
    counts, parent = [20.0, 0.0, 3.0, 17.0], [-1, 0, 0, 0]
    shown = publishable(counts, parent, Rule(5))
    assert shown.tolist() == [True, True, False, False]
    # With nothing but zeros beside it, the parent goes instead.
    assert publishable([3.0, 0.0, 3.0, 0.0], parent, Rule(5)).tolist() == [
        False, True, False, True]


def test_hiding_goes_on_until_the_hidden_cells_total_is_not_small() -> None:
    # 1 and 2 are hidden together, but 44 minus the published 40 still gives their 1 + 2 and
    # the one record without an area: 4. The next smallest, 30, is hidden too.
    counts, parent = [74.0, 1.0, 2.0, 30.0, 40.0], [-1, 0, 0, 0, 0]
    shown = publishable(counts, parent, Rule(5))
    assert shown.tolist() == [True, False, False, False, True]
    assert _difference(counts, parent, shown, 0) == 34


def test_the_borough_minus_all_its_wards_is_a_family_across_localities() -> None:
    # borough 0 -> localities 1, 2 -> wards 3, 4 | 5, 6; 3 records without an area. Ward 5
    # (1) is small. Its locality and the borough's residual pair up (locality 2 and ward 5
    # hidden, each family with two hidden members), but the borough minus every published
    # ward would still give ward 5's 1 and the 3: so the borough and all its wards are a
    # family too, and a ward (the smallest: 10) is hidden for it, then locality 1 with it.
    counts = [48.0, 25.0, 20.0, 10.0, 15.0, 1.0, 19.0]
    parent = [-1, 0, 0, 1, 1, 2, 2]
    shown = publishable(counts, parent, Rule(5))
    assert shown.tolist() == [True, False, False, False, True, False, True]
    assert not _recoverable(counts, parent, shown)
    # Without the family of the borough and its wards: 48 - 25 - 19 = 4.
    assert _difference(counts, [-1, 0, 0, 0, 0, 0, 0], shown, 0) == 10 + 1 + 3
