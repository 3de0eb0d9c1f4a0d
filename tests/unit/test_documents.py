"""Reading YAML documents: every problem is an issue with the right line and column."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

import pytest

from common_outcomes.documents import DocumentModel, Model, read_document
from common_outcomes.errors import Issues


class Item(Model):
    id: str
    size: int = 0


class Box(DocumentModel):
    KIND: ClassVar[str] = "box"
    VERSIONS: ClassVar[tuple[int, ...]] = (1, 2)
    kind: Literal["box"]
    name: str
    items: tuple[Item, ...] = ()


KINDS: dict[str, type[DocumentModel]] = {"box": Box}


def read(tmp_path: Path, text: str) -> tuple[Box | None, list[tuple[str, int | None, int | None]]]:
    path = tmp_path / "box.yaml"
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    issues = Issues()
    doc = read_document(path, KINDS, issues, "box.yaml")
    found = [(i.code, i.location.line if i.location else None,
              i.location.column if i.location else None) for i in issues.sorted()]
    model = doc.model if doc else None
    assert model is None or isinstance(model, Box)
    return model, found


def test_a_good_document_reads_into_an_immutable_model(tmp_path: Path) -> None:
    box, found = read(tmp_path, "kind: box\nversion: 1\nname: toys\nitems:\n  - id: a\n")
    assert found == []
    assert box is not None and box.items[0].id == "a"
    with pytest.raises(Exception, match="frozen"):
        box.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kind: box\nversion: 1\nname: [unclosed\n", ("yaml.syntax", 4, 1)),
        ("kind: box\nversion: 1\nname: a\n  bad: indent\n", ("yaml.syntax", 4, 6)),
        ("", ("yaml.empty", 1, 1)),
        ("- a list\n", ("yaml.not-mapping", 1, 1)),
        ("version: 1\nname: a\n", ("header.missing-kind", 1, 1)),
        ("kind: bx\nversion: 1\n", ("header.unknown-kind", 1, 1)),
        ("kind: box\nname: a\n", ("header.missing-version", 1, 1)),
        ("kind: box\nversion: 7\nname: a\n", ("header.unsupported-version", 2, 1)),
        ("kind: box\nversion: 1\nname: a\nnmae: b\n", ("schema.unknown-key", 4, 1)),
        ("kind: box\nversion: 1\n", ("schema.missing-field", 1, 1)),
        ("kind: box\nversion: 1\nname: a\nitems:\n  - id: x\n    size: big\n",
         ("schema.invalid-value", 6, 5)),
        ("kind: box\nversion: 1\nname: a\nname: b\n", ("yaml.duplicate-key", 4, 1)),
    ],
)
def test_each_problem_is_reported_at_its_line_and_column(
    tmp_path: Path, text: str, expected: tuple[str, int, int]
) -> None:
    _, found = read(tmp_path, text)
    assert expected in found


def test_a_misspelt_key_gets_a_spelling_hint(tmp_path: Path) -> None:
    path = tmp_path / "box.yaml"
    path.write_text("kind: box\nversion: 1\nname: a\nitems:\n  - id: x\n    sise: 3\n")
    issues = Issues()
    read_document(path, KINDS, issues)
    (issue,) = list(issues)
    assert issue.code == "schema.unknown-key"
    assert issue.hint == "did you mean 'size'?"
    assert issue.location is not None and issue.location.line == 6


def test_a_file_that_is_not_utf8_is_an_issue_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "box.yaml"
    path.write_bytes("kind: box\nversion: 1\nname: caf\u00e9\n".encode("cp1252"))
    issues = Issues()
    assert read_document(path, KINDS, issues) is None
    assert [i.code for i in issues] == ["yaml.encoding"]


def test_yaml_tags_that_would_run_code_are_refused(tmp_path: Path) -> None:
    _, found = read(tmp_path, "kind: box\nversion: 1\nname: !!python/object/apply:os.system [ls]\n")
    assert [code for code, _, _ in found] == ["yaml.syntax"]


def test_good_items_survive_a_bad_sibling_and_keep_their_lines(tmp_path: Path) -> None:
    text = ("kind: box\nversion: 1\nname: a\nitems:\n"
            "  - id: one\n    size: big\n"
            "  - id: two\n    size: 2\n")
    path = tmp_path / "box.yaml"
    path.write_text(text)
    issues = Issues()
    doc = read_document(path, KINDS, issues)
    assert [i.code for i in issues] == ["schema.invalid-value"]
    assert doc is not None and isinstance(doc.model, Box)
    assert [i.id for i in doc.model.items] == ["two"]
    # the surviving item is now items[0]; its position is still line 7
    assert doc.source.locate(("items", 0, "id")).line == 7
