"""Engines that run the compiled SQL, behind one small interface.

A backend renders a sqlglot tree in its dialect, runs it and returns the (small) result as an
Arrow table. Everything above this interface is shared by every engine; each backend module
imports its engine only when asked for, so `import common_outcomes` needs neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import pyarrow as pa
from sqlglot import exp

from common_outcomes.errors import UserError


class Backend(Protocol):
    """What the engine needs of a SQL engine."""

    dialect: str

    def run(self, query: exp.Expr) -> pa.Table:
        """Run a query; a failure is a UserError naming the engine and the first line."""
        ...

    def close(self) -> None: ...


ENGINES = ("duckdb", "spark")


def open_backend(name: str, settings: Mapping[str, str] | None = None) -> Backend:
    """The backend called `name`, with engine settings (e.g. Spark's `spark.master`)."""
    if name == "duckdb":
        from common_outcomes.engine.backends.duckdb import DuckDBBackend

        return DuckDBBackend(settings or {})
    if name == "spark":
        from common_outcomes.engine.backends.spark import SparkBackend

        return SparkBackend(settings or {})
    raise UserError(f"Unknown engine '{name}': use one of {', '.join(ENGINES)}.")
