"""Maternity records: one row per baby born in the window (MSDS-like).

Planted effects (sizes in `Effects`): mothers who attend a Family Hub antenatal session
book earlier, and booking by 10 completed weeks lowers the odds of low birth weight at
term. The pregnancy model is returned too, so the Family Hub source can record the
antenatal sessions that the attenders went to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from common_outcomes.synth.context import LaContext, probabilities
from common_outcomes.synth.people import days
from common_outcomes.synth.render import PersonFaults, links, noisy_person, table

IntArray = npt.NDArray[np.int64]
EARLY_BOOKING_DAYS = 76  # within 10 completed weeks: 10 weeks + 6 days at most


@dataclass(frozen=True, eq=False)
class Pregnancies:
    child: IntArray  # index into the population's children
    booking_date: npt.NDArray[np.datetime64]
    booking_days: IntArray
    attends_antenatal: npt.NDArray[np.bool_]
    early_booking: npt.NDArray[np.bool_]


def _gestation_at_birth(rng: np.random.Generator, n: int, preterm_p: float) -> IntArray:
    preterm = rng.random(n) < preterm_p
    term_weeks = rng.choice([37, 38, 39, 40, 41, 42], size=n,
                            p=[0.08, 0.18, 0.30, 0.29, 0.13, 0.02])
    pre_weeks = 36 - np.minimum(rng.geometric(0.35, n) - 1, 12)
    return np.where(preterm, pre_weeks, term_weeks).astype(np.int64)


def _calibrate_shift(base: npt.NDArray[np.float64], shift: npt.NDArray[np.float64],
                     target: float) -> npt.NDArray[np.float64]:
    """Booking gestations (days) with exactly `target` of them within 10 completed weeks:
    bisect a common offset on the log scale, keeping everyone's relative position."""
    lo, hi = -3.0, 3.0
    for _ in range(60):
        mid = (lo + hi) / 2
        share = float((np.exp(base + mid) + shift <= EARLY_BOOKING_DAYS).mean())
        lo, hi = (lo, mid) if share < target else (mid, hi)
    booked: npt.NDArray[np.float64] = np.clip(np.exp(base + (lo + hi) / 2) + shift, 35, 200)
    return booked


