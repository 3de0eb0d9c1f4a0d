"""Turning arrays into partner records: personal details with data-entry faults, and
Arrow tables with proper nulls and dates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

import common_outcomes.synth.pii as pii

Values = npt.NDArray[Any]


@dataclass(frozen=True)
class PersonFaults:
    """How often a partner's records get a person's details wrong (per record)."""

    typo: float = 0.02
    nickname: float = 0.03
    swapped_day_month: float = 0.01
    missing_nhs_number: float = 0.01
    missing_postcode: float = 0.01
    stale_postcode: float = 0.03  # an old or mistaken address

    @classmethod
    def default(cls) -> PersonFaults:
        return cls()


@dataclass(frozen=True, eq=False)
class NoisyPerson:
    first: Values
    surname: Values
    dob: npt.NDArray[np.datetime64]
    postcode: Values
    nhs: Values


def noisy_person(
    rng: np.random.Generator,
    faults: PersonFaults,
    first: Values,
    surname: Values,
    dob: npt.NDArray[np.datetime64],
    postcode: Values,
    nhs: Values,
    directory: pa.Table,
) -> NoisyPerson:
    """One partner's view of people: each fault applied independently at its rate."""
    first, _ = pii.nickname(rng, first, faults.nickname)
    first, _ = pii.typo(rng, first, faults.typo)
    surname, _ = pii.typo(rng, surname, faults.typo)
    dob, _ = pii.swap_day_month(rng, dob, faults.swapped_day_month)
    postcode, _ = pii.other_postcode(rng, postcode, directory, faults.stale_postcode)
    postcode, _ = pii.blank(rng, postcode, faults.missing_postcode)
    nhs, _ = pii.blank(rng, nhs, faults.missing_nhs_number)
    return NoisyPerson(first, surname, dob, postcode, nhs)


def _column(values: Values, null: object | None) -> pa.Array:
    array = np.asarray(values)
    if array.dtype.kind == "M":
        return pa.array(array.astype("datetime64[D]"), type=pa.date32())
    if array.dtype.kind in "US":
        mask = array == "" if null is None else array == null
        return pa.array(array.astype(str), type=pa.string(), mask=mask)
    if array.dtype.kind == "O":
        cleaned = [None if v is None or v == "" else str(v) for v in array.tolist()]
        return pa.array(cleaned, type=pa.string())
    if array.dtype.kind == "b":
        return pa.array(array, type=pa.bool_())
    if null is not None:
        return pa.array(array, mask=array == null)
    return pa.array(array)


def table(columns: dict[str, Values], nulls: dict[str, object] | None = None) -> pa.Table:
    """An Arrow table; empty strings, NaT, None and the given sentinels become nulls."""
    nulls = nulls or {}
    return pa.table({name: _column(values, nulls.get(name)) for name, values in columns.items()})


def links(source: str, record_ids: Values, **people: npt.NDArray[np.int64]) -> pa.Table:
    """Truth: which person each record (and each role in it) is. Never written to a source."""
    parts = [
        pa.table({
            "source": pa.array(np.full(len(record_ids), source)),
            "record_id": pa.array(np.asarray(record_ids).astype(str)),
            "role": pa.array(np.full(len(ids), role)),
            "person_id": pa.array(ids),
        })
        for role, ids in people.items()
    ]
    return pa.concat_tables(parts) if parts else pa.table({})
