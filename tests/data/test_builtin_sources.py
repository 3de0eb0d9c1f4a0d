"""The Standard Safeguarding Dataset as a built-in source family."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from common_outcomes import reference
from common_outcomes.data.builtin import BUILTIN, templates
from common_outcomes.data.declarations import Identifier
from common_outcomes.data.ssd_builtins import LEFT_OUT, identifier_of, write
from common_outcomes.project import Project


def test_every_built_in_ssd_table_uses_the_specifications_field_names() -> None:
    with reference.path("ssd-fields").open(encoding="utf-8", newline="") as f:
        spec = list(csv.DictReader(f))
    fields: dict[str, list[str]] = {}
    for row in spec:
        fields.setdefault(row["table"], []).append(row["field"])
    assert len(fields) == 48 and len(spec) == 359
    ssd = {k: v for k, v in templates().items() if k.startswith("ssd/")}
    # One built-in per table of the specification, each with every field but the free-text
    # ones left out on purpose, in the specification's order, spelt as it spells them.
    assert {k.split("/")[1].replace("-", "_") for k in ssd} == set(fields)
    for key, template in ssd.items():
        table = key.split("/")[1].replace("-", "_")
        assert [c.name for c in template.columns] == [
            f for f in fields[table] if f not in LEFT_OUT], key
    assert sum(len(t.columns) for t in ssd.values()) == 359 - len(LEFT_OUT)


def test_the_shipped_ssd_built_ins_are_what_the_generator_writes(tmp_path: Path) -> None:
    written = {p.name: p.read_text() for p in write(tmp_path)}
    shipped = {p.name: p.read_text() for p in (BUILTIN / "ssd").glob("*.yaml")}
    assert len(written) == 48 and written == shipped, "run `make builtins` and review the diff"


def test_identifiers_are_declared_by_the_stated_rule_and_the_hand_written_knowledge() -> None:
    ssd = {k: v for k, v in templates().items() if k.startswith("ssd/")}
    kinds = {c.name: c.identifier for t in ssd.values() for c in t.columns}
    # Every person id of every table is pseudonymised; staff ids are not family identifiers.
    person_ids = [n for n in kinds if n.endswith("person_id")]
    assert len(person_ids) == 38 and all(kinds[n] is Identifier.CASE_ID for n in person_ids)
    assert kinds["send_upn"] is Identifier.UPN
    assert kinds["pers_forename"] is kinds["pers_surname"] is Identifier.NAME
    assert kinds["prof_professional_name"] is Identifier.NAME
    assert kinds["pers_dob"] is kinds["moth_childs_dob"] is Identifier.DATE_OF_BIRTH
    assert kinds["clap_cla_placement_postcode"] is Identifier.POSTCODE
    assert kinds["link_identifier_value"] is Identifier.CASE_ID  # from the hand-written one
    assert kinds["cine_referral_worker_id"] is None and kinds["dept_team_name"] is None
    assert identifier_of("child_nhs_num") is Identifier.NHS_NUMBER
    # The hand-written knowledge survives: the period that dates a row, the codes.
    cla = ssd["ssd/ssd-cla-episodes"]
    assert cla.period is not None and cla.period.column == "clae_cla_episode_start_date"
    assert "E11" in next(c for c in cla.columns if c.name == "clae_cla_episode_ceased_reason").codes
    # Key columns are required, even where the specification leaves a primary key nullable.
    lacp = ssd["ssd/ssd-cla-care-plan"]
    assert lacp.key == ("lacp_table_id",) and lacp.columns[0].required


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
