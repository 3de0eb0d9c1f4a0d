"""Cross-checks of source declarations against the rest of the workspace."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping

from common_outcomes.data.builtin import resolve, templates
from common_outcomes.data.declarations import Comparator, PeriodFormat, SourceDeclaration
from common_outcomes.documents import Document
from common_outcomes.errors import Issues, Location
from common_outcomes.framework.models import Indicator, Unit
from common_outcomes.indicators.definitions import Definition, DefinitionsDocument, Measure
from common_outcomes.indicators.expressions import (
    ExpressionError,
    check_columns,
    is_condition,
    parse,
)
from common_outcomes.periods import PeriodType
from common_outcomes.strategy import Workspace

# A value computed from count and denominator needs the indicator's multiplier.
MULTIPLIERS = {Unit.PERCENT: 100.0, Unit.RATE_PER_1000: 1e3, Unit.RATE_PER_10000: 1e4,
               Unit.RATE_PER_100000: 1e5}
# The period types each published period format can write.
FORMAT_TYPES = {
    PeriodFormat.YEAR: {PeriodType.CALENDAR_YEAR},
    PeriodFormat.YEAR_PAIR: {PeriodType.FINANCIAL_YEAR, PeriodType.ACADEMIC_YEAR},
    PeriodFormat.YEAR_ENDING: {PeriodType.FINANCIAL_YEAR, PeriodType.ACADEMIC_YEAR},
}


def check_sources(workspace: Workspace, issues: Issues) -> None:
    partners = {p.id for p in workspace.partners}
    seen: dict[str, str] = {}
    for doc in workspace.extras:
        decl = doc.model
        if not isinstance(decl, SourceDeclaration):
            continue
        if decl.id in seen:
            issues.error("ref.duplicate-id", f"Source id '{decl.id}' is declared twice; the "
                         f"first is in {seen[decl.id]}.", doc.source.locate(("id",)),
                         "Give each source its own id.")
        seen.setdefault(decl.id, doc.source.file)
        if decl.builtin is not None and decl.builtin not in templates():
            issues.error("ref.unknown-builtin", f"Source '{decl.id}' adopts unknown built-in "
                         f"'{decl.builtin}'.", doc.source.locate(("builtin",)),
                         f"built-ins: {', '.join(sorted(templates()))}")
        else:
            resolved = resolve(decl)
            check_key_columns(resolved, doc, issues)
            check_renames(decl, resolved, doc, issues)
            check_derived(resolved, doc, issues)
        if decl.partner not in partners:
            issues.error("ref.unknown-partner", f"Source '{decl.id}' names unknown partner "
                         f"'{decl.partner}'.", doc.source.locate(("partner",)),
                         "use a partner id from the partners file")


def check_key_columns(decl: SourceDeclaration, doc: Document, issues: Issues) -> None:
    """The key, period and release columns must be among the columns (a built-in's included):
    a store without them cannot tell one row, one period or one release from another."""
    names = {c.name for c in decl.columns}
    named: list[tuple[tuple[str | int, ...], str, str]] = [
        (("key", i), "key", name) for i, name in enumerate(decl.key)]
    if decl.period is not None:
        named.append((("period", "column"), "period", decl.period.column))
    if decl.release is not None and decl.release.column is not None:
        named.append((("release", "column"), "release", decl.release.column))
    for where, role, name in named:
        if name not in names:
            issues.error("ref.unknown-column", f"Source '{decl.id}' names '{name}' as its "
                         f"{role} column, but it is not one of its columns.",
                         doc.source.locate(where), _nearest(name, dict.fromkeys(names, "")))


def check_renames(decl: SourceDeclaration, resolved: SourceDeclaration, doc: Document,
                  issues: Issues) -> None:
    """A name under `from:` reads one column only and is no other column's name, counting a
    built-in's columns (the declaration's own are checked as it is read)."""
    names = {c.name for c in resolved.columns}
    own = [c.name for c in decl.columns]
    read_as: dict[str, str] = {}
    for column in resolved.columns:
        for name in column.renamed_from:
            clash = ("another column's name" if name in names
                     else f"already read as '{read_as[name]}'" if name in read_as else None)
            read_as.setdefault(name, column.name)
            if clash is None:
                continue
            where = (("columns", own.index(column.name), "from") if column.name in own
                     else ("builtin",))
            issues.error("schema.invalid-value", f"Source '{decl.id}' reads '{name}' as "
                         f"'{column.name}', but '{name}' is {clash}: a name under 'from' must "
                         "belong to one column only, and not be another column's name.",
                         doc.source.locate(where), "remove it from 'from', or rename the other "
                         "column")


def check_derived(decl: SourceDeclaration, doc: Document, issues: Issues) -> None:
    """A source's derived tests: true/false expressions over its declared (raw) columns."""
    raw = {c.name: c.type.value for c in decl.columns}
    for i, derived in enumerate(decl.derived):
        where = doc.source.locate(("derived", i, "test"))
        _check_expression(derived.test, raw, where, issues)
        try:
            condition = is_condition(parse(derived.test))
        except ExpressionError:
            continue
        if not condition:
            issues.error("derived.not-a-test", f"The derived column '{derived.name}' is not a "
                         "true/false test; a stored number could give back the exact value it "
                         "came from.", where, "compare it: e.g. date_diff('day', dob, "
                         "visit_date) <= 14")
        if derived.name in raw:
            issues.error("ref.duplicate-id", f"The derived column '{derived.name}' has the name "
                         "of a declared column.", doc.source.locate(("derived", i, "name")))


