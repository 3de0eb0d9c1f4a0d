"""The carried calibration table: checked against figures read in the published files, and
looked up as the generator does. (That it is what the builder writes from the published
originals, byte for byte, is checked by the provenance step: tests_provenance/.)"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from common_outcomes import reference
from common_outcomes.synth.calibration import (
    CALIBRATION_KIND,
    ENGLAND,
    SUPPRESSION_MARKERS,
    Calibration,
    Published,
    load_calibration,
    period_end_year,
)

TOWER_HAMLETS = "E09000030"
HACKNEY = "E09000012"

NATIONAL_MEASURES = {
    "low_birth_weight_term_percent", "premature_births_per_1000",
    "smoking_at_delivery_percent", "booking_within_10_weeks_percent",
    "breastfeeding_6_8_weeks_percent", "new_birth_visit_14_days_percent",
    "review_6_8_weeks_percent", "review_12_months_percent",
    "review_2_years_percent", "asq_all_five_percent",
    "funded_2_year_olds_take_up_percent", "early_help_episodes_per_10k",
    "mother_mean_age_years", "multiple_births_percent",
}


@pytest.fixture(scope="module")
def cal() -> Calibration:
    return load_calibration()


def _raw(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def _expect(p: Published | None, value: float, numerator: float | None,
            denominator: float | None) -> None:
    assert p is not None
    assert (p.value, p.numerator, p.denominator) == (value, numerator, denominator)


def test_spot_checks_against_the_raw_files(cal: Calibration) -> None:
    # APS_GLD_ELG_EXP_2013_2019.csv, Tower Hamlets, Total, 201819 and 201213.
    _expect(cal.value("gld_percent", TOWER_HAMLETS, "2018/19"), 69.9, 2427, 3473)
    _expect(cal.value("gld_percent", TOWER_HAMLETS, "2012/13"), 45.9, 1597, 3476)
    # cla_number_and_rate_per_10k_children.csv, looked after on 31 March.
    _expect(cal.value("cla_rate_per_10k", TOWER_HAMLETS, "2024"), 44, 277, 63462)
    _expect(cal.value("cla_rate_per_10k", TOWER_HAMLETS, "2025"), 45, 284, 63073)
    _expect(cal.england("population_0_17", "2024"), 12_183_016, None, None)
    # b1 At31_episodes 402,400 over ONS mid-2024 0-17 (12,183,016): 330.3 per 10,000.
    _expect(cal.england("cin_rate_per_10k", "2025"), 330.3, 402_400, 12_183_016)
    _expect(cal.england("cpp_rate_per_10k", "2025"), 40.6, 49_420, 12_183_016)
    _expect(cal.england("rereferral_percent", "2025"), 22.6, 142_900, 632_830)
    _expect(cal.england("cpp_subsequent_percent", "2025"), 24.5, 15_130, 61_840)
    _expect(cal.value("neet_nk_percent", TOWER_HAMLETS, "2023"), 3.6, None, 6576)
    _expect(cal.value("persistent_absence_percent", TOWER_HAMLETS, "2025/26"),
            18.4, None, 32876.9)


def test_rates_name_their_numerator_and_denominator(cal: Calibration) -> None:
    p = cal.england("cin_rate_per_10k", "2025")
    assert p is not None
    assert "At31_episodes" in p.source and "ONS mid-2024" in p.source
    assert p.numerator is not None and p.denominator is not None
    assert p.value == round(p.numerator / p.denominator * 10_000, 1)


def test_no_suppressed_marker_survives(cal: Calibration) -> None:
    with reference.path(CALIBRATION_KIND).open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            float(row["value"])  # every value is a number
            for k in ("numerator", "denominator"):
                assert row[k] == "" or float(row[k]) >= 0
    # Hackney's children in need census is 'x' for 2021 and 2022 (the cyber attack).
    assert cal.value("cin_rate_per_10k", HACKNEY, "2021") is None
    assert cal.value("cin_rate_per_10k", HACKNEY, "2022") is None
    assert cal.value("cin_rate_per_10k", HACKNEY, "2020") is not None
    # Every suppressed At31_episodes in the carried b1 rows is absent from the table, not zero
    # (every authority's: tests_provenance/, which has the whole published file).
    suppressed = [r for r in _raw(reference.path("dfe-children-in-need"))
                  if r["geographic_level"] == "Local authority"
                  and r["At31_episodes"].strip().lower() in SUPPRESSION_MARKERS]
    assert suppressed
    for r in suppressed:
        assert cal.value("cin_rate_per_10k", r["new_la_code"], r["time_period"]) is None
    # Cumbria's CLA rate is 'z' after it split in April 2023.
    assert cal.value("cla_rate_per_10k", "E10000006", "2024") is None
    assert cal.value("cla_rate_per_10k", "E10000006", "2023") is not None


def test_codes_are_kept_as_published(cal: Calibration) -> None:
    assert cal.value("cin_rate_per_10k", "E10000021", "2021") is not None  # Northamptonshire
    assert cal.value("cin_rate_per_10k", "E06000061", "2022") is not None  # North Northants
    assert cal.value("gld_percent", "E06000028", "2017/18") is not None  # Bournemouth
    assert cal.value("gld_percent", "E06000058", "2018/19") is not None  # BCP
    assert "cin_rate_per_10k" in cal.measures()


def test_nearest_picks_the_closest_year(cal: Calibration) -> None:
    def period(year: int) -> str | None:
        p = cal.nearest("gld_percent", TOWER_HAMLETS, year)
        return None if p is None else p.period

    assert period(2025) == "2018/19"  # after the series: the latest
    assert period(2005) == "2012/13"  # before it: the first
    assert period(2016) == "2015/16"  # inside it: the period ending that year
    assert cal.nearest("gld_percent", "E09999999", 2019) is None
    hackney = cal.nearest("cin_rate_per_10k", HACKNEY, 2021)  # 2021 and 2022 suppressed
    assert hackney is not None and hackney.period == "2020"


def test_nearest_prefers_the_later_period_on_a_tie() -> None:
    def fig(period: str, value: float) -> Published:
        return Published("m", ENGLAND, period, value, None, None, "percent", "test")

    cal = Calibration((fig("2020", 1.0), fig("2022", 2.0)), ())
    found = cal.nearest("m", ENGLAND, 2021)
    assert found is not None and found.period == "2022"


def test_period_end_year() -> None:
    assert period_end_year("2018/19") == 2019
    assert period_end_year("2025") == 2025
    assert period_end_year("Oct 2023") == 2023
    with pytest.raises(ValueError):
        period_end_year("next year")


def test_national_parameters(cal: Calibration) -> None:
    assert {p.measure for p in cal.parameters} == NATIONAL_MEASURES
    for p in cal.parameters:
        assert p.la_code == ENGLAND and p.value > 0
        period_end_year(p.period)
        # An unconfirmed figure says so; a confirmed one never says it is approximate.
        assert p.confirmed != p.source.startswith("approximate:")
        assert p.confirmed != ("not confirmed" in p.source)
    nbv = cal.national_parameter("new_birth_visit_14_days_percent")
    assert (nbv.value, nbv.period, nbv.confirmed) == (85.2, "2024/25", True)
    with pytest.raises(KeyError):
        cal.national_parameter("no_such_measure")
