"""The loader's identifier checks (NHS number, UPN, postcode) against implementations written
here from the published rules, not from the product's code: every edge of each algorithm,
exhaustive sweeps and hypothesis-generated values, then a file through the loader."""

from __future__ import annotations

import string

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common_outcomes.data.declarations import Column, Identifier
from common_outcomes.data.protect import normalise_postcode, postcode_sector
from common_outcomes.data.validate import Checked, check_column
from common_outcomes.identifiers import (
    is_valid_nhs_number,
    is_valid_upn,
    nhs_check_digit,
    upn_check_letter,
)

# --- the rules, as published -------------------------------------------------------------


def nhs_reference(value: str) -> bool:
    """NHS Data Model and Dictionary, "NHS Number": ten digits (shown 3-3-4 with spaces or
    hyphens). Modulus 11 with weights 10..2 on digits 1-9 and check digit 11 - remainder
    (11 means 0, 10 means no valid number) is the same as: weights 10..1 on all ten digits
    give a multiple of 11. A remainder of 1 would need a check 'digit' of 10, which no digit
    is, so such nine digits never validate."""
    digits = value.replace(" ", "").replace("-", "")
    if len(digits) != 10 or any(c not in string.digits for c in digits):
        return False
    return sum(int(d) * w for d, w in zip(digits, range(10, 0, -1), strict=True)) % 11 == 0


# DfE, "Unique pupil numbers (UPNs)", Annex A: the check letter for each remainder mod 23
# (I, O and S are never used, so as not to be read as 1, 0 and 5).
DFE_CHECK_LETTER = {0: "A", 1: "B", 2: "C", 3: "D", 4: "E", 5: "F", 6: "G", 7: "H", 8: "J",
                    9: "K", 10: "L", 11: "M", 12: "N", 13: "P", 14: "Q", 15: "R", 16: "T",
                    17: "U", 18: "V", 19: "W", 20: "X", 21: "Y", 22: "Z"}
LETTER_VALUE = {letter: n for n, letter in DFE_CHECK_LETTER.items()}
# DfE's "UPN unknown" codes, entered in a UPN field instead of a UPN (CIN census, SSDA903).
UNKNOWN_CODES = [f"UN{n}" for n in range(1, 11)]


def upn_reference(value: str) -> bool:
    """A UPN: check letter, then LA number (3 digits), DfE establishment number (4), the
    year of allocation (2) and a serial number (3), whose last character is a letter in a
    temporary UPN (valued as in the check letter table). Characters 2-13 weighted 2..13,
    the sum mod 23 is the check letter."""
    if len(value) != 13 or value[0] not in LETTER_VALUE:
        return False
    body, last = value[1:12], value[12]
    if any(c not in string.digits for c in body):
        return False
    if last in string.digits:
        last_value = int(last)
    elif last in LETTER_VALUE:
        last_value = LETTER_VALUE[last]
    else:
        return False
    values = [int(c) for c in body] + [last_value]
    total = sum(v * w for v, w in zip(values, range(2, 14), strict=True))
    return DFE_CHECK_LETTER[total % 23] == value[0]


POSTCODE_SHAPES = ("A9 9AA", "A99 9AA", "AA9 9AA", "AA99 9AA", "A9A 9AA", "AA9A 9AA")


def sector_reference(value: str) -> str | None:
    """Royal Mail's six postcode shapes (A a letter, 9 a digit; the space optional, either
    case): the sector is the outward code, a space and the inward code's digit."""
    compact = value.replace(" ", "").upper()
    shape = "".join("A" if c in string.ascii_uppercase else "9" if c in string.digits
                    else "?" for c in compact)
    if shape not in {s.replace(" ", "") for s in POSTCODE_SHAPES}:
        return None
    return f"{compact[:-3]} {compact[-3]}"


# --- the loader's checks, as a partner's column goes through them ------------------------


def loader_accepts(values: list[str | None], identifier: Identifier) -> tuple[list[bool],
                                                                              list[object]]:
    """Which values the loader's check passes, and what it keeps of each."""
    checked = Checked({}, np.zeros(len(values), dtype=bool))
    check_column(checked, Column(name="id", identifier=identifier), pa.array(values,
                                                                               pa.string()), 0)
    flagged = {p.row for p in checked.problems}
    assert {p.code for p in checked.problems} <= {f"value.invalid-{identifier.value}".replace(
        "_", "-")}
    return [i not in flagged for i in range(len(values))], checked.columns["id"].to_pylist()


