"""Build a borough's geography document from ONS lookup files (la_all_codes.csv and others).

Reads la_all_codes.csv, rgn_all_codes.csv, ward boundaries (for the current ward set)
and london_lsoa21_to_ward.csv, all published under the Open Government Licence.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from common_outcomes.errors import UserError
from common_outcomes.geography.models import Area, GeographyDocument, Lsoa, Ward


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise UserError(f"The ONS lookup {path} is missing; point --from at the folder that "
                        "holds la_all_codes.csv.")
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def geography_from_ons(folder: Path, la_code: str) -> GeographyDocument:
    """The wards and LSOAs of one London borough, from ONS lookups in `folder`."""
    la_row = next((r for r in _rows(folder / "la_all_codes.csv") if r["LADCD"] == la_code), None)
    if la_row is None:
        raise UserError(f"'{la_code}' is not a local authority code in "
                        f"{folder / 'la_all_codes.csv'}.")
    region = Area(code=la_row["RGNCD"], name=la_row["RGNNM"])
    boundary = folder / "boundaries" / "ward" / f"{la_code}.geojson"
    if not boundary.is_file():
        raise UserError(f"No ward boundaries for {la_code} in {boundary.parent}; ward-level "
                        "geography is shipped for London boroughs only.")
    features = json.loads(boundary.read_text(encoding="utf-8"))["features"]
    wards = sorted(
        (Ward(code=f["properties"]["WD25CD"], name=f["properties"]["WD25NM"]) for f in features),
        key=lambda w: w.code,
    )
    lsoas = sorted(
        (
            Lsoa(code=r["LSOA21CD"], name=r["LSOA21NM"], ward=r["WDCD"])
            for r in _rows(folder / "london_lsoa21_to_ward.csv")
            if r["LADCD"] == la_code
        ),
        key=lambda a: a.code,
    )
    return GeographyDocument(
        kind="geography",
        version=1,
        provenance=(
            "ONS geography (Open Government Licence v3) via drkane/geo-lookups @ e20a072: "
            "la_all_codes.csv, ward boundaries WD25; LSOA 2021 to ward is a best-fit lookup "
            "by LSOA centroid (london_lsoa21_to_ward.csv, derived, not an official ONS lookup)."
        ),
        ward_set="WD25 (2025 wards)",
        la=Area(code=la_code, name=la_row["LADNM"]),
        region=region,
        wards=tuple(wards),
        lsoas=tuple(lsoas),
    )
