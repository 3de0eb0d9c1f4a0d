"""Synthetic names and postcodes, and the faults real partner records carry.

Names are drawn from invented weighted lists in `synth/data/`. Postcodes live in the postcode
area "QX", which Royal Mail has never issued, so no synthetic address can be a real one.

Each fault takes the clean values, the rng and a rate, and returns the faulty copy with a mask
of the rows it changed, so a truth file can record them. A row is eligible for a fault when the
fault can apply to it (a nickname exists, the day could be a month, a value is present); each
eligible row is changed with probability `rate`. All are vectorised and deterministic for a
given rng state.
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any, overload

import numpy as np
import numpy.typing as npt
import pyarrow as pa

StrArray = npt.NDArray[np.str_]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
DateArray = npt.NDArray[np.datetime64]
Values = npt.NDArray[Any]  # str, or object once some values are blank (None)

MALE, FEMALE = 1, 2

POSTCODE_AREA = "QX"
# Royal Mail never uses C, I, K, M, O or V in the last two letters of a postcode.
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
_DISTRICTS, _SECTORS, _UNITS = 99, 10, len(INWARD_LETTERS) ** 2
POSTCODE_CAPACITY = _DISTRICTS * _SECTORS * _UNITS
# A quarter of the possible units in use keeps a borough to a handful of districts, each
# small area's postcodes to one or two sectors, and leaves gaps as real sectors have.
_UNIT_FILL = 0.25

# Neighbouring keys on a UK QWERTY keyboard, for substitution typos.
_KEY_NEIGHBOURS = {
    "q": "wa", "w": "qeas", "e": "wrds", "r": "etdf", "t": "ryfg", "y": "tugh", "u": "yihj",
    "i": "uojk", "o": "ipkl", "p": "ol", "a": "qwsz", "s": "awedxz", "d": "serfcx",
    "f": "drtgvc", "g": "ftyhbv", "h": "gyujnb", "j": "huikmn", "k": "jiolm", "l": "kop",
    "z": "asx", "x": "zsdc", "c": "xdfv", "v": "cfgb", "b": "vghn", "n": "bhjm", "m": "njk",
}
_SWAP, _DROP, _DOUBLE, _NEIGHBOUR = range(4)
_NONE = np.array(None, dtype=object)


# --- names -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Weighted:
    names: StrArray
    p: npt.NDArray[np.float64]

    def draw(self, rng: np.random.Generator, n: int) -> StrArray:
        drawn: StrArray = rng.choice(self.names, size=n, p=self.p)
        return drawn


def first_names(rng: np.random.Generator, sex: npt.NDArray[np.integer]) -> StrArray:
    """A first name for each person; sex is coded 1 male, 2 female (anything else: either)."""
    tables = _first_name_tables()
    sex = np.asarray(sex)
    out = np.empty(sex.shape, dtype=tables[0].names.dtype)
    male, female = sex == MALE, sex == FEMALE
    for rows, key in ((male, MALE), (female, FEMALE), (~(male | female), 0)):
        out[rows] = tables[key].draw(rng, int(rows.sum()))
    return out


def surnames(rng: np.random.Generator, n: int) -> StrArray:
    """`n` surnames, drawn by weight."""
    return _surname_table().draw(rng, n)


@functools.cache
def _first_name_tables() -> dict[int, _Weighted]:
    """Weighted first names by sex code; key 0 holds everyone."""
    rows = _read_csv("first_names.csv")
    return {
        0: _weighted([(r["name"], float(r["weight"])) for r in rows]),
        MALE: _weighted([(r["name"], float(r["weight"])) for r in rows if r["sex"] == "1"]),
        FEMALE: _weighted([(r["name"], float(r["weight"])) for r in rows if r["sex"] == "2"]),
    }


@functools.cache
def _surname_table() -> _Weighted:
    return _weighted([(r["name"], float(r["weight"])) for r in _read_csv("surnames.csv")])


@functools.cache
def _nickname_table() -> tuple[StrArray, IntArray, IntArray, StrArray]:
    """Formal names (sorted), the start and count of each one's nicknames, and the nicknames."""
    pairs = sorted((r["name"], r["nickname"]) for r in _read_csv("nicknames.csv"))
    formal = np.array([p[0] for p in pairs])
    names, starts, counts = np.unique(formal, return_index=True, return_counts=True)
    return names, starts.astype(np.int64), counts.astype(np.int64), np.array([p[1] for p in pairs])


