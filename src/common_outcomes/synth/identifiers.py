"""Synthetic NHS numbers, UPNs and case ids: valid in form, never issued to a real person.

Every generator is vectorised and deterministic for a given `numpy.random.Generator` state.
The check-digit rules and their sources are in `common_outcomes.identifiers`.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from common_outcomes.identifiers import NHS_WEIGHTS, UPN_ALPHABET, UPN_WEIGHTS

# Block 0 sits in the official test range 999 000 0000-999 999 9999. Higher blocks step down
# through 900-999, a range never issued to patients in England, Wales, Scotland or Northern
# Ireland (those use 4xx, 6xx-7xx and 0xx-3xx), so no synthetic number can be a real one.
NHS_BLOCK_SIZE = 500_000
NHS_BLOCKS = 200
_NHS_BLOCK_TOP = 999_500_000

UPN_SERIALS = 1000  # three digits, unique within (establishment, year of allocation)
CASE_ID_DIGITS = 7

_ASCII_ZERO = ord("0")
_UPN_LETTER_CODES = np.frombuffer(UPN_ALPHABET.encode("ascii"), dtype=np.uint8)


def nhs_block_range(block: int) -> tuple[int, int]:
    """The first and last nine-digit prefix (inclusive) of an area's block of NHS numbers."""
    if not 0 <= block < NHS_BLOCKS:
        raise ValueError(f"An NHS number block is between 0 and {NHS_BLOCKS - 1}, not {block}.")
    first = _NHS_BLOCK_TOP - block * NHS_BLOCK_SIZE
    return first, first + NHS_BLOCK_SIZE - 1


