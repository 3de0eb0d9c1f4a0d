"""A borough's geography as a workspace document (kind: geography).

Written by `outcomes geography` from ONS lookups, with their provenance, so a workspace
is self-contained and reviewable: the codes a strategy talks about are in its folder.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from common_outcomes.documents import DocumentModel, Model
from common_outcomes.ids import GssCode


class Area(Model):
    code: GssCode
    name: str


class Ward(Area):
    pass


class Lsoa(Area):
    ward: GssCode = Field(description="The ward the LSOA lies in (best fit)")


class GeographyDocument(DocumentModel):
    KIND: ClassVar[str] = "geography"
    kind: Literal["geography"]
    provenance: str = Field(description="Where these codes came from, and their licence")
    ward_set: str = Field(description="Which ward boundaries, e.g. 'WD25 (2025 wards)'")
    la: Area
    region: Area
    wards: tuple[Ward, ...]
    lsoas: tuple[Lsoa, ...] = ()


Geography = GeographyDocument
