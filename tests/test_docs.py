"""Documentation that cannot drift: every check code and every command is documented."""

from __future__ import annotations

import re
from pathlib import Path

from common_outcomes.cli import app

ROOT = Path(__file__).resolve().parents[1]
CODE = re.compile(r'"((?:yaml|header|schema|file|ref|framework|workspace|geography|locality|'
                  r'priority|activity|indicator|target|baseline|csv|xlsx|parquet|value|row|'
                  r'expression|definition|comparator|derived)'
                  r'\.[a-z-]+)"')


def test_every_issue_code_is_documented_and_every_documented_code_exists() -> None:
    used = {m for path in (ROOT / "src").rglob("*.py") for m in CODE.findall(path.read_text())
            if not m.endswith(".yaml")}
    docs = (ROOT / "docs" / "checks.md").read_text() + (ROOT / "docs" / "loading.md").read_text()
    documented = set(re.findall(r"^\| `([a-z-]+\.[a-z-]+)`(?: / `([a-z-]+\.[a-z-]+)`)? \|",
                                docs, re.M))
    documented = {c for pair in documented for c in pair if c}
    assert used - documented == set(), "codes missing from docs/checks.md or docs/loading.md"
    assert documented - used == set(), "the docs list codes nothing emits"


def test_every_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    names = [c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands]
    assert names
    for name in names:
        assert f"`outcomes {name}" in readme, name


def test_the_readme_opens_with_make_demo_and_make_test() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    for target in ("install", "demo", "test", "goldens", "schema"):
        assert re.search(rf"^{target}:", makefile, re.M), target
