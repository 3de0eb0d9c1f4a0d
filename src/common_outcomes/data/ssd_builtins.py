"""Writes the Standard Safeguarding Dataset's built-in sources (builtin/ssd/*.yaml), one per
table of the published specification, from the carried field list
(reference/data/ssd/ssd_fields.csv) and what the list does not say (builtin/ssd-knowledge.yaml:
names, periods, keys, code lists, descriptions). `make builtins` runs it; a test checks the
shipped templates are what it writes.

Rules, applied to every field the knowledge file does not settle:
- the specification's field name, exactly; datetime fields are dates, int integers, float
  numbers, everything else text;
- the key is the specification's primary key; a key field, or one the specification marks
  required, is required;
- identifiers are found by name so that pseudonymisation applies (see IDENTIFIER_RULES);
  staff and team ids (`*_worker_id`, `prof_staff_id`) are not identifiers of a family;
- whole free-text addresses and records (LEFT_OUT) are left out: they arrive as extra columns
  and are kept out of the store.
"""

from __future__ import annotations

import csv
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from common_outcomes.data.builtin import BUILTIN
from common_outcomes.data.declarations import ColumnType, Identifier
from common_outcomes.reference import DATA

FIELDS = DATA / "ssd" / "ssd_fields.csv"
KNOWLEDGE = BUILTIN / "ssd-knowledge.yaml"
OUT = BUILTIN / "ssd"
TYPES = {"datetime": ColumnType.DATE, "int": ColumnType.INTEGER, "float": ColumnType.NUMBER}
# The first rule whose pattern the field name matches decides its kind.
IDENTIFIER_RULES: tuple[tuple[str, Identifier], ...] = (
    (r"(^|_)person_id$|_family_id$|_common_child_id$|_legacy_id$|_uln$", Identifier.CASE_ID),
    (r"_upn$", Identifier.UPN),
    (r"_nhs_num(ber)?$", Identifier.NHS_NUMBER),
    (r"_forename$|_surname$|^prof_professional_name$", Identifier.NAME),
    (r"_dob$", Identifier.DATE_OF_BIRTH),
    (r"_postcode$", Identifier.POSTCODE),
)
# A whole address, and the API queue's whole child record, as free text: no column kind
# protects them, so they are never declared.
LEFT_OUT = frozenset({"addr_address_json", "json_payload"})
HEADER = ("# Built-in source: the Standard Safeguarding Dataset's {table} table (Data to\n"
          "# Insight, data-to-insight/ssd-data-model, MIT). Adopt it with\n"
          "# 'builtin: ssd/{id}'. Written by `make builtins` (common_outcomes.data.\n"
          "# ssd_builtins) from reference/data/ssd/ssd_fields.csv and builtin/ssd-knowledge.yaml:\n"
          "# edit those, not this file.\n")


def identifier_of(field: str) -> Identifier | None:
    return next((kind for pattern, kind in IDENTIFIER_RULES if re.search(pattern, field)), None)


def template_id(table: str) -> str:
    return "ssd-" + table.removeprefix("ssd_").replace("_", "-")


@cache
def specification() -> dict[str, list[dict[str, str]]]:
    """The carried field list, by table, in the specification's order."""
    tables: dict[str, list[dict[str, str]]] = {}
    with FIELDS.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            tables.setdefault(row["table"], []).append(row)
    return tables


def _column(field: dict[str, str], key: tuple[str, ...],
            known: dict[str, Any]) -> dict[str, Any]:
    name = field["field"]
    kind = identifier_of(name)
    derived: dict[str, Any] = {
        "name": name,
        "type": TYPES.get(field["type"].lower(), ColumnType.STRING).value,
        "required": field["required"] == "true" or name in key,
        "identifier": kind.value if kind else None,
        "description": f"SSD item {field['item_ref']}"
                       + (f"; in {field['returns'].replace(';', ', ')}" if field["returns"]
                          else "") + ".",
    }
    column = {**derived, **known}
    return {k: v for k, v in column.items()
            if v is not None and not (k == "required" and v is False)}


def template(table: str) -> dict[str, Any]:
    """One table's built-in source, as the YAML document it is written as."""
    fields = specification()[table]
    knowledge: dict[str, Any] = _knowledge().get(table, {})
    key = tuple(knowledge.get("key") or [f["field"] for f in fields if f["primary_key"] == "true"])
    known = knowledge.get("columns", {})
    doc: dict[str, Any] = {
        "kind": "source-template", "version": 1, "id": template_id(table), "family": "ssd",
        "name": knowledge.get("name", f"SSD {table.removeprefix('ssd_').replace('_', ' ')}")}
    if "period" in knowledge:
        doc["period"] = knowledge["period"]
    doc["schedule"] = {"every": "month", "due_days": 15}
    doc["key"] = list(key)
    doc["columns"] = [_column(f, key, known.get(f["field"], {})) for f in fields
                      if f["field"] not in LEFT_OUT]
    return doc


def render(table: str) -> str:
    doc = template(table)
    return HEADER.format(table=table, id=doc["id"]) + yaml.safe_dump(
        doc, sort_keys=False, allow_unicode=True, width=100)


def _knowledge() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(KNOWLEDGE.read_text(encoding="utf-8"))
    return loaded


def write(out: Path = OUT) -> list[Path]:
    """Every table's built-in, written; files for tables no longer in the list removed."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for table in specification():
        path = out / f"{template_id(table)}.yaml"
        path.write_text(render(table), encoding="utf-8")
        written.append(path)
    for stale in set(out.glob("*.yaml")) - set(written):
        stale.unlink()
    return written


if __name__ == "__main__":
    print(f"wrote {len(write())} built-in SSD sources to {OUT}")
