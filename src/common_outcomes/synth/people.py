"""The synthetic residents of one local authority: families, mothers and their children.

Families are born as a stationary process: a family's first child arrives on a uniform
date, later children follow at realistic spacings, and births are thinned per year so
that each year's births track the LA's published child population (ONS mid-year
estimates / 18). Families live in a small area (weighted), some move once in the window.
Everything is vectorised over numpy arrays; one call builds one LA.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from common_outcomes.synth.frame import LaFrame

DateArray = npt.NDArray[np.datetime64]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]

# Ethnicity as the CIN census and school census code it (DfE main codes).
ETHNICITIES = np.array(["WBRI", "WOTH", "ABAN", "AIND", "APKN", "AOTH", "BAFR", "BCRB",
                        "MWBC", "MOTH", "OOTH", "REFU"])
# A London-like mix; each LA perturbs it (no small-area ethnicity data is shipped).
_ETHNIC_MIX = np.array([0.34, 0.14, 0.10, 0.07, 0.05, 0.05, 0.08, 0.04, 0.03, 0.05, 0.04, 0.01])
_FAMILY_SIZE = np.array([1, 2, 3, 4, 5])
_FAMILY_SIZE_P = np.array([0.36, 0.38, 0.17, 0.07, 0.02])
STILLBIRTH_RATE = 0.0035  # about 3.5 per 1,000 births in England in recent years
MALE_SHARE = 0.512


def days(d: date) -> np.datetime64:
    return np.datetime64(d, "D")


@dataclass(frozen=True, eq=False)
class Population:
    frame: LaFrame
    # families, one mother each (index f)
    family_id: IntArray
    family_area: IntArray  # area index where the family lives at the start
    family_moved: DateArray  # date of a move within the LA, NaT if none
    family_area_after: IntArray  # area after the move (same as before if none)
    family_deprivation: FloatArray
    family_ethnicity: StrArray
    mother_id: IntArray
    mother_dob: DateArray
    # children (index c)
    child_id: IntArray
    child_family: IntArray  # index into the family arrays
    child_dob: DateArray
    child_sex: npt.NDArray[np.int8]  # 1 male, 2 female
    child_stillborn: BoolArray

    def area_on(self, family: IntArray, day: DateArray | np.datetime64) -> IntArray:
        """Each family's area on a day (after its move, if it has moved by then)."""
        moved = ~np.isnat(self.family_moved[family]) & (self.family_moved[family] <= day)
        return np.where(moved, self.family_area_after[family], self.family_area[family])

    def child_area_on(self, child: IntArray, day: DateArray | np.datetime64) -> IntArray:
        return self.area_on(self.child_family[child], day)

    def age_on(self, dob: DateArray, day: DateArray | np.datetime64) -> IntArray:
        """Whole years of age on a day."""
        dob_y, dob_md = _year_and_month_day(dob)
        day_y, day_md = _year_and_month_day(np.asarray(day, dtype="datetime64[D]"))
        return (day_y - dob_y - (day_md < dob_md)).astype(np.int64)


def _year_and_month_day(d: DateArray) -> tuple[IntArray, IntArray]:
    years = d.astype("datetime64[Y]").astype(np.int64) + 1970
    months = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    return years, months * 100 + day


def births_per_year(population_0_17: dict[int, float], years: range) -> FloatArray:
    """Expected births in each calendar year, so that each published year's child
    population (the sum of the 18 cohorts aged 0-17) is matched.

    Starts from population / 18 and corrects each cohort by the mean ratio of published to
    implied population over the years it is counted in (a few multiplicative passes, as in
    Richardson-Lucy deconvolution); cohorts outside the published years keep the nearest.
    """
    known = sorted(population_0_17)
    first = min(years.start, known[0] - 17)
    last = max(years.stop - 1, known[-1])
    span = np.arange(first, last + 1)
    births = np.array([population_0_17[min(known, key=lambda k: (abs(k - (y + 9)), k))] / 18.0
                       for y in span])
    for _ in range(30):
        ratio = {}
        for year in known:
            cohorts = (span > year - 18) & (span <= year)
            ratio[year] = population_0_17[year] / births[cohorts].sum()
        factor = np.ones(len(span))
        for i, y in enumerate(span):
            counted = [ratio[k] for k in known if y <= k < y + 18]
            if counted:
                factor[i] = float(np.mean(counted))
        births = births * factor
    out: FloatArray = births[np.searchsorted(span, np.arange(years.start, years.stop))]
    return out


