"""The person identifiers partner data carries: NHS numbers and UPNs (check digits), and
the shape of a postcode.

Pure Python, so that loading partner data can validate identifiers without numpy.
The synthetic generators in `common_outcomes.synth.identifiers` vectorise the same rules.
"""

from __future__ import annotations

import re

# NHS number: NHS England (NHS Digital), "NHS Number" in the NHS Data Model and Dictionary.
# Digits 1-9 are weighted 10 down to 2; the check digit is 11 - (sum mod 11), where 11 means 0
# and 10 means the nine digits cannot form a valid number.
NHS_WEIGHTS: tuple[int, ...] = (10, 9, 8, 7, 6, 5, 4, 3, 2)
_NHS_SEPARATORS = re.compile(r"[ \-]")

# UPN: DfE, "Unique pupil numbers (UPNs): a guide for schools and local authorities", Annex A
# (the national UPN formula), also published as the Government Data Standards Catalogue entry
# "Unique Pupil Number" v2.0 (2004). Characters 2-13 are weighted by their position (2..13);
# the sum mod 23 indexes this alphabet, which leaves out I, O and S. A temporary UPN ends in a
# letter, which counts as its index in the same alphabet (A=0, B=1, ... H=7, J=8, ... Z=22).
UPN_ALPHABET = "ABCDEFGHJKLMNPQRTUVWXYZ"
UPN_WEIGHTS: tuple[int, ...] = tuple(range(2, 14))
_UPN_BODY = re.compile(r"^[0-9]{11}[0-9ABCDEFGHJKLMNPQRTUVWXYZ]$")
# A UPN field of DfE's children's social care returns (CIN census, SSDA903) holds one of these
# instead of a UPN when the child has none, saying why (DfE's "UPN unknown" codes UN1-UN10):
# the UPN is unknown, not wrong. No UPN has this shape, so the codes cannot be mistaken.
UPN_UNKNOWN: frozenset[str] = frozenset(f"UN{n}" for n in range(1, 11))

# Postcode, with its spaces taken out: an outward code of one of six shapes (A9, A99, AA9,
# AA99, A9A, AA9A) and an inward code (a digit and two letters), as in Royal Mail's Postcode
# Address File and ONS's postcode directories. Which letters each position may hold is not
# checked: the synthetic postcodes' area QX is one Royal Mail never issues, on purpose.
POSTCODE_COMPACT = r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$"


def nhs_check_digit(first_nine: str) -> int | None:
    """The NHS number check digit for nine digits, or None if no check digit makes them valid.

    Source: NHS Data Model and Dictionary, "NHS Number" (Modulus 11 algorithm).
    """
    if len(first_nine) != 9 or not first_nine.isascii() or not first_nine.isdigit():
        raise ValueError(f"An NHS number starts with nine digits, not {first_nine!r}.")
    total = sum(int(d) * w for d, w in zip(first_nine, NHS_WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def is_valid_nhs_number(value: str) -> bool:
    """True if `value` is ten digits (spaces or hyphens allowed) with a correct check digit.

    Source: NHS Data Model and Dictionary, "NHS Number" (Modulus 11 algorithm).
    """
    digits = _NHS_SEPARATORS.sub("", value)
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        return False
    return nhs_check_digit(digits[:9]) == int(digits[9])


def upn_check_letter(body: str) -> str:
    """The check letter (character 1) of a UPN whose characters 2-13 are `body`.

    `body` is eleven digits then a digit (permanent UPN) or a letter (temporary UPN).
    Source: DfE, "Unique pupil numbers (UPNs)" guidance, Annex A, the national UPN formula.
    """
    if not _UPN_BODY.match(body):
        raise ValueError(
            f"Characters 2-13 of a UPN are eleven digits and a digit or letter, not {body!r}."
        )
    total = sum(_upn_value(c) * w for c, w in zip(body, UPN_WEIGHTS, strict=True))
    return UPN_ALPHABET[total % 23]


def is_valid_upn(value: str) -> bool:
    """True if `value` is a 13-character UPN (permanent or temporary) with a correct check letter.

    Source: DfE, "Unique pupil numbers (UPNs)" guidance, Annex A, the national UPN formula.
    """
    if len(value) != 13 or value[0] not in UPN_ALPHABET or not _UPN_BODY.match(value[1:]):
        return False
    return upn_check_letter(value[1:]) == value[0]


def _upn_value(char: str) -> int:
    return int(char) if char.isdigit() else UPN_ALPHABET.index(char)
