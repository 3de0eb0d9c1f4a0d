"""Published rates the synthetic data is calibrated to, by authority and period.

`build_calibration` extracts a long table (calibration.csv, carried in
common_outcomes/reference/data) from the published DfE and ONS statistics (Open Government
Licence v3):

- population_0_17: children aged 0-17, ONS mid-year estimate
  (ons_mid-year_population_estimates_2012_to_2024.csv).
- gld_percent: % reaching a good level of development, EYFSP, gender Total;
  gld_number / number_of_children (APS_GLD_ELG_EXP_2013_2019.csv).
- cin_rate_per_10k: children in need at 31 March per 10,000 aged 0-17; At31_episodes /
  ONS 0-17 at the previous 30 June (b1_children_in_need_2013_to_2025.csv).
- cpp_rate_per_10k: child protection plans at 31 March per 10,000 aged 0-17; CPP_At31 /
  ONS 0-17 at the previous 30 June (d5_cpps_at31march_by_duration_2013_to_2025.csv).
- cla_rate_per_10k: DfE's own rate of children looked after on 31 March; children_count /
  population_estimate (cla_number_and_rate_per_10k_children.csv).
- rereferral_percent: % of referrals within 12 months of a previous one; rereferral_count
  / referral_count (c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv).
- cpp_subsequent_percent: % of plans started that are a second or later plan;
  CPP_subsequent / CPP_start (d3_cpps_subsequent_plan_2013_to_2025.csv).
- neet_nk_percent: % of 16-17 year olds NEET or activity not known; denominator
  Cohort_DJFavg, no count published (UD_NEETNK_LA_dashboard_20{21,22,23}*.csv).
- persistent_absence_percent: % of enrolments missing 10% or more of sessions, all
  phases, year to date, to 1 dp; denominator enrolments (attendance_ytd_2025_26.csv).

Periods are written as the field writes them: "2018/19" is an academic year (GLD,
persistent absence, which is 2025/26 year to date); "2025" is DfE's reporting year ending
31 March 2025 (CIN, CPP, CLA, re-referrals); population "2024" is the ONS estimate at 30
June 2024 (DfE divides the year to March 2025 by it, as the CLA file shows); NEET "2023"
is the NCCIS dashboard's year (the December-February average). `nearest` orders periods
by the calendar year in which they end.

Files come from dfe-analytical-services/CSC_outcomes_and_enablers @ 2f5d11a (CIN, CPP, CLA,
population), nestauk/afs_neighbourhood_analysis @ 1b1f1b1 (EYFSP),
dfe-analytical-services/nccis_localauthority_dashboard @ 7be8eb3 (NEET) and
dfe-analytical-services/attendance-data-dashboard @ 8f4979c (attendance; EES_ytd_data.csv).

Suppressed or unavailable figures (c, z, x, :, u, low, blank) are skipped, never zeroed.
Each file's new_la_code is kept as published, so authorities that merged or split
(Bournemouth and Poole, Northamptonshire, Cumbria, ...) keep their own series.

National-only parameters that no shipped file holds (births, health visiting, early
education, early help) are curated by hand in data/national_parameters.csv, each with its
publication and whether the figure was confirmed in it.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from common_outcomes import reference

DATA_DIR = Path(__file__).parent / "data"  # the hand-curated national parameters
CALIBRATION = "calibration.csv"
CALIBRATION_KIND = "calibration"  # its kind in reference/data/manifest.yaml
NATIONAL_PARAMETERS = "national_parameters.csv"
ENGLAND = "E92000001"
COLUMNS = ("la_code", "measure", "period", "value", "numerator", "denominator", "unit",
           "source")
PARAMETER_COLUMNS = ("measure", "period", "value", "unit", "source", "confirmed")
# EES symbols: suppressed, not applicable, unavailable, not available, low reliability,
# rounds to zero. None of them is a number.
SUPPRESSION_MARKERS = frozenset({"", "c", "z", "x", ":", "u", "low"})

PER_10K = "per 10,000 children"  # aged 0-17
POPULATION_FILE = "ons_mid-year_population_estimates_2012_to_2024.csv"
_SPLIT_YEAR = re.compile(r"^(\d{4})/(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")
_MONTH_YEAR = re.compile(r"^[A-Za-z]{3} (\d{4})$")

Row = tuple[str, str, str, str, str, str, str, str]


@dataclass(frozen=True, slots=True)
class Published:
    """One published figure (or a curated national parameter) and where it came from."""

    measure: str
    la_code: str
    period: str
    value: float
    numerator: float | None
    denominator: float | None
    unit: str
    source: str
    confirmed: bool = True  # False only for national parameters not found in a publication


def period_end_year(period: str) -> int:
    """The calendar year in which a period ends: "2018/19" -> 2019, "2025" -> 2025."""
    for pattern, offset in ((_SPLIT_YEAR, 1), (_YEAR, 0), (_MONTH_YEAR, 0)):
        m = pattern.match(period)
        if m:
            return int(m.group(1)) + offset
    raise ValueError(f"'{period}' is not a period label this table uses.")


def _number(text: str, where: str) -> Decimal | None:
    """A published figure, or None for a suppression marker; anything else is an error,
    so a new marker cannot slip through as a number."""
    text = text.strip()
    if text.lower() in SUPPRESSION_MARKERS:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{where}: '{text}' is neither a number nor a known marker.") from None


def _fmt(d: Decimal | None, places: int | None = None) -> str:
    if d is None:
        return ""
    if places is not None:
        d = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return format(d, "f")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [{k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
                for row in csv.DictReader(f)]


def _area(r: dict[str, str]) -> str | None:
    """England's or an authority's code; None for regions and codeless demo rows."""
    level = r["geographic_level"].lower()
    if level == "national":
        return ENGLAND
    if level == "local authority" and r["new_la_code"]:
        return r["new_la_code"]
    return None


def _academic(period: str) -> str:
    """EES "201819" -> "2018/19"."""
    return f"{period[:4]}/{period[4:]}"


def _population(published: Path) -> dict[tuple[str, str], Decimal]:
    pop: dict[tuple[str, str], Decimal] = {}
    for r in _read(published / POPULATION_FILE):
        area, n = _area(r), _number(r["population_estimate"], POPULATION_FILE)
        if area is not None and n is not None:
            pop[(area, r["time_period"])] = n
    return pop


def _population_rows(published: Path) -> Iterator[Row]:
    source = f"ONS mid-year estimates, 0-17 at 30 June ({POPULATION_FILE})"
    for (area, period), n in _population(published).items():
        yield (area, "population_0_17", period, _fmt(n), "", "", "count", source)


def _rates_per_10k(published: Path, file: str, column: str, measure: str,
                   publication: str) -> Iterator[Row]:
    """Count at 31 March over ONS 0-17 at the previous 30 June, x 10,000, as DfE does."""
    pop = _population(published)
    for r in _read(published / file):
        area = _area(r)
        count = _number(r[column], file)
        if area is None or count is None:
            continue
        mid_year = str(int(r["time_period"]) - 1)
        denominator = pop.get((area, mid_year))
        if denominator is None or denominator == 0:
            continue
        rate = count / denominator * 10000
        source = f"DfE {publication} ({file}): {column} / ONS mid-{mid_year} 0-17 x 10,000"
        yield (area, measure, r["time_period"], _fmt(rate, 1), _fmt(count),
               _fmt(denominator), PER_10K, source)


def _published_measure(published: Path, file: str, measure: str, value: str,
                       numerator: str | None, denominator: str | None, unit: str,
                       source: str, keep: dict[str, str] | None = None,
                       academic: bool = False, places: int | None = None) -> Iterator[Row]:
    """Rows of one published column, with its published numerator and denominator."""
    for r in _read(published / file):
        area = _area(r)
        if area is None or any(r[k] != v for k, v in (keep or {}).items()):
            continue
        v = _number(r[value], file)
        if v is None:
            continue
        num = _number(r[numerator], file) if numerator else None
        den = _number(r[denominator], file) if denominator else None
        period = _academic(r["time_period"]) if academic else r["time_period"]
        yield (area, measure, period, _fmt(v, places), _fmt(num, places), _fmt(den, places),
               unit, source)


def _rows(published: Path) -> Iterator[Row]:
    yield from _population_rows(published)
    gld = "APS_GLD_ELG_EXP_2013_2019.csv"
    yield from _published_measure(
        published, gld, "gld_percent", "gld_percent", "gld_number", "number_of_children",
        "percent", f"DfE EYFSP ({gld}): gld_number / number_of_children, gender Total",
        keep={"gender": "Total"}, academic=True)
    yield from _rates_per_10k(published, "b1_children_in_need_2013_to_2025.csv",
                              "At31_episodes", "cin_rate_per_10k", "children in need")
    yield from _rates_per_10k(published, "d5_cpps_at31march_by_duration_2013_to_2025.csv",
                              "CPP_At31", "cpp_rate_per_10k", "child protection plans")
    cla = "cla_number_and_rate_per_10k_children.csv"
    yield from _published_measure(
        published, cla, "cla_rate_per_10k", "rate_per_10000", "children_count",
        "population_estimate", PER_10K,
        f"DfE children looked after ({cla}): rate_per_10000, looked after on 31 March",
        keep={"population_type": "Children looked after on 31 March each year"})
    c1 = "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv"
    yield from _published_measure(
        published, c1, "rereferral_percent", "rereferral_percent", "rereferral_count",
        "referral_count", "percent", f"DfE children in need ({c1}): rereferral_percent")
    d3 = "d3_cpps_subsequent_plan_2013_to_2025.csv"
    yield from _published_measure(
        published, d3, "cpp_subsequent_percent", "CPP_subsequent_percent", "CPP_subsequent",
        "CPP_start", "percent", f"DfE children in need ({d3}): CPP_subsequent_percent")
    for neet in sorted(published.glob("UD_NEETNK_LA_dashboard_20*.csv")):
        yield from _published_measure(
            published, neet.name, "neet_nk_percent", "NEET_not_known_percent", None,
            "Cohort_DJFavg", "percent",
            f"DfE NCCIS ({neet.name}): NEET_not_known_percent of Cohort_DJFavg, age 16-17")
    att = "attendance_ytd_2025_26.csv"
    yield from _published_measure(
        published, att, "persistent_absence_percent", "pa_perc", None, "enrolments",
        "percent", f"DfE pupil attendance ({att}): pa_perc of enrolments, all phases, "
        "year to date, to 1 dp", keep={"education_phase": "Total"}, academic=True, places=1)


def build_calibration(published_dir: Path, out_dir: Path) -> int:
    """Write calibration.csv into `out_dir` from the published DfE and ONS files:
    sorted by (la_code, measure, period), LF line endings, so a rebuild is
    byte-identical. Returns the number of rows."""
    rows: dict[tuple[str, str, str], Row] = {}
    for row in _rows(published_dir):
        key = row[:3]
        if key in rows and rows[key] != row:
            raise ValueError(f"Two published values for {key}: {rows[key]} and {row}.")
        rows[key] = row
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / CALIBRATION).open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows[k] for k in sorted(rows))
    return len(rows)


def _optional(text: str) -> float | None:
    return float(text) if text else None


@dataclass(frozen=True)
class Calibration:
    """The shipped calibration table and national parameters, looked up by key."""

    published: tuple[Published, ...]
    parameters: tuple[Published, ...]
    _index: dict[tuple[str, str, str], Published] = field(
        init=False, repr=False, compare=False, hash=False)
    _series: dict[tuple[str, str], tuple[Published, ...]] = field(
        init=False, repr=False, compare=False, hash=False)
    _national: dict[str, Published] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        index = {(p.measure, p.la_code, p.period): p for p in self.published}
        series: dict[tuple[str, str], list[Published]] = {}
        for p in self.published:
            series.setdefault((p.measure, p.la_code), []).append(p)
        # Frozen: the lookups are derived once, here.
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_series", {
            k: tuple(sorted(v, key=lambda p: period_end_year(p.period)))
            for k, v in series.items()})
        object.__setattr__(self, "_national", {p.measure: p for p in self.parameters})

    def value(self, measure: str, la_code: str, period: str) -> Published | None:
        """The published figure for exactly this authority and period, if there is one."""
        return self._index.get((measure, la_code, period))

    def england(self, measure: str, period: str) -> Published | None:
        return self.value(measure, ENGLAND, period)

    def series(self, measure: str, la_code: str) -> tuple[Published, ...]:
        """Every published period for an authority, oldest first."""
        return self._series.get((measure, la_code), ())

    def nearest(self, measure: str, la_code: str, year: int) -> Published | None:
        """The figure whose period ends closest to `year` (its `period` says which);
        on a tie, the later one. None if the authority has no figure for the measure."""
        found = self.series(measure, la_code)
        if not found:
            return None
        return min(reversed(found), key=lambda p: abs(period_end_year(p.period) - year))

    def national_parameter(self, measure: str) -> Published:
        """A curated England figure that no shipped file holds (see national_parameters.csv)."""
        try:
            return self._national[measure]
        except KeyError:
            raise KeyError(f"No national parameter '{measure}'; known: "
                           f"{', '.join(sorted(self._national))}.") from None

    def measures(self) -> tuple[str, ...]:
        return tuple(sorted({p.measure for p in self.published}))


def _load_published(path: Path) -> tuple[Published, ...]:
    return tuple(
        Published(r["measure"], r["la_code"], r["period"], float(r["value"]),
                  _optional(r["numerator"]), _optional(r["denominator"]), r["unit"],
                  r["source"])
        for r in _read(path))


def _load_parameters(path: Path) -> tuple[Published, ...]:
    params = []
    for r in _read(path):
        if r["confirmed"] not in ("true", "false"):
            raise ValueError(f"{path}: confirmed must be true or false for {r['measure']}.")
        params.append(Published(r["measure"], ENGLAND, r["period"], float(r["value"]), None,
                                None, r["unit"], r["source"], r["confirmed"] == "true"))
    return tuple(params)


@cache
def load_calibration() -> Calibration:
    """The carried calibration table (or a user's update of it) and the national parameters."""
    return Calibration(_load_published(reference.path(CALIBRATION_KIND)),
                       _load_parameters(DATA_DIR / NATIONAL_PARAMETERS))
