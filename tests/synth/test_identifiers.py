"""NHS number and UPN check digits, and the synthetic identifier generators."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from common_outcomes.identifiers import (
    is_valid_nhs_number,
    is_valid_upn,
    nhs_check_digit,
    upn_check_letter,
)
from common_outcomes.synth.identifiers import (
    NHS_BLOCKS,
    case_ids,
    nhs_block_numbers,
    nhs_block_range,
    nhs_numbers,
    upns,
)

# --- NHS numbers: hand-computed with weights 10..2 ---------------------------------------


@pytest.mark.parametrize(
    ("first_nine", "check"),
    [
        ("943476591", 9),  # the commonly cited example 943 476 5919: sum 299, 299 mod 11 = 2
        ("999000001", 8),  # 243 + 2 = 245, mod 11 = 3, 11 - 3 = 8
        ("999000005", 0),  # 243 + 10 = 253 = 23 * 11, so 11, which means 0
        ("000000000", 0),
        ("999000000", None),  # 243 mod 11 = 1, so 10: no valid check digit
    ],
)
def test_nhs_check_digit(first_nine: str, check: int | None) -> None:
    assert nhs_check_digit(first_nine) == check


FULLWIDTH_DIGITS = "".join(chr(0xFF10 + int(d)) for d in "943476591")  # isdigit(), not ASCII


@pytest.mark.parametrize("bad", ["94347659", "9434765919", "94347659a", FULLWIDTH_DIGITS])
def test_nhs_check_digit_needs_nine_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError, match="nine digits"):
        nhs_check_digit(bad)


@pytest.mark.parametrize(
    "value", ["9434765919", "943 476 5919", "943-476-5919", "9990000018", "9990000050"]
)
def test_valid_nhs_numbers(value: str) -> None:
    assert is_valid_nhs_number(value)


@pytest.mark.parametrize(
    "value",
    [
        "9434765918",  # wrong check digit
        "9434765910",
        "9990000000",  # prefix has no valid check digit, whatever the tenth digit
        "9990000001",
        "943476591",  # too short
        "94347659190",  # too long
        "943.476.5919",
        "943476591X",
        "",
    ],
)
def test_invalid_nhs_numbers(value: str) -> None:
    assert not is_valid_nhs_number(value)


def test_block_ranges_stay_in_unissued_nine_hundreds() -> None:
    first0, last0 = nhs_block_range(0)
    assert (first0, last0) == (999_500_000, 999_999_999)
    assert first0 >= 999_000_000  # inside the official test range 999 000 0000-999 999 9999
    ranges = [nhs_block_range(b) for b in range(NHS_BLOCKS)]
    assert ranges[-1] == (900_000_000, 900_499_999)
    for (first, last), (_, next_last) in itertools.pairwise(ranges):
        assert last - first + 1 == 500_000
        assert next_last == first - 1  # contiguous and disjoint
    with pytest.raises(ValueError, match="between 0 and 199"):
        nhs_block_range(NHS_BLOCKS)


@pytest.mark.parametrize("block", range(NHS_BLOCKS))
def test_generated_nhs_numbers_are_valid_distinct_and_in_block(block: int) -> None:
    numbers = nhs_numbers(np.random.default_rng(block), 300, block)
    first, last = nhs_block_range(block)
    assert numbers.shape == (300,)
    assert len(set(numbers.tolist())) == 300
    assert all(is_valid_nhs_number(n) for n in numbers)
    prefixes = np.array([int(n[:9]) for n in numbers])
    assert ((prefixes >= first) & (prefixes <= last)).all()


def test_large_request_uses_the_whole_block() -> None:
    block = 3
    capacity = nhs_block_numbers(block).size
    assert 454_000 < capacity < 455_000  # 10 prefixes in 11 have a check digit
    numbers = nhs_numbers(np.random.default_rng(0), capacity, block)
    assert np.unique(numbers).size == capacity
    sample = numbers[:: capacity // 2000]
    assert all(is_valid_nhs_number(n) for n in sample)
    # Shuffled, not in block order.
    assert not (numbers[:-1] < numbers[1:]).all()


def test_oversized_request_raises() -> None:
    capacity = nhs_block_numbers(0).size
    with pytest.raises(ValueError, match="cannot supply"):
        nhs_numbers(np.random.default_rng(0), capacity + 1, 0)


def test_nhs_numbers_are_deterministic() -> None:
    for n in (1_000, 300_000):
        a = nhs_numbers(np.random.default_rng(42), n, 7)
        b = nhs_numbers(np.random.default_rng(42), n, 7)
        assert np.array_equal(a, b)
    assert not np.array_equal(
        nhs_numbers(np.random.default_rng(1), 100, 7), nhs_numbers(np.random.default_rng(2), 100, 7)
    )


def test_numbers_from_two_blocks_never_collide() -> None:
    # Speed is measured in benchmarks/, not asserted here (machines are noisy).
    nhs_block_numbers.cache_clear()
    a = nhs_numbers(np.random.default_rng(0), 250_000, 10)
    b = nhs_numbers(np.random.default_rng(0), 250_000, 11)
    assert np.unique(np.concatenate([a, b])).size == 500_000


# --- UPNs: hand-computed with weights 2..13, sum mod 23 ------------------------------------


@pytest.mark.parametrize(
    ("body", "letter"),
    [
        # 8*2 + 1*4 + 2*5 + 5*10 + 1*13 = 93; 93 mod 23 = 1 -> B
        ("801200005001", "B"),
        # 2*2 + 7*4 + 1*9 + 6*10 + 4*12 + 9*13 = 266; 266 mod 23 = 13 -> P (I, O skipped).
        # A school-census help page prints this sum as 267 and so the letter as Q.
        ("207000016049", "P"),
        # Temporary UPNs: the final letter counts as its place in A..Z without I, O, S.
        ("80120000500A", "M"),  # 80 + 0*13 = 80; 80 mod 23 = 11 -> M
        ("80120000500J", "A"),  # 80 + 8*13 = 184 = 8 * 23 -> A (J is 8: I is skipped)
        ("80120000500Z", "Y"),  # 80 + 22*13 = 366; 366 mod 23 = 21 -> Y
    ],
)
def test_upn_check_letter(body: str, letter: str) -> None:
    assert upn_check_letter(body) == letter
    assert is_valid_upn(letter + body)


@pytest.mark.parametrize("bad", ["80120000500", "8012000050011", "80120000500I", "8012000A5001"])
def test_upn_check_letter_rejects_malformed_bodies(bad: str) -> None:
    with pytest.raises(ValueError, match="UPN"):
        upn_check_letter(bad)


@pytest.mark.parametrize(
    "value",
    [
        "A801200005001",  # wrong check letter
        "Q207000016049",
        "B80120000500",  # too short
        "b801200005001",  # lower case
        "I801200005001",  # I is never a check letter
        "M80120000500S",  # S is never a temporary UPN's letter
        "X80120000A001",  # letters only at the end
        "",
    ],
)
def test_invalid_upns(value: str) -> None:
    assert not is_valid_upn(value)


def test_generated_upns_are_valid_distinct_and_structured() -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    establishments = rng.choice(np.array([2001, 2002, 2417, 3500, 4001, 7000]), size=n)
    years = rng.integers(2012, 2025, size=n)
    codes = upns(rng, n, 211, establishments, years)
    assert codes.shape == (n,)
    assert np.unique(codes).size == n
    assert all(is_valid_upn(c) for c in codes)
    assert all(c[1:4] == "211" for c in codes)
    assert [int(c[4:8]) for c in codes[:100]] == establishments[:100].tolist()
    assert [int(c[8:10]) for c in codes[:100]] == (years[:100] % 100).tolist()


def test_upn_serials_are_unique_within_establishment_and_year() -> None:
    n = 1000  # exactly fills one (establishment, year)
    codes = upns(np.random.default_rng(0), n, 201, np.full(n, 3456), np.full(n, 19))
    assert sorted(int(c[10:]) for c in codes) == list(range(1000))
    with pytest.raises(ValueError, match="at most 1000"):
        upns(np.random.default_rng(0), n + 1, 201, np.full(n + 1, 3456), np.full(n + 1, 19))


def test_upns_are_deterministic() -> None:
    def make(seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return upns(rng, 500, 316, rng.integers(2000, 2010, 500), rng.integers(2015, 2020, 500))

    assert np.array_equal(make(9), make(9))
    assert not np.array_equal(make(9), make(10))


def test_upns_check_their_inputs() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="one establishment and one year"):
        upns(rng, 3, 211, np.array([2000, 2001]), np.array([20, 20, 20]))
    with pytest.raises(ValueError, match="three digits"):
        upns(rng, 1, 1211, np.array([2000]), np.array([20]))
    with pytest.raises(ValueError, match="four digits"):
        upns(rng, 1, 211, np.array([12000]), np.array([20]))


# --- case ids ------------------------------------------------------------------------------


def test_case_ids_are_sequential() -> None:
    ids = case_ids("TH", 124)
    assert ids[0] == "TH-0000001"
    assert ids[122] == "TH-0000123"
    assert ids.size == 124
    assert case_ids("X", 0).size == 0
    with pytest.raises(ValueError, match="7 digits"):
        case_ids("TH", 10_000_000)
