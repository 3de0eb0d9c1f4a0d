"""Disclosure control: small counts are never shown, nor can they be worked out.

Primary suppression hides counts from 1 up to a threshold (DfE publishes 1-5 as `c`;
hospital data commonly uses 1-7). Secondary (complementary) suppression then hides more cells
wherever a hidden count could be recovered by subtraction: a parent total minus its published
children, when exactly one child is hidden, reveals it. Cells form a hierarchy (LSOA -> ward ->
locality -> borough), each with at most one parent, and the children of a parent add up to it.
This module is pure: every output path of the product calls it through one choke point.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def secondary(counts: npt.ArrayLike, parent: npt.ArrayLike, hidden: BoolArray,
              below: int = 0) -> BoolArray:
    """Widen `hidden` until no hidden cell can be recovered from a published total.

    `parent[i]` is the index of cell i's parent total, or -1. Each parent and its children
    form a family, whose children add up to the parent but for what they leave out (records
    with no small area count for the borough but for no ward); so do a cell and all its
    descendants two or more levels down (a borough and its wards). See `secondary_families`.

    Ties go to the lower index, and families are visited in order: callers pass cells in the
    order of their keys (engine/results.py sorts them), so that what is hidden depends on the
    cells, never on the order their rows arrived in.
    """
    up = np.asarray(parent, dtype=np.int64)
    families: list[Family] = []
    ancestor = up
    for _ in range(len(up)):  # a hierarchy is shallower than it has cells
        if not (ancestor >= 0).any():
            break
        families += [(int(p), np.flatnonzero(ancestor == p), True)
                     for p in np.unique(ancestor[ancestor >= 0])]
        ancestor = np.where(ancestor >= 0, up[np.maximum(ancestor, 0)], -1)
    # Parents with their children first: a hidden ward takes a sibling before a ward of
    # another locality, which would then leave its own locality's family a lone hidden cell.
    return secondary_families(counts, families, hidden, below)


Family = tuple[int, IntArray, bool]  # head, members, whether the members add up to the head


def secondary_families(counts: npt.ArrayLike, families: Sequence[Family], hidden: BoolArray,
                       below: int = 0, also: Sequence[npt.ArrayLike] = ()) -> BoolArray:
    """Widen `hidden` over families given directly (a cell may be a member of several: a
    ward's count for girls adds up both to the ward's total and to the locality's girls).

    Two rules, to a fixed point (hiding a cell can expose its own family above or below):
    - the hidden cells of a family, counting its head, are none or at least two: one alone
      is the head minus the published members, or their sum;
    - where the members add up and the head is published, the head minus its published
      members must not be from 1 to `below` (0 turns the rule off), for `counts` and for
      each array in `also` (a proportion's complements). That difference is the hidden
      members' total plus what no member covers (the residual: records with no small area,
      or of unknown sex), and anyone can work it out; a small residual is a hidden cell
      that the other rule cannot see, and a hidden 0 beside a small cell hides nothing.
    The cell hidden to satisfy them is the smallest published non-zero member (ties to the
    lower index), else the head, else (its head already hidden) the smallest member. This
    is the usual complementary suppression of statistical disclosure control: no count
    below the threshold may be deducible by subtraction from what is shown (ONS, policy on
    protecting confidentiality in tables of birth and death statistics; UK LLC, statistical
    disclosure control: masking must leave no small value deducible).
    """
    c = np.asarray(counts, dtype=np.float64)
    totals = [c, *(np.asarray(a, dtype=np.float64) for a in also)]
    out = hidden.copy()
    if not families:
        return out
    links = _Links.of(families, len(c))

    def exposed(p: int, children: IntArray, adds_up: bool) -> bool:
        shown = children[~out[children]]
        lone = int(out[children].sum()) + int(out[p]) == 1
        return lone or (adds_up and bool(below) and not out[p]
                        and any(1 <= v[p] - v[shown].sum() <= below for v in totals))

    changed = True
    while changed:
        changed = False
        # Families visited in order, one at a time, each fixed as it is found; only those
        # exposed when the sweep began, or touching a cell hidden since, can be exposed now.
        look = links.exposed(out, totals, below).tolist()
        for f, (p, children, adds_up) in enumerate(families):
            if not look[f] or not exposed(p, children, adds_up):
                continue
            pick = _complement(c, children[~out[children]], p, bool(out[p]))
            out[pick] = True
            for g in links.families_of(pick).tolist():
                look[g] = True
            changed = True
    return out


@dataclass(frozen=True)
class _Links:
    """Families as flat arrays, to test them all at once, and each cell's families."""

    family: IntArray  # per link (member of a family, or its head)
    cell: IntArray
    head: IntArray  # per family
    adds_up: BoolArray
    is_head: BoolArray  # per link
    by_cell: IntArray  # links' families in order of cell
    starts: IntArray  # where each cell's run of `by_cell` starts (one more than cells)

    @staticmethod
    def of(families: Sequence[Family], cells: int) -> _Links:
        sizes = np.array([len(m) for _, m, _ in families], dtype=np.int64)
        head = np.array([p for p, _, _ in families], dtype=np.int64)
        index = np.arange(len(families), dtype=np.int64)
        family = np.concatenate([np.repeat(index, sizes), index])
        cell = np.concatenate([*(m for _, m, _ in families), head]).astype(np.int64)
        is_head = np.arange(len(cell)) >= int(sizes.sum())
        order = np.argsort(cell, kind="stable")
        starts = np.searchsorted(cell[order], np.arange(cells + 1))
        return _Links(family, cell, head, np.array([a for _, _, a in families], dtype=bool),
                      is_head, family[order], starts)

    def families_of(self, cell: int) -> IntArray:
        return self.by_cell[self.starts[cell]:self.starts[cell + 1]]

    def exposed(self, out: BoolArray, totals: Sequence[npt.NDArray[np.float64]],
                below: int) -> BoolArray:
        """The families breaking either rule of `secondary_families` now."""
        n = len(self.head)
        member = ~self.is_head
        hidden = np.bincount(self.family, weights=out[self.cell], minlength=n)
        result: BoolArray = hidden == 1
        if below:
            shown = member & ~out[self.cell]
            for v in totals:
                # NaN on a published member propagates: the difference is then unknown.
                parts = np.bincount(self.family[shown], weights=v[self.cell[shown]],
                                    minlength=n)
                left = v[self.head] - parts
                result |= self.adds_up & ~out[self.head] & (left >= 1) & (left <= below)
        return result


def _complement(counts: npt.NDArray[np.float64], shown: IntArray, head: int,
                head_hidden: bool) -> int:
    """The cell to hide beside a family's hidden ones: hiding it loses the least and hides
    something (a hidden 0 leaves the hidden total as it was)."""
    ranked = shown[np.lexsort((shown, counts[shown]))]
    nonzero = ranked[counts[ranked] != 0]
    if len(nonzero):
        return int(nonzero[0])
    return int(ranked[0]) if head_hidden and len(ranked) else head


def publishable(counts: npt.ArrayLike, parent: npt.ArrayLike, rule: Rule) -> BoolArray:
    """True where a count may be shown: primary then secondary suppression."""
    return ~secondary(counts, parent, primary(counts, rule), differenced_below(rule))


def differenced_below(rule: Rule) -> int:
    """The threshold for totals worked out by subtraction: the rule's own, except when
    counts are published rounded (a difference of rounded counts is not a count)."""
    return 0 if rule.round_to else rule.suppress_below


def rounded(counts: npt.ArrayLike, rule: Rule) -> npt.NDArray[np.float64]:
    """Counts rounded to the rule's base (half away from zero), unchanged without one."""
    c = np.asarray(counts, dtype=np.float64)
    if not rule.round_to:
        return c
    base = float(rule.round_to)
    result: npt.NDArray[np.float64] = np.sign(c) * np.floor(np.abs(c) / base + 0.5) * base
    return result
