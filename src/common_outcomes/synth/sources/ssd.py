"""Early help and children's social care, in the shape of the Standard Safeguarding Dataset.

Tables (fields as in the SSD specification, data-to-insight/ssd-data-model; the carried
reference table ssd-fields lists them): ssd_person, ssd_family, ssd_address, ssd_linked_identifiers,
ssd_early_help_episodes, ssd_cin_episodes, ssd_cp_plans, ssd_cla_episodes.

Open counts at 31 March are calibrated by simulating episodes as a steady flow from well
before the window: starts per year = target open count x 365 / mean duration. Every child
protection plan and every period of care sits inside a children in need episode, as in
the CIN census, so the CIN count at 31 March includes them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from common_outcomes.synth.context import LaContext, Target
from common_outcomes.synth.people import days
from common_outcomes.synth.render import PersonFaults, links, noisy_person, table

IntArray = npt.NDArray[np.int64]
DateArray = npt.NDArray[np.datetime64]
BURN_IN_YEARS = 8  # periods of care last years: start the flow long before the window
NEED_CODES = np.array(["N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8", "N9"])
NEED_P = np.array([0.56, 0.10, 0.07, 0.09, 0.08, 0.02, 0.01, 0.03, 0.04])
CP_CATEGORIES = np.array(["NEG", "EMO", "PHY", "SAB", "MUL"])
CP_CATEGORY_P = np.array([0.50, 0.38, 0.06, 0.03, 0.03])


@dataclass(frozen=True, eq=False)
class Episodes:
    child: IntArray
    start: DateArray
    end: DateArray  # NaT while open at the extract date


@dataclass(frozen=True, eq=False)
class SocialCare:
    early_help: Episodes  # one row per child in a family's early help episode
    cin: Episodes
    cp: Episodes
    cla: Episodes


def _durations(rng: np.random.Generator, n: int, median_days: float, sigma: float) -> IntArray:
    return np.maximum(1, np.round(median_days * np.exp(sigma * rng.standard_normal(n)))).astype(
        np.int64)


def _pick_children(ctx: LaContext, rng: np.random.Generator, when: DateArray,
                   weight_dep: float) -> IntArray:
    """A child under 18 on each date, weighted towards deprived families."""
    pop = ctx.population
    order = np.argsort(pop.child_dob)
    dob_sorted = pop.child_dob[order]
    w = np.exp(weight_dep * pop.family_deprivation[pop.child_family[order]]) * \
        ~pop.child_stillborn[order]
    cum = np.cumsum(w)
    # Eligible children on a date are a contiguous run of birth dates (age 0 to 17).
    lo = np.searchsorted(dob_sorted, when - np.timedelta64(18 * 365 + 4, "D"), side="right")
    hi = np.searchsorted(dob_sorted, when, side="right")
    base = np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0.0)
    top = cum[np.maximum(hi - 1, 0)]
    u = base + rng.random(len(when)) * (top - base)
    pos = np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1)
    picked: IntArray = order[np.clip(pos, lo, np.maximum(hi - 1, lo))].astype(np.int64)
    return picked


def _flow(ctx: LaContext, rng: np.random.Generator, open_at_31_march: Callable[[int], float],
          median_days: float, sigma: float, weight_dep: float) -> Episodes:
    """Episodes starting year by year so that the number open at each 31 March is that
    year's target: each year adds just enough starts to top up what is still open from
    earlier years (a start is still open at year end with probability `stay`)."""
    sample = _durations(rng, 20_000, median_days, sigma)
    # A start on a uniform day of the year is still open on 31 March with this probability.
    stay = float((sample > rng.integers(0, 365, sample.size)).mean())
    when_parts: list[DateArray] = []
    close_parts: list[DateArray] = []
    for fy in range(ctx.spec.window_start.year - BURN_IN_YEARS, ctx.spec.window_end.year):
        year_end = days(date(fy + 1, 3, 31))
        still_open = sum(int((c > year_end).sum()) for c in close_parts)
        wanted = max(open_at_31_march(fy + 1) - still_open, 0.0) / max(stay, 1e-6)
        n = int(rng.poisson(wanted))
        starts = days(date(fy, 4, 1)) + rng.integers(0, 365, n).astype("timedelta64[D]")
        when_parts.append(starts)
        close_parts.append(starts + _durations(rng, n, median_days, sigma).astype(
            "timedelta64[D]"))
    order = np.argsort(np.concatenate(when_parts), kind="stable")
    when = np.concatenate(when_parts)[order]
    close = np.concatenate(close_parts)[order]
    child = _pick_children(ctx, rng, when, weight_dep)
    # Care and plans end at 18 at the latest.
    eighteen = ctx.population.child_dob[child] + np.timedelta64(18 * 365 + 4, "D")
    return Episodes(child, when, np.minimum(close, eighteen))


def _repeats(ep: Episodes, within_days: int | None) -> npt.NDArray[np.bool_]:
    """Which episodes follow an earlier one of the same child (within `within_days`)."""
    order = np.lexsort((ep.start, ep.child))
    child, when = ep.child[order], ep.start[order]
    same = np.r_[False, child[1:] == child[:-1]]
    gap = np.r_[0, (when[1:] - when[:-1]).astype(np.int64)]
    repeat_sorted = same if within_days is None else same & (gap <= within_days)
    repeat = np.empty(len(order), dtype=bool)
    repeat[order] = repeat_sorted
    return repeat


def _with_repeat_share(ep: Episodes, share: Callable[[int], float], within_days: int | None,
                       rng: np.random.Generator, gap: tuple[int, int],
                       median_days: float, sigma: float) -> Episodes:
    """Episodes where each reporting year's share of starts that are repeats is `share(year)`:
    chance repeats (weighted picks make them) are dropped, then planned repeats are added a
    realistic gap after an earlier episode, as many in each year as that year needs."""
    fresh = ~_repeats(ep, within_days)
    base = Episodes(ep.child[fresh], ep.start[fresh], ep.end[fresh])
    after = base.start if within_days is not None else base.end
    # Two candidate returns per episode; each year keeps as many as it needs.
    source = np.repeat(np.arange(len(base.child)), 2)
    start = after[source] + rng.integers(*gap, len(source)).astype("timedelta64[D]")
    known = ~np.isnat(start)
    source, start = source[known], start[known]
    year = _reporting_year(start)
    fresh_year = _reporting_year(base.start)
    keep = np.zeros(len(source), dtype=bool)
    for y in np.unique(year):
        s = min(max(share(int(y)), 0.0), 0.9)
        wanted = round(s / (1 - s) * int((fresh_year == y).sum()))
        here = np.flatnonzero(year == y)
        keep[rng.permutation(here)[:wanted]] = True
    source, start = source[keep], start[keep]
    end = start + _durations(rng, len(source), median_days, sigma).astype("timedelta64[D]")
    return Episodes(np.concatenate([base.child, base.child[source]]),
                    np.concatenate([base.start, start]), np.concatenate([base.end, end]))


def _reporting_year(d: DateArray) -> IntArray:
    """The DfE reporting year (ending 31 March) a date falls in."""
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    return np.where(month >= 4, year + 1, year)


def _open_target(ctx: LaContext, measure: str) -> Callable[[int], float]:
    """The number open at 31 March of a reporting year: rate x child population / 10,000."""
    def count(year: int) -> float:
        rate = ctx.target(measure, year).value
        return rate * ctx.target("population_0_17", year - 1).value / 10_000
    return count


def _calibrated(ctx: LaContext, target: Callable[[int], float],
                build: Callable[[Callable[[int], float], np.random.Generator], Episodes],
                name: str, protected: npt.NDArray[np.int64] | None = None) -> Episodes:
    """Build episodes aiming at `target` open at each 31 March, then correct once.

    Ageing out at 18 and dropping chance repeats move the open count away from what the
    flow aimed at; the first attempt measures by how much, the second makes up the gap.
    """
    first = build(target, ctx.rng("social-care", name, "first"))
    years = range(ctx.spec.window_start.year - BURN_IN_YEARS + 1, ctx.spec.window_end.year + 1)
    gap = {y: target(y) - float(_open_on(first, days(date(y, 3, 31))).sum()) for y in years}
    second = build(lambda y: max(target(y) + gap.get(y, 0.0), 0.1 * target(y)),
                   ctx.rng("social-care", name, "second"))
    return _trim(second, target, years, protected, ctx.rng("social-care", name, "trim"))


def _trim(ep: Episodes, target: Callable[[int], float], years: range,
          protected: npt.NDArray[np.int64] | None, rng: np.random.Generator) -> Episodes:
    """Where a year's stock overshoots (published numbers can fall faster than episodes
    close), close enough of that year's new episodes before 31 March."""
    end = ep.end.copy()
    key = ep.child * 1_000_000 + ep.start.astype(np.int64)
    movable = ~np.isin(key, protected) if protected is not None else np.ones(len(key), bool)
    for y in years:
        day = days(date(y, 3, 31))
        is_open = (ep.start <= day) & (np.isnat(end) | (end > day))
        over = int(is_open.sum() - round(target(y)))
        candidates = np.flatnonzero(is_open & movable & (ep.start > day - np.timedelta64(365,
                                                                                          "D")))
        if over <= 0 or len(candidates) == 0:
            continue
        chosen = rng.permutation(candidates)[:over]
        length = (day - ep.start[chosen]).astype(np.int64)
        end[chosen] = ep.start[chosen] + (rng.random(len(chosen)) * np.maximum(length, 1)).astype(
            np.int64).astype("timedelta64[D]")
    return Episodes(ep.child, ep.start, end)