def nhs_check_digits(prefixes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Modulus 11 check digits for nine-digit prefixes; -1 where no check digit is valid."""
    total = np.zeros(prefixes.shape, dtype=np.int64)
    rest = prefixes.astype(np.int64, copy=True)
    # Peel digits from the right: digit 9 has weight 2, digit 1 weight 10.
    for weight in reversed(NHS_WEIGHTS):
        rest, digit = np.divmod(rest, 10)
        total += digit * weight
    check = 11 - total % 11
    check[check == 11] = 0
    check[check == 10] = -1
    return check


@functools.lru_cache(maxsize=8)
def nhs_block_numbers(block: int) -> npt.NDArray[np.int64]:
    """Every valid ten-digit NHS number in a block, ascending (read-only; cached per block)."""
    first, last = nhs_block_range(block)
    prefixes = np.arange(first, last + 1, dtype=np.int64)
    checks = nhs_check_digits(prefixes)
    numbers = (prefixes * 10 + checks)[checks >= 0]
    numbers.setflags(write=False)
    return numbers


def nhs_numbers(rng: np.random.Generator, n: int, block: int) -> npt.NDArray[np.str_]:
    """`n` distinct valid NHS numbers from an area's block, in random order, as 10-char strings."""
    first, _ = nhs_block_range(block)
    if n < 0:
        raise ValueError(f"Cannot make {n} NHS numbers.")
    if n <= NHS_BLOCK_SIZE // 2:
        # Fast path: about 10 prefixes in 11 have a valid check digit, so a few spare
        # draws almost always suffice without listing the whole block.
        draw = min(NHS_BLOCK_SIZE, n + n // 8 + 64)
        prefixes = first + rng.choice(NHS_BLOCK_SIZE, size=draw, replace=False)
        checks = nhs_check_digits(prefixes)
        ok = checks >= 0
        if ok.sum() >= n:
            return _digits_to_str((prefixes[ok] * 10 + checks[ok])[:n], 10)
    valid = nhs_block_numbers(block)
    if n > valid.size:
        raise ValueError(
            f"NHS number block {block} holds {valid.size:,} valid numbers, "
            f"so it cannot supply {n:,}; spread the people over more blocks."
        )
    return _digits_to_str(rng.choice(valid, size=n, replace=False), 10)


def upns(
    rng: np.random.Generator,
    n: int,
    la_number: int,
    establishments: npt.NDArray[np.integer],
    years: npt.NDArray[np.integer],
) -> npt.NDArray[np.str_]:
    """`n` distinct valid permanent UPNs, one per pupil.

    Each is check letter + LA number (3 digits) + the pupil's establishment number (4 digits)
    + the last two digits of the pupil's year of allocation + a 3-digit serial that is unique
    within (establishment, year). `years` may be calendar years (2016) or two-digit (16).
    """
    est = np.asarray(establishments, dtype=np.int64)
    yy = np.asarray(years, dtype=np.int64) % 100
    if est.shape != (n,) or yy.shape != (n,):
        raise ValueError(f"UPNs need one establishment and one year for each of the {n} pupils.")
    if not 0 <= la_number <= 999:
        raise ValueError(f"An LA number has three digits, not {la_number}.")
    if n and (est.min() < 0 or est.max() > 9999):
        raise ValueError("An establishment number has four digits (0000-9999).")
    serial = _serials_within_groups(rng, est * 100 + yy)
    body = la_number * 10**9 + est * 10**5 + yy * 10**3 + serial
    digits = _digit_matrix(body, 12)
    total = (digits.astype(np.int64) * np.asarray(UPN_WEIGHTS, dtype=np.int64)).sum(axis=1)
    letters = _UPN_LETTER_CODES[total % 23]
    codes = np.concatenate([letters[:, None], digits + np.uint8(_ASCII_ZERO)], axis=1)
    return _ascii_rows_to_str(codes)


def case_ids(prefix: str, n: int) -> npt.NDArray[np.str_]:
    """Sequential case-management person ids, `prefix`-0000001 upwards (e.g. "TH-0000123")."""
    if not 0 <= n < 10**CASE_ID_DIGITS:
        most = 10**CASE_ID_DIGITS - 1
        raise ValueError(f"Case ids have {CASE_ID_DIGITS} digits, so at most {most:,} of them.")
    numbers = _digits_to_str(np.arange(1, n + 1, dtype=np.int64), CASE_ID_DIGITS)
    return np.char.add(f"{prefix}-", numbers)


def _serials_within_groups(
    rng: np.random.Generator, groups: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Serials in 0..999, distinct within each group, scattered rather than counted up."""
    n = groups.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((rng.random(n), groups))  # random order within each group
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    sizes = np.diff(np.r_[starts, n])
    if sizes.max() > UPN_SERIALS:
        raise ValueError(
            f"An establishment can allocate at most {UPN_SERIALS} UPNs in one year; "
            f"{sizes.max()} were asked for."
        )
    rank = np.arange(n) - np.repeat(starts, sizes)
    # rank -> (offset + rank * step) mod 1000 is one-to-one when step is coprime with 1000.
    units = np.array([s for s in range(1, UPN_SERIALS) if s % 2 and s % 5], dtype=np.int64)
    step = np.repeat(rng.choice(units, size=starts.size), sizes)
    offset = np.repeat(rng.integers(0, UPN_SERIALS, size=starts.size), sizes)
    serial = np.empty(n, dtype=np.int64)
    serial[order] = (offset + rank * step) % UPN_SERIALS
    return serial


def _digit_matrix(values: npt.NDArray[np.int64], width: int) -> npt.NDArray[np.uint8]:
    """Decimal digits of non-negative integers, most significant first, zero-padded."""
    digits = np.empty((values.size, width), dtype=np.uint8)
    rest = values.astype(np.int64, copy=True)
    for col in range(width - 1, -1, -1):
        rest, digit = np.divmod(rest, 10)
        digits[:, col] = digit
    return digits


def _digits_to_str(values: npt.NDArray[np.int64], width: int) -> npt.NDArray[np.str_]:
    """Zero-padded decimal strings of a fixed width, built without a Python loop."""
    return _ascii_rows_to_str(_digit_matrix(values, width) + np.uint8(_ASCII_ZERO))


def _ascii_rows_to_str(codes: npt.NDArray[np.uint8]) -> npt.NDArray[np.str_]:
    """Rows of ASCII codes -> a 1-d array of str."""
    n, width = codes.shape
    as_bytes = np.ascontiguousarray(codes).view(f"S{width}").reshape(n)
    return as_bytes.astype(f"U{width}")
