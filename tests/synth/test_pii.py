"""Synthetic names and postcodes, and the faults injected into them."""

from __future__ import annotations

import csv
import re
from importlib import resources

import numpy as np
import pyarrow as pa
import pytest

from common_outcomes.synth import pii

N = 20_000
RATE = 0.10
TOLERANCE = 0.02


def _csv(name: str) -> list[dict[str, str]]:
    path = resources.files("common_outcomes.synth").joinpath("data", name)
    return list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))


def _names(seed: int = 0, n: int = N) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return pii.first_names(rng, rng.integers(1, 3, size=n))


def _directory(seed: int = 0, areas: int = 150, per_area: int = 40) -> pa.Table:
    codes = np.array([f"E01{i:06d}" for i in range(areas)])
    return pii.postcode_directory(np.random.default_rng(seed), codes, per_area)


# --- name lists ----------------------------------------------------------------------------


def test_name_lists_are_well_formed() -> None:
    first = _csv("first_names.csv")
    surnames = _csv("surnames.csv")
    nicknames = _csv("nicknames.csv")
    assert len(first) >= 300 and len(surnames) >= 300 and len(nicknames) >= 80
    assert {r["sex"] for r in first} == {"1", "2"}
    assert len({r["name"] for r in first}) == len(first)
    assert len({r["name"] for r in surnames}) == len(surnames)
    assert all(float(r["weight"]) > 0 for r in first + surnames)
    # Every formal name with a nickname can be drawn, so the nickname fault can fire.
    assert {r["name"] for r in nicknames} <= {r["name"] for r in first}


def test_first_names_follow_sex() -> None:
    sexes = {r["name"]: int(r["sex"]) for r in _csv("first_names.csv")}
    rng = np.random.default_rng(1)
    sex = rng.integers(1, 3, size=5_000)
    names = pii.first_names(rng, sex)
    assert names.shape == sex.shape
    assert all(sexes[name] == s for name, s in zip(names, sex, strict=True))
    # Unknown sex draws from everyone.
    either = pii.first_names(rng, np.zeros(2_000, dtype=np.int8))
    assert {sexes[n] for n in either} == {1, 2}


def test_names_follow_weights_and_are_deterministic() -> None:
    surnames = pii.surnames(np.random.default_rng(3), N)
    assert np.array_equal(surnames, pii.surnames(np.random.default_rng(3), N))
    weights = {r["name"]: float(r["weight"]) for r in _csv("surnames.csv")}
    share = (surnames == "Smith").mean()
    expected = weights["Smith"] / sum(weights.values())
    assert abs(share - expected) < 0.005
    assert np.array_equal(_names(4), _names(4))


# --- postcodes -----------------------------------------------------------------------------


def test_postcode_directory_maps_each_postcode_to_one_area() -> None:
    directory = _directory()
    assert directory.column_names == ["postcode", "area_code"]
    assert directory.num_rows == 150 * 40
    rows = directory.to_pylist()
    postcodes = [r["postcode"] for r in rows]
    assert len(set(postcodes)) == len(postcodes)  # so no postcode can name two areas
    areas: dict[str, set[str]] = {}
    for r in rows:
        areas.setdefault(r["postcode"], set()).add(r["area_code"])
    assert all(len(a) == 1 for a in areas.values())
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["area_code"]] = counts.get(r["area_code"], 0) + 1
    assert set(counts.values()) == {40}


def test_postcodes_are_in_the_unreal_qx_area() -> None:
    directory = _directory()
    pattern = r"^QX([1-9]|[1-9][0-9]) [0-9][ABDEFGHJLNPQRSTUWXYZ]{2}$"
    assert all(re.match(pattern, p) for p in directory.column("postcode").to_pylist())


def test_postcodes_cluster_by_area() -> None:
    directory = _directory()
    by_area: dict[str, set[str]] = {}
    for r in directory.to_pylist():
        by_area.setdefault(r["area_code"], set()).add(pii.postcode_sector(r["postcode"]))
    # A small area's 40 postcodes sit in one or two sectors, as real ones do.
    assert max(len(s) for s in by_area.values()) <= 2


def test_postcodes_return_area_index_and_are_deterministic() -> None:
    counts = np.array([3, 0, 5])
    index = np.array([7, 8, 9])
    codes, areas = pii.postcodes(np.random.default_rng(0), counts, index)
    assert areas.tolist() == [7, 7, 7, 9, 9, 9, 9, 9]
    again, _ = pii.postcodes(np.random.default_rng(0), counts, index)
    assert np.array_equal(codes, again)


def test_postcodes_refuse_more_than_the_area_holds() -> None:
    with pytest.raises(ValueError, match="holds"):
        pii.postcodes(np.random.default_rng(0), np.array([pii.POSTCODE_CAPACITY + 1]),
                      np.array([0]))


def test_postcode_sector() -> None:
    assert pii.postcode_sector("QX12 3AB") == "QX12 3"
    assert pii.postcode_sector("QX1 2AB") == "QX1 2"
    assert pii.postcode_sector("qx123ab") == "QX12 3"  # missing space, lower case
    sectors = pii.postcode_sector(np.array(["QX12 3AB", "QX1  2AB", "QX99 0ZZ", "AB", ""]))
    assert sectors.tolist() == ["QX12 3", "QX1 2", "QX99 0", "", ""]


# --- faults --------------------------------------------------------------------------------


