# Provenance (common_outcomes/reference/data/SOURCES.md): ONS geography, Open Government
# Licence v3, via drkane/geo-lookups @ e20a072 (la_all_codes.csv, rgn_all_codes.csv,
# msoa_la.csv, ward boundaries WD25). The LSOA 2021 to 2025 ward lookup
# (london_lsoa21_to_ward.csv) is a derived best-fit lookup by LSOA centroid inside ward
# polygon; it is not an official ONS lookup. LA numbers and the set of children's services
# authorities come from the published DfE statistics (OGL v3).
# New_Statistical_Neighbour_Groupings_April_2021.csv is DfE's statistical neighbour groupings
# (April 2021), as published (dfe-analytical-services/CSC_outcomes_and_enablers @ 2f5d11a).
"""Reference geography carried by the product (common_outcomes.reference): London LSOAs,
English MSOAs and the children's services authorities, so synthetic boroughs live in real
places with nothing beside the repository.

`build_reference` writes the three CSVs from the ONS lookups and DfE files (run by
common_outcomes.provenance); the readers below only read the carried tables (or a user's
update of one, `outcomes reference update`).

- london_lsoa21.csv: every London LSOA 2021 -> 2025 ward (best fit) -> borough.
- england_msoa21.csv: every English MSOA 2021 -> lower-tier LA -> upper-tier LA -> region.
  `utla_code` is the code DfE's children's services statistics use for the authority, so
  it joins with las.csv and the calibration table: ONS recoded Barnsley and Sheffield
  (E08000016/E08000019 -> E08000038/E08000039) after their 2024 boundary change, while DfE
  still publishes the old codes. `lad_code` stays the current ONS code.
- las.csv: every upper-tier LA that appears in the DfE files, including authorities that
  no longer exist (Northamptonshire, Cumbria, ...), with DfE's three-digit LA number.
- New_Statistical_Neighbour_Groupings_April_2021.csv: DfE's ten statistical neighbours of
  each authority by old LA number, as published (`statistical_neighbours` reads it).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from common_outcomes import reference

LONDON_LSOAS = "london_lsoa21.csv"
ENGLAND_MSOAS = "england_msoa21.csv"
LAS = "las.csv"
NEIGHBOURS = "New_Statistical_Neighbour_Groupings_April_2021.csv"
NEIGHBOUR_COUNT = 10
# The carried tables' kinds (reference/data/manifest.yaml), by the file name the builder writes.
KINDS = {LONDON_LSOAS: "geography-lsoa", ENGLAND_MSOAS: "geography-msoa", LAS: "geography-las",
         NEIGHBOURS: "statistical-neighbours"}

LSOA_COLUMNS = ("lsoa_code", "lsoa_name", "ward_code", "ward_name", "la_code", "la_name")
MSOA_COLUMNS = ("msoa_code", "msoa_name", "lad_code", "utla_code", "utla_name",
                "region_code", "region_name")
LA_COLUMNS = ("la_code", "la_name", "old_la_code", "region_code", "region_name")

# The DfE tidy files that name children's services authorities (new_la_code, old_la_code).
DFE_FILES = (
    "b1_children_in_need_2013_to_2025.csv",
    "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv",
    "d3_cpps_subsequent_plan_2013_to_2025.csv",
    "d5_cpps_at31march_by_duration_2013_to_2025.csv",
    "cla_number_and_rate_per_10k_children.csv",
    "ons_mid-year_population_estimates_2012_to_2024.csv",
    "absence_la.csv",
    "attendance_ytd_2025_26.csv",
    "APS_GLD_ELG_EXP_2013_2019.csv",
    "UD_NEETNK_LA_dashboard_2021_vg_removed.csv",
    "UD_NEETNK_LA_dashboard_2022_final.csv",
    "UD_NEETNK_LA_dashboard_2023_final.csv",
)
UPPER_TIER_PREFIXES = ("E06", "E08", "E09", "E10")
LONDON = "E12000007"
# DfE files put London boroughs in Inner (E13000001) or Outer (E13000002) London.
_SUB_REGIONS = {"E13000001": LONDON, "E13000002": LONDON}


@dataclass(frozen=True, slots=True)
class LsoaRow:
    lsoa_code: str
    lsoa_name: str
    ward_code: str
    ward_name: str
    la_code: str
    la_name: str


@dataclass(frozen=True, slots=True)
class MsoaRow:
    msoa_code: str
    msoa_name: str
    lad_code: str
    utla_code: str  # as DfE publishes it (see the module docstring)
    utla_name: str
    region_code: str
    region_name: str


@dataclass(frozen=True, slots=True)
class LaRow:
    la_code: str
    la_name: str
    old_la_code: int  # DfE's three-digit LA number, e.g. Tower Hamlets 211
    region_code: str
    region_name: str


def _read(path: Path) -> list[dict[str, str]]:
    # utf-8-sig: several published files start with a byte-order mark.
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [{k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
                for row in csv.DictReader(f)]


def _write(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> int:
    body = sorted(tuple(r) for r in rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(body)
    return len(body)


def _ward_names(boundaries: Path) -> dict[str, str]:
    names: dict[str, str] = {}
    for path in sorted(boundaries.glob("*.geojson")):
        for feature in json.loads(path.read_text(encoding="utf-8"))["features"]:
            props = feature["properties"]
            names[props["WD25CD"]] = props["WD25NM"]
    return names


def _lsoa_rows(geography_dir: Path) -> list[tuple[str, ...]]:
    wards = _ward_names(geography_dir / "boundaries" / "ward")
    la_names = {r["LADCD"]: r["LADNM"] for r in _read(geography_dir / "la_all_codes.csv")}
    rows: list[tuple[str, ...]] = []
    for r in _read(geography_dir / "london_lsoa21_to_ward.csv"):
        ward = r["WDCD"]
        if wards.get(ward, r["WDNM"]) != r["WDNM"]:
            raise ValueError(f"Ward {ward} is '{r['WDNM']}' in the lookup but "
                             f"'{wards[ward]}' in the WD25 boundaries.")
        rows.append((r["LSOA21CD"], r["LSOA21NM"], ward, wards.get(ward, r["WDNM"]),
                     r["LADCD"], la_names[r["LADCD"]]))
    return rows


def _dfe_authorities(published_dir: Path) -> dict[str, dict[str, str]]:
    """Each authority's latest row in the first DfE file that names it, so names and
    regions come from one file's current spelling (b1 names every authority)."""
    chosen: dict[str, dict[str, str]] = {}
    for name in DFE_FILES:
        latest: dict[str, dict[str, str]] = {}
        for r in _read(published_dir / name):
            code = r["new_la_code"]
            if r["geographic_level"].lower() != "local authority" or not code:
                continue  # regions, England, and the NCCIS 2021 "LA demo" row
            if not code.startswith(UPPER_TIER_PREFIXES):
                raise ValueError(f"{name}: '{code}' is not an upper-tier LA code.")
            # One time_period format within a file, so text order is time order.
            if code not in latest or r["time_period"] > latest[code]["time_period"]:
                latest[code] = r
        for code, row in latest.items():
            chosen.setdefault(code, row)
    return chosen


