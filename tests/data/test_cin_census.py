"""The CIN census XML loads as an LA submits it to DfE: each table a source takes is filled
with the SSD's field names, checked against the specification with the XML path and line of
every problem, and the children in need and re-referral rates computed from it match a hand
count. Files are synthetic, written by tests/data/cin_census_files.py from DfE's
specification."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import cin_census_files as census  # tests/data, beside this file
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_ssda903 import write_population  # tests/data, beside this file

from common_outcomes.data import protect
from common_outcomes.data.builtin import templates
from common_outcomes.data.readers.cin_census import TABLES, CinCensusFormat
from common_outcomes.data.store import open_store
from common_outcomes.geography.reference import london_lsoas
from common_outcomes.project import Project
from common_outcomes.results import table as results_table

KEY = "k" * 64
# The SSD's table for each census table where its name differs.
SSD_TABLES = {"assessments": "cin-assessments", "s47-enquiries": "s47-enquiry"}


def _source(table: str, policy: str = "quarantine") -> str:
    return f"""kind: source
version: 1
id: cin-{table}
builtin: cin-census/{table}
name: CIN census {table}
partner: childrens-social-care
agreement: {{reference: DSA-TH-2024-08}}
retention: {{analytic_years: 10, linkage_months: 24}}
policy: {policy}
files: cin-census/*.xml
"""


@pytest.fixture
def workspace(example_copy: Path, tmp_path: Path) -> tuple[Path, Path]:
    for table in TABLES:
        (example_copy / "sources" / f"cin_{table}.yaml").write_text(_source(table))
    key = tmp_path / "key"
    key.write_text(KEY)
    return example_copy, key


def _stored(ws: Path, source: str) -> pa.Table:
    files = open_store(ws).current_files(source)
    return pa.concat_tables(pq.read_table(f.path) for f in files) if files else pa.table({})


def test_each_built_in_names_the_table_the_reader_fills_with_its_columns() -> None:
    cin = {k.split("/")[1]: t for k, t in templates().items() if k.startswith("cin-census/")}
    assert set(cin) == set(TABLES)
    for name, template in cin.items():
        assert template.table == name
        assert tuple(c.name for c in template.columns) == CinCensusFormat.tables[name]
        assert CinCensusFormat.tables[name] == (*TABLES[name].columns, "census_year")
        ssd = templates()[f"ssd/ssd-{SSD_TABLES.get(name, name)}"]
        # Every column is the SSD table's, by its exact name, but the census's year, which
        # the latest-return rule reads (the SSD has no field for it).
        assert template.latest_return is not None
        assert template.latest_return.year == "census_year" and not template.latest_return.key
        assert {c.name for c in template.columns} - {"census_year"} <= {
            c.name for c in ssd.columns}, name


def test_every_table_loads_with_hand_counted_rows_and_the_ssds_pseudonyms(
        workspace: tuple[Path, Path]) -> None:
    ws, key = workspace
    children = census.borough()
    path = ws / "incoming" / "cin-census" / "census-2025.xml"
    census.write(path, children)
    episodes = [e for c in children for e in c.episodes]
    assessments = [a for e in episodes for a in e.assessments]
    expected = {
        "person": len(children), "send": len(children),
        "disability": sum(len(c.disabilities) for c in children),
        "cin-episodes": len(episodes),
        "cin-plans": sum(len(e.cin_plans) for e in episodes),
        "assessments": len(assessments),
        "assessment-factors": sum(bool(a.factors) for a in assessments),
        "s47-enquiries": sum(len(e.s47) for e in episodes),
        "cp-plans": sum(len(e.plans) for e in episodes),
        "cp-reviews": sum(len(p.reviews) for e in episodes for p in e.plans)}
    # Every awkward case is in the file.
    assert all(expected.values())
    assert any(not c.episodes for c in children) and any(c.upn_unknown for c in children)
    assert any(e.closure is None for e in episodes) and any(e.nfa for e in episodes)
    project = Project.open(ws)
    for table, rows in expected.items():
        (result,) = project.load_data(f"cin-{table}", [path], False, key)
        assert result.status == "loaded", (table, result.problems[:3])
        assert result.rows_accepted == rows, table
        assert not result.problems, table
        assert _stored(ws, f"cin-{table}").num_rows == rows
    # The child's id is pseudonymised exactly as an SSD extract's person ids are.
    ids = {c.la_id for c in children}
    pseudonyms = set(protect.pseudonymise(pa.array(sorted(ids)), KEY.encode()).to_pylist())
    person = _stored(ws, "cin-person")
    assert set(person.column("pers_person_id_pseudonym").to_pylist()) == pseudonyms
    cin = _stored(ws, "cin-cin-episodes")
    assert set(cin.column("cine_person_id_pseudonym").to_pylist()) < pseudonyms
    # Derived ids are keys, pseudonymised too: no child's id is left in the store.
    assert len(cin.column("cine_referral_id").unique()) == len(episodes)
    for table in TABLES:
        for column in _stored(ws, f"cin-{table}").columns:
            if pa.types.is_string(column.type):
                assert not any(v and "LA0" in v for v in column.to_pylist()), table
    # Episodes join their assessments and plans by the derived ids.
    assessed = set(_stored(ws, "cin-assessments").column("cina_referral_id").to_pylist())
    assert assessed <= set(cin.column("cine_referral_id").to_pylist())
    # Dates typed, booleans as the SSD writes them, UPNs checked and pseudonymised.
    assert cin.schema.field("cine_referral_date").type == pa.date32()
    assert set(cin.column("cine_referral_nfa").to_pylist()) == {"Y", "N"}
    assert cin.column("cine_close_date").null_count == sum(e.closure is None for e in episodes)
    send = _stored(ws, "cin-send")
    assert "send_upn" not in send.column_names
    assert send.column("send_upn_pseudonym").null_count == sum(not c.upn for c in children)
    assert person.column("pers_upn_unknown").to_pylist().count("UN2") == sum(
        c.upn_unknown == "UN2" for c in children)


def _in_need_at(children: list[census.Child], day: date) -> int:
    return sum(e.referral <= day and (e.closure is None or e.closure > day) and not e.nfa
               for c in children for e in c.episodes)


def _re_referrals(children: list[census.Child], first: date, last: date) -> tuple[int, int]:
    """(referrals in the period within 365 days of the child's previous one, referrals)."""
    within = total = 0
    for c in children:
        dates = sorted(e.referral for e in c.episodes)
        for before, referral in zip([None, *dates], dates, strict=False):
            if first <= referral <= last:
                total += 1
                within += before is not None and (referral - before).days <= 365
    return within, total


def test_children_in_need_and_re_referral_rates_from_a_cin_census(
        workspace: tuple[Path, Path]) -> None:
    ws, key = workspace
    children = census.borough(90)
    census.write(ws / "incoming" / "cin-census" / "census.xml", children)
    # The example's two definitions read the SSD extract's episodes; read the census instead,
    # unchanged otherwise (placed by the SSD extract's addresses, linked by the pseudonym).
    definitions = ws / "definitions" / "social-care.yaml"
    text = definitions.read_text()
    for indicator in ("children-in-need-rate", "re-referrals-12-months"):
        start = text.index(f"  - indicator: {indicator}\n")
        at = text.index("source: ssd-cin-episodes", start)
        text = text[:at] + "source: cin-cin-episodes" + text[at + len("source: ssd-cin-episodes"):]
    definitions.write_text(text)
    lsoas = [r.lsoa_code for r in london_lsoas() if r.la_code == "E09000030"]
    postcodes = [f"E1 {n}AA" for n in range(5)]
    directory = ws / "incoming" / "postcode_directory"
    directory.mkdir(parents=True)
    pq.write_table(pa.table({"postcode": postcodes, "area_code": lsoas[:5]}),
                   directory / "postcodes.parquet")
    addresses = ws / "incoming" / "ssd_address"
    addresses.mkdir(parents=True)
    pq.write_table(pa.table({
        "addr_table_id": [f"A{k}" for k in range(len(children))],
        "addr_person_id": [c.la_id for c in children],
        "addr_address_start_date": [date(2000, 1, 1)] * len(children),
        "addr_address_postcode": [postcodes[k % 5] for k in range(len(children))]}),
        addresses / "addresses.parquet")
    people = write_population(ws, (2021, 2022, 2023, 2024), lsoas)
    project = Project.open(ws)
    loaded = project.load_data(None, [], True, key)
    statuses = {r.source: r.status for r in loaded}
    assert statuses["cin-cin-episodes"] == "loaded" and statuses["ssd-address"] == "loaded"
    project.run()
    table = results_table.read(project.results_path)
    assert table is not None

    def la_row(indicator: str) -> dict[str, object]:
        (row,) = [r for r in table.to_pylist() if r["indicator_id"] == indicator
                  and r["area_type"] == "la" and r["period"] == "2023/24"
                  and r["period_type"] == "financial_year" and r["breakdown"] == "all"]
        return row

    in_need = _in_need_at(children, date(2024, 3, 31))
    assert in_need >= 10
    row = la_row("children-in-need-rate")
    assert row["numerator"] == in_need
    denominator = sum(p[4] for p in people if p[0] == 2023)
    assert row["denominator"] == denominator
    assert row["value"] == pytest.approx(10000 * in_need / denominator, rel=1e-12)
    within, total = _re_referrals(children, date(2023, 4, 1), date(2024, 3, 31))
    assert 5 < within < total
    row = la_row("re-referrals-12-months")
    assert (row["numerator"], row["denominator"]) == (within, total)
    assert row["value"] == pytest.approx(100 * within / total, rel=1e-12)


# --- bad input: one sentence with where, and nothing stored ------------------------------------

BOMB = """<?xml version="1.0"?>
<!DOCTYPE Message [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
]>
<Message><Children><Child><ChildIdentifiers><LAchildID>&d;</LAchildID></ChildIdentifiers>
</Child></Children></Message>
"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE Message [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Message><Children><Child><ChildIdentifiers><LAchildID>&secret;</LAchildID>
</ChildIdentifiers></Child></Children></Message>
"""


def _broken(kind: str, path: Path) -> tuple[str, str]:
    """Write a broken census; (reason code, what the one sentence must say)."""
    children = census.borough(6)
    if kind == "bomb":
        path.write_text(BOMB)
        return "xml.unsafe", "line 2"
    if kind == "external":
        path.write_text(EXTERNAL)
        return "xml.unsafe", "line 2"
    if kind == "wrong-root":
        census.write(path, children, root="SchoolCensus")
        return "xml.not-cin-census", "root element is <SchoolCensus> (line 2)"
    if kind == "unclosed":
        lines = census.render(children)
        n = next(i for i, line in enumerate(lines) if "<ReferralSource>" in line)
        lines[n] = lines[n].replace("</ReferralSource>", "")
        path.write_text("\n".join(lines) + "\n")
        return "xml.malformed", "mismatched tag at line"
    episode = children[1].episodes[0]
    element, code = {"bad-date": ("CINreferralDate", "value.bad-date"),
                     "bad-code": ("ReferralSource", "value.not-in-code-list"),
                     "missing": ("ReferralSource", "value.missing"),
                     "closed-before-referral": ("CINclosureDate", "value.date-order")}[kind]
    episode.extra[element] = {"bad-date": "05/04/2022", "bad-code": "1Z", "missing": None,
                              "closed-before-referral": str(episode.referral - timedelta(1))
                              }[kind]
    lines = census.write(path, children)
    # Where it is, or (missing) the CINdetails it belongs in: Child[2], its first episode.
    tag = "<CINdetails>" if kind == "missing" else f"<{element}>"
    child = next(i for i, line in enumerate(lines) if "LA00001" in line)
    line = next(i for i in range(child, len(lines)) if tag in lines[i]) + 1
    path_text = "Message/Children/Child[2]/CINdetails[1]" + (
        "" if kind == "missing" else f"/{element}")
    return code, f"{path_text}{'/ReferralSource' if kind == 'missing' else ''}, line {line}"


@pytest.mark.parametrize("kind", ["bomb", "external", "wrong-root", "unclosed", "bad-date",
                                  "bad-code", "missing", "closed-before-referral"])
def test_a_broken_census_is_refused_in_one_sentence_saying_where_and_nothing_is_stored(
        workspace: tuple[Path, Path], kind: str) -> None:
    ws, key = workspace
    (ws / "sources" / "cin_cin-episodes.yaml").write_text(_source("cin-episodes", "reject"))
    path = ws / "incoming" / "cin-census" / "census.xml"
    path.parent.mkdir(parents=True)
    code, where = _broken(kind, path)
    (result,) = Project.open(ws).load_data("cin-cin-episodes", [path], False, key)
    assert result.status == "rejected"
    assert [p.code for p in result.problems] == [code]
    message = result.problems[0].message
    assert where in message, message
    assert message.count(". ") == 0 and message.endswith("."), message  # one sentence
    assert "Traceback" not in message and "/etc/passwd" not in message
    assert open_store(ws).current_files("cin-cin-episodes") == []


def test_quarantine_sets_aside_only_the_failing_record(workspace: tuple[Path, Path]) -> None:
    ws, key = workspace
    children = census.borough(10)
    children[2].episodes[0].extra["PrimaryNeedCode"] = "N12"
    path = ws / "incoming" / "cin-census" / "census.xml"
    census.write(path, children)
    (result,) = Project.open(ws).load_data("cin-cin-episodes", [path], False, key)
    episodes = sum(len(c.episodes) for c in children)
    assert result.status == "quarantined"
    assert (result.rows_read, result.rows_accepted, result.rows_quarantined) == (
        episodes, episodes - 1, 1)
    (problem,) = result.problems
    assert problem.column == "Message/Children/Child[3]/CINdetails[1]/PrimaryNeedCode"
    assert "PrimaryNeedCode ('N12') is not a CIN census code" in problem.message
    # The same file's other tables are not this record's: the child's person row loads.
    (person,) = Project.open(ws).load_data("cin-person", [path], False, key)
    assert (person.status, person.rows_accepted) == ("loaded", len(children))
