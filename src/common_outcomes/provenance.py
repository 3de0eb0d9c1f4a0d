"""Derive the carried reference tables from the published originals, and update one.

`build` writes every table of common_outcomes/reference/data (and its manifest) from a folder
laid out as the published originals are collected (`data/geography`, `data/published`,
`reference/ssd`); CI rebuilds into a temporary folder and finds it byte-identical. `update`
replaces one table from a newer release a user downloaded, into their reference folder.

The example's comparators are the DfE and OHID files restricted to England, London, Tower
Hamlets and its DfE statistical neighbours, keeping the columns the example's source
declarations read, in the publisher's own layout: the demo loads them through the same
readers as a council's download. The Fingertips 90284 export keeps every area, since it is
also the answer key the statistics tests compare with.
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from common_outcomes import reference
from common_outcomes.data.builtin import templates
from common_outcomes.errors import UserError
from common_outcomes.geography.reference import (
    KINDS as GEOGRAPHY_KINDS,
)
from common_outcomes.geography.reference import (
    NEIGHBOURS,
    build_reference,
    statistical_neighbours,
)
from common_outcomes.synth.calibration import CALIBRATION, CALIBRATION_KIND, build_calibration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tower-hamlets"
BOROUGH, LONDON, ENGLAND = "E09000030", "E12000007", "E92000001"
DFE_AREA = ("new_la_code", "region_code", "country_code")  # the first that is not empty
OGL = "Open Government Licence v3"
DFE = "Department for Education"
CSC = "dfe-analytical-services/CSC_outcomes_and_enablers@2f5d11a"
NCCIS = "dfe-analytical-services/nccis_localauthority_dashboard@7be8eb3"
GEO = "drkane/geo-lookups@e20a072"
SSD_FIELDS = "ssd/ssd_fields.csv"
SSD_COLUMNS = ("table", "field", "type", "required", "primary_key", "item_ref", "returns")


def _year_ending(month: int, day: int) -> Callable[[str], date]:
    return lambda period: date(int(period[:4]), month, day)


def _academic(period: str) -> date:  # 202324 -> the year to 31 August 2024
    return date(int(period[:4]) + 1, 8, 31)


def _financial_label(period: str) -> date:  # "2023/24" -> the year to 31 March 2024
    return date(int(period[:4]) + 1, 3, 31)


@dataclass(frozen=True, slots=True)
class Comparator:
    """A published file restricted to the example's comparator areas and declared columns."""

    kind: str  # the example's source id that reads it
    original: str  # the published file's name, kept so the source's `files:` glob matches
    publisher: str
    release: str
    built_from: str
    period_column: str
    period_end: Callable[[str], date]
    every_area: bool = False  # Fingertips: every area, as the answer key needs