def simulate(ctx: LaContext) -> SocialCare:
    n_cla = _open_target(ctx, "cla_rate_per_10k")
    n_cp = _open_target(ctx, "cpp_rate_per_10k")
    n_cin = _open_target(ctx, "cin_rate_per_10k")

    def share(measure: str) -> Callable[[int], float]:
        return lambda y: ctx.target(measure, y).value / 100

    subsequent = share("cpp_subsequent_percent")
    cla = _calibrated(ctx, n_cla, lambda t, rng: _flow(ctx, rng, t, 700, 0.9, 0.8), "cla")
    # Second or subsequent plans: the same children, a while after their previous plan.
    cp = _calibrated(ctx, n_cp, lambda t, rng: _with_repeat_share(
        _flow(ctx, rng, lambda y: t(y) * (1 - subsequent(y)), 230, 0.6, 0.8),
        subsequent, None, rng, (90, 900), 230, 0.6), "cp")
    # Each plan and each period of care sits inside a CIN episode that spans it.
    rng = ctx.rng("social-care", "wrap")
    lead_in = rng.integers(5, 60, len(cp.child) + len(cla.child)).astype("timedelta64[D]")
    wrapped = Episodes(np.concatenate([cp.child, cla.child]),
                       (np.concatenate([cp.start, cla.start]) - lead_in).astype("datetime64[D]"),
                       (np.concatenate([cp.end, cla.end]) + np.timedelta64(7, "D")).astype(
                           "datetime64[D]"))

    def cin_with(t: Callable[[int], float], flow_rng: np.random.Generator) -> Episodes:
        def generic(y: int) -> float:
            return max(t(y) - n_cp(y) - n_cla(y), 0.2 * t(y))

        # Re-referrals: a share of referrals come back within 12 months of the previous one.
        both = _merge(_flow(ctx, flow_rng, generic, 150, 1.0, 0.6), wrapped)
        return _with_repeat_share(both, share("rereferral_percent"), 365, flow_rng, (30, 365),
                                  150, 1.0)

    # Episodes wrapping a plan or a period of care keep their dates.
    cin = _calibrated(ctx, n_cin, cin_with, "cin",
                      wrapped.child * 1_000_000 + wrapped.start.astype(np.int64))
    early_help = _early_help(ctx, ctx.rng("social-care", "early-help"))
    return SocialCare(early_help, _censor(ctx, cin), _censor(ctx, cp), _censor(ctx, cla))