def build_population(
    frame: LaFrame,
    population_0_17: dict[int, float],
    span_start: date,
    span_end: date,
    window_start: date,
    window_end: date,
    rng: np.random.Generator,
) -> Population:
    years = range(span_start.year, span_end.year + 1)
    per_year = births_per_year(population_0_17, years)
    peak = float(per_year.max())
    lead_years = 15  # families that started before the span still have children in it
    start = days(date(span_start.year - lead_years, 1, 1))
    end = days(span_end)
    span_days = int((end - start).astype(np.int64))
    n_families = int(peak * (span_days / 365.25) / float(_FAMILY_SIZE @ _FAMILY_SIZE_P))
    sizes = rng.choice(_FAMILY_SIZE, size=n_families, p=_FAMILY_SIZE_P)
    first = start + rng.integers(0, span_days, n_families).astype("timedelta64[D]")

    family_of = np.repeat(np.arange(n_families), sizes)
    order = np.arange(len(family_of)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    gaps = np.where(order == 0, 0.0, 300 + rng.gamma(2.0, 380.0, len(family_of)))
    offsets = _cumsum_by_group(gaps, sizes)
    dob = first[family_of] + offsets.astype(np.int64).astype("timedelta64[D]")

    birth_year = dob.astype("datetime64[Y]").astype(np.int64) + 1970
    in_span = (dob >= days(span_start)) & (dob <= end)
    keep_p = np.zeros(len(dob))
    idx = birth_year[in_span] - years.start
    keep_p[in_span] = per_year[idx] / peak
    keep = rng.random(len(dob)) < keep_p
    dob, family_of = dob[keep], family_of[keep]

    families, child_family = np.unique(family_of, return_inverse=True)
    n_f, n_c = len(families), len(dob)
    mother_age_first = np.clip(rng.normal(29.5, 5.5, n_f), 16, 45)
    first_dob = first[families]
    mother_dob = first_dob - (mother_age_first * 365.25).astype(np.int64).astype(
        "timedelta64[D]")
    area = rng.choice(len(frame.area_codes), size=n_f, p=frame.area_weights)
    movers = rng.random(n_f) < 0.15
    window_days = int((days(window_end) - days(window_start)).astype(np.int64))
    moved = np.full(n_f, np.datetime64("NaT"), dtype="datetime64[D]")
    moved[movers] = days(window_start) + rng.integers(0, window_days, movers.sum()).astype(
        "timedelta64[D]")
    area_after = area.copy()
    area_after[movers] = rng.choice(len(frame.area_codes), size=int(movers.sum()),
                                    p=frame.area_weights)
    mix = rng.dirichlet(_ETHNIC_MIX * 60)
    base = frame.index * 1_000_000_000
    return Population(
        frame=frame,
        family_id=base + 1 + np.arange(n_f, dtype=np.int64),
        family_area=area.astype(np.int64),
        family_moved=moved,
        family_area_after=area_after.astype(np.int64),
        family_deprivation=frame.area_deprivation[area] + 0.6 * rng.standard_normal(n_f),
        family_ethnicity=ETHNICITIES[rng.choice(len(ETHNICITIES), size=n_f, p=mix)],
        mother_id=base + 200_000_000 + np.arange(n_f, dtype=np.int64),
        mother_dob=mother_dob,
        child_id=base + 500_000_000 + np.arange(n_c, dtype=np.int64),
        child_family=child_family.astype(np.int64),
        child_dob=dob,
        child_sex=np.where(rng.random(n_c) < MALE_SHARE, 1, 2).astype(np.int8),
        child_stillborn=rng.random(n_c) < STILLBIRTH_RATE,
    )


def _cumsum_by_group(values: FloatArray, sizes: IntArray) -> FloatArray:
    """Running sums that restart at each group (groups are consecutive, of given sizes)."""
    total = np.cumsum(values)
    starts = np.cumsum(sizes) - sizes
    before = np.repeat(total[starts] - values[starts], sizes)
    result: FloatArray = total - before
    return result
