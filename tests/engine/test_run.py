"""`outcomes run` on the loaded synthetic example: every DESIGN column, counts that agree
with the store, the public-health statistics, comparisons and no small number published."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from common_outcomes.data.store import open_store
from common_outcomes.results.table import COLUMNS
from common_outcomes.stats.intervals import wilson

ROOT = Path(__file__).resolve().parents[2]


def outcomes(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("outcomes")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=600,
                          check=False)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory,
            copy_loaded: Callable[[Path], Path]) -> tuple[Path, pa.Table]:
    # A copy: the tests below load a corrected file into it and run it again.
    ws = copy_loaded(tmp_path_factory.mktemp("run"))
    ran = outcomes("run", str(ws))
    assert ran.returncode == 0, ran.stderr
    return ws, pq.read_table(ws / ".outcomes" / "results" / "indicator_values.parquet")


def test_the_results_table_has_every_design_column(results: tuple[Path, pa.Table]) -> None:
    _, table = results
    assert tuple(table.column_names) == COLUMNS
    assert set(table.column("area_type").to_pylist()) == {"la", "locality", "ward"}
    assert set(table.column("indicator_id").to_pylist()) == {
        "low-birth-weight-term", "premature-births", "early-booking", "smoking-at-delivery",
        "breastfeeding-6-8-weeks", "asq-communication", "funded-early-education-2",
        "good-level-of-development", "child-development-2-years", "neet-or-not-known-16-17",
        "family-hub-reach", "asq-personal-social", "good-level-of-development-fsm",
        "children-in-need-rate", "child-protection-rate", "children-looked-after-rate",
        "persistent-absence-primary", "persistent-absence-secondary", "new-birth-visit-14-days",
        "review-6-8-weeks", "review-12-months", "review-2-years",
        "premature-births-age-standardised", "re-referrals-12-months",
        "repeat-child-protection-plans"}


def test_borough_counts_agree_with_the_store(results: tuple[Path, pa.Table]) -> None:
    ws, table = results
    store = open_store(ws)
    data = pa.concat_tables(pq.read_table(p.path) for p in store.current_files("maternity"))
    year = pc.year(data.column("baby_dob_month"))
    term_live = pc.and_(pc.and_(pc.greater_equal(data.column("gestational_age_weeks"), 37),
                                pc.equal(data.column("birth_outcome"), "live")),
                        pc.is_valid(data.column("birth_weight_g")))
    low = pc.and_(term_live, pc.less(data.column("birth_weight_g"), 2500))
    la_all = table.filter(pc.and_(pc.equal(table.column("area_type"), "la"),
                                  pc.equal(table.column("indicator_id"), "low-birth-weight-term")))
    by_sex: dict[str, float] = {}
    for row in la_all.to_pylist():
        if row["breakdown"] != "all":
            by_sex[row["period"]] = by_sex.get(row["period"], 0) + row["denominator"]
    la = la_all.filter(pc.equal(la_all.column("breakdown"), "all"))
    assert la.num_rows >= 2
    for row in la.to_pylist():
        # The breakdown by sex adds up to the total.
        assert by_sex[row["period"]] == row["denominator"]
        in_year = pc.equal(year, int(row["period"]))
        assert row["denominator"] == pc.sum(pc.and_(in_year, term_live)).as_py()
        assert row["numerator"] == pc.sum(pc.and_(in_year, low)).as_py()
        lower, upper = wilson(row["numerator"], row["denominator"])
        assert row["value"] == pytest.approx(100 * row["numerator"] / row["denominator"],
                                             rel=1e-12)
        assert row["lower_95"] == pytest.approx(100 * float(lower), rel=1e-12)
        assert row["upper_95"] == pytest.approx(100 * float(upper), rel=1e-12)


def polarity_of(ws: Path, indicator: str) -> str:
    from common_outcomes.project import Project

    return Project.open(ws).indicators[indicator].polarity.value


def expected_comparison(row: dict[str, Any], benchmark: float | None, polarity: str) -> str:
    """Fingertips' single 95% interval method, from the row's own limits: a benchmark inside
    the interval (limits included) is similar; outside it, better or worse by polarity."""
    if any(x is None for x in (row["value"], row["lower_95"], row["upper_95"], benchmark)):
        return "Not compared"
    if row["lower_95"] > benchmark:
        side = "higher"
    elif row["upper_95"] < benchmark:
        side = "lower"
    else:
        return "Similar"
    if polarity == "no_judgement":
        return side.capitalize()
    good = "higher" if polarity == "high_is_good" else "lower"
    return "Better" if side == good else "Worse"


def test_areas_add_up_and_each_is_compared_with_the_borough_by_its_interval(
        results: tuple[Path, pa.Table]) -> None:
    ws, table = results
    rows = table.filter(pc.equal(table.column("indicator_id"), "early-booking")).to_pylist()
    assert {r["breakdown"] for r in rows} == {"all"}
    polarity = polarity_of(ws, "early-booking")
    by = {(r["area_type"], r["area_code"], r["period"]): r for r in rows}
    borough = {p: r for (t, _, p), r in by.items() if t == "la"}
    assert len(borough) >= 2
    for r in borough.values():
        wards = [x for (t, _, p), x in by.items() if t == "ward" and p == r["period"]]
        assert len(wards) > 10
        shown = [x["denominator"] for x in wards if x["denominator"] is not None]
        if len(shown) == len(wards):
            assert sum(shown) == r["denominator"]
        else:  # small ones hidden, never just one, so no difference gives one away
            assert len(wards) - len(shown) >= 2 and sum(shown) < r["denominator"]
    labels = []
    for r in rows:
        if r["area_type"] == "la":
            continue
        assert r["benchmark_code"] == "E09000030"
        if r["suppressed"]:
            assert r["compared_to_benchmark"] in (None, "Not compared"), r
            continue
        expected = expected_comparison(r, borough[r["period"]]["value"], polarity)
        assert r["compared_to_benchmark"] == expected, r
        labels.append(expected)
    assert len(labels) > 50 and "Similar" in labels


def test_no_small_number_is_published(results: tuple[Path, pa.Table]) -> None:
    _, table = results
    numerator = np.array([np.nan if v is None else v
                          for v in table.column("numerator").to_pylist()])
    assert not ((numerator >= 1) & (numerator <= 5)).any()
    denominator = np.array([np.nan if v is None else v
                            for v in table.column("denominator").to_pylist()])
    assert not ((denominator >= 1) & (denominator <= 5)).any()
    proportion = np.array(table.column("method").to_pylist()) == "Wilson score"
    complement = denominator - numerator
    assert not (proportion & (complement >= 1) & (complement <= 5)).any()
    suppressed = table.filter(table.column("suppressed"))
    assert suppressed.num_rows > 0  # wards do have small counts in three years of data
    assert suppressed.column("value").null_count == suppressed.num_rows


def test_explain_prints_the_sql_with_a_comment_per_step(results: tuple[Path, pa.Table]) -> None:
    ws, _ = results
    shown = outcomes("explain", str(ws), "low-birth-weight-term")
    assert shown.returncode == 0
    assert shown.stdout.startswith("-- Pass over source 'maternity'")
    assert "read_parquet('versions/maternity/" in shown.stdout.lower()
    unknown = outcomes("explain", str(ws), "no-such-indicator")
    assert unknown.returncode == 2 and "no definition computes it" in unknown.stderr


def test_recent_trends_need_five_yearly_points_and_follow_each_series(
        results: tuple[Path, pa.Table]) -> None:
    """Fingertips' rules: a trend only for yearly proportions and crude rates, over each
    area's five most recent published points; none for quarters. Three years of synthetic
    data never give five points; the social care extract's eight years of history do, and
    each of those labels is the trend of its own series' last five points, whose direction
    is that of the values."""
    from common_outcomes.stats.compare import recent_trend

    ws, table = results
    rows = table.to_pylist()
    history = {"re-referrals-12-months", "repeat-child-protection-plans"}
    yearly = [r for r in rows if r["period_type"] in {"financial_year", "calendar_year"}
              and r["method"] in {"Wilson score", "Byar's (exact Poisson below 10)"}
              and r["indicator_id"] not in history]
    quarterly = [r for r in rows if r["period_type"] == "quarter"]
    assert yearly and quarterly
    assert {r["recent_trend"] for r in yearly} == {"Cannot be calculated"}
    assert all(r["recent_trend"] is None for r in quarterly)

    series: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        if r["indicator_id"] in history and r["period_type"] == "financial_year":
            series.setdefault((r["indicator_id"], r["area_code"], r["breakdown"]),
                              []).append(r)
    assert {k[0] for k in series} == history
    polarity = {indicator: polarity_of(ws, indicator) for indicator in history}
    labels: list[str] = []
    for (indicator, _, _), found in series.items():
        found.sort(key=lambda r: r["period_start"])
        for i, row in enumerate(found):
            last = found[max(0, i - 4):i + 1]
            grid = {c: np.array([[np.nan] * (5 - len(last)) + [
                np.nan if r["suppressed"] or r[c] is None else r[c] for r in last]])
                for c in ("value", "numerator", "denominator", "lower_95", "upper_95")}
            kind = "proportion" if row["method"] == "Wilson score" else "rate"
            expected = str(recent_trend(grid["value"], grid["numerator"], grid["denominator"],
                                        kind, 100, polarity[indicator],
                                        lower95=grid["lower_95"],
                                        upper95=grid["upper_95"])[0])
            assert row["recent_trend"] == expected, (indicator, row["area_code"],
                                                     row["period"])
            labels.append(expected)
            if expected.startswith(("Increasing", "Decreasing")):
                shown = grid["value"][0][np.isfinite(grid["value"][0])]
                rising = np.polyfit(np.arange(len(shown)), shown, 1)[0] > 0
                assert expected.startswith("Increasing") == rising, (indicator, row["period"])
    assert "Cannot be calculated" in labels
    assert set(labels) - {"Cannot be calculated"}  # some series have five points


def test_a_rolling_year_ending_in_march_is_the_financial_year(
        results: tuple[Path, pa.Table]) -> None:
    _, table = results
    rows = [r for r in table.to_pylist() if r["indicator_id"] == "smoking-at-delivery"
            and r["area_type"] == "la"]
    by = {r["period"]: r for r in rows}
    rolling = [r for r in rows if r["period_type"] == "rolling_12_months"]
    assert rolling
    matched = 0
    for r in rolling:
        if r["period"].startswith("12 months to Mar "):
            year = int(r["period"][-4:])
            fy = by.get(f"{year - 1}/{year % 100:02d}")
            if fy is not None:
                assert (r["numerator"], r["denominator"]) == (fy["numerator"],
                                                              fy["denominator"])
                matched += 1
    assert matched >= 1


def test_every_value_has_its_numerator_and_denominator(results: tuple[Path, pa.Table]) -> None:
    _, table = results
    valued = [r for r in table.to_pylist() if r["value"] is not None and r["denominator"]]
    proportions = [r for r in valued if r["method"] == "Wilson score"]
    assert len(valued) > len(proportions) > 100  # proportions and other measures
    for r in valued:
        assert r["numerator"] is not None and r["numerator"] >= 0
    for r in proportions:  # a ratio may exceed 1; a proportion may not
        assert r["numerator"] <= r["denominator"]


def test_only_sources_whose_data_changed_are_recomputed(results: tuple[Path, pa.Table],
                                                        tmp_path: Path) -> None:
    ws, _ = results
    again = outcomes("run", str(ws))
    assert "0 passes computed" in again.stdout
    original = ws / "incoming" / "eyfsp" / "E09000030.parquet"
    table = pq.read_table(original)
    corrected = tmp_path / "eyfsp.parquet"
    pq.write_table(table.slice(0, table.num_rows - 3), corrected)
    key = ws.parent / "key"
    assert outcomes("load", str(ws), "eyfsp", str(corrected), "--key-file",
                    str(key)).returncode == 0
    after = outcomes("run", str(ws))
    assert "1 passes computed" in after.stdout, after.stdout
    computed, reused = map(int, re.findall(r"(\d+) passes computed, (\d+) unchanged",
                                           after.stdout)[0])
    cached = list((ws / ".outcomes" / "results" / "passes").glob("*.parquet"))
    assert len(cached) == computed + reused  # the superseded pass's results are gone


def test_a_hidden_breakdown_cannot_be_recovered_from_the_total(
        results: tuple[Path, pa.Table]) -> None:
    _, table = results
    families: dict[tuple[str, str, str, str], list[bool]] = {}
    for r in table.to_pylist():
        key = (r["indicator_id"], r["area_code"], r["period"], r["period_type"])
        families.setdefault(key, []).append(bool(r["suppressed"]))
    with_breakdowns = [v for v in families.values() if len(v) == 3]  # all, F and M
    assert with_breakdowns
    assert all(sum(v) != 1 for v in with_breakdowns)


def _store_sql(ws: Path, source: str, select: str) -> list[tuple[object, ...]]:
    """A hand-written DuckDB query over a source's current rows in the store."""
    import duckdb

    files = [str(p.path) for p in open_store(ws).current_files(source)]
    with duckdb.connect() as con:
        con.read_parquet(files).create_view("src")
        return con.execute(select).fetchall()


