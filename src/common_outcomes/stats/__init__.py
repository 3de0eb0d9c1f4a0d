"""Public-health statistics exactly as OHID computes them (PHEindicatormethods, Fingertips).

Pure and vectorised over numpy arrays: no I/O, no engine. Each function names its source.
"""

from __future__ import annotations

from typing import Any


def special() -> Any:
    """scipy.special, imported on first use: it takes a fifth of a second to import, which
    commands that compute no interval (`outcomes check`, a run whose passes are all unchanged
    and that has no published comparators) would otherwise pay at start-up."""
    from scipy import special as module  # type: ignore[import-untyped]

    return module