COMPARATORS = (
    Comparator("dfe-children-in-need", "b1_children_in_need_2013_to_2025.csv", DFE,
               "Children in need 2025 (b1), 2013 to 2025", CSC, "time_period",
               _year_ending(3, 31)),
    Comparator("dfe-referrals",
               "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv", DFE,
               "Children in need 2025 (c1 referrals), 2013 to 2025", CSC, "time_period",
               _year_ending(3, 31)),
    Comparator("dfe-repeat-child-protection-plans", "d3_cpps_subsequent_plan_2013_to_2025.csv",
               DFE, "Children in need 2025 (d3 plans), 2013 to 2025", CSC, "time_period",
               _year_ending(3, 31)),
    Comparator("dfe-child-protection-plans", "d5_cpps_at31march_by_duration_2013_to_2025.csv",
               DFE, "Children in need 2025 (d5 plans at 31 March), 2013 to 2025", CSC,
               "time_period", _year_ending(3, 31)),
    Comparator("dfe-children-looked-after", "cla_number_and_rate_per_10k_children.csv", DFE,
               "Children looked after in England 2025, number and rate", CSC, "time_period",
               _year_ending(3, 31)),
    Comparator("dfe-child-population", "ons_mid-year_population_estimates_2012_to_2024.csv",
               "Office for National Statistics (as republished by DfE)",
               "Mid-year population estimates 2012 to 2024, children 0-17", CSC, "time_period",
               _year_ending(6, 30)),
    Comparator("dfe-absence-children-in-need", "absence_la.csv", DFE,
               "Outcomes of children in need: absence, 2018/19 to 2024/25", CSC, "time_period",
               _academic),
    Comparator("dfe-eyfsp-good-level-of-development", "APS_GLD_ELG_EXP_2013_2019.csv", DFE,
               "EYFSP results by LA and gender, 2012/13 to 2018/19",
               "nestauk/afs_neighbourhood_analysis@1b1f1b1", "time_period", _academic),
    Comparator("dfe-neet-2021", "UD_NEETNK_LA_dashboard_2021_vg_removed.csv", DFE,
               "NCCIS 16-17 NEET or not known, 2021 (Dec 2020 to Feb 2021)", NCCIS,
               "time_period", _year_ending(2, 28)),
    Comparator("dfe-neet-2022", "UD_NEETNK_LA_dashboard_2022_final.csv", DFE,
               "NCCIS 16-17 NEET or not known, 2022 (Dec 2021 to Feb 2022)", NCCIS,
               "time_period", _year_ending(2, 28)),
    Comparator("dfe-neet-2023", "UD_NEETNK_LA_dashboard_2023_final.csv", DFE,
               "NCCIS 16-17 NEET or not known, 2023 (Dec 2022 to Feb 2023)", NCCIS,
               "time_period", _year_ending(2, 28)),
    Comparator("fingertips-injury-admissions", "la_hospital_admissions_2324.csv",
               "Office for Health Improvement and Disparities (Fingertips)",
               "Indicator 90284, 2010/11 to 2023/24, all data export", CSC, "Time period",
               _financial_label, every_area=True),
)
BY_KIND = {c.kind: c for c in COMPARATORS}


@dataclass(frozen=True, slots=True)
class Other:
    """A carried table that is not a comparator: its manifest facts."""

    kind: str
    file: str
    publisher: str
    release: str
    built_from: str
    data_to: date | None
    licence: str = OGL


ONS = "Office for National Statistics"
OTHERS = (
    Other(GEOGRAPHY_KINDS["london_lsoa21.csv"], "geography/london_lsoa21.csv", ONS,
          "LSOA 2021 best-fit to 2025 wards (WD25), London", f"{GEO} london_lsoa21_to_ward.csv, "
          "la_all_codes.csv, boundaries/ward", None),
    Other(GEOGRAPHY_KINDS["england_msoa21.csv"], "geography/england_msoa21.csv", ONS,
          "MSOA 2021 to LA and region, England", f"{GEO} msoa_la.csv, la_all_codes.csv", None),
    Other(GEOGRAPHY_KINDS["las.csv"], "geography/las.csv", f"{ONS}; {DFE}",
          "Children's services authorities in the DfE statistics 2013 to 2025",
          f"{GEO} rgn_all_codes.csv; {CSC} DfE tidy files", None),
    Other(GEOGRAPHY_KINDS[NEIGHBOURS], f"geography/{NEIGHBOURS}", DFE,
          "Statistical neighbour groupings, April 2021 (as published)", f"{CSC} {NEIGHBOURS}",
          date(2021, 4, 30)),
    Other(CALIBRATION_KIND, CALIBRATION, f"{DFE}; {ONS}",
          "Published rates by authority and period for synthetic calibration",
          f"{CSC}; nestauk/afs_neighbourhood_analysis@1b1f1b1; {NCCIS}; "
          "dfe-analytical-services/attendance-data-dashboard@8f4979c", None),
    Other("ssd-fields", SSD_FIELDS, "Data to Insight (Standard Safeguarding Dataset)",
          "SSD data model: every table's fields", "data-to-insight/ssd-data-model@4987c73",
          None, "MIT"),
)


