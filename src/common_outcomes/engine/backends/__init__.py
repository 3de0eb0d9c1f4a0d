"""Engines that run the compiled SQL, behind one small interface, and the registry of them.

A backend renders a sqlglot tree in its dialect, runs it and returns the (small) result as an
Arrow table. Everything above this interface is shared by every engine; each backend module
imports its engine only when asked for, so `import common_outcomes` needs neither. Adding an
engine is a module in this folder with a `BACKEND` class and one line in `_REGISTRY`.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from typing import Protocol

import pyarrow as pa
from sqlglot import exp

from common_outcomes.errors import InternalError, UserError

log = logging.getLogger(__name__)


class Backend(Protocol):
    """What the engine needs of a SQL engine."""

    dialect: str

    def run(self, query: exp.Expr) -> pa.Table:
        """Run a query. A failure the user's input caused (settings, data, resources) is a
        `UserError`; one of the compiled SQL is `sql_fault`'s `InternalError`."""
        ...

    def close(self) -> None: ...


# Each engine's module, imported only when that engine is asked for.
_REGISTRY: Mapping[str, str] = {
    "duckdb": "common_outcomes.engine.backends.duckdb",
    "spark": "common_outcomes.engine.backends.spark",
}
ENGINES = tuple(_REGISTRY)


def open_backend(name: str, settings: Mapping[str, str] | None = None) -> Backend:
    """The backend called `name`, with engine settings (e.g. Spark's `spark.master`)."""
    if name not in _REGISTRY:
        raise UserError(f"Unknown engine '{name}': use one of {', '.join(ENGINES)}.")
    log.info("starting the %s engine", name)
    backend: Backend = importlib.import_module(_REGISTRY[name]).BACKEND(settings or {})
    return backend


def sql_fault(engine: str, query: exp.Expr, dialect: str, reason: str) -> InternalError:
    """An engine refused SQL that common-outcomes compiled: a fault in the compiler."""
    return InternalError(f"{engine} could not run the SQL common-outcomes compiled: "
                         f"{reason.rstrip('.!')}.",
                         {"engine": engine, "reason": reason,
                          "sql": query.sql(dialect=dialect, pretty=True)})