def _merge(a: Episodes, b: Episodes) -> Episodes:
    return Episodes(np.concatenate([a.child, b.child]), np.concatenate([a.start, b.start]),
                    np.concatenate([a.end, b.end]))


def _early_help(ctx: LaContext, rng: np.random.Generator) -> Episodes:
    """Whole-family early help: every child under 18 in the family is part of the episode."""
    pop = ctx.population
    per_10k = ctx.target("early_help_episodes_per_10k", ctx.spec.last_year).value
    children = ctx.target("population_0_17", ctx.spec.last_year).value
    start = days(ctx.spec.window_start) - np.timedelta64(365, "D")
    end = days(ctx.spec.window_end)
    span = int((end - start).astype(np.int64))
    # A family episode covers about 1.8 children: families started = child episodes / 1.8.
    n = int(rng.poisson(per_10k * children / 10_000 / 1.8 * span / 365.25))
    when = start + rng.integers(0, span, n).astype("timedelta64[D]")
    lead = _pick_children(ctx, rng, when, 0.7)
    family = pop.child_family[lead]
    # Siblings: every child of the family who is under 18 on the start date.
    order = np.argsort(pop.child_family, kind="stable")
    first = np.searchsorted(pop.child_family[order], family, side="left")
    count = np.searchsorted(pop.child_family[order], family, side="right") - first
    episode = np.repeat(np.arange(n), count)
    sibling = order[np.repeat(first, count) + (np.arange(len(episode)) - np.repeat(
        np.cumsum(count) - count, count))]
    starts = when[episode]
    age_days = (starts - pop.child_dob[sibling]).astype(np.int64)
    keep = (age_days >= 0) & (age_days < 18 * 365) & ~pop.child_stillborn[sibling]
    duration = _durations(rng, n, 150, 0.5).astype("timedelta64[D]")
    return _censor(ctx, Episodes(sibling[keep], starts[keep], (when + duration)[episode][keep]))


