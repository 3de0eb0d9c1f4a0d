"""Population denominators: residents by small area, single year of age and sex at each
30 June (the ONS mid-year reference date), counted from the synthetic residents."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

from common_outcomes.synth.context import LaContext
from common_outcomes.synth.people import days
from common_outcomes.synth.render import table


def generate(ctx: LaContext) -> dict[str, pa.Table]:
    pop, frame = ctx.population, ctx.frame
    n_areas = len(frame.area_codes)
    parts = []
    for year in range(ctx.spec.window_start.year, ctx.spec.window_end.year + 1):
        day = days(date(year, 6, 30))
        if not days(ctx.spec.window_start) <= day <= days(ctx.spec.window_end):
            continue
        age = pop.age_on(pop.child_dob, day)
        alive = (age >= 0) & (age <= 17) & ~pop.child_stillborn
        child = np.flatnonzero(alive)
        area = pop.child_area_on(child, day)
        cell = (area * 18 + age[child]) * 2 + (pop.child_sex[child] - 1)
        counts = np.bincount(cell, minlength=n_areas * 36)
        ctx.observe(ctx.target("population_0_17", year), str(year), float(len(child)), 1.0)
        idx = np.arange(n_areas * 36)
        parts.append(table({
            "mid_year": np.full(len(idx), year),
            "reference_date": np.full(len(idx), day),
            "residence_area_code": frame.area_codes[idx // 36],
            "age": (idx // 2) % 18,
            "sex": np.where(idx % 2 == 0, "M", "F"),
            "population": counts,
        }))
    return {"population": pa.concat_tables(parts)}
