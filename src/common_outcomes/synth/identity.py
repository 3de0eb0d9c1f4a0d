"""Who the residents are, as their records would name them: clean names, dates of birth,
NHS numbers, UPNs and postcodes, before any partner's data-entry faults.

Each source then shows a noisy copy (`Identities.noisy`), with its own faults, so the
same child looks slightly different in maternity, school and social care records, as in
life. The truth folder keeps the clean identity and which record is whose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

import common_outcomes.synth.pii as pii
from common_outcomes.synth.identifiers import nhs_numbers
from common_outcomes.synth.people import Population

StrArray = npt.NDArray[np.str_]
DateArray = npt.NDArray[np.datetime64]


@dataclass(frozen=True, eq=False)
class Identities:
    child_first: StrArray
    child_surname: StrArray
    child_nhs: StrArray  # "" where the child has no NHS number in this run
    mother_first: StrArray
    mother_surname: StrArray
    mother_nhs: StrArray
    family_postcode: StrArray  # before the move
    family_postcode_after: StrArray
    directory: pa.Table  # postcode -> area code, the synthetic postcode directory

    def postcode_on(self, pop: Population, family: npt.NDArray[np.int64],
                    day: DateArray | np.datetime64) -> StrArray:
        moved = ~np.isnat(pop.family_moved[family]) & (pop.family_moved[family] <= day)
        return np.where(moved, self.family_postcode_after[family], self.family_postcode[family])


def build_identities(pop: Population, health_from: np.datetime64,
                     rng: np.random.Generator) -> Identities:
    """Names, NHS numbers and postcodes for one LA's residents.

    NHS numbers go to children born from `health_from` (those health records in the window
    can name) and to their mothers: an LA's block of synthetic numbers is finite.
    """
    n_f = len(pop.family_id)
    surname = pii.surnames(rng, n_f)
    # About one mother in five has a surname other than her children's.
    mother_surname = np.where(rng.random(n_f) < 0.2, pii.surnames(rng, n_f), surname)
    child_first = pii.first_names(rng, pop.child_sex)
    mother_first = pii.first_names(rng, np.full(n_f, 2, dtype=np.int8))
    needs_nhs = pop.child_dob >= health_from
    # Mothers too, but only those whose children's health records fall in the window.
    mother_needs = np.zeros(n_f, dtype=bool)
    mother_needs[pop.child_family[needs_nhs]] = True
    n_children = int(needs_nhs.sum())
    numbers = nhs_numbers(rng, n_children + int(mother_needs.sum()), pop.frame.index)
    child_nhs = np.full(len(pop.child_id), "", dtype=numbers.dtype)
    child_nhs[needs_nhs] = numbers[:n_children]
    mother_nhs = np.full(n_f, "", dtype=numbers.dtype)
    mother_nhs[mother_needs] = numbers[n_children:]
    per_area = max(8, int(np.ceil(3 * n_f / max(len(pop.frame.area_codes), 1) / 10)))
    directory = pii.postcode_directory(rng, pop.frame.area_codes, per_area)
    return Identities(
        child_first=child_first,
        child_surname=surname[pop.child_family],
        child_nhs=child_nhs,
        mother_first=mother_first,
        mother_surname=mother_surname,
        mother_nhs=mother_nhs,
        family_postcode=_postcode_in(directory, pop.frame.area_codes[pop.family_area], rng),
        family_postcode_after=_postcode_in(
            directory, pop.frame.area_codes[pop.family_area_after], rng),
        directory=directory,
    )


def _postcode_in(directory: pa.Table, areas: StrArray, rng: np.random.Generator) -> StrArray:
    """A postcode from the directory inside each given area."""
    codes = np.asarray(directory.column("area_code").to_numpy(zero_copy_only=False), dtype=str)
    posts = np.asarray(directory.column("postcode").to_numpy(zero_copy_only=False), dtype=str)
    order = np.argsort(codes, kind="stable")
    codes, posts = codes[order], posts[order]
    first = np.searchsorted(codes, areas, side="left")
    count = np.searchsorted(codes, areas, side="right") - first
    pick = first + (rng.random(len(areas)) * count).astype(np.int64)
    result: StrArray = posts[pick]
    return result
