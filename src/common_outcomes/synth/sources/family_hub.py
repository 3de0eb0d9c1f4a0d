"""Family Hub contacts: one row per attendance at a session, by hub, date and person.

Who attends is decided first (`plan`), because it changes other partners' records: the
antenatal attenders come from the maternity model, and infant feeding group attendance
raises breastfeeding at the health visitor's 6-8 week review.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from common_outcomes.synth.context import LaContext, probabilities
from common_outcomes.synth.people import days
from common_outcomes.synth.render import PersonFaults, links, noisy_person, table
from common_outcomes.synth.sources.maternity import Pregnancies

IntArray = npt.NDArray[np.int64]
DateArray = npt.NDArray[np.datetime64]


@dataclass(frozen=True, eq=False)
class HubPlan:
    infant_feeding: npt.NDArray[np.bool_]  # per child in the population


@dataclass
class _Sessions:
    """Attendances collected across session types before they become one table."""

    child: list[IntArray]
    family: list[IntArray]
    role: list[npt.NDArray[np.str_]]
    kind: list[npt.NDArray[np.str_]]
    date: list[DateArray]

    def add(self, child: IntArray, family: IntArray, role: str, kind: str,
            when: DateArray) -> None:
        self.child.append(child)
        self.family.append(family)
        self.role.append(np.full(len(when), role))
        self.kind.append(np.full(len(when), kind))
        self.date.append(when.astype("datetime64[D]"))


def plan(ctx: LaContext) -> HubPlan:
    pop = ctx.population
    rng = ctx.rng("family-hub-plan")
    dep = pop.family_deprivation[pop.child_family]
    infant_feeding = (rng.random(len(pop.child_id)) < probabilities(0.2 * dep, 0.22)) & \
        ~pop.child_stillborn
    return HubPlan(infant_feeding)


def _spread(rng: np.random.Generator, start: DateArray, length_days: IntArray,
            count: IntArray) -> tuple[IntArray, DateArray]:
    """`count[i]` dates for person i, spread uniformly over [start, start + length)."""
    owner = np.repeat(np.arange(len(start)), count)
    offset = (rng.random(len(owner)) * np.maximum(length_days[owner], 1)).astype(np.int64)
    return owner, start[owner] + offset.astype("timedelta64[D]")


def generate(ctx: LaContext, pregnancies: Pregnancies, hub_plan: HubPlan) -> tuple[
    dict[str, pa.Table], pa.Table
]:
    pop, spec = ctx.population, ctx.spec
    rng = ctx.rng("family-hub")
    s = _Sessions([], [], [], [], [])
    start, end = days(spec.window_start), days(spec.window_end)

    # Antenatal sessions: between a week after booking and 28 weeks' gestation.
    att = np.flatnonzero(pregnancies.attends_antenatal)
    child = pregnancies.child[att]
    conception = pop.child_dob[child] - np.timedelta64(280, "D")
    first = pregnancies.booking_date[att] + np.timedelta64(7, "D")
    last = conception + np.timedelta64(196, "D")
    owner, when = _spread(rng, first, np.maximum((last - first).astype(np.int64), 7),
                          rng.integers(1, 5, len(att)))
    s.add(child[owner], pop.child_family[child[owner]], "expectant_parent", "antenatal", when)

    # Infant feeding groups in the first 8 weeks (they matter for the 6-8 week review).
    fed = np.flatnonzero(hub_plan.infant_feeding)
    owner, when = _spread(rng, pop.child_dob[fed] + np.timedelta64(3, "D"),
                          np.full(len(fed), 50), rng.integers(1, 6, len(fed)))
    s.add(fed[owner], pop.child_family[fed[owner]], "child", "infant_feeding", when)

    # Stay and play for under-fives; perinatal mental health; parenting programmes.
    under5 = np.flatnonzero((pop.child_dob > start - np.timedelta64(5 * 365, "D"))
                            & (pop.child_dob <= end) & ~pop.child_stillborn)
    players = under5[rng.random(len(under5)) < 0.30]
    begin = np.maximum(pop.child_dob[players] + np.timedelta64(60, "D"), start)
    stop = np.minimum(pop.child_dob[players] + np.timedelta64(5 * 365, "D"), end)
    owner, when = _spread(rng, begin, np.maximum((stop - begin).astype(np.int64), 1),
                          rng.poisson(5, len(players)))
    s.add(players[owner], pop.child_family[players[owner]], "child", "stay_and_play", when)

    born = np.flatnonzero((pop.child_dob >= start) & (pop.child_dob <= end))
    pmh = born[rng.random(len(born)) < 0.06]
    owner, when = _spread(rng, pop.child_dob[pmh] + np.timedelta64(14, "D"),
                          np.full(len(pmh), 300), np.full(len(pmh), 6))
    s.add(pmh[owner], pop.child_family[pmh[owner]], "parent", "perinatal_mental_health", when)

    families = np.arange(len(pop.family_id))
    parenting = families[rng.random(len(families)) < 0.03 * spec.years]
    course_start = start + (rng.random(len(parenting)) * (end - start).astype(
        np.int64)).astype(np.int64).astype("timedelta64[D]")
    weeks = np.tile(np.arange(8) * 7, len(parenting)).astype("timedelta64[D]")
    course_owner = np.repeat(np.arange(len(parenting)), 8)
    s.add(np.full(len(course_owner), -1, dtype=np.int64), parenting[course_owner], "parent",
          "parenting_programme", course_start[course_owner] + weeks)

    return _render(ctx, s, rng)


def _render(ctx: LaContext, s: _Sessions, rng: np.random.Generator) -> tuple[
    dict[str, pa.Table], pa.Table
]:
    pop, ident = ctx.population, ctx.identities
    start, end = days(ctx.spec.window_start), days(ctx.spec.window_end)
    child = np.concatenate(s.child)
    family = np.concatenate(s.family)
    role = np.concatenate(s.role)
    kind = np.concatenate(s.kind)
    when = np.concatenate(s.date)
    keep = (when >= start) & (when <= end)
    child, family, role, kind, when = child[keep], family[keep], role[keep], kind[keep], when[keep]
    order = np.lexsort((kind, when))
    child, family, role, kind, when = (child[order], family[order], role[order], kind[order],
                                       when[order])
    is_child = role == "child"
    safe_child = np.where(is_child, child, 0)
    first = np.where(is_child, ident.child_first[safe_child], ident.mother_first[family])
    surname = np.where(is_child, ident.child_surname[safe_child], ident.mother_surname[family])
    dob = np.where(is_child, pop.child_dob[safe_child], pop.mother_dob[family])
    person = np.where(is_child, pop.child_id[safe_child], pop.mother_id[family])
    person_ref = np.char.add(f"FH{ctx.frame.index:03d}-", (person % 1_000_000_000).astype(str))
    area = pop.area_on(family, when)
    hub = ctx.frame.area_hub[area]
    noisy = noisy_person(rng, PersonFaults(missing_nhs_number=0.0), first, surname, dob,
                         ident.postcode_on(pop, family, when), np.full(len(when), ""),
                         ident.directory)
    contact_ids = np.char.add(f"FHC{ctx.frame.index:03d}-", np.arange(1, len(when) + 1).astype(
        str))
    contacts = table({
        "contact_id": contact_ids,
        "hub_person_id": person_ref,
        "forename": noisy.first,
        "surname": noisy.surname,
        "dob": noisy.dob,
        "postcode": noisy.postcode,
        "hub_id": ctx.frame.hub_ids[hub],
        "hub_name": ctx.frame.hub_names[hub],
        "session_date": when,
        "session_type": kind,
        "attendee_role": role,
    })
    return {"family_hub_contacts": contacts}, links("family_hub_contacts", contact_ids,
                                                      person=person)