def check_definitions(workspace: Workspace, sources: Mapping[str, SourceDeclaration],
                      indicator_ids: set[str], issues: Issues) -> None:
    """Indicator definitions against the indicators and the sources' analytic columns."""
    for doc in workspace.extras:
        if not isinstance(doc.model, DefinitionsDocument):
            continue
        for i, definition in enumerate(doc.model.definitions):
            def at(*sub: str, _i: int = i, _doc: Document = doc) -> Location:
                return _doc.source.locate(("definitions", _i, *sub))

            if definition.indicator not in indicator_ids:
                issues.error("ref.unknown-indicator", f"Definition for unknown indicator "
                             f"'{definition.indicator}'.", at("indicator"),
                             "use a framework or local indicator id")
            decl = _source(sources, definition.source, f"Definition of "
                           f"'{definition.indicator}' names", at("source"), issues)
            if decl is None:
                continue
            _check_measure(definition, at, issues)
            columns = decl.analytic_columns()
            if definition.previous:
                _check_column(definition.previous, "previous", columns, at("previous"), issues)
                columns = {**columns, "previous_date": "date"}
            if definition.value:
                _check_expression(definition.value, columns, at("value"), issues)
            if definition.standardise:
                _check_expression(definition.standardise.age, columns,
                                  at("standardise", "age"), issues)
            # With per-person totals, the numerator and denominator test those totals.
            tested = _check_per_person(definition, columns, at, issues)
            _check_expression(definition.numerator, tested, at("numerator"), issues)
            if isinstance(definition.denominator, str):
                _check_expression(definition.denominator, tested, at("denominator"), issues)
            else:
                _check_other_denominator(definition, sources, at, issues)
            _check_column(definition.date, "date", columns, at("date"), issues, {"date"})
            if definition.area_from is None:
                _check_column(definition.area, "area", columns, at("area"), issues, {"string"})
            else:
                _check_area_from(definition, columns, sources, at, issues)
            if definition.open_until:
                _check_column(definition.open_until, "open until", columns, at("open_until"),
                              issues, {"date"})
                if definition.person:
                    issues.error("definition.stock-of-people", "A stock (open_until) counts "
                                 "records open at each period's end and cannot also count "
                                 "people once each.", at("person"), "remove person")
            if definition.person:
                _check_column(definition.person, "person", columns, at("person"), issues)
            for k, name in enumerate(definition.breakdowns):
                _check_column(name, "breakdown", columns, at("breakdowns", str(k)), issues)


STANDARDISED = (Measure.DIRECTLY_STANDARDISED_RATE, Measure.INDIRECTLY_STANDARDISED_RATIO)