# --- reading and writing published CSVs --------------------------------------------------

def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows; utf-8-sig: several published files start with a byte-order mark."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path} could not be read as a UTF-8 CSV file ({e}).") from None
    if not rows:
        raise UserError(f"{path} is empty; it needs a header row and data.")
    return rows[0], rows[1:]


def _csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str]]) -> tuple[bytes, int]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    n = 0
    for row in rows:
        writer.writerow(row)
        n += 1
    return buffer.getvalue().encode("utf-8"), n


def _declaration(kind: str, example: Path) -> dict[str, object]:
    path = example / "sources" / f"{kind}.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict), path
    return doc


def declared_columns(kind: str, example: Path = EXAMPLE) -> tuple[str, ...]:
    """The columns the example's source declaration for `kind` reads: its built-in's (the
    publisher's layout, `builtin: dfe/ees`) and then its own."""
    doc = _declaration(kind, example)
    columns = doc.get("columns", [])
    assert isinstance(columns, list)
    own = tuple(str(c["name"]) for c in columns)
    builtin = doc.get("builtin")
    if builtin is None:
        return own
    base = tuple(c.name for c in templates()[str(builtin)].columns)
    return base + tuple(name for name in own if name not in base)


def comparator_areas(geography: Path | None = None) -> frozenset[str]:
    """England, London, the example's borough and its statistical neighbours (from the
    geography tables in `geography`, a build's output; the carried ones by default)."""
    return frozenset({ENGLAND, LONDON, BOROUGH,
                      *(n.la.la_code for n in statistical_neighbours(BOROUGH, geography))})


def _derive(spec: Comparator, source: Path, columns: Sequence[str],
            areas: frozenset[str]) -> tuple[bytes, int, date]:
    """The published file's rows for `areas` (all, for Fingertips) and `columns`, in the
    file's own column order. A missing column is one sentence naming the file."""
    header, rows = _read_csv(source)
    for name in columns:
        if name not in header:
            raise UserError(f"{source} has no column '{name}', which the {spec.kind} table "
                            "needs; is it the publisher's file for that table?")
    keep = [i for i, name in enumerate(header) if name in columns]
    area_at = [header.index(name) for name in DFE_AREA if name in header]

    def wanted(row: list[str]) -> bool:
        if spec.every_area:
            return True
        code = next((row[i].strip() for i in area_at if i < len(row) and row[i].strip()), "")
        return code in areas

    chosen = [[row[i] if i < len(row) else "" for i in keep] for row in rows if wanted(row)]
    if not chosen:
        raise UserError(f"{source} has no rows for England, London or the example's borough "
                        f"and its statistical neighbours, so it cannot replace {spec.kind}.")
    period_at = [header[i] for i in keep].index(spec.period_column)
    try:
        newest = max(spec.period_end(r[period_at].strip()) for r in chosen)
    except ValueError:
        raise UserError(f"{source}: {spec.period_column} holds a period that is not written "
                        f"as the {spec.kind} table writes it (e.g. 2024 or 2023/24).") from None
    data, n = _csv_bytes([header[i] for i in keep], chosen)
    return data, n, newest


def _ssd_fields(ssd_dir: Path) -> tuple[bytes, int]:
    """Every field of every SSD table, in the specification's order."""
    rows = []
    for path in sorted(ssd_dir.glob("ssd_*.yml")):
        for node in yaml.safe_load(path.read_text(encoding="utf-8"))["nodes"]:
            for f in node["fields"]:
                required = any(isinstance(v, dict) and v.get("required", {}).get("enabled")
                               for v in f.get("validators") or [])
                rows.append((node["name"], f["name"], str(f.get("type", "")),
                             "true" if required else "false",
                             "true" if f.get("primary_key") else "false",
                             str(f.get("item_ref", "")), ";".join(f.get("returns") or [])))
    return _csv_bytes(SSD_COLUMNS, rows)