def test_people_are_counted_once_per_period_over_another_sources_population(
        results: tuple[Path, pa.Table]) -> None:
    """Family Hub reach: distinct children under 5 (wherever and however often they came) over
    the mid-year population under 5 of the financial year (the June inside it), and for a
    quarter the latest mid-year on or before its end."""
    ws, table = results
    reach = [r for r in table.to_pylist() if r["indicator_id"] == "family-hub-reach"
             and r["breakdown"] == "all"]
    la = {r["period"]: r for r in reach if r["area_type"] == "la"}
    children = "attendee_role = 'child' and date_diff('month', dob_month, session_date) < 60"
    population = dict(_store_sql(ws, "population", "select mid_year, sum(population) from src "
                                                   "where age < 5 group by 1"))
    placed: dict[str, object] = {}
    checked = 0
    for period, row in la.items():
        if row["period_type"] != "financial_year":
            continue
        start = int(period[:4])
        # Every child counts for the borough; in the wards only those with a small area.
        [(people, with_area)] = _store_sql(ws, "family-hub-contacts", (
            "select count(distinct hub_person_id_pseudonym), count(distinct case when "
            "postcode_lsoa is not null then hub_person_id_pseudonym end) from src where "
            f"{children} and session_date between '{start}-04-01' and '{start + 1}-03-31'"))
        assert row["numerator"] == people
        placed[period] = with_area
        assert row["denominator"] == population[start]
        q3 = la[f"{period} Q3"]  # October to December: the June before it
        assert q3["denominator"] == population[start]
        checked += 1
    assert checked >= 2
    # A child who moved counts in one ward only: the wards add up to the borough's children
    # with a small area (those without one are in the borough's figure alone).
    wards = [r for r in reach if r["area_type"] == "ward" and r["period"] in la]
    whole = 0
    for period, row in la.items():
        assert sum(r["denominator"] for r in wards if r["period"] == period) == row["denominator"]
        if period in placed and not any(r["suppressed"] for r in wards if r["period"] == period):
            assert sum(r["numerator"] for r in wards if r["period"] == period) == placed[period]
            whole += 1
    assert whole >= 1  # a period with no ward hidden, whose numerators add up too


