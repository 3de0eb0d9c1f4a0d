"""Documentation that cannot drift: every check code and every command is documented."""

from __future__ import annotations

import re
from pathlib import Path

from common_outcomes.cli import app

ROOT = Path(__file__).resolve().parents[1]
CODE = re.compile(r'"((?:yaml|header|schema|file|ref|framework|workspace|geography|locality|'
                  r'priority|activity|indicator|target|baseline|csv|xlsx|parquet|xml|value|row|'
                  r'expression|definition|comparator|derived|maturity)'
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
    for target in ("install", "demo", "test", "goldens", "builtins", "schema"):
        assert re.search(rf"^{target}:", makefile, re.M), target


def _layer_contracts() -> list[dict[str, int]]:
    """Each import-linter layers contract as {module: layer}, layer 0 the lowest."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    out = []
    for contract in config["contracts"]:
        if contract["type"] != "layers":
            continue
        containers = contract.get("containers") or [""]
        layers = list(reversed(contract["layers"]))
        out.append({f"{c}.{m.strip()}".strip("."): level for level, text in enumerate(layers)
                    for m in re.split(r"[|:]", text) for c in containers})
    return out


def _layer_tables() -> list[dict[str, int]]:
    """Each `| layer | package / module | what it is |` table in docs/ARCHITECTURE.md as
    {module: layer}: `L3` and `engine/` give common_outcomes.engine: 3."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    tables = re.findall(r"^\| layer \| package / module \| what it is \|\n\| --- .*\n"
                        r"((?:\|.*\n)+)", text, re.M)
    out = []
    for body in tables:
        rows: dict[str, int] = {}
        for row in body.splitlines():
            layer, modules = row.split("|")[1:3]
            for path in re.findall(r"`([\w/.]+)`", modules):
                name = "common_outcomes." + path.removesuffix("/").removesuffix(".py")
                rows[name.replace("/", ".")] = int(layer.strip().removeprefix("L"))
        out.append(rows)
    return out


def test_the_architecture_layer_tables_are_the_import_linter_contracts() -> None:
    # One table per layers contract, in the same order: a new layer or module is a line in
    # pyproject.toml and a row in docs/ARCHITECTURE.md, and this test holds them together.
    contracts, tables = _layer_contracts(), _layer_tables()
    assert contracts and len(tables) == len(contracts)
    for contract, table in zip(contracts, tables, strict=True):
        assert table == contract


def test_every_top_level_package_is_in_a_layer() -> None:
    package = ROOT / "src" / "common_outcomes"
    names = {p.stem for p in package.glob("*.py") if p.stem != "__init__"} | {
        p.name for p in package.iterdir() if (p / "__init__.py").is_file()}
    layered = {m.split(".")[1] for m in _layer_contracts()[0]}
    assert names - layered == set()
