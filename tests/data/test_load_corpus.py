"""Every malformed file in the corpus is rejected or quarantined with its reason codes; a
rejected load leaves the store exactly as it was; nothing raw reaches the analytic store."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from common_outcomes.data.declarations import SOURCE_KINDS, SourceDeclaration
from common_outcomes.data.load import LoadResult, load_file
from common_outcomes.data.store import Store, open_store
from common_outcomes.documents import read_document
from common_outcomes.errors import Issues

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, object]] = yaml.safe_load((CORPUS / "expected.yaml").read_text())
KEY = b"k" * 32


def declaration(policy: str = "quarantine") -> SourceDeclaration:
    issues = Issues()
    doc = read_document(CORPUS / "source.yaml", SOURCE_KINDS, issues)
    assert doc is not None and isinstance(doc.model, SourceDeclaration), list(issues)
    return doc.model.model_copy(update={"policy": policy})


def snapshot(root: Path) -> dict[str, bytes]:
    """Everything in the store except the audit log (a rejection is audited, by design)."""
    store = root / ".outcomes" / "store"
    return {str(p.relative_to(store)): p.read_bytes() for p in sorted(store.rglob("*"))
            if p.is_file() and p.name != "audit.jsonl" and ".lock" not in p.name}


GOOD_ROWS = sum(1 for _ in csv.DictReader(io.StringIO((CORPUS / "good.csv").read_text())))


def assert_every_row_arrived(result: LoadResult, store: Store) -> None:
    """good.csv loaded whole: every row accepted, none quarantined, no problem, and the
    version's parts hold them all."""
    assert result.version_id and result.status == "loaded", result.message
    assert (result.rows_accepted, result.rows_quarantined) == (GOOD_ROWS, 0), result.message
    assert result.problems == [], result.problems
    stored = pa.concat_tables(pq.read_table(p) for p in store.version_files(result.version_id))
    assert stored.num_rows == GOOD_ROWS
    assert sorted(stored.column("record_id").to_pylist()) == sorted(
        f"GR{n}" for n in range(1, GOOD_ROWS + 1))


def test_the_good_file_loads_every_row(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    with store.lock():
        result = load_file(tmp_path, store, declaration(), CORPUS / "good.csv", KEY, None)
    assert GOOD_ROWS == 10
    assert_every_row_arrived(result, store)


def test_the_corpus_has_at_least_50_malformed_files() -> None:
    assert len(EXPECTED) >= 50
    assert {p.name for p in CORPUS.iterdir()} >= set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_bad_file_is_refused_or_quarantined_with_its_codes(name: str,
                                                                tmp_path: Path) -> None:
    expected = EXPECTED[name]
    store = open_store(tmp_path)
    with store.lock():
        # Something already in the store, to show a rejected load changes nothing.
        baseline = load_file(tmp_path, store, declaration(), CORPUS / "good.csv", KEY,
                             None)
        assert_every_row_arrived(baseline, store)
        before = snapshot(tmp_path)
        result = load_file(tmp_path, store, declaration(), CORPUS / name, KEY, None)
    # Exactly these reasons: each bad file is the good one with one thing broken, so a
    # check that refused a good value would add its code here.
    codes = {p.code for p in result.problems}
    assert codes == set(expected["codes"]), (codes, result.message)
    assert result.status == expected["status"], result.message
    if result.status == "rejected":
        assert snapshot(tmp_path) == before
        assert result.rows_accepted == 0
    else:
        assert result.rows_quarantined >= 1 and result.rows_accepted >= 1
    # Every problem names where it is and why; the report for the partner exists.
    assert all(p.code and p.message for p in result.problems)
    assert result.reports and all(r.is_file() for r in result.reports)


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items()
                                         if e["status"] == "quarantined"))
def test_under_a_reject_policy_the_whole_file_is_refused(name: str, tmp_path: Path) -> None:
    store = open_store(tmp_path)
    with store.lock():
        before = snapshot(tmp_path) if (tmp_path / ".outcomes").exists() else {}
        result = load_file(tmp_path, store, declaration("reject"), CORPUS / name, KEY, None)
    assert result.status == "rejected"
    assert {k: v for k, v in snapshot(tmp_path).items() if not k.startswith(".")} == {
        k: v for k, v in before.items() if not k.startswith(".")}
    assert store.history("corpus-maternity") == []


def test_no_raw_identifier_reaches_the_analytic_store(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    with store.lock():
        result = load_file(tmp_path, store, declaration(), CORPUS / "several-problems.csv",
                           KEY, None)
    assert result.version_id
    text = "".join(str(pq.read_table(p).to_pylist())
                   for p in store.version_files(result.version_id))
    for secret in ("9990000018", "Amina", "QX12 3AB", "1990-03-01", "A211200012001"[1:]):
        assert secret not in text
    assert "QX12 3" in text  # the postcode sector is kept


def test_the_error_report_masks_identifiers_and_neutralises_formulas(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    with store.lock():
        r1 = load_file(tmp_path, store, declaration(), CORPUS / "nhs-bad-check-digit.csv", KEY,
                       None)
        r2 = load_file(tmp_path, store, declaration(), CORPUS / "formula-equals.csv", KEY, None)
    nhs_report = next(p for p in r1.reports if p.suffix == ".csv").read_text(encoding="utf-8-sig")
    assert "9990000019" not in nhs_report and "99******19" in nhs_report
    formula_report = next(p for p in r2.reports if p.suffix == ".csv").read_text(
        encoding="utf-8-sig")
    assert "'=HYPERLINK" in formula_report


def test_a_file_of_edge_values_loads_each_row_as_the_rules_say(tmp_path: Path) -> None:
    """The corpus's good file with an NHS number needing '11 becomes 0', a temporary UPN,
    every UPN unknown code and a postcode field holding free text: every row is accepted;
    the unknown UPNs have no pseudonym and the free text no sector."""
    rows = list(csv.DictReader((CORPUS / "good.csv").open()))
    for n, code in enumerate(f"UN{k}" for k in range(1, 11)):  # DfE's UPN unknown codes
        rows.append({**rows[n % len(rows)], "record_id": f"UN-{n}", "upn": code})
    rows[0]["mother_nhs_number"] = "999 000 0050"
    rows[1]["upn"] = "E21120001200A"
    rows[2]["mother_postcode"] = "Flat 2, call after 6pm"
    path = tmp_path / "edges.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    store = open_store(tmp_path)
    with store.lock():
        result = load_file(tmp_path, store, declaration(), path, KEY, None)
    assert (result.status, result.rows_accepted, result.problems) == ("loaded", len(rows), [])
    table = pa.concat_tables(pq.read_table(p) for p in store.version_files(result.version_id))
    by_id = {r["record_id"]: r for r in table.to_pylist()}
    assert all(by_id[f"UN-{n}"]["upn_pseudonym"] is None for n in range(10))
    assert by_id["GR2"]["upn_pseudonym"] is not None
    assert by_id["GR1"]["mother_nhs_number_pseudonym"] is not None
    assert by_id["GR3"]["mother_postcode_sector"] is None
    assert by_id["GR4"]["mother_postcode_sector"] == "QX12 3"