def test_children_in_need_at_31_march_by_their_latest_address(
        results: tuple[Path, pa.Table]) -> None:
    """A stock: episodes open at 31 March (referral on or before, closed after or not at
    all), each placed by the child's latest address, over the population aged 0 to 17."""
    ws, table = results
    rows = [r for r in table.to_pylist() if r["indicator_id"] == "children-in-need-rate"
            and r["area_type"] == "la" and r["period_type"] == "financial_year"]
    assert len(rows) >= 2
    store = open_store(ws)
    addresses = [str(p.path) for p in store.current_files("ssd-address")]
    population = dict(_store_sql(ws, "population", "select mid_year, sum(population) from src "
                                                   "where age < 18 group by 1"))
    import duckdb

    for row in rows:
        end = f"{int(row['period'][:4]) + 1}-03-31"
        episodes = [str(p.path) for p in store.current_files("ssd-cin-episodes")]
        with duckdb.connect() as con:
            con.read_parquet(episodes).create_view("cin")
            con.read_parquet(addresses).create_view("addr")
            (count,) = con.execute(
                "with latest as (select addr_person_id_pseudonym as p, addr_address_postcode_lsoa"
                " as lsoa, row_number() over (partition by addr_person_id_pseudonym order by "
                "addr_address_start_date desc nulls last, addr_address_postcode_lsoa) as k from "
                "addr where addr_address_postcode_lsoa is not null) select count(*) from cin "
                "join latest on cine_person_id_pseudonym = p and k = 1 where "
                f"cine_referral_date <= date '{end}' and (cine_close_date is null or "
                f"date_trunc('month', cine_close_date) > date_trunc('month', date '{end}')) "
                "and (cine_referral_nfa is null or cine_referral_nfa <> 'Y')").fetchone()
        assert row["numerator"] == count
        assert row["denominator"] == population[int(row["period"][:4])]
        assert row["value"] == pytest.approx(10000 * count / row["denominator"], rel=1e-12)


