"""Reporting periods as the field writes them.

Financial years run April-March ("2024/25"), academic years September-August
("2024/25"), quarters are of the financial year ("2024/25 Q1" is April-June 2024),
months are written "May 2024" and rolling periods "12 months to Mar 2025".
A label is only meaningful with its period type: "2024/25" is a different span
as a financial and as an academic year.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class PeriodType(StrEnum):
    FINANCIAL_YEAR = "financial_year"
    ACADEMIC_YEAR = "academic_year"
    CALENDAR_YEAR = "calendar_year"
    QUARTER = "quarter"
    MONTH = "month"
    ROLLING_12_MONTHS = "rolling_12_months"


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SPLIT_YEAR = re.compile(r"^(\d{4})/(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})/(\d{2}) Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
_MONTH = re.compile(r"^([A-Za-z]{3})[a-z]* (\d{4})$")
_ISO_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_ROLLING = re.compile(r"^12 months to ([A-Za-z]{3})[a-z]* (\d{4})$")

EXAMPLES = {
    PeriodType.FINANCIAL_YEAR: "2024/25",
    PeriodType.ACADEMIC_YEAR: "2024/25",
    PeriodType.CALENDAR_YEAR: "2024",
    PeriodType.QUARTER: "2024/25 Q1",
    PeriodType.MONTH: "May 2024",
    PeriodType.ROLLING_12_MONTHS: "12 months to Mar 2025",
}


@dataclass(frozen=True, order=True, slots=True)
class Period:
    """A closed span of days [start, end] with the label the field uses for it."""

    start: date
    end: date
    type: PeriodType

    @property
    def label(self) -> str:
        y = self.start.year
        match self.type:
            case PeriodType.FINANCIAL_YEAR | PeriodType.ACADEMIC_YEAR:
                return f"{y}/{(y + 1) % 100:02d}"
            case PeriodType.CALENDAR_YEAR:
                return str(y)
            case PeriodType.QUARTER:
                fy = y if self.start.month >= 4 else y - 1
                q = ((self.start.month - 4) % 12) // 3 + 1
                return f"{fy}/{(fy + 1) % 100:02d} Q{q}"
            case PeriodType.MONTH:
                return f"{_MONTHS[self.start.month - 1]} {y}"
            case PeriodType.ROLLING_12_MONTHS:
                return f"12 months to {_MONTHS[self.end.month - 1]} {self.end.year}"
        raise AssertionError(self.type)  # pragma: no cover

    def __str__(self) -> str:
        return self.label


def _month_end(year: int, month: int) -> date:
    first_next = date(year + month // 12, month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def _month_number(name: str) -> int:
    try:
        return _MONTHS.index(name[:3].title()) + 1
    except ValueError:
        raise ValueError(f"'{name}' is not a month") from None


def _split_year(label: str) -> int:
    m = _SPLIT_YEAR.match(label)
    if not m or (int(m[1]) + 1) % 100 != int(m[2]):
        raise ValueError(f"'{label}' is not a year written like '2024/25'")
    return int(m[1])


def parse_period(label: str, period_type: PeriodType) -> Period:
    """The period a label names; ValueError with a one-sentence reason otherwise."""
    text = str(label).strip()
    try:
        return _parse(text, period_type)
    except ValueError as exc:
        raise ValueError(
            f"{exc}; a {period_type.value.replace('_', ' ')} is written like "
            f"'{EXAMPLES[period_type]}'"
        ) from None


# The type a bare label most naturally names: a split year is the financial year.
_ANY_ORDER = (PeriodType.QUARTER, PeriodType.MONTH, PeriodType.CALENDAR_YEAR,
              PeriodType.ROLLING_12_MONTHS, PeriodType.FINANCIAL_YEAR)


def parse_any_period(label: str) -> Period:
    """A period from a label of any type ("2024/25" is the financial year, "2024", "2024/25
    Q1", "May 2024", "12 months to Mar 2025"); ValueError with the forms otherwise."""
    text = str(label).strip()
    for period_type in _ANY_ORDER:
        try:
            return _parse(text, period_type)
        except ValueError:
            continue
    raise ValueError(f"'{text}' is not a period; write it like "
                     + ", ".join(f"'{EXAMPLES[t]}'" for t in _ANY_ORDER))


def _parse(text: str, t: PeriodType) -> Period:
    if t is PeriodType.FINANCIAL_YEAR:
        y = _split_year(text)
        return Period(date(y, 4, 1), date(y + 1, 3, 31), t)
    if t is PeriodType.ACADEMIC_YEAR:
        y = _split_year(text)
        return Period(date(y, 9, 1), date(y + 1, 8, 31), t)
    if t is PeriodType.CALENDAR_YEAR:
        if not _YEAR.match(text):
            raise ValueError(f"'{text}' is not a calendar year")
        y = int(text)
        return Period(date(y, 1, 1), date(y, 12, 31), t)
    if t is PeriodType.QUARTER:
        m = _QUARTER.match(text)
        if not m:
            raise ValueError(f"'{text}' is not a financial-year quarter")
        fy = _split_year(f"{m[1]}/{m[2]}")
        month = 4 + 3 * (int(m[3]) - 1)
        year = fy + (month - 1) // 12
        month = (month - 1) % 12 + 1
        return Period(date(year, month, 1), _month_end(year, month + 2), t)
    if t is PeriodType.MONTH:
        iso = _ISO_MONTH.match(text)
        named = _MONTH.match(text)
        if iso and 1 <= int(iso[2]) <= 12:
            year, month = int(iso[1]), int(iso[2])
        elif named:
            year, month = int(named[2]), _month_number(named[1])
        else:
            raise ValueError(f"'{text}' is not a month")
        return Period(date(year, month, 1), _month_end(year, month), t)
    m = _ROLLING.match(text)
    if not m:
        raise ValueError(f"'{text}' is not a rolling 12-month period")
    year, month = int(m[2]), _month_number(m[1])
    start_month = month % 12 + 1
    start_year = year - 1 if month < 12 else year
    return Period(date(start_year, start_month, 1), _month_end(year, month), t)


def period_containing(day: date, period_type: PeriodType) -> Period:
    """The period of a type that contains a day (rolling periods end with its month)."""
    y, m = day.year, day.month
    match period_type:
        case PeriodType.FINANCIAL_YEAR:
            return _parse(f"{y if m >= 4 else y - 1}/{(y + (1 if m >= 4 else 0)) % 100:02d}",
                          period_type)
        case PeriodType.ACADEMIC_YEAR:
            start = y if m >= 9 else y - 1
            return _parse(f"{start}/{(start + 1) % 100:02d}", period_type)
        case PeriodType.CALENDAR_YEAR:
            return _parse(str(y), period_type)
        case PeriodType.QUARTER:
            fy = y if m >= 4 else y - 1
            q = ((m - 4) % 12) // 3 + 1
            return _parse(f"{fy}/{(fy + 1) % 100:02d} Q{q}", period_type)
        case PeriodType.MONTH:
            return Period(date(y, m, 1), _month_end(y, m), period_type)
        case PeriodType.ROLLING_12_MONTHS:
            return _parse(f"12 months to {_MONTHS[m - 1]} {y}", period_type)
    raise AssertionError(period_type)  # pragma: no cover
