"""A real extract's columns: an optional column it lacks loads as empty, a column nobody
declared is kept out of the store, and both are said; a column the source needs (required,
key, period) still refuses the file, naming it."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from common_outcomes.data.builtin import templates
from common_outcomes.data.declarations import Agreement, Retention, SourceDeclaration
from common_outcomes.data.load import LoadResult, load_file
from common_outcomes.data.store import Store, open_store

KEY = b"k" * 32


def ssd_source(table: str) -> SourceDeclaration:
    """A workspace's declaration adopting an SSD built-in, as builtin.resolve fills it in."""
    template = templates()[f"ssd/{table}"]
    return SourceDeclaration(
        kind="source", version=1, id=table, name=template.name, partner="childrens-services",
        agreement=Agreement(reference="DSA-TEST-SSD"),
        retention=Retention(analytic_years=7, linkage_months=12), files="ssd/*.csv",
        builtin=f"ssd/{table}", period=template.period, schedule=template.schedule,
        key=template.key, columns=template.columns)


def write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *rows])
    return path


def load(tmp_path: Path, decl: SourceDeclaration, path: Path) -> tuple[LoadResult, Store]:
    store = open_store(tmp_path)
    with store.lock():
        return load_file(tmp_path, store, decl, path, KEY, None), store


def stored(store: Store, result: LoadResult) -> pa.Table:
    assert result.version_id, result.message
    return pa.concat_tables(pq.read_table(p) for p in store.version_files(result.version_id))


PEOPLE = [["P1", "Ada", "F", "2012-04-01 00:00:00.000"], ["P2", "Ben", "M", "2013-05-02"],
          ["P3", "Cy", "U", "2014-06-03T00:00:00"]]


def test_an_extract_without_forenames_loads_with_the_column_empty(tmp_path: Path) -> None:
    decl = ssd_source("ssd-person")
    # No pers_forename (optional in the specification), plus a column of the council's own.
    path = write(tmp_path / "person.csv",
                 ["pers_person_id", "pers_surname", "pers_sex", "pers_dob", "local_flag"],
                 [[p[0], p[1], p[2], p[3], "x"] for p in PEOPLE])
    result, store = load(tmp_path, decl, path)
    assert result.status == "loaded", result.message
    assert (result.rows_read, result.rows_accepted, result.rows_quarantined) == (3, 3, 0)
    notes = {(p.code, p.column) for p in result.problems}
    assert ("file.absent-column", "pers_forename") in notes
    assert ("file.extra-column", "local_flag") in notes
    assert "pers_forename" in result.message and "loaded as empty" in result.message
    assert "local_flag" in result.message and "kept out of the store" in result.message
    table = stored(store, result)
    assert "local_flag" not in table.column_names
    assert table.column("pers_dob_month").to_pylist() == [
        date(y, m, 1) for y, m in ((2012, 4), (2013, 5), (2014, 6))]
    # The report for the partner names both columns.
    report = next(p for p in result.reports if p.suffix == ".csv").read_text(encoding="utf-8-sig")
    assert "pers_forename" in report and "local_flag" in report
    # The absent forename reaches linkage staging as empty, not as something else.
    linkage = pa.concat_tables(pq.read_table(p)
                               for p in store.version_files(result.version_id, "linkage"))
    assert linkage.column("pers_forename").null_count == 3


def test_a_file_without_a_column_the_source_needs_is_refused_naming_it(tmp_path: Path) -> None:
    decl = ssd_source("ssd-cla-episodes")
    # The period's date column is gone: the rows could not be dated.
    path = write(tmp_path / "episodes.csv", ["clae_cla_episode_id", "clae_person_id"],
                 [["E1", "P1"], ["E2", "P2"]])
    result, store = load(tmp_path, decl, path)
    assert result.status == "rejected" and store.history("ssd-cla-episodes") == []
    assert [(p.code, p.column) for p in result.problems if p.code == "file.missing-column"] == [
        ("file.missing-column", "clae_cla_episode_start_date")]
    assert "'clae_cla_episode_start_date'" in result.message and "needs" in result.message


def test_under_a_reject_policy_absent_optional_columns_do_not_refuse(tmp_path: Path) -> None:
    decl = ssd_source("ssd-person").model_copy(update={"policy": "reject"})
    path = write(tmp_path / "person.csv", ["pers_person_id", "pers_dob"],
                 [[p[0], p[3]] for p in PEOPLE])
    result, _ = load(tmp_path, decl, path)
    assert result.status == "loaded" and result.rows_accepted == 3, result.message
