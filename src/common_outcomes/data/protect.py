"""Pseudonymisation at the door: what identifiers become before anything is stored.

NHS numbers, UPNs and case ids become keyed HMAC-SHA256 pseudonyms (the same person gets
the same pseudonym in every source, so records still link, but nobody without the key can
reverse or recompute them). Names never reach the analytic store; dates of birth become the
month of birth; postcodes become the postcode sector and the LSOA. The raw values go only to
the linkage staging area, which has its own, shorter retention.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from common_outcomes.errors import UserError
from common_outcomes.identifiers import POSTCODE_COMPACT

KEY_ENV = "OUTCOMES_KEY_FILE"
MIN_KEY_BYTES = 32


def load_key(workspace: Path, key_file: Path | None = None) -> bytes:
    """The pseudonymisation key: from --key-file, else the file named by OUTCOMES_KEY_FILE.

    Never from the repository: a key file inside the workspace folder is refused, because a
    workspace is reviewed and shared in git.
    """
    path = key_file or (Path(os.environ[KEY_ENV]) if os.environ.get(KEY_ENV) else None)
    if path is None:
        raise UserError(f"No pseudonymisation key: pass --key-file or set {KEY_ENV} to a file "
                        f"holding at least {MIN_KEY_BYTES} random bytes (keep it out of git).")
    if not path.is_file():
        raise UserError(f"The pseudonymisation key file {path} does not exist.")
    try:
        path.resolve().relative_to(workspace.resolve())
    except ValueError:
        pass
    else:
        raise UserError(f"The key file {path} is inside the workspace folder, which is shared "
                        "in git; keep the key outside it.")
    key = path.read_bytes().strip()
    if len(key) < MIN_KEY_BYTES:
        raise UserError(f"The key in {path} is too short: use at least {MIN_KEY_BYTES} random "
                        "bytes, e.g. from 'openssl rand -hex 32'.")
    return key


def normalise_identifier(values: pa.Array) -> pa.Array:
    """Spaces and hyphens out, upper case: '943 476 5919' and '9434765919' are one person."""
    text = pc.utf8_upper(pc.cast(values, pa.string()))
    return pc.replace_substring_regex(text, pattern=r"[\s-]", replacement="")


def pseudonymise(values: pa.Array, key: bytes) -> pa.Array:
    """Keyed HMAC-SHA256 (hex) of each normalised value; nulls stay null.

    Computed once per distinct value: a return names the same child many times.
    """
    clean = normalise_identifier(values)
    distinct = pc.unique(clean).drop_null()
    digests = [hmac.new(key, v.encode("utf-8"), hashlib.sha256).hexdigest()
               for v in distinct.to_pylist()]
    index = pc.index_in(clean, value_set=distinct)
    return pc.take(pa.array(digests, pa.string()), index)


def month_of(dates: pa.Array) -> pa.Array:
    """The first day of each date's month (date of birth -> month of birth)."""
    return pc.cast(pc.floor_temporal(dates, unit="month"), pa.date32())


def _compact_postcodes(postcodes: pa.Array) -> pa.Array:
    """Spaces out, upper case; null for anything not shaped like a postcode, so that free
    text typed into a postcode field never reaches the analytic store as a 'sector'."""
    compact = pc.utf8_upper(pc.replace_substring(pc.cast(postcodes, pa.string()), " ", ""))
    shaped = pc.match_substring_regex(compact, POSTCODE_COMPACT)
    return pc.if_else(shaped, compact, pa.scalar(None, pa.string()))


def postcode_sector(postcodes: pa.Array) -> pa.Array:
    """'QX12 3AB' -> 'QX12 3': the outward code and the first digit of the inward code;
    null for a value that is not a postcode."""
    compact = _compact_postcodes(postcodes)
    outward = pc.utf8_slice_codeunits(compact, start=0, stop=-3)
    digit = pc.utf8_slice_codeunits(compact, start=-3, stop=-2)
    return pc.binary_join_element_wise(outward, digit, " ")


def normalise_postcode(postcodes: pa.Array) -> pa.Array:
    """'qx123ab' -> 'QX12 3AB', the form a postcode directory uses; null for a value that is
    not a postcode."""
    compact = _compact_postcodes(postcodes)
    return pc.binary_join_element_wise(pc.utf8_slice_codeunits(compact, start=0, stop=-3),
                                       pc.utf8_slice_codeunits(compact, start=-3), " ")


def mask(value: str | None, identifier: str | None) -> str:
    """What an error report may show of a value: identifiers are masked."""
    if value is None:
        return ""
    if identifier is None:
        return value
    if identifier in ("nhs_number", "upn", "case_id"):
        return value[:2] + "*" * max(len(value) - 4, 0) + value[-2:] if len(value) > 4 else "****"
    if identifier == "postcode":
        return (value.split(" ")[0] + " ***") if " " in value else "****"
    return value[:1] + "***" if value else ""