def _check_measure(definition: Definition, at: Callable[..., Location], issues: Issues) -> None:
    """What each measure needs: a mean its value, a standardised rate the ages, and neither
    with what the engine cannot combine them with (people, stocks, per-person totals)."""
    measure = definition.measure
    needs = ("value" if measure is Measure.MEAN and definition.value is None else
             "standardise" if measure in STANDARDISED and definition.standardise is None else
             None)
    if needs:
        issues.error("definition.measure-incomplete", f"A '{measure.value}' indicator needs "
                     f"'{needs}'.", at("measure"),
                     "value: the expression to average" if needs == "value" else
                     "standardise: {age: <age in years>}")
    special = measure is Measure.MEAN or measure in STANDARDISED
    if special and (definition.person or definition.open_until or definition.per_person):
        issues.error("definition.measure-incomplete", f"A '{measure.value}' indicator cannot "
                     "count people once each, stocks or per-person totals.", at("measure"))
    if measure is Measure.MEAN and not isinstance(definition.denominator, str):
        issues.error("definition.measure-incomplete", "A mean averages over its own source's "
                     "records, not over a denominator from another source.", at("denominator"))
    other = definition.denominator
    if (definition.standardise is not None and not isinstance(other, str)
            and definition.standardise.population_age is None):
        issues.error("definition.measure-incomplete", "Standardising over another source's "
                     "population needs that population's age (standardise.population_age).",
                     at("standardise"))


def _check_per_person(definition: Definition, columns: Mapping[str, str],
                      at: Callable[..., Location], issues: Issues) -> Mapping[str, str]:
    """The columns the numerator and denominator may use: the source's, or a person's totals."""
    if not definition.per_person:
        return columns
    if not definition.person:
        issues.error("definition.totals-without-person", "Per-person totals need the column "
                     "that identifies a person.", at("per_person"), "add person")
    if not isinstance(definition.denominator, str):
        issues.error("definition.totals-without-person", "Per-person totals are tested by a "
                     "denominator on the same source, not one from another source.",
                     at("denominator"))
    _check_expression(definition.records, columns, at("records"), issues)
    for name, text in definition.per_person.items():
        _check_expression(text, columns, at("per_person", name), issues)
    return {name: "number" for name in definition.per_person}


def _source(sources: Mapping[str, SourceDeclaration], name: str, what: str, where: Location,
            issues: Issues) -> SourceDeclaration | None:
    """The declared source called `name`, or an error ("<what> unknown source 'x'.")."""
    decl = sources.get(name)
    if decl is None:
        issues.error("ref.unknown-source", f"{what} unknown source '{name}'.", where,
                     f"sources: {', '.join(sorted(sources)) or 'none declared'}")
    return decl


def _check_area_from(definition: Definition, columns: Mapping[str, str],
                     sources: Mapping[str, SourceDeclaration], at: Callable[..., Location],
                     issues: Issues) -> None:
    """The area taken from another source by person: both keys and the area must be there."""
    lookup = definition.area_from
    assert lookup is not None
    decl = _source(sources, lookup.source, f"The area of '{definition.indicator}' comes from",
                   at("area_from", "source"), issues)
    if decl is None:
        return
    theirs = decl.analytic_columns()
    _check_column(lookup.key, "person key", columns, at("area_from", "key"), issues)
    _check_column(lookup.person, "person", theirs, at("area_from", "person"), issues)
    _check_column(definition.area, "area", theirs, at("area"), issues, {"string"})
    if lookup.start:
        _check_column(lookup.start, "start", theirs, at("area_from", "start"), issues, {"date"})


def _check_other_denominator(definition: Definition, sources: Mapping[str, SourceDeclaration],
                             at: Callable[..., Location], issues: Issues) -> None:
    """A denominator from another source: its columns, and every breakdown, must be there."""
    other = definition.denominator
    assert not isinstance(other, str)
    decl = _source(sources, other.source, f"The denominator of '{definition.indicator}' names",
                   at("denominator", "source"), issues)
    if decl is None:
        return
    columns = decl.analytic_columns()
    _check_expression(other.filter, columns, at("denominator", "filter"), issues)
    if definition.standardise and definition.standardise.population_age:
        _check_expression(definition.standardise.population_age, columns,
                          at("standardise", "population_age"), issues)
    if other.value:
        _check_expression(other.value, columns, at("denominator", "value"), issues)
    _check_column(other.date, "date", columns, at("denominator", "date"), issues, {"date"})
    _check_column(other.area, "area", columns, at("denominator", "area"), issues, {"string"})
    for k, name in enumerate(definition.breakdowns):
        if name not in columns:
            issues.error("definition.bad-column", f"The breakdown '{name}' is not a column of "
                         f"the denominator's source '{other.source}', so it cannot be divided "
                         "by it.", at("breakdowns", str(k)))


