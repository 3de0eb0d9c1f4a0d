"""From indicator definitions to one query per pass over a source.

Definitions on the same source that place records by the same date and area column (and count
the same people, if they count people) share a pass: one scan counts every numerator and
denominator at once (SUM of CASE WHEN ...), grouped by small area and month. A denominator
from another source (a population) is summed in a pass of its own over that source. The SQL is
a sqlglot tree; each engine renders it in its dialect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlglot import exp

from common_outcomes.indicators.definitions import AreaFrom, Definition, OtherDenominator
from common_outcomes.indicators.expressions import parse


@dataclass(frozen=True)
class Part:
    """A Parquet part of the store and the periods for which its rows are current."""

    path: Path
    periods: tuple[str, ...]


@dataclass(frozen=True)
class Pass:
    """One scan of a source. With `person`, counts are per person (0 or 1 flags), so that
    stage two can count each person once per period; `denominators` are the passes over other
    sources that its definitions divide by."""

    source: str
    date: str
    area: str
    breakdowns: tuple[str, ...]
    definitions: tuple[Definition, ...]
    parts: tuple[Part, ...]
    person: str | None = None
    denominators: tuple[DenominatorPass, ...] = ()
    area_from: AreaFrom | None = None
    open_until: str | None = None
    places: tuple[Part, ...] = ()  # the parts of area_from's source
    age: str | None = None  # grouped by age band too (standardised rates)
    previous: str | None = None  # each record gets its person's previous date (previous_date)


@dataclass(frozen=True)
class DenominatorPass:
    """A scan of another source summing one definition's denominator (e.g. a population)."""

    indicator: str
    denominator: OtherDenominator
    breakdowns: tuple[str, ...]
    parts: tuple[Part, ...]
    age: str | None = None  # the denominator's age in years, for standardised rates


def plan_passes(definitions: Sequence[Definition], parts: dict[str, list[Part]]) -> list[Pass]:
    groups: dict[tuple[str, ...], list[Definition]] = {}
    for d in definitions:
        groups.setdefault((d.source, d.date, d.area, d.person or "", d.open_until or "",
                           d.area_from.model_dump_json() if d.area_from else "",
                           d.standardise.age if d.standardise else "", d.previous or ""),
                          []).append(d)
    # One scan serves every definition: grouped by every breakdown any of them asks for;
    # a definition without one simply sums over them.
    passes = []
    for (source, date, area, person, _, _, _, _), defs in sorted(groups.items()):
        first = defs[0]
        passes.append(Pass(
            source, date, area, tuple(sorted({b for d in defs for b in d.breakdowns})),
            tuple(defs), tuple(parts.get(source, [])), person or None,
            tuple(DenominatorPass(d.indicator, d.denominator, d.breakdowns,
                                  tuple(parts.get(d.denominator.source, [])),
                                  d.standardise.population_age if d.standardise else None)
                  for d in defs if isinstance(d.denominator, OtherDenominator)),
            first.area_from, first.open_until,
            tuple(parts.get(first.area_from.source, [])) if first.area_from else (),
            first.standardise.age if first.standardise else None, first.previous))
    return passes


def sources_of(d: Definition) -> tuple[str, ...]:
    """The sources a definition reads."""
    out = [d.source]
    if isinstance(d.denominator, OtherDenominator):
        out.append(d.denominator.source)
    if d.area_from:
        out.append(d.area_from.source)
    return tuple(out)


def breakdown_column(name: str) -> str:
    return f"breakdown__{name}"


def numerator_column(indicator: str) -> str:
    return f"{indicator}__numerator"


def denominator_column(indicator: str) -> str:
    return f"{indicator}__denominator"


def total_column(indicator: str, name: str) -> str:
    return f"{indicator}__total__{name}"


def _count_where(condition: exp.Expr, value: exp.Expr | None = None,
                 flag: bool = False) -> exp.Expr:
    """SUM of `value` (default 1) where the condition holds; MAX for a person's 0/1 flag."""
    then = value if value is not None else exp.Literal.number(1)
    return exp.func("MAX" if flag else "SUM",
                    exp.Case(ifs=[exp.If(this=condition, true=then)],
                             default=exp.Literal.number(0)))


def _scan(parts: Sequence[Part], root: Path | None = None) -> exp.Expr:
    """The current rows of a source: each part, only for the periods it is current for.

    With `root`, paths are shown relative to it (for `explain` and golden files)."""
    def shown(path: Path) -> str:
        return str(path.relative_to(root)) if root is not None else str(path)

    selects = [
        exp.select(exp.Star()).from_(exp.func("read_parquet", exp.Literal.string(shown(p.path))))
        .where(exp.column("period").isin(*(exp.Literal.string(x) for x in p.periods)))
        for p in parts
    ]
    union: exp.Expr = selects[0]
    for more in selects[1:]:
        union = exp.union(union, more, distinct=False, copy=False)  # copying is quadratic
    return exp.Subquery(this=union, alias=exp.TableAlias(this=exp.to_identifier("rows")))