def test_typo_rate_mask_and_edit_kinds() -> None:
    names = _names()
    typoed, mask = pii.typo(np.random.default_rng(1), names, RATE)
    assert abs(mask.mean() - RATE) < TOLERANCE
    assert (typoed[mask] != names[mask]).all()
    assert (typoed[~mask] == names[~mask]).all()
    for before, after in zip(names[mask], typoed[mask], strict=True):
        assert after[0] == before[0]  # the initial is left alone
        assert abs(len(after) - len(before)) <= 1
        if len(after) == len(before):  # a swap or a neighbouring key: one or two letters move
            assert sorted(after) == sorted(before) or sum(
                a != b for a, b in zip(after, before, strict=True)) == 1


def test_typo_is_deterministic_and_skips_blanks() -> None:
    names = _names()
    a, mask_a = pii.typo(np.random.default_rng(9), names, RATE)
    b, mask_b = pii.typo(np.random.default_rng(9), names, RATE)
    assert np.array_equal(a, b) and np.array_equal(mask_a, mask_b)
    blanked, blank_mask = pii.blank(np.random.default_rng(2), names, 0.5)
    typoed, mask = pii.typo(np.random.default_rng(3), blanked, RATE)
    assert not (mask & blank_mask).any()
    assert all(v is None for v in typoed[blank_mask])


def test_nickname_replaces_known_names_only() -> None:
    names = _names()
    pairs = {(r["name"], r["nickname"]) for r in _csv("nicknames.csv")}
    formal = {name for name, _ in pairs}
    eligible = np.isin(names, list(formal))
    nicked, mask = pii.nickname(np.random.default_rng(1), names, RATE)
    assert not (mask & ~eligible).any()
    assert abs(mask[eligible].mean() - RATE) < TOLERANCE
    assert all((b, a) in pairs for b, a in zip(names[mask], nicked[mask], strict=True))
    assert (nicked[~mask] == names[~mask]).all()


def test_swap_day_month() -> None:
    rng = np.random.default_rng(0)
    dates = np.datetime64("2005-01-01") + rng.integers(0, 7_000, size=N)
    dates[:50] = np.datetime64("NaT")
    swapped, mask = pii.swap_day_month(np.random.default_rng(1), dates, RATE)
    assert swapped.dtype == np.dtype("datetime64[D]")
    y, m, d = _ymd(dates)
    eligible = ~np.isnat(dates) & (d <= 12) & (d != m)
    assert not (mask & ~eligible).any()
    assert abs(mask[eligible].mean() - RATE) < TOLERANCE
    y2, m2, d2 = _ymd(swapped)
    assert (y2[mask] == y[mask]).all()
    assert (m2[mask] == d[mask]).all() and (d2[mask] == m[mask]).all()
    assert (swapped[mask] != dates[mask]).all()
    assert np.array_equal(swapped[~mask], dates[~mask], equal_nan=True)


def test_blank_by_dtype() -> None:
    names = _names()
    blanked, mask = pii.blank(np.random.default_rng(1), names, RATE)
    assert abs(mask.mean() - RATE) < TOLERANCE
    assert all(v is None for v in blanked[mask])
    assert (blanked[~mask] == names[~mask]).all()
    dates = np.datetime64("2010-01-01") + np.arange(N)
    nat, date_mask = pii.blank(np.random.default_rng(1), dates, RATE)
    assert nat.dtype == dates.dtype
    assert np.isnat(nat).tolist() == date_mask.tolist()
    again, _ = pii.blank(np.random.default_rng(1), dates, RATE)
    assert np.array_equal(nat, again, equal_nan=True)


def test_other_postcode_moves_within_directory() -> None:
    directory = _directory()
    known = np.array(directory.column("postcode").to_pylist())
    current = known[np.random.default_rng(0).integers(0, known.size, size=N)]
    moved, mask = pii.other_postcode(np.random.default_rng(1), current, directory, RATE)
    assert abs(mask.mean() - RATE) < TOLERANCE
    assert (moved[mask] != current[mask]).all()
    assert (moved[~mask] == current[~mask]).all()
    assert np.isin(moved, known).all()


def test_fault_rates_are_checked() -> None:
    with pytest.raises(ValueError, match="probability"):
        pii.blank(np.random.default_rng(0), _names(n=10), 1.5)


def _ymd(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    years = dates.astype("datetime64[Y]")
    months = dates.astype("datetime64[M]")
    y = years.astype(np.int64) + 1970
    m = (months - years.astype("datetime64[M]")).astype(np.int64) + 1
    d = (dates - months.astype("datetime64[D]")).astype(np.int64) + 1
    return y, m, d


def test_faults_handle_empty_and_blank_inputs() -> None:
    rng = np.random.default_rng(0)
    empty = np.array([], dtype=str)
    for fault in (pii.typo, pii.nickname, pii.blank):
        out, mask = fault(rng, empty, 0.5)
        assert out.size == 0 and mask.size == 0
    assert pii.postcode_sector(empty).size == 0
    mixed = np.array(["William", None, ""], dtype=object)
    nicked, mask = pii.nickname(rng, mixed, 1.0)
    assert mask.tolist() == [True, False, False]
    assert nicked[0] in {"Bill", "Will", "Billy"} and nicked[1] is None and nicked[2] == ""
    assert pii.postcode_sector(np.array(["QX1 2AB", None], dtype=object)).tolist() == ["QX1 2", ""]