def _check_expression(text: str, columns: Mapping[str, str], where: Location,
                      issues: Issues) -> None:
    try:
        tree = parse(text)
    except ExpressionError as exc:
        for p in exc.problems:
            at = f" (at character {p.column})" if p.column else ""
            issues.error(p.code, f"{p.message}{at}.", where,
                         "columns, literals, comparisons, and/or/not, in, between, is null, "
                         "arithmetic, date_diff/year/month")
        return
    for p in check_columns(tree, columns):
        issues.error(p.code, f"{p.message}.", where,
                     "columns are the store's: identifiers arrive as _pseudonym, _month, "
                     "_sector or _lsoa")


def _check_column(name: str, role: str, columns: Mapping[str, str], where: Location,
                  issues: Issues, types: set[str] | None = None) -> None:
    if name not in columns:
        issues.error("definition.bad-column", f"The {role} column '{name}' is not a column of "
                     "the source in the store.", where, _nearest(name, columns))
    elif types and columns[name] not in types:
        issues.error("definition.bad-column", f"The {role} column '{name}' is a "
                     f"{columns[name]} column, not {' or '.join(sorted(types))}.", where)


def check_comparators(workspace: Workspace, sources: Mapping[str, SourceDeclaration],
                      indicators: Mapping[str, Indicator], issues: Issues) -> None:
    """Comparator mappings of published sources against the indicators and the columns."""
    for doc in workspace.extras:
        decl = doc.model
        if not isinstance(decl, SourceDeclaration):
            continue
        resolved = sources.get(decl.id, decl)
        for i, mapping in enumerate(decl.comparators):
            def at(*sub: str | int, _i: int = i, _doc: Document = doc) -> Location:
                return _doc.source.locate(("comparators", _i, *sub))

            _check_mapping(mapping, resolved, sources, indicators.get(mapping.indicator), at,
                           issues)


def _check_mapping(mapping: Comparator, decl: SourceDeclaration,
                   sources: Mapping[str, SourceDeclaration], indicator: Indicator | None,
                   at: Callable[..., Location], issues: Issues) -> None:
    columns = decl.analytic_columns()
    for where, name in mapping.named_columns():
        _comparator_column(name, decl.id, columns, at(*where), issues)
    other = mapping.denominator
    if other is not None and not isinstance(other, str):
        found = _source(sources, other.source, "The comparator denominator names",
                        at("denominator", "source"), issues)
        if found is not None:
            # The other source is matched on the same area and period columns.
            theirs = found.analytic_columns()
            for name in (other.column, *mapping.areas, mapping.period.column):
                _comparator_column(name, found.id, theirs, at("denominator"), issues)
    if indicator is None:
        issues.error("ref.unknown-indicator", f"Comparator for unknown indicator "
                     f"'{mapping.indicator}'.", at("indicator"),
                     "use a framework or local indicator id")
        return
    if mapping.value is None and indicator.unit not in MULTIPLIERS:
        issues.error("comparator.bad-unit", f"'{indicator.id}' is a {indicator.unit.value} "
                     "indicator, so its value cannot be computed from count and denominator.",
                     at("count"), "map the published 'value' column")
    ptype = mapping.period.type or indicator.period_type
    allowed = FORMAT_TYPES.get(mapping.period.format)
    if allowed is not None and ptype not in allowed:
        fits = sorted(f.value for f, types in FORMAT_TYPES.items() if ptype in types)
        issues.error("comparator.bad-period", f"The period format "
                     f"'{mapping.period.format.value}' cannot write a "
                     f"{ptype.value.replace('_', ' ')}, the period type of '{indicator.id}'.",
                     at("period", "format"), f"use one of: {', '.join([*fits, 'label'])}")


def _comparator_column(name: str, source: str, columns: Mapping[str, str], where: Location,
                       issues: Issues) -> None:
    if name not in columns:
        issues.error("comparator.bad-column", f"The comparator names column '{name}', which "
                     f"source '{source}' does not declare.", where, _nearest(name, columns))


def _nearest(name: str, columns: Mapping[str, str]) -> str | None:
    close = difflib.get_close_matches(name, list(columns), n=1)
    return f"did you mean '{close[0]}'?" if close else None
