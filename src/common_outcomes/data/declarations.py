"""Source declarations (kind: source): what a partner's return must look like, who owns it,
under which data-sharing agreement it comes, how long it is kept and how each identifier in
it is protected. What valid data is lives here; how it is checked lives in validate.py.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from common_outcomes.documents import DocumentModel, Model
from common_outcomes.ids import Slug
from common_outcomes.periods import PeriodType


class ColumnType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    DATE = "date"


class Identifier(StrEnum):
    """What sort of personal identifier a column holds; this decides how it is protected."""

    NHS_NUMBER = "nhs_number"  # checked (Modulus 11), then a keyed pseudonym
    UPN = "upn"  # checked (check letter), then a keyed pseudonym
    CASE_ID = "case_id"  # a case-management or service id: a keyed pseudonym
    NAME = "name"  # never stored for analysis; linkage staging only
    DATE_OF_BIRTH = "date_of_birth"  # month of birth for analysis; full date to linkage only
    POSTCODE = "postcode"  # postcode sector and LSOA for analysis; full postcode to linkage
    # A record's id made from a person's id (the CIN census's episode ids): a keyed pseudonym
    # under the column's own name, so it stays the table's key and still joins.
    RECORD_ID = "record_id"


class Column(Model):
    name: str
    renamed_from: tuple[str, ...] = Field(
        (), alias="from", description="Other names the column has in some files (a release "
                                      "that renamed it): a file without `name` but with one "
                                      "of these, the first found, loads it as `name`")
    type: ColumnType = ColumnType.STRING
    required: bool = False
    codes: tuple[str, ...] = Field((), description="The only values allowed, if listed")
    minimum: float | None = None
    maximum: float | None = None
    date_formats: tuple[str, ...] = Field(
        ("%Y-%m-%d", "%d/%m/%Y", "%d-%b-%Y"),
        description="strptime formats tried in order (%d-%b-%Y is Oracle's 11-SEP-2017); a "
                    "time of day after the date, as database extracts write datetimes, is "
                    "allowed and dropped")
    identifier: Identifier | None = None
    markers: dict[str, str] = Field(
        default_factory=dict,
        description="Values that stand for a reason there is no number, as published files "
                    "use them (DfE: c suppressed, z not applicable, x and : not available); "
                    "they become nulls with the reason in <column>_note")
    description: str | None = None
    # Issue 15, part 5: values mapped, LA numbers turned into codes (see docs/loading.md).
    values: dict[str, str] = Field(
        default_factory=dict,
        description="Raw values mapped to declared ones before any check (Y: 'true', or an "
                    "old code list's codes to the new list's)")
    la_code: str | None = Field(
        None, description="This column holds DfE's old three-digit LA numbers: the ONS code "
                          "of each (from the carried geography/las.csv) is stored in a "
                          "column of this name; an unknown number is a problem of its row")

    @field_validator("renamed_from", mode="before")
    @classmethod
    def _one_or_several(cls, names: object) -> object:
        return (names,) if isinstance(names, str) else names

    @model_validator(mode="after")
    def _range_fits_type(self) -> Column:
        if (self.minimum is not None or self.maximum is not None) and self.type not in (
                ColumnType.INTEGER, ColumnType.NUMBER):
            raise ValueError("minimum and maximum apply to integer and number columns only")
        return self


class Derived(Model):
    """A test worked out at load, from the raw values, before identifiers are protected: e.g.
    whether a visit was within 14 days of birth, which needs the exact date of birth that
    the store never holds. Only tests (true/false) are allowed, so that an exact date of
    birth cannot be worked back from a stored number."""

    name: str
    test: str = Field(description="A true/false expression over the declared (raw) columns")
    description: str | None = None


class Agreement(Model):
    reference: str = Field(description="The data-sharing agreement's reference")
    purpose: str | None = None


class Retention(Model):
    analytic_years: int = Field(ge=1, le=50, description="How long pseudonymised rows are kept")
    linkage_months: int = Field(ge=1, le=120, description="How long raw identifiers are kept")


class PeriodRule(Model):
    """How a row's reporting period is found: a date column and a period type."""

    column: str
    type: PeriodType


