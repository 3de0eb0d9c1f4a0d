"""The Standard Safeguarding Dataset as a built-in source family."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from common_outcomes import reference
from common_outcomes.data.builtin import templates
from common_outcomes.project import Project


def test_every_built_in_ssd_table_uses_the_specifications_field_names() -> None:
    with reference.path("ssd-fields").open(encoding="utf-8", newline="") as f:
        spec = list(csv.DictReader(f))
    fields: dict[str, set[str]] = {}
    for row in spec:
        fields.setdefault(row["table"], set()).add(row["field"])
    assert len(fields) == 48 and len(spec) == 359
    ssd = {k: v for k, v in templates().items() if k.startswith("ssd/")}
    assert len(ssd) == 8
    for key, template in ssd.items():
        table = key.split("/")[1].replace("-", "_")
        assert table in fields, key
        assert {c.name for c in template.columns} <= fields[table], key


def test_a_workspace_adopts_a_built_in_and_keeps_its_own_terms(example_copy: Path) -> None:
    project = Project.check(example_copy)
    assert project.ok and project.project is not None
    cp = project.project.sources["ssd-cp-plans"]
    assert cp.builtin == "ssd/ssd-cp-plans"
    assert "cppl_person_id" in {c.name for c in cp.columns}
    assert cp.agreement.reference.startswith("DSA-")


def test_an_unknown_built_in_is_reported_at_its_line(example_copy: Path) -> None:
    path = example_copy / "sources" / "ssd_cp_plans.yaml"
    path.write_text(path.read_text().replace("builtin: ssd/ssd-cp-plans",
                                             "builtin: ssd/ssd-cp-plan"))
    project = Project.check(example_copy)
    found = [i for i in project.issues if i.code == "ref.unknown-builtin"]
    assert len(found) == 1 and found[0].location is not None
    assert found[0].location.line == next(
        n for n, line in enumerate(path.read_text().splitlines(), 1) if "builtin:" in line)
    assert "ssd/ssd-cp-plans" in (found[0].hint or "")


def test_a_files_pattern_that_climbs_out_of_incoming_is_refused(example_copy: Path) -> None:
    path = example_copy / "sources" / "maternity.yaml"
    path.write_text(path.read_text().replace("files: maternity/*.parquet",
                                             "files: ../../secrets/*.parquet"))
    project = Project.check(example_copy)
    found = [i for i in project.issues if "inside incoming" in i.message]
    assert len(found) == 1 and found[0].location is not None
    assert found[0].location.file.endswith("maternity.yaml")


CP_PLAN = "cppl_cp_plan_id"
CP_PERSON = "cppl_person_id"


def _with_columns(example: Path, columns: str, extra: str = "") -> Path:
    """The example's SSD child protection source with its own `columns:` (and more keys)."""
    path = example / "sources" / "ssd_cp_plans.yaml"
    path.write_text(path.read_text() + extra + "columns:\n" + columns)
    return path


def test_columns_given_with_a_built_in_add_to_its_columns_or_replace_by_name(
        example_copy: Path, tmp_path: Path) -> None:
    """Adding `columns:` to a `builtin:` source used to replace all its columns: check
    passed and load stored a table with no plan or person id."""
    _with_columns(example_copy, "- name: cppl_worker_team\n  type: string\n"
                                "- name: cppl_cp_plan_end_date\n  type: date\n"
                                "  date_formats: ['%d/%m/%Y']\n")
    project = Project.open(example_copy)
    cp = project.sources["ssd-cp-plans"]
    names = [c.name for c in cp.columns]
    template = templates()["ssd/ssd-cp-plans"]
    assert names == [*(c.name for c in template.columns), "cppl_worker_team"]
    ended = cp.column("cppl_cp_plan_end_date")
    assert ended is not None and ended.date_formats == ("%d/%m/%Y",)
    assert cp.key == (CP_PLAN,)

    incoming = tmp_path / "cp.csv"
    incoming.write_text(f"{CP_PLAN},{CP_PERSON},cppl_cp_plan_start_date,"
                        "cppl_cp_plan_end_date,cppl_cp_plan_initial_category,cppl_worker_team\n"
                        "P1,C1,2024-05-01,01/09/2024,NEG,East\nP2,C2,2024-06-01,,NEG,West\n")
    [loaded] = project.load_data("ssd-cp-plans", [incoming], False, _key(tmp_path))
    assert loaded.status == "loaded", loaded.message
    assert loaded.version_id is not None
    stored = pa.concat_tables(pq.read_table(p)
                              for p in project.store.version_files(loaded.version_id))
    assert {CP_PLAN, f"{CP_PERSON}_pseudonym", "cppl_worker_team"} <= set(stored.column_names)
    assert sorted(stored.column(CP_PLAN).to_pylist()) == ["P1", "P2"]
    assert stored.column("cppl_worker_team").to_pylist().count("East") == 1


def _key(tmp_path: Path) -> Path:
    key = tmp_path / "pseudonymisation.key"
    key.write_text("0123456789abcdef" * 4)
    return key


def test_a_key_that_is_not_a_column_is_refused_at_its_line(example_copy: Path) -> None:
    path = _with_columns(example_copy, "- name: cppl_worker_team\n",
                         extra="key:\n- cppl_plan_id\n")
    project = Project.check(example_copy)
    found = [i for i in project.issues if i.code == "ref.unknown-column"]
    assert len(found) == 1 and found[0].location is not None
    assert found[0].location.file.endswith("ssd_cp_plans.yaml")
    assert found[0].location.line == path.read_text().splitlines().index("- cppl_plan_id") + 1
    assert "'cppl_plan_id'" in found[0].message
    assert found[0].hint == f"did you mean '{CP_PLAN}'?"


def test_a_source_without_a_built_in_names_its_key_among_its_columns(
        example_copy: Path) -> None:
    path = example_copy / "sources" / "maternity.yaml"
    text = path.read_text()
    assert "key: [record_id]" in text
    path.write_text(text.replace("key: [record_id]", "key: [record_id, no_such_column]"))
    found = [i for i in Project.check(example_copy).issues
             if i.code == "ref.unknown-column"]
    assert [f.location.file.endswith("maternity.yaml") for f in found if f.location] == [True]
