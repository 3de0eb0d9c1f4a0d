"""Every malformed file in the corpus is rejected or quarantined with its reason codes; a
rejected load leaves the store exactly as it was; nothing raw reaches the analytic store."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from common_outcomes.data.declarations import SOURCE_KINDS, SourceDeclaration
from common_outcomes.data.load import load_file
from common_outcomes.data.store import open_store
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
        assert baseline.version_id
        before = snapshot(tmp_path)
        result = load_file(tmp_path, store, declaration(), CORPUS / name, KEY, None)
    codes = {p.code for p in result.problems}
    assert set(expected["codes"]) <= codes, (codes, result.message)
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