def test_persistent_absence_tests_each_pupils_totals_over_the_year(
        results: tuple[Path, pa.Table]) -> None:
    """Per-person totals: a pupil's sessions summed over the year's terms, then 10% or more
    missed; primary schools by establishment number."""
    ws, table = results
    rows = [r for r in table.to_pylist() if r["indicator_id"] == "persistent-absence-primary"
            and r["area_type"] == "la"]
    assert rows
    expected = {year: (pupils, persistent) for year, pupils, persistent in _store_sql(
        ws, "school-attendance",
        "select academic_year, count(*), sum(case when absent >= 0.1 * possible then 1 else 0 "
        "end) from (select academic_year, upn_pseudonym, sum(authorised_absence_sessions + "
        "unauthorised_absence_sessions) as absent, sum(possible_sessions) as possible from src "
        # Every pupil of the borough, with a small area or not: those without one count
        # for the borough too.
        "where school_laestab % 10000 between 2000 and 3999 "
        "group by 1, 2) where possible > 0 group by 1")}
    for row in rows:
        assert (row["denominator"], row["numerator"]) == expected[row["period"]]


def test_new_birth_visits_within_14_days_over_the_births_of_the_same_months(
        results: tuple[Path, pa.Table]) -> None:
    """Each child once, by birth month; 'within 14 days' was tested at load from the exact
    date of birth; the denominator is live births from another source, summed (a flow)."""
    ws, table = results
    rows = [r for r in table.to_pylist() if r["indicator_id"] == "new-birth-visit-14-days"
            and r["area_type"] == "la" and r["period_type"] == "financial_year"]
    assert rows
    for row in rows:
        start = int(row["period"][:4])
        span = f"between date '{start}-04-01' and date '{start + 1}-03-31'"
        [(visited,)] = _store_sql(ws, "health-visiting", (
            "select count(distinct child_nhs_number_pseudonym) from src where contact_type = "
            f"'new_birth_visit' and within_14_days_of_birth and child_dob_month {span} "
            "and residence_area_code is not null"))
        [(births,)] = _store_sql(ws, "maternity", (
            f"select count(*) from src where birth_outcome = 'live' and baby_dob_month {span} "
            "and residence_area_code is not null"))
        assert (row["numerator"], row["denominator"]) == (visited, births)