def _rows_of(path: Path) -> int:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def _entry(kind: str, file: str, folder: Path, publisher: str, release: str, licence: str,
           built_from: str, data_to: date | None) -> reference.Table:
    path = folder / file
    return reference.Table(kind, file, reference.sha256_of(path), _rows_of(path), publisher,
                           release, data_to, licence, built_from)


def build(originals: Path, out: Path, example: Path = EXAMPLE) -> tuple[reference.Table, ...]:
    """Write every carried table and the manifest into `out` from the published originals
    (`originals`/data/geography, data/published, reference/ssd). Deterministic: sorted where
    the builder chooses the order, LF line endings, so a rebuild is byte-identical."""
    geography, published = originals / "data" / "geography", originals / "data" / "published"
    for folder in (geography, published, originals / "reference" / "ssd"):
        if not folder.is_dir():
            raise UserError(f"{folder} is missing: --from must hold data/geography, "
                            "data/published and reference/ssd as the originals are laid out.")
    (out / "geography").mkdir(parents=True, exist_ok=True)
    build_reference(geography, published, out / "geography")
    shutil.copyfile(published / NEIGHBOURS, out / "geography" / NEIGHBOURS)
    build_calibration(published, out)
    data, _ = _ssd_fields(originals / "reference" / "ssd")
    reference.write_atomically(out / SSD_FIELDS, data)
    tables = [_entry(o.kind, o.file, out, o.publisher, o.release, o.licence, o.built_from,
                     o.data_to) for o in OTHERS]
    areas = comparator_areas(out / "geography")
    for spec in COMPARATORS:
        data, _, newest = _derive(spec, published / spec.original,
                                  declared_columns(spec.kind, example), areas)
        file = f"comparators/{spec.original}"
        reference.write_atomically(out / file, data)
        tables.append(_entry(spec.kind, file, out, spec.publisher, spec.release, OGL,
                             f"{spec.built_from} {spec.original}", newest))
    result = tuple(tables)
    reference.write_manifest(out, result)
    return result


def _header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return next(csv.reader(f), [])


def update(kind: str, file: Path, folder: Path | None = None) -> reference.Table:
    """Replace the `kind` table from a newer published release (`file`, as downloaded),
    written into the user's reference folder; checked first, so a bad file changes nothing."""
    carried = reference.located()
    if kind not in carried:
        raise UserError(f"There is no reference table '{kind}'; `outcomes reference` lists "
                        "them.")
    if not file.is_file():
        raise UserError(f"{file} does not exist or is not a file.")
    folder = reference.override_folder() if folder is None else folder
    current = carried[kind]
    newest: date | None
    if kind in BY_KIND:
        spec = BY_KIND[kind]
        columns = _header(reference.DATA / current.table.file)  # what the product reads
        data, _, newest = _derive(spec, file, columns, comparator_areas())
        name = f"comparators/{file.name}"
    elif kind == GEOGRAPHY_KINDS[NEIGHBOURS]:
        header = _header(file)
        expected = ["LA num", "LA Name", "LA number", "GOInd", "GOReg", "SN1", "SNP"]
        missing = [c for c in expected if c not in header]
        if missing:
            raise UserError(f"{file} has no column '{missing[0]}', which DfE's statistical "
                            "neighbour groupings have; is it the groupings file?")
        data, newest, name = file.read_bytes(), current.table.data_to, f"geography/{file.name}"
    else:
        raise UserError(f"The {kind} table is derived from several published files, so it "
                        "cannot be updated from one; rebuild every table with `outcomes "
                        "reference build --from FOLDER` instead.")
    old = reference.read_manifest(folder)
    previous = next((t for t in old if t.kind == kind), None)
    reference.write_atomically(folder / name, data)
    table = _entry(kind, name, folder, current.table.publisher, file.name,
                   current.table.licence, f"{file.name} (outcomes reference update)", newest)
    reference.write_manifest(folder, (*(t for t in old if t.kind != kind), table))
    if previous is not None and previous.file != name:
        (folder / previous.file).unlink(missing_ok=True)
    return table