def _month(date: str) -> exp.Expr:
    return exp.func("DATE_TRUNC", exp.Literal.string("month"), exp.column(date))


BANDS = 19  # five-year age bands, 0-4 to 85-89, and 90 and over


def _band(age: str) -> exp.Expr:
    """The age band (0 to 18) of an age in years: five-year bands, 90 and over last."""
    five = exp.func("FLOOR", exp.Div(this=exp.Paren(this=parse(age)),
                                     expression=exp.Literal.number(5)))
    return exp.cast(exp.func("LEAST", five, exp.Literal.number(BANDS - 1)), "int")


# The small area of a record without one: it still counts for the borough (run.areas_of
# places it in the LA and nowhere below), so the borough's figure is all of its records.
NO_AREA = "(no small area)"


def _small_area(area: str) -> exp.Expr:
    return exp.func("COALESCE", exp.column(area), exp.Literal.string(NO_AREA))


def _grouped(month: exp.Expr, area: str, breakdowns: Sequence[str], person: str | None = None,
             age: str | None = None, closes: str | None = None
             ) -> tuple[list[exp.Expr], list[exp.Expr]]:
    """The grouping columns (small area, month, month closed, person, age band, breakdowns),
    and their names."""
    columns: list[exp.Expr] = [_small_area(area).as_("area_code"), month.as_("month")]
    extra: tuple[str, ...] = ("person",) if person else ()
    columns += [exp.column(person).as_("person")] if person else []
    if closes:
        columns.append(_month(closes).as_(CLOSED))
        extra += (CLOSED,)
    if age:
        columns.append(_band(age).as_(BAND))
        extra += (BAND,)
    # Breakdowns as text, a missing value as 'unknown': one more grouping column each.
    for name in breakdowns:
        columns.append(exp.func("COALESCE", exp.cast(exp.column(name), "text"),
                                exp.Literal.string("unknown")).as_(breakdown_column(name)))
    names = ["area_code", "month", *extra, *(breakdown_column(b) for b in breakdowns)]
    return columns, [exp.column(n) for n in names]


def _present(*columns: str) -> exp.Expr:
    return exp.and_(*(exp.column(c).is_(exp.null()).not_() for c in columns))


AREA, CLOSED, BAND = "area__", "closed__", "band__"
PREVIOUS = "previous_date"


def _rows(p: Pass, root: Path | None) -> exp.Expr:
    """What a pass reads: the source's current rows; with `previous`, each with its person's
    previous date; with `area_from`, each joined to its person's latest small area."""
    rows = _scan(p.parts, root)
    if p.previous is not None:
        # The same person's record before this one in the source (all of it, not just the
        # periods counted: an earlier referral may be years back).
        before = exp.Window(this=exp.func("LAG", exp.column(p.date)),
                            partition_by=[exp.column(p.previous)],
                            order=exp.Order(expressions=[exp.Ordered(this=exp.column(p.date))]))
        rows = (exp.select(exp.Star(), before.as_(PREVIOUS)).from_(rows)
                .subquery("rows"))
    if p.area_from is not None:
        a = p.area_from
        order = [exp.Ordered(this=exp.column(a.start), desc=True, nulls_first=False)] if (
            a.start) else []
        rank = exp.Window(this=exp.func("ROW_NUMBER"), partition_by=[exp.column(a.person)],
                          order=exp.Order(expressions=[*order, exp.Ordered(
                              this=exp.column(p.area))]))
        ranked = (exp.select(exp.column(a.person).as_("person__"),
                             exp.column(p.area).as_(AREA), rank.as_("rank__"))
                  .from_(_scan(p.places, root)).where(_present(a.person, p.area)))
        places = (exp.select("person__", AREA).from_(ranked.subquery("ranked"))
                  .where(exp.column("rank__").eq(1)).subquery("places"))
        joined = (exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("rows")),
                             exp.column(AREA, table="places"))
                  .from_(rows).join(places, join_type="left", on=exp.column(
                      a.key, table="rows").eq(exp.column("person__", table="places"))))
        rows = joined.subquery("rows")
    return rows


