"""Health visiting: the mandated contacts, one row per contact that happened in the window.

New birth visit, 6-8 week review (with breastfeeding status), 12-month review and the
2-2.5 year review (with ASQ-3 results in five domains). Timeliness and results are
calibrated to England's published figures; infant feeding group attendance raises the
odds of breastfeeding at 6-8 weeks (a planted effect).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from common_outcomes.synth.context import LaContext, Target, probabilities
from common_outcomes.synth.people import days
from common_outcomes.synth.render import PersonFaults, links, noisy_person, table
from common_outcomes.synth.sources.family_hub import HubPlan

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ASQ_DOMAINS = ("communication", "gross_motor", "fine_motor", "problem_solving",
               "personal_social")


def _timed(rng: np.random.Generator, n: int, on_time_p: float, on_time: tuple[int, int],
           late: tuple[int, int], missed_p: float) -> tuple[IntArray, BoolArray]:
    """Age in days at a contact: on time with `on_time_p`, else late, else missed (-1)."""
    on = rng.random(n) < on_time_p
    missed = ~on & (rng.random(n) < missed_p / max(1 - on_time_p, 1e-9))
    age = np.where(on, rng.integers(*on_time, n), rng.integers(*late, n))
    return np.where(missed, -1, age).astype(np.int64), on


def _fy_label(d: npt.NDArray[np.datetime64]) -> npt.NDArray[np.str_]:
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    fy = np.where(month >= 4, year, year - 1)
    return np.char.add(np.char.add(fy.astype(str), "/"),
                       np.char.zfill(((fy + 1) % 100).astype(str), 2))


def _observe_by_fy(ctx: LaContext, target: Target, when: npt.NDArray[np.datetime64],
                   success: BoolArray, counted: BoolArray) -> None:
    labels = _fy_label(when)
    for fy in ctx.spec.financial_years():
        label = f"{fy}/{(fy + 1) % 100:02d}"
        rows = counted & (labels == label)
        ctx.observe(target, label, float((success & rows).sum()), float(rows.sum()))


def generate(ctx: LaContext, hub_plan: HubPlan) -> tuple[dict[str, pa.Table], pa.Table]:
    pop, spec = ctx.population, ctx.spec
    rng = ctx.rng("health-visiting")
    start, end = days(spec.window_start), days(spec.window_end)
    child = np.flatnonzero((pop.child_dob > start - np.timedelta64(913, "D"))
                           & (pop.child_dob <= end) & ~pop.child_stillborn)
    n, dob = len(child), pop.child_dob[child]
    dep = pop.family_deprivation[pop.child_family[child]]
    year = spec.last_year
    nbv_t = ctx.target("new_birth_visit_14_days_percent", year)
    r68_t = ctx.target("review_6_8_weeks_percent", year)
    r12_t = ctx.target("review_12_months_percent", year)
    r2_t = ctx.target("review_2_years_percent", year)
    bf_t = ctx.target("breastfeeding_6_8_weeks_percent", year)
    asq_t = ctx.target("asq_all_five_percent", year)

    nbv_age, nbv_on = _timed(rng, n, nbv_t.value / 100, (1, 15), (15, 31), 0.02)
    r68_age, r68_on = _timed(rng, n, r68_t.value / 100, (42, 57), (57, 91), 0.05)
    r12_age, r12_on = _timed(rng, n, r12_t.value / 100, (300, 366), (366, 457), 0.10)
    r2_on = rng.random(n) < r2_t.value / 100
    r2_age = np.where(r2_on, rng.integers(730, 913, n), -1)

    fed = hub_plan.infant_feeding[child]
    odds = np.log(spec.effects.infant_feeding_group_breastfeeding_odds_ratio)
    reviewed = r68_age >= 0
    bf_p = np.zeros(n)
    bf_p[reviewed] = probabilities(odds * fed[reviewed] - 0.2 * dep[reviewed], bf_t.value / 100)
    breastfed = rng.random(n) < bf_p
    bf_unknown = reviewed & (rng.random(n) < 0.03)
    bf_status = np.where(~breastfed, "none", np.where(rng.random(n) < 0.55, "total", "partial"))
    bf_status = np.where(bf_unknown, "unknown", bf_status)

    asq_done = r2_on & (rng.random(n) < 0.93)
    all_five = np.zeros(n, dtype=bool)
    all_five[asq_done] = rng.random(int(asq_done.sum())) < probabilities(
        -0.3 * dep[asq_done], asq_t.value / 100)
    below = np.zeros((n, len(ASQ_DOMAINS)), dtype=bool)
    failing = np.flatnonzero(asq_done & ~all_five)
    for k in range(len(failing)):  # at most a fifth of the cohort; one to three domains each
        below[failing[k], rng.choice(len(ASQ_DOMAINS), rng.integers(1, 4), replace=False)] = True

    contacts = [("new_birth_visit", nbv_age), ("review_6_8_week", r68_age),
                ("review_12_month", r12_age), ("review_2_year", r2_age)]
    rows, kinds, dates = [], [], []
    for contact, age in contacts:
        due = dob + np.maximum(age, 0).astype("timedelta64[D]")
        happened = (age >= 0) & (due >= start) & (due <= end)
        rows.append(np.flatnonzero(happened))
        kinds.append(np.full(int(happened.sum()), contact))
        dates.append(due[happened])
    row = np.concatenate(rows)
    kind = np.concatenate(kinds)
    when = np.concatenate(dates)
    order = np.lexsort((kind, when))
    row, kind, when = row[order], kind[order], when[order]

    c = child[row]
    family = pop.child_family[c]
    ident = ctx.identities
    noisy = noisy_person(rng, PersonFaults.default(), ident.child_first[c],
                         ident.child_surname[c], pop.child_dob[c],
                         ident.postcode_on(pop, family, when), ident.child_nhs[c],
                         ident.directory)
    is68, is2 = kind == "review_6_8_week", kind == "review_2_year"
    asq_cols = {
        f"asq_{d}": np.where(is2 & asq_done[row],
                             np.where(below[row, i], "below", "at_or_above"), "")
        for i, d in enumerate(ASQ_DOMAINS)
    }
    ids = np.char.add(f"HV{ctx.frame.index:03d}-", np.arange(1, len(row) + 1).astype(str))
    hv = table({
        "contact_id": ids,
        "child_nhs_number": noisy.nhs,
        "child_forename": noisy.first,
        "child_surname": noisy.surname,
        "child_dob": noisy.dob,
        "postcode": noisy.postcode,
        "residence_area_code": ctx.frame.area_codes[pop.area_on(family, when)],
        "contact_type": kind,
        "contact_date": when,
        "breastfeeding_status": np.where(is68, bf_status[row], ""),
        **asq_cols,
    })

    # Calibration: each measure in the financial year the child became due.
    due = dob + np.timedelta64(14, "D")
    _observe_by_fy(ctx, nbv_t, due, nbv_on & (nbv_age >= 0), due <= end)
    due = dob + np.timedelta64(56, "D")
    _observe_by_fy(ctx, r68_t, due, r68_on & (r68_age >= 0), due <= end)
    _observe_by_fy(ctx, bf_t, dob + r68_age.astype("timedelta64[D]"), breastfed,
                   reviewed & ~bf_unknown)
    due = dob + np.timedelta64(365, "D")
    _observe_by_fy(ctx, r12_t, due, r12_on & (r12_age >= 0), due <= end)
    due = dob + np.timedelta64(912, "D")
    _observe_by_fy(ctx, r2_t, due, r2_on, due <= end)
    _observe_by_fy(ctx, asq_t, dob + np.maximum(r2_age, 0).astype("timedelta64[D]"), all_five,
                   asq_done)
    return {"health_visiting": hv}, links("health_visiting", ids, child=pop.child_id[c])