def every_remainder(count: int) -> list[str]:
    """`count` consecutive nine-digit prefixes from 999 000 000 (NHS England's range for
    test numbers) with each of the ten possible last digits: every weighted-sum remainder."""
    return [f"{prefix:09d}{last}" for prefix in range(999_000_000, 999_000_000 + count)
            for last in range(10)]


# --- NHS numbers -------------------------------------------------------------------------


FULLWIDTH = "".join(chr(0xFF10 + int(d)) for d in "9434765919")  # digits, but not ASCII ones


@pytest.mark.parametrize(("number", "valid"), [
    ("9434765919", True),   # NHS Digital's example: 10*9+9*4+...+2*1 = 299 = 27*11 + 2 -> 9
    ("9990000050", True),   # 243 + 10 = 253 = 23*11: 11 - 0 = 11, which becomes 0
    ("9990000051", False),  # ... and not 1, which "11 becomes 0" would otherwise leave
    ("9990000000", False),  # 243 = 22*11 + 1: the check would be 10, so no digit is valid
    ("9990000018", True),
    ("943 476 5919", True), ("943-476-5919", True),
    ("94347659", False), ("94347659190", False), ("943476591X", False),
    (FULLWIDTH, False),
])
def test_nhs_numbers_at_the_edges_of_modulus_11(number: str, valid: bool) -> None:
    assert nhs_reference(number) is valid
    assert is_valid_nhs_number(number) is valid
    assert loader_accepts([number], Identifier.NHS_NUMBER)[0] == [valid]


def test_the_loaders_nhs_check_agrees_over_every_remainder() -> None:
    """20,000 consecutive prefixes, each with all ten last digits: about 18,200 valid
    numbers, 1,800 of them needing '11 becomes 0', and 1,800 prefixes with no valid
    number at all."""
    numbers = every_remainder(20_000)
    expected = [nhs_reference(n) for n in numbers]
    accepted, _ = loader_accepts(numbers, Identifier.NHS_NUMBER)
    assert accepted == expected
    assert [is_valid_nhs_number(n) for n in numbers] == expected
    valid = [n for n, ok in zip(numbers, expected, strict=True) if ok]
    assert 18_000 < len(valid) < 18_400
    assert sum(n.endswith("0") for n in valid) > 1_700  # the "11 becomes 0" numbers
    # nhs_check_digit names the one valid last digit, or None when there is none.
    by_prefix: dict[str, list[str]] = {}
    for n in valid:
        by_prefix.setdefault(n[:9], []).append(n[9])
    for prefix in sorted({n[:9] for n in numbers})[:2_000]:
        found = by_prefix.get(prefix, [])
        assert len(found) <= 1
        assert nhs_check_digit(prefix) == (int(found[0]) if found else None), prefix


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789 -x", min_size=0, max_size=14))
def test_the_loaders_nhs_check_agrees_on_any_text(text: str) -> None:
    accepted, _ = loader_accepts([text], Identifier.NHS_NUMBER)
    # The loader trims a value and takes an empty one as missing (value.missing's business).
    expected = nhs_reference(text) or not text.strip()
    assert accepted == [expected]
    assert is_valid_nhs_number(text) is nhs_reference(text)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 999_999_999), st.integers(0, 9), st.sampled_from(["", " ", "-"]))
def test_the_loaders_nhs_check_agrees_on_any_ten_digits(first: int, last: int,
                                                        sep: str) -> None:
    digits = f"{first:09d}{last}"
    shown = sep.join((digits[:3], digits[3:6], digits[6:]))
    assert loader_accepts([shown], Identifier.NHS_NUMBER)[0] == [nhs_reference(digits)]


# --- UPNs --------------------------------------------------------------------------------


@pytest.mark.parametrize(("upn", "valid"), [
    # 2*2+1*3+1*4+2*5+0+0+0+1*9+2*10+0+0+1*13 = 63 = 2*23 + 17 -> U
    ("U211200012001", True), ("T211200012001", False),
    # Temporary: the last character A counts 0, so 63 - 13 = 50 = 2*23 + 4 -> E
    ("E21120001200A", True), ("F21120001200A", False),
    # Z counts 22: 50 + 22*13 = 336 = 14*23 + 14 -> Q
    ("Q21120001200Z", True),
    ("Q21120001200I", False), ("Q21120001200O", False), ("Q21120001200S", False),
    ("u211200012001", False),  # the check letter is upper case
    ("U21120001200", False), ("U2112000120011", False), ("2112000120011U", False),
    ("I211200012001", False),  # I is never a check letter
])
def test_upns_at_the_edges_of_the_check_letter(upn: str, valid: bool) -> None:
    assert upn_reference(upn) is valid
    assert is_valid_upn(upn) is valid
    assert loader_accepts([upn], Identifier.UPN)[0] == [valid]