def _la_rows(geography_dir: Path, published_dir: Path) -> list[tuple[str, ...]]:
    regions = {r["RGNCD"]: r["RGNNM"] for r in _read(geography_dir / "rgn_all_codes.csv")}
    rows: list[tuple[str, ...]] = []
    for code, r in _dfe_authorities(published_dir).items():
        region = _SUB_REGIONS.get(r["region_code"], r["region_code"])
        rows.append((code, r["la_name"], str(int(r["old_la_code"])), region, regions[region]))
    return rows


def _dfe_code_for(geography_dir: Path, dfe_codes: set[str]) -> dict[str, str]:
    """ONS codes that DfE still publishes under a predecessor code (la_all_codes.csv)."""
    renamed: dict[str, str] = {}
    for r in _read(geography_dir / "la_all_codes.csv"):
        old, new = r["LADCD"], r["LADCD_ACTIVE"]
        if old != new and old in dfe_codes and new not in dfe_codes:
            renamed[new] = old
    return renamed


def _msoa_rows(geography_dir: Path, dfe_codes: set[str]) -> list[tuple[str, ...]]:
    to_dfe = _dfe_code_for(geography_dir, dfe_codes)
    rows: list[tuple[str, ...]] = []
    for r in _read(geography_dir / "msoa_la.csv"):
        if not r["MSOA21CD"].startswith("E02"):
            continue  # 2011-only MSOAs, Wales, Scotland, Northern Ireland
        utla = to_dfe.get(r["UTLACD"], r["UTLACD"])
        if utla not in dfe_codes:
            raise ValueError(f"MSOA {r['MSOA21CD']}: upper-tier LA {utla} is in no DfE file.")
        rows.append((r["MSOA21CD"], r["MSOANM"], r["LADCD_ACTIVE"], utla, r["UTLANM"],
                     r["RGNCD"], r["RGNNM"]))
    return rows


