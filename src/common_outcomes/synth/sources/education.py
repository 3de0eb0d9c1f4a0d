"""Education partners' returns: funded places for two-year-olds, the Early Years Foundation
Stage Profile, termly school attendance, and 16-17 participation (NEET and not known).

Calibrated per LA to the published good level of development, persistent absence and
NEET-or-not-known rates (nearest published year). Planted effect: after a child's early
help episode starts, their absence rate falls by the stated ratio.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from common_outcomes.synth.context import LaContext, probabilities
from common_outcomes.synth.people import days
from common_outcomes.synth.render import PersonFaults, links, noisy_person, table
from common_outcomes.synth.schools import academic_age
from common_outcomes.synth.sources.ssd import Episodes

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
# Autumn, spring, summer: first day and possible sessions (two a day).
TERMS = (("autumn", (9, 1), 140), ("spring", (1, 4), 118), ("summer", (4, 15), 122))
PERSISTENT = 0.10  # missing 10% or more of one's own possible sessions


def _ay(year: int) -> str:
    return f"{year}/{(year + 1) % 100:02d}"


def _academic_years(ctx: LaContext) -> list[int]:
    """Academic years whose summer term lies inside the window."""
    start, end = ctx.spec.window_start, ctx.spec.window_end
    return [y for y in range(start.year - 1, end.year + 1)
            if start <= date(y + 1, 6, 30) <= end]


def _fy_years(ctx: LaContext) -> list[int]:
    return ctx.spec.financial_years()


def early_education(ctx: LaContext) -> tuple[dict[str, pa.Table], pa.Table]:
    """Each January census: the two-year-olds eligible for a funded place, and who took one."""
    pop, ident = ctx.population, ctx.identities
    rng = ctx.rng("early-education")
    rows: list[IntArray] = []
    census: list[npt.NDArray[np.datetime64]] = []
    placed: list[npt.NDArray[np.bool_]] = []
    for fy in _fy_years(ctx):
        day = days(date(fy + 1, 1, 18))
        # Two at 31 December before the census.
        age = pop.age_on(pop.child_dob, days(date(fy, 12, 31)))
        child = np.flatnonzero((age == 2) & ~pop.child_stillborn)
        dep = pop.family_deprivation[pop.child_family[child]]
        eligible = child[rng.random(len(child)) < probabilities(0.9 * dep, 0.33)]
        target = ctx.target("funded_2_year_olds_take_up_percent", fy + 1)
        took = rng.random(len(eligible)) < probabilities(
            -0.3 * pop.family_deprivation[pop.child_family[eligible]], target.value / 100)
        ctx.observe(target, str(fy + 1), float(took.sum()), float(len(eligible)))
        rows.append(eligible)
        census.append(np.full(len(eligible), day))
        placed.append(took)
    child = np.concatenate(rows)
    when = np.concatenate(census)
    took = np.concatenate(placed)
    family = pop.child_family[child]
    noisy = noisy_person(rng, PersonFaults(missing_nhs_number=0.0), ident.child_first[child],
                         ident.child_surname[child], pop.child_dob[child],
                         ident.postcode_on(pop, family, when), np.full(len(child), ""),
                         ident.directory)
    ids = np.char.add(f"EE{ctx.frame.index:03d}-", np.arange(1, len(child) + 1).astype(str))
    basis = rng.choice(["economic criteria", "looked after or adopted from care",
                        "EHC plan or disability living allowance"], len(child),
                       p=[0.9, 0.04, 0.06])
    provider = np.char.add("EY", rng.integers(100_000, 999_999, len(child)).astype(str))
    return {"early_education": table({
        "record_id": ids,
        "child_forename": noisy.first,
        "child_surname": noisy.surname,
        "child_dob": noisy.dob,
        "postcode": noisy.postcode,
        "census_date": when,
        "eligibility_basis": basis,
        "funded_place": np.where(took, "Y", "N"),
        "provider_urn": np.where(took, provider, ""),
        "funded_hours_per_week": np.where(took, 15, -1),
    }, nulls={"funded_hours_per_week": -1})}, links("early_education", ids,
                                                    child=pop.child_id[child])


def eyfsp(ctx: LaContext) -> tuple[dict[str, pa.Table], pa.Table]:
    """End of Reception: a good level of development or not, per child."""
    pop, ident, schools = ctx.population, ctx.identities, ctx.schools
    rng = ctx.rng("eyfsp")
    parts = []
    for year in _academic_years(ctx):
        child = np.flatnonzero((academic_age(pop.child_dob, year) == 4) & (schools.upn != ""))
        dep = pop.family_deprivation[pop.child_family[child]]
        fsm = rng.random(len(child)) < probabilities(1.0 * dep, 0.22)
        girl = pop.child_sex[child] == 2
        target = ctx.target("gld_percent", year + 1)
        gld = rng.random(len(child)) < probabilities(
            -0.5 * fsm - 0.25 * dep + 0.45 * girl, target.value / 100)
        ctx.observe(target, _ay(year), float(gld.sum()), float(len(child)))
        parts.append((child, np.full(len(child), _ay(year)), gld, fsm,
                      np.full(len(child), days(date(year + 1, 6, 20)))))
    child = np.concatenate([p[0] for p in parts])
    year_label = np.concatenate([p[1] for p in parts])
    gld = np.concatenate([p[2] for p in parts])
    fsm = np.concatenate([p[3] for p in parts])
    when = np.concatenate([p[4] for p in parts])
    family = pop.child_family[child]
    noisy = noisy_person(rng, PersonFaults(missing_nhs_number=0.0), ident.child_first[child],
                         ident.child_surname[child], pop.child_dob[child],
                         ident.postcode_on(pop, family, when), np.full(len(child), ""),
                         ident.directory)
    upn = schools.upn[child]
    area = pop.area_on(family, when)
    return {"eyfsp": table({
        "upn": upn,
        "forename": noisy.first,
        "surname": noisy.surname,
        "dob": noisy.dob,
        "sex": np.where(pop.child_sex[child] == 1, "M", "F"),
        "ethnicity": pop.family_ethnicity[family],
        "postcode": noisy.postcode,
        "school_laestab": schools.laestab(schools.primary_of_area[area]),
        "academic_year": year_label,
        "assessment_date": when,
        "good_level_of_development": np.where(gld, "Y", "N"),
        "fsm_eligible": np.where(fsm, "Y", "N"),
    })}, links("eyfsp", np.char.add(upn, np.char.add("/", year_label)),
               child=pop.child_id[child])


def _absences(possible: list[IntArray], z: list[FloatArray], factor: list[FloatArray],
              base: FloatArray, shift: float) -> list[IntArray]:
    """Absent sessions per term for a common shift of the log-odds of absence.

    Normal approximation to the binomial with each pupil's noise `z` fixed, so absence is
    monotone in the shift and the shift can be solved exactly.
    """
    rate = 1 / (1 + np.exp(-(base + shift)))
    out = []
    for n, noise, f in zip(possible, z, factor, strict=True):
        p = np.clip(rate * f, 0, 1)
        out.append(np.clip(np.round(n * p + noise * np.sqrt(n * p * (1 - p))), 0, n).astype(
            np.int64))
    return out


def _persistent(absent: list[IntArray], possible: list[IntArray]) -> npt.NDArray[np.bool_]:
    """Pupils who missed 10% or more of their own possible sessions over the terms."""
    missed: IntArray = np.sum(absent, axis=0)
    could: IntArray = np.sum(possible, axis=0)
    result: npt.NDArray[np.bool_] = missed >= PERSISTENT * could
    return result


def attendance(ctx: LaContext, early_help: Episodes) -> tuple[dict[str, pa.Table], pa.Table]:
    """Termly sessions for pupils in Years 1-11 (academic ages 5-15)."""
    pop, ident, schools, spec = ctx.population, ctx.identities, ctx.schools, ctx.spec
    rng = ctx.rng("attendance")
    propensity = rng.standard_normal(len(pop.child_id))  # a pupil's own, year after year
    help_start = np.full(len(pop.child_id), np.datetime64("NaT"), dtype="datetime64[D]")
    order = np.argsort(early_help.start)[::-1]  # earliest episode wins
    help_start[early_help.child[order]] = early_help.start[order]
    ratio = spec.effects.early_help_absence_rate_ratio
    start, end = days(spec.window_start), days(spec.window_end)
    frames = []
    for year in range(spec.window_start.year - 1, spec.window_end.year + 1):
        in_window = [(term, days(date(year + (month < 9), month, day)), sessions)
                 for term, (month, day), sessions in TERMS
                 if start <= days(date(year + (month < 9), month, day)) <= end]
        child = np.flatnonzero((np.isin(academic_age(pop.child_dob, year), np.arange(5, 16)))
                               & (schools.upn != ""))
        if not in_window or len(child) == 0:
            continue
        dep = pop.family_deprivation[pop.child_family[child]]
        helped = ~np.isnat(help_start[child])
        base = 0.85 * propensity[child] + 0.25 * dep + 0.5 * helped + 0.15 * rng.standard_normal(
            len(child))
        possible = [sessions - rng.binomial(6, 0.1, len(child)) for _, _, sessions in in_window]
        noise = [rng.standard_normal(len(child)) for _ in in_window]
        # The planted effect: after early help starts, the absence rate falls by `ratio`.
        factor = [np.where(helped & (help_start[child] <= first), ratio, 1.0)
                  for _, first, _ in in_window]
        target = ctx.target("persistent_absence_percent", year + 1)
        lo, hi = -8.0, 4.0
        for _ in range(40):
            mid = (lo + hi) / 2
            share = float(_persistent(_absences(possible, noise, factor, base, mid),
                                      possible).mean())
            lo, hi = (mid, hi) if share < target.value / 100 else (lo, mid)
        absent = _absences(possible, noise, factor, base, hi)
        for (term, first, _), n, a in zip(in_window, possible, absent, strict=True):
            authorised = rng.binomial(a, 0.7)
            frames.append((child, year, term, n, authorised, a - authorised, first))
        if len(in_window) == len(TERMS):
            ctx.observe(target, _ay(year), float(_persistent(absent, possible).sum()),
                        float(len(child)))
    child = np.concatenate([f[0] for f in frames])
    n_rows = len(child)
    ay = np.concatenate([np.full(len(f[0]), _ay(f[1])) for f in frames])
    terms = np.concatenate([np.full(len(f[0]), f[2]) for f in frames])
    when = np.concatenate([np.full(len(f[0]), f[6]) for f in frames])
    area = pop.area_on(pop.child_family[child], when)
    age = np.concatenate([academic_age(pop.child_dob[f[0]], f[1]) for f in frames])
    school = np.where(age <= 10, schools.primary_of_area[area], schools.secondary_of_area[area])
    # The census records each pupil's home postcode, which places them by residence.
    noisy = noisy_person(rng, PersonFaults(missing_nhs_number=0.0),
                         ident.child_first[child], ident.child_surname[child],
                         pop.child_dob[child], ident.postcode_on(pop, pop.child_family[child],
                                                                 when),
                         np.full(n_rows, ""), ident.directory)
    upn = schools.upn[child]
    keys = np.char.add(np.char.add(upn, "/"), np.char.add(np.char.add(ay, "/"), terms))
    return {"school_attendance": table({
        "upn": upn,
        "forename": noisy.first,
        "surname": noisy.surname,
        "dob": noisy.dob,
        "postcode": noisy.postcode,
        "school_laestab": schools.laestab(school),
        "academic_year": ay,
        "term": terms,
        "term_start": when,
        "possible_sessions": np.concatenate([f[3] for f in frames]),
        "authorised_absence_sessions": np.concatenate([f[4] for f in frames]),
        "unauthorised_absence_sessions": np.concatenate([f[5] for f in frames]),
    })}, links("school_attendance", keys, child=pop.child_id[child])


ACTIVITIES = np.array(["full_time_education", "apprenticeship", "employment_with_training",
                       "other_education_or_training"])


def participation(ctx: LaContext) -> tuple[dict[str, pa.Table], pa.Table]:
    """16-17 year olds' activity each December, January and February (NCCIS-like)."""
    pop, ident, schools = ctx.population, ctx.identities, ctx.schools
    rng = ctx.rng("participation")
    start, end = days(ctx.spec.window_start), days(ctx.spec.window_end)
    parts = []
    for year in range(ctx.spec.window_start.year - 1, ctx.spec.window_end.year):
        months = [days(date(year, 12, 31)), days(date(year + 1, 1, 31)),
                  days(date(year + 1, 2, 28))]
        if not all(start <= m <= end for m in months):
            continue
        child = np.flatnonzero(np.isin(academic_age(pop.child_dob, year), [16, 17])
                               & ~pop.child_stillborn)
        dep = pop.family_deprivation[pop.child_family[child]]
        target = ctx.target("neet_nk_percent", year + 1)
        neet_p = probabilities(0.5 * dep, target.value / 100)
        status_neet = rng.random(len(child)) < neet_p
        not_known = status_neet & (rng.random(len(child)) < 0.45)
        share = 0.0
        for m in months:
            # A little churn month to month; the December-February average is calibrated.
            flip = rng.random(len(child)) < 0.04
            neet_now = np.where(flip, rng.random(len(child)) < neet_p, status_neet)
            activity = np.where(neet_now, np.where(not_known, "not_known", "neet"),
                                ACTIVITIES[rng.choice(4, len(child), p=[0.84, 0.06, 0.05,
                                                                       0.05])])
            share += float(neet_now.sum())
            parts.append((child, np.full(len(child), m), activity, year))
        ctx.observe(target, str(year + 1), share / 3, float(len(child)))
    child = np.concatenate([p[0] for p in parts])
    when = np.concatenate([p[1] for p in parts])
    activity = np.concatenate([p[2] for p in parts])
    age = np.concatenate([academic_age(pop.child_dob[p[0]], p[3]) for p in parts])
    family = pop.child_family[child]
    noisy = noisy_person(rng, PersonFaults(missing_nhs_number=0.0), ident.child_first[child],
                         ident.child_surname[child], pop.child_dob[child],
                         ident.postcode_on(pop, family, when), np.full(len(child), ""),
                         ident.directory)
    upn_known = rng.random(len(child)) < 0.85
    ccis = np.char.add(f"YP{ctx.frame.index:03d}-", (pop.child_id[child] % 10**9).astype(str))
    keys = np.char.add(np.char.add(ccis, "/"), when.astype(str))
    return {"participation": table({
        "ccis_id": ccis,
        "upn": np.where(upn_known, schools.upn[child], ""),
        "forename": noisy.first,
        "surname": noisy.surname,
        "dob": noisy.dob,
        "postcode": noisy.postcode,
        "month_end": when,
        "academic_age": age,
        "activity": activity,
    })}, links("participation", keys, person=pop.child_id[child])
