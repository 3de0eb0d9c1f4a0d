"""Schools and pupils: which school each child attends and the UPN it was given.

Each small area feeds one primary and one secondary school (synthetic establishments with
DfE-style numbers: 2xxx primary, 4xxx secondary); a child gets its UPN on starting
Reception, at its primary school, as in life.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from common_outcomes.synth.identifiers import upns
from common_outcomes.synth.people import Population, days

IntArray = npt.NDArray[np.int64]


def academic_age(dob: npt.NDArray[np.datetime64], year: int) -> IntArray:
    """Age on 31 August before the academic year starting in September `year`."""
    cutoff = days(date(year, 8, 31))
    born = dob.astype("datetime64[Y]").astype(np.int64) + 1970
    md = (dob - dob.astype("datetime64[Y]")).astype(np.int64)
    cut_md = int((cutoff - cutoff.astype("datetime64[Y]")).astype(np.int64))
    age: IntArray = (year - born - (md > cut_md)).astype(np.int64)
    return age


def reception_year(dob: npt.NDArray[np.datetime64]) -> IntArray:
    """The calendar year in which a child starts Reception (academic age 4)."""
    born = dob.astype("datetime64[Y]").astype(np.int64) + 1970
    after_august = dob.astype("datetime64[M]").astype(np.int64) % 12 + 1 >= 9
    return (born + 4 + after_august).astype(np.int64)


@dataclass(frozen=True, eq=False)
class Schools:
    primary_of_area: IntArray  # establishment number per area
    secondary_of_area: IntArray
    la_number: int
    upn: npt.NDArray[np.str_]  # per child; "" for children too young to have one
    upn_year: IntArray  # year of allocation (Reception start), -1 if none

    def laestab(self, establishment: IntArray) -> IntArray:
        """The DfE LAESTAB number (LA number x 10,000 + establishment)."""
        return self.la_number * 10_000 + establishment


def build_schools(pop: Population, window_end: date, rng: np.random.Generator) -> Schools:
    frame = pop.frame
    n_areas = len(frame.area_codes)
    children_per_area = np.bincount(pop.family_area[pop.child_family], minlength=n_areas)
    total = int(children_per_area.sum())
    # About 420 primary pupils (7 years) and 1,000 secondary pupils (5 years) per school.
    n_primary = max(1, round(total * 7 / 24 / 420))
    n_secondary = max(1, round(total * 5 / 24 / 1000))
    primary = 2000 + np.sort(rng.choice(n_primary, n_areas)).astype(np.int64)
    secondary = 4000 + np.sort(rng.choice(n_secondary, n_areas)).astype(np.int64)
    start_year = reception_year(pop.child_dob)
    has_upn = (start_year <= window_end.year) & ~pop.child_stillborn
    idx = np.flatnonzero(has_upn)
    estab = primary[pop.family_area[pop.child_family[idx]]]
    upn = np.full(len(pop.child_id), "", dtype="<U13")
    upn[idx] = upns(rng, len(idx), frame.la_number, estab, start_year[idx])
    return Schools(primary, secondary, frame.la_number, upn,
                   np.where(has_upn, start_year, -1).astype(np.int64))