def test_the_upn_unknown_codes_are_an_unknown_upn_not_an_error() -> None:
    """UN1 to UN10 load as a missing UPN (no pseudonym that every unknown child would
    share); anything else shaped like them is not a UPN."""
    near = ["UN0", "UN11", "un1", "UN01", "UN 1", "UN"]
    accepted, kept = loader_accepts([*UNKNOWN_CODES, *near], Identifier.UPN)
    assert accepted == [True] * 10 + [False] * len(near)
    assert kept[:10] == [None] * 10
    assert not any(is_valid_upn(c) or upn_reference(c) for c in UNKNOWN_CODES)


def test_the_loaders_upn_check_agrees_over_every_check_letter() -> None:
    """2,000 permanent and 2,000 temporary bodies, each with every possible first letter:
    exactly one letter of the 23 is right."""
    bodies = [f"{n:012d}" for n in range(821_0000_00_000, 821_0000_00_000 + 2_000)]
    bodies += [f"{n:011d}{letter}" for n in range(821_0000_00_00, 821_0000_00_00 + 87)
               for letter in DFE_CHECK_LETTER.values()][:2_000]
    upns = [c + b for b in bodies for c in string.ascii_uppercase]
    expected = [upn_reference(u) for u in upns]
    assert sum(expected) == len(bodies)
    assert loader_accepts(upns, Identifier.UPN)[0] == expected
    assert [is_valid_upn(u) for u in upns] == expected
    assert all(upn_reference(upn_check_letter(b) + b) for b in bodies)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(string.ascii_uppercase), st.text(string.digits, min_size=11,
                                                        max_size=11),
       st.sampled_from(string.digits + string.ascii_uppercase))
def test_the_loaders_upn_check_agrees_on_any_upn_shape(first: str, body: str,
                                                       last: str) -> None:
    upn = first + body + last
    assert loader_accepts([upn], Identifier.UPN)[0] == [upn_reference(upn)]
    assert is_valid_upn(upn) is upn_reference(upn)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=string.digits + "AUNSZ u", min_size=0, max_size=15))
def test_the_loaders_upn_check_agrees_on_any_text(text: str) -> None:
    expected = upn_reference(text.strip()) or text.strip() in UNKNOWN_CODES or not text.strip()
    assert loader_accepts([text], Identifier.UPN)[0] == [expected]


# --- postcodes ---------------------------------------------------------------------------


@pytest.mark.parametrize(("postcode", "sector"), [
    ("E1 6AN", "E1 6"), ("E14 5AB", "E14 5"), ("SW1A 1AA", "SW1A 1"), ("W1A 0AX", "W1A 0"),
    ("QX12 3AB", "QX12 3"), ("M1 1AE", "M1 1"), ("CR2 6XH", "CR2 6"), ("DN55 1PT", "DN55 1"),
    ("ec1a1bb", "EC1A 1"), ("  e1   6an ", "E1 6"),
    ("E1", None), ("E1 6A", None), ("E16AN1", None), ("1E 6AN", None), ("E1 AAN", None),
    ("EEE1 6AN", None), ("E1 6A1", None), ("not a postcode", None), ("", None),
    ("É1 6AN", None),  # a letter, but not one of A-Z
])
def test_postcodes_of_every_shape_and_not(postcode: str, sector: str | None) -> None:
    assert sector_reference(postcode) == sector
    assert postcode_sector(pa.array([postcode])).to_pylist() == [sector]
    whole = normalise_postcode(pa.array([postcode])).to_pylist()[0]
    assert whole == (None if sector is None else f"{sector}{postcode.replace(' ', '')[-2:]}"
                     .upper())


@st.composite
def postcodes(draw: st.DrawFn) -> str:
    """A value of any of the six shapes, in either case, with spaces anywhere."""
    shape = draw(st.sampled_from(POSTCODE_SHAPES)).replace(" ", "")
    chars = [draw(st.sampled_from(string.ascii_letters if c == "A" else string.digits))
             for c in shape]
    return "".join(c + " " * draw(st.integers(0, 1)) for c in chars)


@settings(max_examples=300, deadline=None)
@given(st.one_of(postcodes(), st.text(alphabet=string.ascii_letters + string.digits + " ",
                                      max_size=9)))
def test_postcode_sectors_agree_with_the_shapes(value: str) -> None:
    assert postcode_sector(pa.array([value])).to_pylist() == [sector_reference(value)]


def test_a_missing_postcode_stays_missing() -> None:
    assert postcode_sector(pa.array([None], pa.string())).to_pylist() == [None]
