"""A borough's strategy as immutable typed models, one YAML kind per concern.

A workspace is a folder; every *.yaml in it is read and dispatched on its `kind`, so a
borough can split activities over several files (by priority, by locality) as it likes.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from common_outcomes.documents import DocumentModel, Model
from common_outcomes.framework.models import Indicator
from common_outcomes.ids import GssCode, Slug


class Sector(StrEnum):
    HEALTH = "health"
    EDUCATION = "education"
    SOCIAL_CARE = "social_care"
    VOLUNTARY_AND_COMMUNITY = "voluntary_and_community"
    OTHER = "other"


class Direction(StrEnum):
    INCREASE = "increase"
    DECREASE = "decrease"
    MAINTAIN = "maintain"


class Evidence(StrEnum):
    """Strength of evidence that the activity works, in the Foundations (EIF) style."""

    NOT_YET_RATED = "not_yet_rated"
    LOCAL_PRACTICE = "local_practice"
    PRELIMINARY = "preliminary"
    PROMISING = "promising"
    ESTABLISHED = "established"


class Borough(Model):
    name: str
    code: GssCode


class StrategyPeriod(Model):
    start: str = Field(description="First financial year of the strategy, e.g. 2024/25")
    end: str = Field(description="Last financial year of the strategy, e.g. 2028/29")


class WorkspaceDocument(DocumentModel):
    KIND: ClassVar[str] = "workspace"
    kind: Literal["workspace"]
    id: Slug
    title: str
    borough: Borough
    framework: str = Field(description="The pinned framework release, as id@release")
    strategy_period: StrategyPeriod | None = None
    description: str | None = None


class Service(Model):
    id: Slug
    name: str


class Partner(Model):
    id: Slug
    name: str
    sector: Sector
    services: tuple[Service, ...] = ()


class PartnersDocument(DocumentModel):
    KIND: ClassVar[str] = "partners"
    kind: Literal["partners"]
    partners: tuple[Partner, ...]


class Hub(Model):
    id: Slug
    name: str
    kind: Literal["family_hub", "children_and_family_centre", "outreach_site"] = "family_hub"
    address: str | None = None


class Locality(Model):
    """A Family Hub area: a group of wards (or of LSOAs) with its hub sites."""

    id: Slug
    name: str
    description: str | None = None
    wards: tuple[GssCode, ...] = ()
    lsoas: tuple[GssCode, ...] = ()
    hubs: tuple[Hub, ...] = ()

    @model_validator(mode="after")
    def _one_building_block(self) -> Locality:
        if self.wards and self.lsoas:
            raise ValueError("a locality is built from wards or from LSOAs, not both")
        if not self.wards and not self.lsoas:
            raise ValueError("a locality needs 'wards' or 'lsoas'")
        return self


class LocalitiesDocument(DocumentModel):
    KIND: ClassVar[str] = "localities"
    kind: Literal["localities"]
    note: str | None = Field(None, description="How the grouping was made, and by whom")
    localities: tuple[Locality, ...]


class Priority(Model):
    id: Slug
    order: int = Field(ge=1)
    title: str = Field(description="The priority in the borough's own words")
    outcomes: tuple[Slug, ...] = Field(description="Framework outcomes this priority is about")
    measures: tuple[Slug, ...] = Field(
        (), description="Headline indicators (framework or local) that show progress"
    )
    description: str | None = None
    lead: str | None = None


class PrioritiesDocument(DocumentModel):
    KIND: ClassVar[str] = "priorities"
    kind: Literal["priorities"]
    priorities: tuple[Priority, ...]


class OutputMeasure(Model):
    """How much was done, or how well (Results-Based Accountability)."""

    id: Slug
    name: str
    type: Literal["how_much", "how_well"]
    indicator: Slug | None = Field(None, description="A local indicator that computes it")


class OutcomeLink(Model):
    """An outcome measure the activity is expected to move (is anyone better off?)."""

    indicator: Slug
    direction: Direction
    rationale: str | None = None


class Delivery(Model):
    partner: Slug
    service: Slug | None = None


class Activity(Model):
    id: Slug
    name: str
    description: str | None = None
    priorities: tuple[Slug, ...]
    lead: Delivery = Field(description="The partner (and service) accountable for it")
    with_partners: tuple[Delivery, ...] = ()
    localities: tuple[Slug, ...] | Literal["all"] = "all"
    hubs: tuple[Slug, ...] = ()
    cohort: str = Field(description="Who it is for")
    output_measures: tuple[OutputMeasure, ...] = ()
    outcome_measures: tuple[OutcomeLink, ...] = ()
    evidence: Evidence = Evidence.NOT_YET_RATED
    evidence_note: str | None = None
    review_date: date | None = None
    start: date | None = Field(None, description="The day it started (or starts)")
    end: date | None = Field(None, description="The day it stopped: it ran until the day before")

    def running_on(self, day: date) -> bool:
        """Whether it was running on `day`: started by then (or no start given) and not yet
        stopped."""
        return (self.start is None or self.start <= day) and (self.end is None or day < self.end)


class ActivitiesDocument(DocumentModel):
    KIND: ClassVar[str] = "activities"
    kind: Literal["activities"]
    activities: tuple[Activity, ...]


class LocalIndicator(Indicator):
    """An indicator the borough defines itself, beside the framework's: the same fields,
    plus the framework outcome it evidences (if any)."""

    outcome: Slug | None = Field(None, description="The framework outcome it evidences, if any")


class IndicatorsDocument(DocumentModel):
    KIND: ClassVar[str] = "indicators"
    kind: Literal["indicators"]
    indicators: tuple[LocalIndicator, ...]


class Baseline(Model):
    indicator: Slug
    area: str = Field(description="An area code (LA, ward, LSOA) or a locality id")
    period: str | None = Field(None, description="A fixed baseline period")
    periods: tuple[str, ...] = Field((), description="Or: the mean of these periods")
    value: float | None = Field(None, description="Known value, if already published")
    source: str | None = None

    @model_validator(mode="after")
    def _one_kind_of_baseline(self) -> Baseline:
        if bool(self.period) == bool(self.periods):
            raise ValueError("a baseline needs either 'period' or 'periods', not both")
        return self


class TrajectoryPoint(Model):
    period: str
    value: float


class Target(Model):
    indicator: Slug
    area: str = Field(description="An area code (LA, ward, LSOA) or a locality id")
    period: str
    value: float
    trajectory: Literal["linear", "none"] | tuple[TrajectoryPoint, ...] = "linear"
    set_by: str
    rationale: str


class TargetsDocument(DocumentModel):
    KIND: ClassVar[str] = "targets"
    kind: Literal["targets"]
    baselines: tuple[Baseline, ...] = ()
    targets: tuple[Target, ...] = ()


WORKSPACE_KINDS: dict[str, type[DocumentModel]] = {
    m.KIND: m
    for m in (
        WorkspaceDocument,
        PartnersDocument,
        LocalitiesDocument,
        PrioritiesDocument,
        ActivitiesDocument,
        IndicatorsDocument,
        TargetsDocument,
    )
}
