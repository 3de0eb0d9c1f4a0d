from datetime import date

import pytest

from common_outcomes.periods import Period, PeriodType, parse_period, period_containing

T = PeriodType


@pytest.mark.parametrize(
    ("label", "ptype", "start", "end"),
    [
        ("2024/25", T.FINANCIAL_YEAR, date(2024, 4, 1), date(2025, 3, 31)),
        ("2024/25", T.ACADEMIC_YEAR, date(2024, 9, 1), date(2025, 8, 31)),
        ("1999/00", T.FINANCIAL_YEAR, date(1999, 4, 1), date(2000, 3, 31)),
        ("2024", T.CALENDAR_YEAR, date(2024, 1, 1), date(2024, 12, 31)),
        ("2024/25 Q1", T.QUARTER, date(2024, 4, 1), date(2024, 6, 30)),
        ("2024/25 Q3", T.QUARTER, date(2024, 10, 1), date(2024, 12, 31)),
        ("2024/25 Q4", T.QUARTER, date(2025, 1, 1), date(2025, 3, 31)),
        ("Feb 2024", T.MONTH, date(2024, 2, 1), date(2024, 2, 29)),
        ("December 2023", T.MONTH, date(2023, 12, 1), date(2023, 12, 31)),
        ("2025-03", T.MONTH, date(2025, 3, 1), date(2025, 3, 31)),
        ("12 months to Mar 2025", T.ROLLING_12_MONTHS, date(2024, 4, 1), date(2025, 3, 31)),
        ("12 months to Dec 2024", T.ROLLING_12_MONTHS, date(2024, 1, 1), date(2024, 12, 31)),
    ],
)
def test_labels_parse_to_the_spans_the_field_means(
    label: str, ptype: PeriodType, start: date, end: date
) -> None:
    period = parse_period(label, ptype)
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize(
    ("label", "ptype", "canonical"),
    [
        ("2024/25", T.FINANCIAL_YEAR, "2024/25"),
        ("2025-03", T.MONTH, "Mar 2025"),
        ("December 2023", T.MONTH, "Dec 2023"),
        ("2024/25 Q4", T.QUARTER, "2024/25 Q4"),
        ("12 months to March 2025", T.ROLLING_12_MONTHS, "12 months to Mar 2025"),
    ],
)
def test_labels_round_trip_to_the_canonical_form(
    label: str, ptype: PeriodType, canonical: str
) -> None:
    assert parse_period(label, ptype).label == canonical
    assert parse_period(canonical, ptype) == parse_period(label, ptype)


@pytest.mark.parametrize(
    ("label", "ptype"),
    [
        ("2024/26", T.FINANCIAL_YEAR),  # the second year must follow the first
        ("2024", T.FINANCIAL_YEAR),
        ("2024/25", T.CALENDAR_YEAR),
        ("2024/25 Q5", T.QUARTER),
        ("2025-13", T.MONTH),
        ("Smarch 2025", T.MONTH),
        ("12 months to 2025", T.ROLLING_12_MONTHS),
        ("", T.ACADEMIC_YEAR),
    ],
)
def test_bad_labels_say_how_the_period_is_written(label: str, ptype: PeriodType) -> None:
    with pytest.raises(ValueError, match="is written like"):
        parse_period(label, ptype)


@pytest.mark.parametrize("ptype", list(PeriodType))
def test_every_day_falls_in_the_period_containing_it(ptype: PeriodType) -> None:
    for day in (date(2024, 1, 1), date(2024, 3, 31), date(2024, 4, 1), date(2024, 8, 31),
                date(2024, 9, 1), date(2024, 12, 31), date(2025, 2, 28)):
        period = period_containing(day, ptype)
        assert period.start <= day <= period.end
        assert parse_period(period.label, ptype) == period


def test_periods_sort_in_time_order() -> None:
    labels = ["2024/25 Q3", "2023/24 Q4", "2024/25 Q1"]
    ordered = sorted(parse_period(x, T.QUARTER) for x in labels)
    assert [p.label for p in ordered] == ["2023/24 Q4", "2024/25 Q1", "2024/25 Q3"]
    assert isinstance(ordered[0], Period)