class Schedule(Model):
    every: Literal["month", "quarter", "year"]
    due_days: int = Field(30, ge=0, description="Days after a period ends that data is due")


class Disclosure(Model):
    suppress_below: int = Field(5, ge=0, description="Counts from 1 up to this are suppressed")
    round_to: int | None = Field(None, ge=1)


class PeriodFormat(StrEnum):
    """How a published file writes its periods."""

    LABEL = "label"  # as the field writes them: Fingertips "2023/24", "2024", "2024/25 Q1"
    YEAR_PAIR = "year_pair"  # DfE academic or financial years: 202324 -> "2023/24"
    YEAR_ENDING = "year_ending"  # DfE reporting years: 2024 (the year to 31 March) -> "2023/24"
    YEAR = "year"  # calendar years: 2024 -> "2024"


class ComparatorPeriod(Model):
    column: str
    format: PeriodFormat = PeriodFormat.LABEL
    type: PeriodType | None = Field(
        None, description="The period type of the values (default: the indicator's)")


class ComparatorDenominator(Model):
    """A denominator published in another source with the same area and period columns, such
    as DfE's child population beside its counts of children in need."""

    source: Slug
    column: str
    offset: int = Field(0, ge=-10, le=10, description=(
        "Years from the row's period to the denominator's: -1 takes the population of the "
        "year before, as DfE does for rates at 31 March"))


