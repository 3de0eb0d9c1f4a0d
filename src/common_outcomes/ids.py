"""Identifiers users write in YAML, and the ONS area codes the product understands."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

# Lower-case words joined by hyphens: readable in URLs, file names and YAML alike.
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=80)]

# ONS GSS codes: a letter, two digits for the entity type, six digits.
GSS_PATTERN = r"^[EWSNK]\d{8}$"
GssCode = Annotated[str, StringConstraints(pattern=GSS_PATTERN)]

ENGLAND = "E92000001"
LONDON = "E12000007"

def parse_pin(pin: str) -> tuple[str, str]:
    """'london-cof@1.0' -> ('london-cof', '1.0'); ValueError in plain words otherwise."""
    name, sep, version = pin.partition("@")
    if not sep or not name or not version:
        raise ValueError(f"'{pin}' is not a framework pin; write it as id@version, "
                         "for example 'london-cof@1.0'")
    return name, version