def _weighted(rows: list[tuple[str, float]]) -> _Weighted:
    weights = np.array([w for _, w in rows], dtype=np.float64)
    return _Weighted(np.array([name for name, _ in rows]), weights / weights.sum())


def _read_csv(filename: str) -> list[dict[str, str]]:
    text = resources.files("common_outcomes.synth").joinpath("data", filename).read_text(
        encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


# --- postcodes ---------------------------------------------------------------------------


def postcodes(
    rng: np.random.Generator, n_per_area: npt.NDArray[np.integer],
    area_index: npt.NDArray[np.integer],
) -> tuple[StrArray, IntArray]:
    """Distinct synthetic postcodes, `n_per_area[i]` of them for area `area_index[i]`.

    Returns the postcodes and the area index of each. Areas take consecutive runs of the
    postcode space in the order given, so neighbouring areas (in code order, roughly in space)
    share districts and each area's postcodes sit in one or two sectors, as real ones do.
    """
    counts = np.asarray(n_per_area, dtype=np.int64)
    areas = np.asarray(area_index, dtype=np.int64)
    if counts.shape != areas.shape or (counts < 0).any():
        raise ValueError("Give one non-negative postcode count for each area.")
    total = int(counts.sum())
    if total > POSTCODE_CAPACITY:
        raise ValueError(
            f"The synthetic postcode area {POSTCODE_AREA} holds {POSTCODE_CAPACITY:,} "
            f"postcodes; {total:,} were asked for."
        )
    per_district = _SECTORS * _UNITS
    span = min(POSTCODE_CAPACITY, max(total, math.ceil(total / _UNIT_FILL)))
    districts_used = -(-span // per_district)
    first_district = int(rng.integers(0, _DISTRICTS - districts_used + 1))
    slots = np.sort(rng.choice(span, size=total, replace=False)) + first_district * per_district
    district, within = np.divmod(slots, per_district)
    sector, unit = np.divmod(within, _UNITS)
    letter_1, letter_2 = np.divmod(unit, len(INWARD_LETTERS))
    letters = np.frombuffer(INWARD_LETTERS.encode("ascii"), dtype=np.uint8)
    inward = np.stack([sector + ord("0"), letters[letter_1], letters[letter_2]], axis=1)
    inward_str = np.ascontiguousarray(inward.astype(np.uint8)).view("S3").reshape(total)
    outward = np.strings.add(POSTCODE_AREA, (district + 1).astype("U2"))
    codes = np.strings.add(np.strings.add(outward, " "), inward_str.astype("U3"))
    return codes, np.repeat(areas, counts)


def postcode_directory(
    rng: np.random.Generator, area_codes: StrArray, per_area: int | npt.NDArray[np.integer],
) -> pa.Table:
    """The synthetic postcode directory: columns postcode and area_code, one row a postcode.

    Every postcode belongs to exactly one area (LSOA or MSOA code from `area_codes`).
    """
    area_codes = np.asarray(area_codes, dtype=np.str_)
    counts = np.broadcast_to(np.asarray(per_area, dtype=np.int64), area_codes.shape)
    codes, index = postcodes(rng, counts, np.arange(area_codes.size, dtype=np.int64))
    return pa.table({"postcode": pa.array(codes, pa.string()),
                     "area_code": pa.array(area_codes[index], pa.string())})


@overload
def postcode_sector(postcode: str) -> str: ...
@overload
def postcode_sector(postcode: Values) -> StrArray: ...
def postcode_sector(postcode: str | Values) -> str | StrArray:
    """The postcode sector: outward code, space, first inward digit ("QX12 3AB" -> "QX12 3").

    Tolerates missing or extra spaces and lower case; a blank (None or "") or anything too
    short to hold an inward code gives "".
    """
    if isinstance(postcode, str):
        return str(postcode_sector(np.array([postcode]))[0])
    text = _text(np.asarray(postcode))
    if text.size == 0:  # np.strings.replace fails on empty arrays
        return np.zeros(text.shape, dtype="U1")
    compact = np.strings.upper(np.strings.replace(text, " ", ""))
    n = compact.size
    width = max(compact.dtype.itemsize // 4, 1)
    compact = compact.astype(f"U{width}")
    # Two extra columns: a space and an empty character to gather from.
    chars = np.zeros((n, width + 2), dtype=np.uint32)
    chars[:, :width] = compact.view(np.uint32).reshape(n, width)
    chars[:, width] = ord(" ")
    length = np.strings.str_len(compact).astype(np.int64)[:, None]
    cols = np.arange(width + 1)[None, :]
    inward_at = length - 3
    src = np.where(cols < inward_at, cols,
                   np.where(cols == inward_at, width,
                            np.where(cols == inward_at + 1, inward_at, width + 1)))
    src[length[:, 0] < 5] = width + 1  # no outward code left: not a postcode
    sector = np.ascontiguousarray(np.take_along_axis(chars, src, axis=1))
    out: StrArray = sector.view(f"U{width + 1}").reshape(np.shape(postcode))
    return out


# --- faults ------------------------------------------------------------------------------


def typo(rng: np.random.Generator, names: Values,
         rate: float) -> tuple[Values, BoolArray]:
    """Keying errors: swap two adjacent letters, drop a letter, double one, or hit a
    neighbouring key. The first letter is left alone (people rarely mistype an initial
    capital), so names need three or more characters to be eligible.
    """
    values = np.asarray(names)
    text = _text(values)
    mask = _chosen(rng, np.strings.str_len(text) >= 3, rate)
    if not mask.any():
        return values.copy(), mask
    width = text.dtype.itemsize // 4 + 1  # room to double a letter
    picked = text[mask].astype(f"U{width}")
    k = picked.size
    chars = picked.view(np.uint32).reshape(k, width).copy()
    length = np.strings.str_len(picked).astype(np.int64)
    op = rng.integers(0, 4, size=k)
    # A position after the first letter; a swap also needs the letter after it.
    pos = 1 + (rng.random(k) * (length - 1 - (op == _SWAP))).astype(np.int64)
    rows = np.arange(k)
    here = chars[rows, pos]
    after = chars[rows, np.minimum(pos + 1, width - 1)]
    neighbours, n_neighbours = _neighbour_table()
    key = here.astype(np.int64) - ord("a")
    is_lower = (key >= 0) & (key < 26)
    # Where the edit would change nothing (swapping "nn") or has no key map ("-", "ł"),
    # double the letter instead: that always changes the name.
    op[((op == _SWAP) & (here == after)) | ((op == _NEIGHBOUR) & ~is_lower)] = _DOUBLE
    cols = np.arange(width)[None, :]
    p = pos[:, None]
    o = op[:, None]
    src = np.where(o == _SWAP, np.where(cols == p, p + 1, np.where(cols == p + 1, p, cols)),
          np.where(o == _DROP, np.minimum(cols + (cols >= p), width - 1),
          np.where(o == _DOUBLE, cols - (cols > p), cols)))
    edited = np.take_along_axis(chars, src, axis=1)
    sub = op == _NEIGHBOUR
    key_sub = key[sub]
    choice = (rng.random(int(sub.sum())) * n_neighbours[key_sub]).astype(np.int64)
    edited[rows[sub], pos[sub]] = neighbours[key_sub, choice]
    out = _widened(values, width)
    out[mask] = np.ascontiguousarray(edited).view(f"U{width}").reshape(k)
    return out, mask


def nickname(rng: np.random.Generator, first_names: Values,
             rate: float) -> tuple[Values, BoolArray]:
    """Replace a first name by one of its nicknames (William -> Bill, Mohammed -> Mo)."""
    values = np.asarray(first_names)
    formal, starts, counts, nicks = _nickname_table()
    text = _text(values)
    at = np.minimum(np.searchsorted(formal, text), formal.size - 1)
    mask = _chosen(rng, formal[at] == text, rate)
    which = at[mask]
    pick = starts[which] + (rng.random(which.size) * counts[which]).astype(np.int64)
    out = _widened(values, nicks.dtype.itemsize // 4)
    out[mask] = nicks[pick]
    return out, mask


def swap_day_month(rng: np.random.Generator, dates: DateArray,
                   rate: float) -> tuple[DateArray, BoolArray]:
    """Day and month keyed the wrong way round (US order), where the result is another date:
    day 12 or less and not equal to the month."""
    days = np.asarray(dates, dtype="datetime64[D]")
    month_start = days.astype("datetime64[M]")
    year_start = days.astype("datetime64[Y]")
    month = (month_start - year_start.astype("datetime64[M]")).astype(np.int64) + 1
    day = (days - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    mask = _chosen(rng, ~np.isnat(days) & (day <= 12) & (day != month), rate)
    out = days.copy()
    # The old month becomes the day: always 12 or less, so always a real date.
    swapped = (year_start[mask].astype("datetime64[M]") + (day[mask] - 1)).astype(
        "datetime64[D]") + (month[mask] - 1)
    out[mask] = swapped
    return out, mask


def blank(rng: np.random.Generator, values: Values,
          rate: float) -> tuple[Values, BoolArray]:
    """Missing values: NaT for dates, NaN for floats, None for anything else (as objects)."""
    array = np.asarray(values)
    mask = _chosen(rng, _present(array), rate)
    out: Values
    if array.dtype.kind == "M":
        out = array.copy()
        out[mask] = np.datetime64("NaT")
    elif array.dtype.kind == "f":
        out = array.copy()
        out[mask] = np.nan
    else:
        out = array.astype(object)
        out[mask] = None
    return out, mask


def other_postcode(rng: np.random.Generator, postcodes: Values,
                   directory: pa.Table,
                   rate: float) -> tuple[Values, BoolArray]:
    """A moved address: another postcode from the directory, anywhere in it."""
    values = np.asarray(postcodes)
    known = np.asarray(directory.column("postcode").to_numpy(zero_copy_only=False), dtype=np.str_)
    if known.size < 2:
        raise ValueError("The postcode directory needs at least two postcodes to move between.")
    text = _text(values)
    mask = _chosen(rng, _present(values), rate)
    pick = rng.integers(0, known.size, size=int(mask.sum()))
    # Never "move" to the same postcode.
    pick = np.where(known[pick] == text[mask], (pick + 1) % known.size, pick)
    out = _widened(values, known.dtype.itemsize // 4)
    out[mask] = known[pick]
    return out, mask


def _chosen(rng: np.random.Generator, eligible: BoolArray, rate: float) -> BoolArray:
    """Eligible rows picked with probability `rate`; one draw per row, so the rng advances by
    the same amount whatever the data."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"A fault rate is a probability between 0 and 1, not {rate}.")
    chosen: BoolArray = (rng.random(eligible.shape) < rate) & eligible
    return chosen


def _present(values: Values) -> BoolArray:
    kind = values.dtype.kind
    present: BoolArray
    if kind == "M":
        present = ~np.isnat(values)
    elif kind == "f":
        present = ~np.isnan(values)
    elif kind == "O":
        present = np.not_equal(values, _NONE) & np.not_equal(values, "")
    elif kind == "U":
        present = values != ""
    else:
        present = np.ones(values.shape, dtype=np.bool_)
    return present


def _text(values: Values) -> StrArray:
    """Values as str, with missing values as ""."""
    if values.dtype.kind == "U":
        return values.astype(np.str_)
    filled = np.where(_present(values), values, "")
    return filled.astype(np.str_)


def _widened(values: Values, width: int) -> Values:
    """A copy of `values` that can hold strings of `width` characters."""
    if values.dtype.kind == "U":
        return values.astype(f"U{max(width, values.dtype.itemsize // 4)}")
    return values.astype(object)


@functools.cache
def _neighbour_table() -> tuple[npt.NDArray[np.uint32], IntArray]:
    """Code points of each lower-case letter's neighbouring keys, and how many there are."""
    widest = max(len(v) for v in _KEY_NEIGHBOURS.values())
    table = np.zeros((26, widest), dtype=np.uint32)
    counts = np.zeros(26, dtype=np.int64)
    for letter, near in _KEY_NEIGHBOURS.items():
        row = ord(letter) - ord("a")
        table[row, : len(near)] = [ord(c) for c in near]
        counts[row] = len(near)
    return table, counts