def _censor(ctx: LaContext, ep: Episodes) -> Episodes:
    """The extract is taken at the window's end: later dates are not yet known."""
    end = days(ctx.spec.window_end)
    keep = ep.start <= end
    close = np.where(ep.end[keep] > end, np.datetime64("NaT"), ep.end[keep])
    return Episodes(ep.child[keep], ep.start[keep], close.astype("datetime64[D]"))


def _open_on(ep: Episodes, day: np.datetime64) -> npt.NDArray[np.bool_]:
    return (ep.start <= day) & (np.isnat(ep.end) | (ep.end > day))


def _under_18_on(ctx: LaContext, day: np.datetime64) -> int:
    pop = ctx.population
    age = (day - pop.child_dob).astype(np.int64)
    return int(((age >= 0) & (age < 18 * 365 + 4) & ~pop.child_stillborn).sum())


def observe(ctx: LaContext, care: SocialCare) -> None:
    for year in range(ctx.spec.window_start.year + 1, ctx.spec.window_end.year + 1):
        day = days(date(year, 3, 31))
        children = _under_18_on(ctx, day)
        for measure, ep in (("cin_rate_per_10k", care.cin), ("cpp_rate_per_10k", care.cp),
                            ("cla_rate_per_10k", care.cla)):
            target = ctx.target(measure, year)
            ctx.observe(target, str(year), float(_open_on(ep, day).sum()),
                        float(children))
        start = days(date(year - 1, 4, 1))
        _observe_repeats(ctx, ctx.target("rereferral_percent", year), str(year), care.cin,
                         start, day, within_days=365)
        _observe_repeats(ctx, ctx.target("cpp_subsequent_percent", year), str(year), care.cp,
                         start, day, within_days=None)


def _observe_repeats(ctx: LaContext, target: Target, period: str, ep: Episodes,
                     start: np.datetime64, end: np.datetime64, within_days: int | None) -> None:
    """Share of starts in [start, end] that follow an earlier start for the same child
    (within `within_days` of it, or ever)."""
    repeat = _repeats(ep, within_days)
    in_year = (ep.start >= start) & (ep.start <= end)
    ctx.observe(target, period, float((repeat & in_year).sum()), float(in_year.sum()))