def generate(ctx: LaContext) -> tuple[dict[str, pa.Table], pa.Table, Pregnancies]:
    pop, spec = ctx.population, ctx.spec
    rng = ctx.rng("maternity")
    start, end = days(spec.window_start), days(spec.window_end)
    child = np.flatnonzero((pop.child_dob >= start) & (pop.child_dob <= end)).astype(np.int64)
    n = len(child)
    family = pop.child_family[child]
    dep = pop.family_deprivation[family]
    dob = pop.child_dob[child]
    birth_year = dob.astype("datetime64[Y]").astype(np.int64) + 1970
    still = pop.child_stillborn[child]

    premature = ctx.target("premature_births_per_1000", spec.last_year)
    preterm_p = max(premature.value / 1000 - 0.0035, 0.0) / (1 - 0.0035)
    ga_weeks = _gestation_at_birth(rng, n, preterm_p)
    ga_days = ga_weeks * 7 + rng.integers(0, 7, n)

    attends = rng.random(n) < probabilities(-0.25 * dep, 0.35)
    shift = (spec.effects.antenatal_attendance_booking_shift_weeks * 7 * attends).astype(
        np.float64)
    booking_target = ctx.target("booking_within_10_weeks_percent", spec.last_year)
    base = np.log(68.0) + 0.30 * rng.standard_normal(n) + 0.08 * dep
    # Calibrated within each financial year of delivery, the period it is reported for.
    booked = np.zeros(n)
    delivery_fy = _financial_year(dob)
    for fy in np.unique(delivery_fy):
        rows = delivery_fy == fy
        booked[rows] = _calibrate_shift(base[rows], shift[rows], booking_target.value / 100)
    booking_days = np.minimum(booked, ga_days - 14).astype(np.int64)
    early = booking_days <= EARLY_BOOKING_DAYS
    booking_date = dob - (ga_days - booking_days).astype("timedelta64[D]")

    smoke_target = ctx.target("smoking_at_delivery_percent", spec.last_year)
    smoke_booking = rng.random(n) < probabilities(0.5 * dep, min(smoke_target.value / 100 * 1.45,
                                                                 0.95))
    quit_p = 1 - (smoke_target.value / 100) / max(float(smoke_booking.mean()), 1e-9)
    smoke_delivery = smoke_booking & (rng.random(n) >= quit_p)

    term_live = (ga_weeks >= 37) & ~still
    lbw_target = ctx.target("low_birth_weight_term_percent", spec.last_year)
    offsets = (0.35 * dep + np.log(spec.effects.early_booking_low_birth_weight_odds_ratio) * early
               + 0.65 * smoke_delivery)
    # Solve the intercept over term live births only, where the measure is defined.
    lbw_p = np.zeros(n)
    lbw_p[term_live] = probabilities(offsets[term_live], lbw_target.value / 100)
    lbw = rng.random(n) < lbw_p
    weight = _birth_weight(rng, ga_weeks, lbw)

    mother_age = pop.age_on(pop.mother_dob[family], dob)
    faults = PersonFaults.default()
    mother = noisy_person(rng, faults, ctx.identities.mother_first[family],
                          ctx.identities.mother_surname[family], pop.mother_dob[family],
                          ctx.identities.postcode_on(pop, family, dob),
                          ctx.identities.mother_nhs[family], ctx.identities.directory)
    unknown_smoking = rng.random(n) < 0.03
    record_ids = np.char.add(f"MAT{ctx.frame.index:03d}-", np.arange(1, n + 1).astype(str))
    maternity = table({
        "record_id": record_ids,
        "mother_nhs_number": mother.nhs,
        "mother_forename": mother.first,
        "mother_surname": mother.surname,
        "mother_dob": mother.dob,
        "mother_postcode": mother.postcode,
        "residence_area_code": ctx.frame.area_codes[pop.child_area_on(child, dob)],
        "mother_ethnicity": pop.family_ethnicity[family],
        "mother_age_at_delivery": mother_age,
        "booking_date": booking_date,
        "gestation_at_booking_days": booking_days,
        "smoking_at_booking": np.where(unknown_smoking, "U", np.where(smoke_booking, "Y", "N")),
        "smoking_at_delivery": np.where(unknown_smoking, "U",
                                        np.where(smoke_delivery, "Y", "N")),
        "baby_nhs_number": np.where(still, "", ctx.identities.child_nhs[child]),
        "baby_dob": dob,
        "baby_sex": np.where(pop.child_sex[child] == 1, "M", "F"),
        "birth_weight_g": np.where(rng.random(n) < 0.005, -1, weight),
        "gestational_age_weeks": ga_weeks,
        "birth_outcome": np.where(still, "stillbirth", "live"),
    }, nulls={"birth_weight_g": -1})

    for year in sorted(set(birth_year.tolist())):
        in_year = birth_year == year
        known = in_year & term_live & (weight > 0)
        ctx.observe(lbw_target, str(year), float((lbw & known).sum()), float(known.sum()))
        ctx.observe(premature, str(year),
                    float((in_year & ((ga_weeks < 37) | still)).sum()),
                    float(in_year.sum()))
    for fy in spec.financial_years():
        label = f"{fy}/{(fy + 1) % 100:02d}"
        known = (delivery_fy == fy) & ~unknown_smoking
        ctx.observe(smoke_target, label, float((smoke_delivery & known).sum()), float(known.sum()))
        # By the financial year of delivery: later bookings' births fall outside the window.
        booked = delivery_fy == fy
        ctx.observe(booking_target, label, float((early & booked).sum()), float(booked.sum()))
    record_links = links("maternity", record_ids, mother=pop.mother_id[family],
                         child=pop.child_id[child])
    return {"maternity": maternity}, record_links, Pregnancies(
        child, booking_date, booking_days, attends, early)


def _birth_weight(rng: np.random.Generator, ga_weeks: IntArray,
                  lbw: npt.NDArray[np.bool_]) -> IntArray:
    n = len(ga_weeks)
    term_ok = 3450 + 430 * rng.standard_normal(n)
    term_ok = np.where(term_ok < 2500, 5000 - term_ok, term_ok)  # reflect above 2,500 g
    term_low = 2500 - rng.gamma(2.0, 160.0, n)
    preterm = 3450 * (ga_weeks / 40.0) ** 3 * np.exp(0.15 * rng.standard_normal(n))
    weight = np.where(ga_weeks < 37, preterm, np.where(lbw, term_low, term_ok))
    # Low birth weight at term is exactly the flag; keep the two consistent at the edge.
    weight = np.where((ga_weeks >= 37) & lbw, np.minimum(weight, 2499), weight)
    weight = np.where((ga_weeks >= 37) & ~lbw, np.maximum(weight, 2500), weight)
    return np.clip(np.round(weight), 400, 6000).astype(np.int64)


def _financial_year(d: npt.NDArray[np.datetime64]) -> IntArray:
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    return np.where(month >= 4, year, year - 1)
