"""NHS data set shaped extracts: a maternity file with MSDS field names and a health visiting
file with CSDS field names load through the example declarations in docs/examples (the
example's sources with `from:` the NHS names), and the example's own definitions compute from
them what a hand count gives. Files are written here, synthetic."""

from __future__ import annotations

import csv
import shutil
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from common_outcomes.data.store import open_store
from common_outcomes.errors import Severity
from common_outcomes.geography.reference import london_lsoas
from common_outcomes.identifiers import nhs_check_digit
from common_outcomes.project import Project
from common_outcomes.results import table as results_table

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "examples"


def _nhs(n: int) -> str:
    """A valid NHS number (Modulus 11) in the 999 range, which is never issued."""
    while (check := nhs_check_digit(str(999_000_000 + n))) is None:
        n += 10_000
    return f"{999_000_000 + n}{check}"


def _british(text: str) -> date:
    day, month, year = map(int, text.split("/"))
    return date(year, month, day)


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def workspace(example_copy: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The example, its maternity and health visiting sources replaced by the NHS-shaped
    declarations: the workspace still checks clean (the definitions read the same names)."""
    shutil.copy(DOCS / "maternity-msds.yaml", example_copy / "sources" / "maternity.yaml")
    shutil.copy(DOCS / "health-visiting-csds.yaml",
                example_copy / "sources" / "health_visiting.yaml")
    errors = [i for i in Project.check(example_copy).issues if i.severity is Severity.ERROR]
    assert errors == []
    key = tmp_path / "key"
    key.write_text("k" * 64)
    return example_copy, key


def _la_row(project: Project, indicator: str, period: str,
            period_type: str = "financial_year") -> dict[str, object]:
    table = results_table.read(project.results_path)
    assert table is not None
    (row,) = [r for r in table.to_pylist() if r["indicator_id"] == indicator
              and r["area_type"] == "la" and r["period"] == period
              and r["period_type"] == period_type and r["breakdown"] == "all"]
    return row


def test_an_msds_shaped_extract_gives_the_early_booking_proportion_by_hand(
        workspace: tuple[Path, Path]) -> None:
    ws, key = workspace
    lsoas = [r.lsoa_code for r in london_lsoas() if r.la_code == "E09000030"]
    rows = []
    for i in range(90):
        booked = date(2024, 4, 2) + timedelta(days=2 * i)
        gestation = "" if i % 9 == 0 else str(40 + (i * 7) % 70)  # days; some not recorded
        born = date(2024, 10, 1) + timedelta(days=i * 2)
        rows.append({
            "MSD401_ID": f"M{i:05d}", "NHSNumberMother": _nhs(i),
            "PersonBirthDateMother": (date(1990, 1, 1) + timedelta(days=91 * i)).isoformat(),
            "Postcode": "E1 6AN", "LSOAMother2011": lsoas[i % len(lsoas)],
            "AgeAtBirthMother": str(20 + i % 20),
            # SQL Server's datetimes, as a trust's extract writes them.
            "AntenatalAppDate": f"{booked.isoformat()} 00:00:00.000",
            "GestAgeBooking": gestation, "NHSNumberBaby": _nhs(500 + i),
            "PersonBirthDateBaby": born.isoformat(), "BirthWeight": str(2300 + 17 * i),
            "gestational_age_weeks": str(36 + i % 5),
            "PregOutcome": "02" if i % 30 == 7 else "01"})  # 01 a live birth
    path = _write(ws / "incoming" / "maternity" / "msds-2024-25.csv", rows)
    project = Project.open(ws)
    (result,) = project.load_data("maternity", [path], False, key)
    assert (result.status, result.rows_accepted) == ("loaded", 90), result.problems[:3]
    assert "'GestAgeBooking' as 'gestation_at_booking_days'" in result.message
    assert "'PersonBirthDateBaby' as 'baby_dob'" in result.message
    # PregOutcome's codes are mapped to the example's outcomes.
    stored = pa.concat_tables(pq.read_table(p.path) for p in
                              open_store(ws).current_files("maternity"))
    assert sorted(set(stored.column("birth_outcome").to_pylist())) == ["live", "stillbirth"]
    assert stored.column("birth_outcome").to_pylist().count("stillbirth") == sum(
        r["PregOutcome"] == "02" for r in rows)
    project.run()
    # Bookings count by the booking's quarter. Those from October on are in the return only
    # once their babies are born, after it ends: the year 2024/25 is not whole yet and has no
    # figure (docs/methods.md, "Periods"); its first two quarters are whole.
    for quarter, first, last in (("2024/25 Q1", date(2024, 4, 1), date(2024, 6, 30)),
                                 ("2024/25 Q2", date(2024, 7, 1), date(2024, 9, 30))):
        recorded = [int(r["GestAgeBooking"]) for r in rows if r["GestAgeBooking"]
                    and first <= date.fromisoformat(r["AntenatalAppDate"][:10]) <= last]
        early = sum(g <= 76 for g in recorded)  # booked within 10 completed weeks
        assert 5 < early < len(recorded) - 5  # neither count small enough to be suppressed
        row = _la_row(project, "early-booking", quarter, "quarter")
        assert (row["numerator"], row["denominator"]) == (early, len(recorded))
        assert row["value"] == pytest.approx(100 * early / len(recorded), rel=1e-12)
    table = results_table.read(project.results_path)
    assert table is not None
    years = {r["period"] for r in table.to_pylist() if r["indicator_id"] == "early-booking"
             and r["period_type"] == "financial_year"}
    assert years == set()


def test_a_csds_shaped_extract_gives_breastfeeding_and_timeliness_by_hand(
        workspace: tuple[Path, Path]) -> None:
    ws, key = workspace
    lsoas = [r.lsoa_code for r in london_lsoas() if r.la_code == "E09000030"]
    statuses = ("total", "partial", "none", "unknown", "total", "none", "partial")
    rows = []
    for i in range(70):
        born = date(2024, 4, 1) + timedelta(days=3 * i)
        visit = born + timedelta(days=8 + i % 12)  # the new birth visit, days 8 to 19
        review = born + timedelta(days=45 + i % 5)
        for kind, when, fed in (("new_birth_visit", visit, ""),
                                ("review_6_8_week", review, statuses[i % 7])):
            rows.append({
                "CareContactID": f"{kind[:3].upper()}{i:05d}", "NHSNumber": _nhs(i),
                "DateOfBirth": born.strftime("%d/%m/%Y"), "Postcode": "E2 7BB",
                "residence_area_code": lsoas[i % len(lsoas)], "contact_type": kind,
                "Contact_Date": when.isoformat(), "breastfeeding_status": fed})
    path = _write(ws / "incoming" / "health_visiting" / "csds-2024-25.csv", rows)
    project = Project.open(ws)
    (result,) = project.load_data("health-visiting", [path], False, key)
    assert (result.status, result.rows_accepted) == ("loaded", 140), result.problems[:3]
    assert "'Contact_Date' as 'contact_date'" in result.message
    # The derived test reads the exact date of birth under its CSDS name.
    stored = pa.concat_tables(pq.read_table(p.path) for p in
                              open_store(ws).current_files("health-visiting"))
    visits = [r for r in rows if r["CareContactID"].startswith("NEW")]
    on_time = sum(date.fromisoformat(r["Contact_Date"]) - _british(r["DateOfBirth"])
                  <= timedelta(days=14) for r in visits)
    assert sum(stored.column("within_14_days_of_birth").to_pylist()) == on_time < len(visits)
    project.run()
    fed = [r["breastfeeding_status"] for r in rows if r["contact_type"] == "review_6_8_week"
           and date.fromisoformat(r["Contact_Date"]) <= date(2025, 3, 31)]
    known = [f for f in fed if f != "unknown"]
    breastfed = sum(f in ("total", "partial") for f in known)
    row = _la_row(project, "breastfeeding-6-8-weeks", "2024/25")
    assert (row["numerator"], row["denominator"]) == (breastfed, len(known))
    assert row["value"] == pytest.approx(100 * breastfed / len(known), rel=1e-12)