class Comparator(Model):
    """How a published file's rows become comparator values of one indicator: which columns
    hold what. The value is the published one, or else count / denominator x the indicator's
    multiplier; limits are the published ones, or else computed from count and denominator."""

    indicator: Slug
    area: str | tuple[str, ...] = Field(
        description="The column holding the area's ONS code, or several tried in order (the "
                    "first that is not empty), as DfE files spread codes over new_la_code, "
                    "region_code and country_code")
    period: ComparatorPeriod
    value: str | None = None
    lower_95: str | None = None
    upper_95: str | None = None
    lower_998: str | None = None
    upper_998: str | None = None
    count: str | None = None
    denominator: str | ComparatorDenominator | None = None
    note: str | None = Field(None, description="A column with the published value note")
    where: dict[str, str | tuple[str, ...]] = Field(
        default_factory=dict, description="Only rows with these values (a list allows any of "
                                          "them; '' matches an empty cell)")
    exclude: dict[str, str | tuple[str, ...]] = Field(
        default_factory=dict, description="Leave out rows with these values")
    scale: float = Field(1.0, gt=0, description="Multiplies the published value and limits "
                                                "when the file's unit differs from the "
                                                "indicator's (e.g. 100 for a 0-1 proportion)")

    @model_validator(mode="after")
    def _has_a_value(self) -> Comparator:
        if self.value is None and (self.count is None or self.denominator is None):
            raise ValueError("a comparator needs a 'value' column, or 'count' and "
                             "'denominator' to compute it from")
        if (self.lower_95 is None) != (self.upper_95 is None) or (
                self.lower_998 is None) != (self.upper_998 is None):
            raise ValueError("give both limits of an interval, or neither")
        return self

    @property
    def areas(self) -> tuple[str, ...]:
        return (self.area,) if isinstance(self.area, str) else self.area

    def named_columns(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Every column the mapping names, with where in the mapping it is named."""
        out: list[tuple[tuple[str | int, ...], str]] = (
            [(("area",), self.area)] if isinstance(self.area, str)
            else [(("area", k), c) for k, c in enumerate(self.area)])
        out.append((("period", "column"), self.period.column))
        for name in ("value", "lower_95", "upper_95", "lower_998", "upper_998", "count", "note"):
            column = getattr(self, name)
            if column is not None:
                out.append(((name,), column))
        if isinstance(self.denominator, str):
            out.append((("denominator",), self.denominator))
        out.extend((("where", c), c) for c in self.where)
        out.extend((("exclude", c), c) for c in self.exclude)
        return out


class LatestReturn(Model):
    """The latest-return rule for an annual return (SSDA903, the CIN census): each year's
    return repeats every record still open, so for each `key` only the row from the latest
    `year` is kept, within a multi-year file and across the files loaded one by one (each
    load merges with the stored rows); the rows it supersedes are counted and reported."""

    year: str = Field(description="The column holding the collection year, e.g. YEAR")
    key: tuple[str, ...] = Field((), description="The columns naming one record across "
                                                 "returns (default: the source's key)")
    file_year: int | str | None = Field(
        None, description="For a file without the year column (one return a file): the "
                          "collection year of every file, or a pattern whose one group "
                          "finds it in the file's name, e.g. 'episodes_(\\d{4})'")

    @field_validator("file_year")
    @classmethod
    def _one_group(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, int) and not 1900 < value < 2200:
            raise ValueError(f"{value} is not a collection year")
        if isinstance(value, str):
            try:
                groups = re.compile(value).groups
            except re.error as exc:
                raise ValueError(f"'{value}' is not a regular expression ({exc})") from None
            if groups != 1:
                raise ValueError(f"'{value}' needs exactly one group, (...), around the year")
        return value


class Release(Model):
    """Published releases of one publication (a DfE table, a Fingertips indicator): each file
    is a release, kept beside the others; for each area and period the newest release's
    figure is used and the figures it revises are listed (tracking/comparators.py)."""

    publication: Slug | None = Field(
        None, description="The publication the source's files are releases of (default: the "
                          "source's id); sources naming the same publication are releases "
                          "of one publication")
    column: str | None = Field(
        None, description="The column holding each row's period: a release is named by, and "
                          "ordered by, the latest period it covers (default: the built-in's)")
    published: date | None = Field(
        None, description="The release's publication date, for a source that holds one "
                          "release: orders releases that cover the same latest period")


class Unpivot(Model):
    """A wide table (a period in each of several column names) turned long at load: each
    matching column becomes a row with the period and the value in declared columns."""

    columns: str = Field(description="A regular expression the wide columns' names match in "
                                     "full; its first group, or the whole name, is the period "
                                     "(e.g. 'Value (\\d{4})' or '\\d{4}(/\\d{2})?')")
    period: str = Field(description="The declared column the period goes to")
    value: str = Field(description="The declared column the value goes to")

    @field_validator("columns")
    @classmethod
    def _a_pattern(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"'{pattern}' is not a regular expression ({exc})") from None
        return pattern


class SourceTemplate(DocumentModel):
    """A built-in source shape shipped with the product (kind: source-template), such as the
    Standard Safeguarding Dataset's tables; a workspace adopts one with `builtin:`."""

    KIND: ClassVar[str] = "source-template"
    kind: Literal["source-template"]
    id: Slug
    family: str
    name: str
    period: PeriodRule | None = None
    schedule: Schedule
    key: tuple[str, ...] = ()
    columns: tuple[Column, ...]
    table: str | None = Field(None, description="For a file holding several tables (the CIN "
                                                "census XML): the one this source takes")
    release: Release | None = None
    markers: dict[str, str] = Field(
        default_factory=dict, description="The publisher's symbols for a missing number: "
                                          "every integer or number column a declaration adds "
                                          "gets them unless it lists its own")
    latest_return: LatestReturn | None = Field(
        None, description="The return's latest-return rule (the CIN census: each record from "
                          "the latest census's year)")


class SourceDeclaration(DocumentModel):
    KIND: ClassVar[str] = "source"
    kind: Literal["source"]
    id: Slug
    builtin: str | None = Field(
        None, description="Adopt a built-in source's columns, key, period and schedule, e.g. "
                          "ssd/ssd-cp-plans (a key, period or schedule given here replaces "
                          "the built-in's; columns given here add to its columns, or replace "
                          "the one of the same name)")
    name: str
    partner: Slug
    agreement: Agreement
    retention: Retention
    policy: Literal["reject", "quarantine"] = "quarantine"
    files: str = Field(description="Where its files arrive, as a pattern under incoming/, "
                                   "e.g. maternity/*.parquet")
    period: PeriodRule | None = Field(
        None, description="How a row's period is found; without one, each file replaces the "
                          "whole source (reference data such as a postcode directory)")
    schedule: Schedule | None = None
    key: tuple[str, ...] = Field((), description="Columns that identify a row uniquely")
    disclosure: Disclosure = Disclosure()
    columns: tuple[Column, ...] = ()
    derived: tuple[Derived, ...] = Field(
        (), description="Tests worked out at load from raw values, stored as true/false")
    comparators: tuple[Comparator, ...] = Field(
        (), description="For published figures (a Fingertips export, a DfE tidy CSV): how "
                        "rows become comparator values of framework or local indicators")
    latest_return: LatestReturn | None = Field(
        None, description="For a multi-year extract: keep each record's row from the latest "
                          "return only (its year column is added to the columns if not "
                          "declared)")
    la_filter: str | None = Field(
        None, description="A column naming each row's LA (ONS code or DfE's three-digit "
                          "number): only the workspace's own rows are loaded, the others "
                          "counted and reported (the column is added if not declared)")
    release: Release | None = Field(
        None, description="Each file is a release of a publication, kept beside the others; "
                          "the newest release's figure wins period by period")
    unpivot: Unpivot | None = Field(
        None, description="A wide table: columns whose names carry a period become rows")

    @field_validator("files")
    @classmethod
    def _files_stay_inside_incoming(cls, pattern: str) -> str:
        """The pattern is resolved under incoming/; it must not climb out of it."""
        parts = pattern.replace("\\", "/").split("/")
        if pattern.startswith(("/", "~")) or ":" in parts[0] or ".." in parts:
            raise ValueError(f"'{pattern}' must be a pattern inside incoming/ (no '..', no "
                             "absolute path)")
        return pattern

    @model_validator(mode="after")
    def _names_are_known(self) -> SourceDeclaration:
        if self.builtin is None and (not self.columns or self.schedule is None):
            raise ValueError("a source needs 'columns' and 'schedule' (or a 'builtin' to adopt)")
        if not self.columns:
            return self
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError("column names must be unique")
        earlier = [n for c in self.columns for n in c.renamed_from]
        if len(set(earlier)) != len(earlier) or set(earlier) & set(names):
            raise ValueError("a name under 'from' must belong to one column only, and not be "
                             "another column's name")
        derived = [c.la_code for c in self.columns if c.la_code]
        if set(derived) & set(names) or len(set(derived)) != len(derived):
            raise ValueError("an 'la_code' column is derived: give it a name no other column "
                             "has")
        # Key and period columns are checked once a built-in is filled in (data/checks.py).
        return self

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def analytic_columns(self) -> dict[str, str]:
        """The columns this source has in the analytic store, with their types: identifiers
        as they become at the door (see data/protect.py), names gone, plus `period`."""
        out: dict[str, str] = {}
        for c in self.columns:
            kind = c.identifier
            if kind is None or kind is Identifier.RECORD_ID:
                out[c.name] = c.type.value
                if c.markers:
                    out[f"{c.name}_note"] = "string"
                if c.la_code:
                    out[c.la_code] = "string"
            elif kind in (Identifier.NHS_NUMBER, Identifier.UPN, Identifier.CASE_ID):
                out[f"{c.name}_pseudonym"] = "string"
            elif kind is Identifier.DATE_OF_BIRTH:
                out[f"{c.name}_month"] = "date"
            elif kind is Identifier.POSTCODE:
                out[f"{c.name}_sector"] = "string"
                out[f"{c.name}_lsoa"] = "string"
        out.update({d.name: "boolean" for d in self.derived})
        out["period"] = "string"
        return out


SOURCE_KINDS: dict[str, type[DocumentModel]] = {SourceDeclaration.KIND: SourceDeclaration}
TEMPLATE_KINDS: dict[str, type[DocumentModel]] = {SourceTemplate.KIND: SourceTemplate}