def render(ctx: LaContext, care: SocialCare) -> tuple[dict[str, pa.Table], pa.Table]:
    pop, ident = ctx.population, ctx.identities
    rng = ctx.rng("ssd")
    known = np.unique(np.concatenate([care.early_help.child, care.cin.child, care.cp.child,
                                      care.cla.child]))
    families = np.unique(pop.child_family[known])
    n_c, n_m = len(known), len(families)
    prefix = f"{ctx.frame.code[-3:]}"
    child_pid = np.char.add(f"C{prefix}", (pop.child_id[known] % 10**9).astype(str))
    mother_pid = np.char.add(f"M{prefix}", (pop.mother_id[families] % 10**9).astype(str))
    person_of_child = dict(zip(known.tolist(), child_pid.tolist(), strict=True))
    extract = days(ctx.spec.window_end)
    fam = pop.child_family[known]
    kids = noisy_person(rng, PersonFaults(missing_nhs_number=0.35), ident.child_first[known],
                        ident.child_surname[known], pop.child_dob[known],
                        ident.postcode_on(pop, fam, extract), ident.child_nhs[known],
                        ident.directory)
    mums = noisy_person(rng, PersonFaults(missing_nhs_number=0.5), ident.mother_first[families],
                        ident.mother_surname[families], pop.mother_dob[families],
                        ident.postcode_on(pop, families, extract), ident.mother_nhs[families],
                        ident.directory)
    pid = np.concatenate([child_pid, mother_pid])
    person = table({
        "pers_person_id": pid,
        "pers_forename": np.concatenate([kids.first, mums.first]),
        "pers_surname": np.concatenate([kids.surname, mums.surname]),
        "pers_sex": np.concatenate([np.where(pop.child_sex[known] == 1, "M", "F"),
                                    np.full(n_m, "F")]),
        "pers_ethnicity": np.concatenate([pop.family_ethnicity[fam],
                                          pop.family_ethnicity[families]]),
        "pers_dob": np.concatenate([kids.dob, mums.dob]),
        "pers_send_flag": np.concatenate([np.where(rng.random(n_c) < 0.15, "Y", "N"),
                                          np.full(n_m, "N")]),
        "pers_is_mother": np.concatenate([np.full(n_c, "N"), np.full(n_m, "Y")]),
    })
    family_ids = np.char.add(f"F{prefix}", (pop.family_id % 10**9).astype(str))
    family = table({
        "fami_table_id": np.char.add("FT", np.arange(1, n_c + n_m + 1).astype(str)),
        "fami_family_id": np.concatenate([family_ids[fam], family_ids[families]]),
        "fami_person_id": pid,
    })
    address = _addresses(ctx, known, families, pid)
    identifiers = _identifiers(ctx, known, child_pid, kids.nhs)

    def ids(ep: Episodes) -> npt.NDArray[np.str_]:
        return np.array([person_of_child[c] for c in ep.child.tolist()], dtype=str)

    n_eh, n_cin, n_cp, n_cla = (len(care.early_help.child), len(care.cin.child),
                                len(care.cp.child), len(care.cla.child))
    early_help = table({
        "earl_episode_id": np.char.add("EH", np.arange(1, n_eh + 1).astype(str)),
        "earl_person_id": ids(care.early_help),
        "earl_episode_start_date": care.early_help.start,
        "earl_episode_end_date": care.early_help.end,
        "earl_episode_reason": rng.choice(
            ["Family support", "School attendance", "Parenting", "Domestic abuse",
             "Mental health", "Housing"], n_eh),
        "earl_episode_end_reason": np.where(np.isnat(care.early_help.end), "",
                                            rng.choice(["Needs met", "Stepped up to social care",
                                                        "Family withdrew", "Moved away"],
                                                       n_eh, p=[0.7, 0.1, 0.12, 0.08])),
        "earl_episode_organisation": rng.choice(["Family Hub", "School", "Health visiting",
                                                 "Voluntary sector"], n_eh),
        "earl_episode_worker_id": np.char.add("W", rng.integers(100, 400, n_eh).astype(str)),
    })
    cin_ids = np.char.add("R", np.arange(1, n_cin + 1).astype(str))
    cin = table({
        "cine_referral_id": cin_ids,
        "cine_person_id": ids(care.cin),
        "cine_referral_date": care.cin.start,
        "cine_cin_primary_need_code": NEED_CODES[rng.choice(len(NEED_CODES), n_cin, p=NEED_P)],
        "cine_referral_source_code": rng.choice(["1A", "1B", "2A", "3A", "5A", "5B", "6"],
                                                n_cin),
        "cine_referral_nfa": np.where(rng.random(n_cin) < 0.065, "Y", "N"),
        "cine_close_reason": np.where(np.isnat(care.cin.end), "",
                                      rng.choice(["RC1", "RC2", "RC3", "RC4", "RC7", "RC8"],
                                                 n_cin)),
        "cine_close_date": care.cin.end,
        "cine_referral_team": rng.choice(["MASH", "Assessment", "Children in need"], n_cin),
    })
    cp = table({
        "cppl_cp_plan_id": np.char.add("CP", np.arange(1, n_cp + 1).astype(str)),
        "cppl_person_id": ids(care.cp),
        "cppl_cp_plan_start_date": care.cp.start,
        "cppl_cp_plan_end_date": care.cp.end,
        "cppl_cp_plan_initial_category": CP_CATEGORIES[
            rng.choice(len(CP_CATEGORIES), n_cp, p=CP_CATEGORY_P)],
    })
    cla = table({
        "clae_cla_episode_id": np.char.add("CLA", np.arange(1, n_cla + 1).astype(str)),
        "clae_person_id": ids(care.cla),
        "clae_cla_episode_start_date": care.cla.start,
        "clae_cla_episode_start_reason": np.full(n_cla, "S"),
        "clae_cla_primary_need_code": NEED_CODES[rng.choice(len(NEED_CODES), n_cla, p=NEED_P)],
        "clae_cla_episode_ceased_date": care.cla.end,
        "clae_cla_episode_ceased_reason": np.where(
            np.isnat(care.cla.end), "",
            rng.choice(["E4A", "E11", "E41", "E45", "E5", "E13"], n_cla)),
    })
    truth = links("ssd_person", pid, person=np.concatenate([pop.child_id[known],
                                                            pop.mother_id[families]]))
    return {"ssd_person": person, "ssd_family": family, "ssd_address": address,
            "ssd_linked_identifiers": identifiers, "ssd_early_help_episodes": early_help,
            "ssd_cin_episodes": cin, "ssd_cp_plans": cp, "ssd_cla_episodes": cla}, truth


