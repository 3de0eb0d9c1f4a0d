"""DuckDB, embedded: the default engine on one machine."""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
from sqlglot import exp

from common_outcomes.errors import UserError


class DuckDBBackend:
    """One in-process connection for a run; settings are DuckDB's (e.g. threads, memory_limit)."""

    dialect = "duckdb"

    def __init__(self, settings: Mapping[str, str]) -> None:
        import duckdb

        try:
            self._con = duckdb.connect(config=dict(settings))
        except duckdb.Error as exc:
            raise UserError(f"DuckDB could not start with the given settings: "
                            f"{str(exc).splitlines()[0]}") from None

    def run(self, query: exp.Expr) -> pa.Table:
        import duckdb

        try:
            table: pa.Table = self._con.sql(query.sql(dialect=self.dialect)).to_arrow_table()
        except duckdb.Error as exc:
            raise UserError(f"DuckDB could not run the compiled SQL: "
                            f"{str(exc).splitlines()[0]}") from None
        return table

    def close(self) -> None:
        self._con.close()
