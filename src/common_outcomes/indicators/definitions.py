"""Indicator definitions (kind: indicator-definitions): how each indicator is computed from a
source in the store — what counts in the numerator and the denominator, which date places a
record in a period, which column places it in an area, and the measure type.

    definitions:
      - indicator: low-birth-weight-term
        source: maternity
        measure: proportion
        multiplier: 100
        date: baby_dob_month
        area: residence_area_code
        denominator: gestational_age_weeks >= 37 and birth_outcome = 'live'
                     and birth_weight_g is not null
        numerator: birth_weight_g < 2500

The numerator is counted within the denominator. Columns are the store's (after
pseudonymisation: `mother_dob` arrives as `mother_dob_month`, NHS numbers as `..._pseudonym`).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field

from common_outcomes.documents import Document, DocumentModel, Model
from common_outcomes.ids import Slug
from common_outcomes.periods import PeriodType


class Measure(StrEnum):
    PROPORTION = "proportion"
    CRUDE_RATE = "crude_rate"
    DIRECTLY_STANDARDISED_RATE = "dsr"
    INDIRECTLY_STANDARDISED_RATIO = "isr"
    MEAN = "mean"
    COUNT = "count"


class OtherDenominator(Model):
    """A denominator from another source, e.g. the population: sum `value` where `filter`.

    A snapshot (the default, e.g. a mid-year estimate) is not added up over time: each period
    takes the latest snapshot on or before its end, if there is one in the year before it."""

    source: Slug
    filter: str = Field("true", description="Which rows count, in the expression language")
    value: str | None = Field(None, description="A column to sum (default: count rows)")
    date: str = Field(description="The date column that places a row in time")
    area: str = Field(description="The column holding the row's small area (LSOA) code")
    snapshot: bool = Field(True, description="A stock at a date (a population): the latest on "
                                             "or before each period's end; false: summed over "
                                             "the period like the numerator")


class AreaFrom(Model):
    """The record's small area from another source, by person: e.g. a child's address in the
    social care extract's address table. Each person's latest address counts (the latest
    `start`, where given)."""

    source: Slug
    key: str = Field(description="The person's column in this definition's source")
    person: str = Field(description="The person's column in the other source")
    start: str | None = Field(None, description="The other source's start date column: the "
                                                "latest address is used")


class Standardise(Model):
    """Age standardisation: each record's age in years (five-year bands, 90 and over last,
    as the European Standard Population 2013), and the denominator's if it is another source.
    A directly standardised rate weights the area's age-specific rates by the standard
    population; an indirectly standardised ratio compares the area's events with those
    expected at the borough's age-specific rates."""

    age: str = Field(description="Age in years of each record, an expression")
    population_age: str | None = Field(None, description="Age in years of each denominator "
                                                         "row, when it is another source")


class Definition(Model):
    indicator: Slug
    source: Slug
    measure: Measure
    multiplier: float = 1.0
    numerator: str = Field(description="Which records count, within the denominator")
    denominator: str | OtherDenominator = Field(
        "true", description="Which records are in the denominator (a filter on the same "
                            "source), or a denominator from another source")
    date: str = Field(description="The date column that places a record in a period")
    area: str = Field(description="The column holding the record's small area (LSOA) code")
    period_types: tuple[PeriodType, ...] = ()
    person: str | None = Field(None, description="Count distinct values of this column, "
                                                 "not rows")
    breakdowns: tuple[str, ...] = ()
    value: str | None = Field(None, description="For a mean: the value averaged over the "
                                                "records in the denominator")
    standardise: Standardise | None = Field(None, description="For dsr and isr: the age of "
                                                              "each record")
    previous: str | None = Field(None, description="A person column: each record then has "
                                                   "`previous_date`, the date of the same "
                                                   "person's record before it in this source "
                                                   "(empty for their first), for re-referrals "
                                                   "and repeat plans")
    shift_months: int = Field(0, ge=0, le=120, description="Place each record this many "
                                                         "months after its date: a review "
                                                         "due at 12 months counts in the "
                                                         "period the child turns 12 months "
                                                         "(its denominator too)")
    per_person: dict[str, str] | None = Field(
        None, description="Totals each person builds up over the period (name: the value to "
                          "add for each record); the numerator and denominator are then tests "
                          "of a person's totals, e.g. absent >= 0.1 * possible")
    records: str = Field("true", description="With per_person: which records add to the totals")
    area_from: AreaFrom | None = Field(None, description="Take `area` from another source, "
                                                         "by person")
    open_until: str | None = Field(None, description="A record is open from `date` until "
                                                     "this date (empty: still open) and is "
                                                     "counted at the end of each period it is "
                                                     "open at, as a stock (e.g. children in "
                                                     "need at 31 March)")


class DefinitionsDocument(DocumentModel):
    KIND: ClassVar[str] = "indicator-definitions"
    kind: Literal["indicator-definitions"]
    definitions: tuple[Definition, ...]


DEFINITION_KINDS: dict[str, type[DocumentModel]] = {DefinitionsDocument.KIND: DefinitionsDocument}


def definitions_in(documents: Iterable[Document]) -> list[Definition]:
    """Every definition in a workspace's documents (its `extras`), in the order written."""
    return [d for doc in documents if isinstance(doc.model, DefinitionsDocument)
            for d in doc.model.definitions]