def test_an_indirectly_standardised_ratio_is_100_for_the_borough_itself(
        results: tuple[Path, pa.Table]) -> None:
    """Premature births standardised for mothers' age: the borough is its own reference, and
    the localities' expected events add up to the borough's observed ones."""
    _, table = results
    rows = [r for r in table.to_pylist()
            if r["indicator_id"] == "premature-births-age-standardised"]
    borough = [r for r in rows if r["area_type"] == "la"]
    assert borough
    for la in borough:
        assert la["value"] == pytest.approx(100.0, rel=1e-12)
        localities = [r for r in rows if r["area_type"] == "locality"
                      and r["period"] == la["period"]]
        assert sum(r["denominator"] for r in localities) == pytest.approx(la["numerator"],
                                                                           rel=1e-9)


def test_re_referrals_look_back_to_the_same_childs_previous_referral(
        results: tuple[Path, pa.Table]) -> None:
    ws, table = results
    rows = [r for r in table.to_pylist() if r["indicator_id"] == "re-referrals-12-months"
            and r["area_type"] == "la" and r["period"] >= "2020/21"]
    assert rows
    store = open_store(ws)
    import duckdb

    with duckdb.connect() as con:
        con.read_parquet([str(p.path) for p in store.current_files("ssd-cin-episodes")]
                         ).create_view("cin")
        con.read_parquet([str(p.path) for p in store.current_files("ssd-address")]
                         ).create_view("addr")
        for row in rows:
            start = int(row["period"][:4])
            counts = con.execute(
                "with placed as (select addr_person_id_pseudonym as p from addr where "
                "addr_address_postcode_lsoa is not null group by 1), referrals as (select "
                "cine_referral_date as d, lag(cine_referral_date) over (partition by "
                "cine_person_id_pseudonym order by cine_referral_date) as before from cin "
                "join placed on cine_person_id_pseudonym = p) select count(*), sum(case when "
                "d - before <= 365 then 1 else 0 end) from referrals where d between "
                f"date '{start}-04-01' and date '{start + 1}-03-31'").fetchone()
            assert counts is not None
            assert (row["denominator"], row["numerator"]) == counts


def test_from_and_to_keep_only_periods_wholly_between(results: tuple[Path, pa.Table]) -> None:
    ws, table = results
    path = ws / ".outcomes" / "results" / "indicator_values.parquet"
    try:
        ran = outcomes("run", str(ws), "--from", "2023/24", "--to", "2024/25 Q2")
        assert ran.returncode == 0, ran.stderr
        assert "0 passes computed" in ran.stdout  # the window needs no recomputing
        cut = pq.read_table(path)
        starts = set(cut.column("period_start").to_pylist())
        ends = set(cut.column("period_end").to_pylist())
        assert cut.num_rows and min(starts).isoformat() >= "2023-04-01"
        assert max(ends).isoformat() <= "2024-09-30"
        assert "2024/25" not in set(cut.column("period").to_pylist())  # ends in March 2025
        bad = outcomes("run", str(ws), "--from", "next year")
        assert bad.returncode == 2 and "'next year' is not a period" in bad.stderr
    finally:
        assert outcomes("run", str(ws)).returncode == 0
    assert pq.read_table(path).num_rows == table.num_rows
