"""What to generate: scale, window, seed, format, and the sizes of the planted effects."""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field
from datetime import date
from enum import StrEnum

import numpy as np


class Scale(StrEnum):
    BOROUGH = "borough"  # the workspace's borough, by LSOA
    LONDON = "london"  # the 33 London boroughs, by LSOA
    ENGLAND = "england"  # every upper-tier authority in England, by MSOA


class OutputFormat(StrEnum):
    PARQUET = "parquet"
    CSV = "csv"


@dataclass(frozen=True)
class Effects:
    """Planted effects: what works, by how much. Written to the truth folder so later
    analyses can be checked for finding them."""

    # Mothers who attend a Family Hub antenatal session book this many weeks earlier.
    antenatal_attendance_booking_shift_weeks: float = -1.5
    # Booking by 10 weeks multiplies the odds of low birth weight at term by this.
    early_booking_low_birth_weight_odds_ratio: float = 0.70
    # After an early help episode starts, a child's absence rate is multiplied by this.
    early_help_absence_rate_ratio: float = 0.75
    # Attending an infant feeding group multiplies the odds of breastfeeding at 6-8 weeks.
    infant_feeding_group_breastfeeding_odds_ratio: float = 1.8

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class SynthSpec:
    scale: Scale
    years: int
    seed: int
    output_format: OutputFormat = OutputFormat.PARQUET
    # The last financial year of the window starts in this year (2024 -> 2024/25).
    last_year: int = 2024
    effects: Effects = field(default_factory=Effects)

    @property
    def window_start(self) -> date:
        """1 April of the first financial year."""
        return date(self.last_year - self.years + 1, 4, 1)

    @property
    def window_end(self) -> date:
        """31 March after the last financial year."""
        return date(self.last_year + 1, 3, 31)

    def financial_years(self) -> list[int]:
        return list(range(self.last_year - self.years + 1, self.last_year + 1))


def rng_for(seed: int, *keys: str) -> np.random.Generator:
    """An independent, reproducible random stream for one part of the generation.

    Keyed by names (an LA code, a source) rather than by call order, so adding a source
    or an LA never changes what the others generate.
    """
    words = [seed & 0xFFFFFFFF] + [zlib.crc32(k.encode("utf-8")) for k in keys]
    return np.random.default_rng(np.random.SeedSequence(words))