def build_reference(geography_dir: Path, published_dir: Path, out_dir: Path) -> dict[str, int]:
    """Write london_lsoa21.csv, england_msoa21.csv and las.csv into `out_dir` from the ONS
    lookups and the DfE files (as collected: data/geography, data/published); sorted, LF line
    endings, so a rebuild is byte-identical. Returns the row count of each file."""
    las = _la_rows(geography_dir, published_dir)
    dfe_codes = {r[0] for r in las}
    return {
        LONDON_LSOAS: _write(out_dir / LONDON_LSOAS, LSOA_COLUMNS, _lsoa_rows(geography_dir)),
        ENGLAND_MSOAS: _write(out_dir / ENGLAND_MSOAS, MSOA_COLUMNS,
                              _msoa_rows(geography_dir, dfe_codes)),
        LAS: _write(out_dir / LAS, LA_COLUMNS, las),
    }


@cache
def _shipped(path: Path) -> tuple[dict[str, str], ...]:
    return tuple(_read(path))


def _carried(name: str) -> tuple[dict[str, str], ...]:
    return _shipped(reference.path(KINDS[name]))


def london_lsoas() -> list[LsoaRow]:
    """Every London LSOA 2021 with its best-fit 2025 ward and its borough."""
    return [LsoaRow(**r) for r in _carried(LONDON_LSOAS)]


def england_msoas() -> list[MsoaRow]:
    """Every English MSOA 2021 with its lower-tier and upper-tier LA and region."""
    return [MsoaRow(**r) for r in _carried(ENGLAND_MSOAS)]


def local_authorities(path: Path | None = None) -> list[LaRow]:
    """Every children's services authority in the DfE statistics, past and present (from
    las.csv at `path`, the carried one by default)."""
    rows = _shipped(path) if path is not None else _carried(LAS)
    return [LaRow(r["la_code"], r["la_name"], int(r["old_la_code"]), r["region_code"],
                  r["region_name"]) for r in rows]


@dataclass(frozen=True, slots=True)
class Neighbour:
    la: LaRow
    closeness: str  # DfE's words: "Extremely Close", "Very Close", ..., "Not Close"


@cache
def _neighbour_numbers(path: Path) -> dict[int, tuple[tuple[int, str], ...]]:
    """Old LA number -> its neighbours' numbers and closeness, closest first. The file has a
    header, the groupings, then an "Old SNs:" block for authorities since reorganised; a
    number's first row wins."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    out: dict[int, tuple[tuple[int, str], ...]] = {}
    for row in rows[1:]:
        if not row or not row[0].strip().isdigit():
            continue  # blank separators and the "Old SNs:" heading
        # LA num, LA Name, LA number, GOInd, GOReg, then SN1, SNP, ..., SN10, SNP.
        pairs = row[5:5 + 2 * NEIGHBOUR_COUNT]
        out.setdefault(int(row[0]), tuple((int(pairs[k]), pairs[k + 1].strip())
                                          for k in range(0, len(pairs), 2)))
    return out


def statistical_neighbours(la_code: str, folder: Path | None = None) -> tuple[Neighbour, ...]:
    """DfE's statistical neighbours of a children's services authority (April 2021 groupings),
    closest first; none for an authority the groupings do not cover. `folder`: read las.csv
    and the groupings there (a build's output) instead of the carried tables."""
    las = local_authorities(None if folder is None else folder / LAS)
    groupings = reference.path(KINDS[NEIGHBOURS]) if folder is None else folder / NEIGHBOURS
    by_code = {la.la_code: la for la in las}
    by_number = {la.old_la_code: la for la in by_code.values()}
    la = by_code.get(la_code)
    if la is None:
        return ()
    return tuple(Neighbour(by_number[number], closeness)
                 for number, closeness in _neighbour_numbers(groupings).get(la.old_la_code, ()))
