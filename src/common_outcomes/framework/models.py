"""The framework as immutable typed models.

Five strengths-based domains over three layers; each outcome sits in one cell of
that grid and is measured by indicators. An indicator's metadata follows the
fields Fingertips and DfE publish (definition, numerator, denominator, unit,
polarity, period type, source) so analysts can trace it to the official one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from common_outcomes.documents import DocumentModel, Model
from common_outcomes.framework.maturity import MaturityModelDocument
from common_outcomes.ids import Slug
from common_outcomes.periods import PeriodType


class Polarity(StrEnum):
    HIGH_IS_GOOD = "high_is_good"
    LOW_IS_GOOD = "low_is_good"
    NO_JUDGEMENT = "no_judgement"


class Unit(StrEnum):
    PERCENT = "percent"
    RATE_PER_1000 = "rate_per_1000"
    RATE_PER_10000 = "rate_per_10000"
    RATE_PER_100000 = "rate_per_100000"
    COUNT = "count"
    MEAN = "mean"
    SCORE = "score"
    LEVEL = "level"  # a maturity level, 1 (emerging) to 4 (embedded)
    RATIO = "ratio"  # an indirectly standardised ratio, 100 = as expected


class Layer(Model):
    id: Slug
    name: str
    description: str


class Domain(Model):
    id: Slug
    name: str
    description: str


class SupportingFamiliesOutcome(Model):
    """One of the national Supporting Families programme's ten headline outcomes."""

    id: Slug
    name: str


class References(Model):
    """Where the official definition lives; every field is optional."""

    fingertips: int | None = Field(None, description="OHID Fingertips indicator id")
    dfe: str | None = Field(None, description="DfE statistics publication and measure")
    ohid: str | None = Field(None, description="OHID collection code, e.g. C8ii")
    nhs: str | None = Field(None, description="NHS England / NHS Digital metric id")
    other: str | None = Field(None, description="Any other official source")
    url: str | None = None


class DataSource(Model):
    """The usual source of an indicator's data, and the partner return it comes from."""

    name: str = Field(description="The official collection, e.g. 'Maternity Services Data Set'")
    partner_return: Slug | None = Field(
        None,
        description="The record-level partner return the product can compute it from "
        "(maternity, health-visiting, early-education, eyfsp, school-attendance, "
        "family-hub-contacts, ssd, participation, population, survey, self-assessment)",
    )


class Indicator(Model):
    id: Slug
    name: str
    definition: str = Field(description="Plain-English definition")
    numerator: str
    denominator: str
    unit: Unit
    polarity: Polarity
    period_type: PeriodType
    data_source: DataSource | None = None
    references: References = References()
    supporting_families: tuple[Slug, ...] = ()
    notes: str | None = None


class Outcome(Model):
    id: Slug
    layer: Slug
    domain: Slug
    statement: str = Field(description="The outcome in strengths-based words")
    description: str | None = None
    indicators: tuple[Indicator, ...] = ()


class FrameworkDocument(DocumentModel):
    """framework.yaml: what the framework is and its grid; outcomes live beside it."""

    KIND: ClassVar[str] = "framework"
    kind: Literal["framework"]
    id: Slug
    release: str = Field(description="The framework's own version, pinned as id@release")
    title: str
    description: str
    layers: tuple[Layer, ...]
    domains: tuple[Domain, ...]
    supporting_families: tuple[SupportingFamiliesOutcome, ...] = ()


class OutcomesDocument(DocumentModel):
    """A file of outcomes and their indicators (one per layer in the shipped framework)."""

    KIND: ClassVar[str] = "outcomes"
    kind: Literal["outcomes"]
    outcomes: tuple[Outcome, ...]


class Framework(Model):
    """A whole framework release, assembled from its documents and checked."""

    id: Slug
    release: str
    title: str
    description: str
    layers: tuple[Layer, ...]
    domains: tuple[Domain, ...]
    supporting_families: tuple[SupportingFamiliesOutcome, ...]
    outcomes: tuple[Outcome, ...]

    @property
    def pin(self) -> str:
        return f"{self.id}@{self.release}"

    @property
    def indicators(self) -> tuple[Indicator, ...]:
        return tuple(i for o in self.outcomes for i in o.indicators)

    def outcome(self, outcome_id: str) -> Outcome | None:
        return next((o for o in self.outcomes if o.id == outcome_id), None)

    def indicator(self, indicator_id: str) -> Indicator | None:
        return next((i for i in self.indicators if i.id == indicator_id), None)

    def outcome_of(self, indicator_id: str) -> Outcome | None:
        return next(
            (o for o in self.outcomes if any(i.id == indicator_id for i in o.indicators)), None
        )

    def cell(self, layer: str, domain: str) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.layer == layer and o.domain == domain)

    @model_validator(mode="after")
    def _grid_is_complete(self) -> Framework:
        if not self.layers or not self.domains:
            raise ValueError("a framework needs at least one layer and one domain")
        return self


FRAMEWORK_KINDS: dict[str, type[DocumentModel]] = {
    FrameworkDocument.KIND: FrameworkDocument,
    OutcomesDocument.KIND: OutcomesDocument,
    MaturityModelDocument.KIND: MaturityModelDocument,
}
