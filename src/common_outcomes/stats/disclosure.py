"""Disclosure control: small counts are never shown, nor can they be worked out.

Primary suppression hides counts from 1 up to a threshold (DfE publishes 1-5 as `c`;
hospital data commonly uses 1-7). Secondary (complementary) suppression then hides more cells
wherever a hidden count could be recovered by subtraction: a parent total minus its published
children, when exactly one child is hidden, reveals it. Cells form a hierarchy (LSOA -> ward ->
locality -> borough), each with at most one parent, and the children of a parent add up to it.
This module is pure: every output path of the product calls it through one choke point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Rule:
    suppress_below: int = 5  # counts 1..suppress_below are hidden (0 is shown: nothing to hide)
    round_to: int | None = None  # publish counts rounded to a multiple of this, if set


def primary(counts: npt.ArrayLike, rule: Rule) -> BoolArray:
    """Counts that are small enough to identify someone."""
    c = np.asarray(counts, dtype=np.float64)
    hidden: BoolArray = (c >= 1) & (c <= rule.suppress_below)
    return hidden


def secondary(counts: npt.ArrayLike, parent: npt.ArrayLike, hidden: BoolArray) -> BoolArray:
    """Widen `hidden` until no hidden cell can be recovered from a published total.

    `parent[i]` is the index of cell i's parent total, or -1. For each family (a parent and its
    children) the rule is: the cells of the family that are hidden must be none or at least
    two, counting the parent as a member. When exactly one is hidden, the smallest published
    child (or, with no published child left, the parent) is hidden too; repeat to a fixed point,
    since hiding a cell can expose its own family above or below.

    Ties go to the lower index, and families are visited in order: callers pass cells in the
    order of their keys (engine/results.py sorts them), so that what is hidden depends on the
    cells, never on the order their rows arrived in.
    """
    up = np.asarray(parent, dtype=np.int64)
    families = [(int(p), np.flatnonzero(up == p)) for p in np.unique(up[up >= 0])]
    return secondary_families(counts, families, hidden)


def secondary_families(counts: npt.ArrayLike, families: list[tuple[int, IntArray]],
                       hidden: BoolArray) -> BoolArray:
    """As `secondary`, for families given directly: a cell may be a child in several (a
    ward's count for girls adds up both to the ward's total and to the locality's girls)."""
    c = np.asarray(counts, dtype=np.float64)
    out = hidden.copy()
    changed = True
    while changed:
        changed = False
        for p, children in families:
            members_hidden = int(out[children].sum()) + int(out[p])
            if members_hidden != 1:
                continue
            shown = children[~out[children]]
            # The smallest published sibling (hiding it loses the least), else the parent.
            pick = shown[np.lexsort((shown, c[shown]))[0]] if len(shown) else p
            out[pick] = True
            changed = True
    return out


def publishable(counts: npt.ArrayLike, parent: npt.ArrayLike, rule: Rule) -> BoolArray:
    """True where a count may be shown: primary then secondary suppression."""
    return ~secondary(counts, parent, primary(counts, rule))


def rounded(counts: npt.ArrayLike, rule: Rule) -> npt.NDArray[np.float64]:
    """Counts rounded to the rule's base (half away from zero), unchanged without one."""
    c = np.asarray(counts, dtype=np.float64)
    if not rule.round_to:
        return c
    base = float(rule.round_to)
    result: npt.NDArray[np.float64] = np.sign(c) * np.floor(np.abs(c) / base + 0.5) * base
    return result
