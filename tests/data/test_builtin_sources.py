"""The Standard Safeguarding Dataset as a built-in source family."""

from __future__ import annotations

import csv
from pathlib import Path

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