def pass_query(p: Pass, root: Path | None = None) -> exp.Select:
    """Counts of every definition in the pass by small area and month (and person)."""
    area = AREA if p.area_from else p.area
    # A stock is counted by the months its records open and close, in the same scan; stage
    # two turns those into +1 and -1 and sums them to each period's end.
    columns, group = _grouped(_month(p.date), area, p.breakdowns, p.person, p.age,
                              p.open_until)
    flag = p.person is not None
    for d in p.definitions:
        if d.per_person:
            # Each person's totals by small area and month; tested once summed over a period.
            where = exp.Paren(this=parse(d.records))
            columns += [_count_where(where, exp.Paren(this=parse(text)))
                        .as_(total_column(d.indicator, name))
                        for name, text in sorted(d.per_person.items())]
            continue
        num = exp.Paren(this=parse(d.numerator))
        if d.value is not None and isinstance(d.denominator, str):
            # A mean: how many values, their sum and their sum of squares.
            den = exp.and_(exp.Paren(this=parse(d.denominator)),
                           exp.Paren(this=parse(d.value)).is_(exp.null()).not_())
            measured = exp.Paren(this=parse(d.value))
            columns.append(_count_where(den).as_(numerator_column(d.indicator)))
            columns.append(_count_where(den).as_(denominator_column(d.indicator)))
            columns.append(_count_where(den, measured).as_(total_column(d.indicator, "sum")))
            columns.append(_count_where(den, exp.Mul(this=measured, expression=measured.copy()))
                           .as_(total_column(d.indicator, "squares")))
            continue
        if isinstance(d.denominator, OtherDenominator):
            # The denominator is summed from its own source; this pass counts the numerator.
            columns.append(_count_where(num, flag=flag).as_(numerator_column(d.indicator)))
            continue
        den = exp.Paren(this=parse(d.denominator))
        columns.append(_count_where(exp.and_(den, num), flag=flag)
                       .as_(numerator_column(d.indicator)))
        columns.append(_count_where(den, flag=flag).as_(denominator_column(d.indicator)))
    # A record without a small area is kept (NO_AREA): it counts at LA level only.
    present = _present(p.date, *((p.person,) if p.person else ()))
    return exp.select(*columns).from_(_rows(p, root)).where(present).group_by(*group)


def denominator_query(dp: DenominatorPass, root: Path | None = None) -> exp.Select:
    """A denominator from another source: the sum of `value` (or a count) where `filter`
    holds, by small area and month (the month of the snapshot, for a population)."""
    d = dp.denominator
    columns, group = _grouped(_month(d.date), d.area, dp.breakdowns, age=dp.age)
    value = exp.Paren(this=parse(d.value)) if d.value else None
    columns.append(_count_where(exp.Paren(this=parse(d.filter)), value)
                   .as_(denominator_column(dp.indicator)))
    return (exp.select(*columns).from_(_scan(dp.parts, root)).where(_present(d.date))
            .group_by(*group))


def explain(p: Pass, dialect: str, root: Path | None = None) -> str:
    """The SQL of a pass, with a comment saying what each part does."""
    names = ", ".join(d.indicator for d in p.definitions)
    by = "".join(f", {b}" for b in p.breakdowns)
    person = (f"-- Each person ({p.person}) is flagged once per small area and month; stage two\n"
              f"-- counts each person once per period.\n") if p.person else ""
    if p.area_from:
        person += (f"-- The small area is the person's latest in source '{p.area_from.source}' "
                   f"(by {p.area_from.key}).\n")
    if p.open_until:
        person += (f"-- A stock: counted by the month each record opens ({p.date}) and closes "
                   f"({p.open_until});\n-- stage two makes those +1 and -1 and sums them to "
                   "each period's last month.\n")
    text = (f"-- Pass over source '{p.source}': counts {names}\n"
            f"-- by small area ({p.area}) and month ({p.date}){by}, in one scan of the\n"
            f"-- current Parquet parts of the store (each only for the periods it is current).\n"
            + person +
            "-- Roll-up to wards, localities and the borough, periods, intervals,\n"
            "-- comparisons and disclosure control follow in Arrow (engine/results.py).\n"
            + pass_query(p, root).sql(dialect=dialect, pretty=True) + ";\n")
    for dp in p.denominators:
        d = dp.denominator
        how = ("each period takes the latest snapshot on or before its end"
               if d.snapshot else "summed over each period")
        text += (f"\n-- Denominator of {dp.indicator} from source '{d.source}': "
                 f"{d.value or 'a count'} where {d.filter},\n-- by small area ({d.area}) and "
                 f"month ({d.date}); {how}.\n"
                 + denominator_query(dp, root).sql(dialect=dialect, pretty=True) + ";\n")
    return text
