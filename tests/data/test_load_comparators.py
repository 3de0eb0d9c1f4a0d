"""Published comparators load as sources: DfE tidy CSV with its suppression markers, and a
Fingertips "all data" export, both as the product carries them (the publishers' layouts)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from common_outcomes import reference
from common_outcomes.data.load import load_file
from common_outcomes.data.store import open_store
from common_outcomes.project import Project

ROOT = Path(__file__).resolve().parents[2]
KEY = b"k" * 32


def _load(tmp_path: Path, source: str) -> pa.Table:
    """The carried table whose kind is `source` loaded as the example's source of that id."""
    ws = tmp_path / "ws"
    shutil.copytree(ROOT / "examples" / "tower-hamlets", ws, ignore=shutil.ignore_patterns(
        "incoming", "synth-truth", ".outcomes", ".synth-staging-*"))
    project = Project.open(ws)
    store = open_store(ws)
    with store.lock():
        result = load_file(ws, store, project.sources[source], reference.path(source), KEY,
                           None)
    assert result.status == "loaded", result.message
    return pa.concat_tables(pq.read_table(p) for p in store.version_files(result.version_id))


def test_dfe_markers_become_nulls_with_their_reasons(tmp_path: Path) -> None:
    table = _load(tmp_path, "dfe-children-in-need")
    assert table.num_rows == 169  # England, London and 11 boroughs, 2013 to 2025
    notes = table.column("At31_episodes_note")
    # Hackney's 2021 and 2022 counts are published as 'x' (the cyber attack).
    assert notes.drop_null().to_pylist() == ["not available", "not available"]
    where = pc.is_valid(notes)
    assert pc.all(pc.is_null(pc.filter(table.column("At31_episodes"), where))).as_py()
    england = table.filter(pc.and_(pc.equal(table.column("geographic_level"), "National"),
                                   pc.equal(table.column("time_period"), 2025)))
    assert england.column("At31_episodes").to_pylist() == [402400]


def test_a_fingertips_export_loads_with_its_not_presented_limits(tmp_path: Path) -> None:
    table = _load(tmp_path, "fingertips-injury-admissions")
    assert table.num_rows == 7208
    note = table.column("Lower CI 95.0 limit_note")
    assert set(note.drop_null().to_pylist()) == {"not presented"}
    england = table.filter(pc.and_(pc.equal(table.column("Area Code"), "E92000001"),
                                   pc.equal(table.column("Time period"), "2010/11")))
    assert 115.2166797 in england.column("Value").to_pylist()


def test_a_previous_release_with_renamed_columns_loads_under_the_declared_names(
        tmp_path: Path) -> None:
    """A previous release of the DfE table named two columns otherwise; `from:` (one name,
    or several) reads them as the declared columns, as the current release names them."""
    ws = tmp_path / "ws"
    shutil.copytree(ROOT / "examples" / "tower-hamlets", ws, ignore=shutil.ignore_patterns(
        "incoming", "synth-truth", ".outcomes", ".synth-staging-*"))
    decl = ws / "sources" / "dfe-children-in-need.yaml"
    text = decl.read_text()
    # la_name is the dfe/ees built-in's: declaring it again overrides it with `from:`.
    for old, new in (("  - {name: category}", "  - {name: la_name, from: [la_title, LA_name]}\n"
                      "  - {name: category}"),
                     ("  - name: At31_episodes\n",
                      "  - name: At31_episodes\n    from: At31_children\n")):
        assert old in text
        text = text.replace(old, new)
    decl.write_text(text)
    current = reference.path("dfe-children-in-need").read_text(encoding="utf-8-sig")
    header, *rows = current.splitlines()
    previous = tmp_path / "b1_children_in_need_2019.csv"
    names = header.split(",")
    names[names.index("la_name")], names[names.index("At31_episodes")] = "LA_name", "At31_children"
    kept = [r for r in rows if r.startswith(("2018,", "2019,"))]
    previous.write_text("\n".join([",".join(names), *kept]) + "\n", encoding="utf-8")

    project = Project.open(ws)
    store = open_store(ws)
    with store.lock():
        result = load_file(ws, store, project.sources["dfe-children-in-need"], previous, KEY,
                           None)
    assert result.status == "loaded", result.message
    assert "'LA_name' as 'la_name'" in result.message
    assert "'At31_children' as 'At31_episodes'" in result.message
    assert result.version_id is not None
    table = pa.concat_tables(pq.read_table(p) for p in store.version_files(result.version_id))
    assert {"la_name", "At31_episodes"} <= set(table.column_names)
    assert not {"LA_name", "At31_children"} & set(table.column_names)
    assert table.num_rows == len(kept) > 0
    at31 = names.index("At31_children")
    by_hand = sum(int(r.split(",")[at31]) for r in kept
                  if r.split(",")[at31].isdigit() and ",National," in r)
    national = table.filter(pc.equal(table.column("geographic_level"), "National"))
    assert pc.sum(national.column("At31_episodes")).as_py() == by_hand > 0


def test_a_from_name_that_is_another_columns_name_is_refused(example_copy: Path) -> None:
    decl = example_copy / "sources" / "dfe-children-in-need.yaml"
    decl.write_text(decl.read_text().replace("  - {name: category}",
                                             "  - {name: la_name, from: region_name}\n"
                                             "  - {name: category}"))
    found = [i for i in Project.check(example_copy).issues if "under 'from'" in i.message]
    assert len(found) == 1 and found[0].location is not None
    assert found[0].location.file.endswith("dfe-children-in-need.yaml")