def _addresses(ctx: LaContext, known: IntArray, families: IntArray,
               pid: npt.NDArray[np.str_]) -> pa.Table:
    """Each person's current address, and the previous one for families that moved."""
    pop, ident = ctx.population, ctx.identities
    fam = np.concatenate([pop.child_family[known], families])
    moved = ~np.isnat(pop.family_moved[fam])
    start = np.full(len(fam), np.datetime64("NaT"), dtype="datetime64[D]")
    people = np.concatenate([pid, pid[moved]])
    postcode = np.concatenate([np.where(moved, ident.family_postcode_after[fam],
                                        ident.family_postcode[fam]),
                               ident.family_postcode[fam][moved]])
    starts = np.concatenate([np.where(moved, pop.family_moved[fam], start), start[moved]])
    ends = np.concatenate([start, pop.family_moved[fam][moved]])
    n = len(people)
    return table({
        "addr_table_id": np.char.add("A", np.arange(1, n + 1).astype(str)),
        "addr_person_id": people,
        "addr_address_type": np.full(n, "Home"),
        "addr_address_start_date": starts,
        "addr_address_end_date": ends,
        "addr_address_postcode": postcode,
    })


def _identifiers(ctx: LaContext, known: IntArray, child_pid: npt.NDArray[np.str_],
                 nhs: npt.NDArray[np.object_]) -> pa.Table:
    """NHS numbers and UPNs that the case system holds (not all are recorded)."""
    upn = ctx.schools.upn[known]
    nhs_text = np.array(["" if v is None else str(v) for v in np.asarray(nhs).tolist()])
    rows_nhs = np.flatnonzero(nhs_text != "")
    rows_upn = np.flatnonzero(upn != "")
    person = np.concatenate([child_pid[rows_nhs], child_pid[rows_upn]])
    kind = np.concatenate([np.full(len(rows_nhs), "NHS Number"),
                           np.full(len(rows_upn), "Unique Pupil Number")])
    value = np.concatenate([nhs_text[rows_nhs], upn[rows_upn]])
    n = len(person)
    return table({
        "link_table_id": np.char.add("L", np.arange(1, n + 1).astype(str)),
        "link_person_id": person,
        "link_identifier_type": kind,
        "link_identifier_value": value,
    })
