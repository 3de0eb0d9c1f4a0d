"""DuckDB, embedded: the default engine on one machine."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pyarrow as pa
from sqlglot import exp

from common_outcomes.engine.backends import sql_fault
from common_outcomes.errors import UserError

log = logging.getLogger(__name__)


class DuckDBBackend:
    """One in-process connection for a run; settings are DuckDB's (e.g. threads, memory_limit)."""

    dialect = "duckdb"

    def __init__(self, settings: Mapping[str, str]) -> None:
        import duckdb

        try:
            self._con = duckdb.connect(config=dict(settings))
        except duckdb.Error as exc:
            raise UserError(f"DuckDB could not start with the given settings: "
                            f"{str(exc).splitlines()[0]}") from exc

    def run(self, query: exp.Expr) -> pa.Table:
        table = self._execute(query, fetch=True)
        assert table is not None
        return table

    def _execute(self, query: exp.Expr, fetch: bool) -> pa.Table | None:
        import duckdb

        sql = query.sql(dialect=self.dialect)
        log.debug("DuckDB runs:\n%s", sql)
        try:
            if not fetch:
                self._con.execute(sql)
                return None
            table: pa.Table = self._con.sql(sql).to_arrow_table()
        except (duckdb.DataError, duckdb.OperationalError, duckdb.InterruptException,
                duckdb.PermissionException) as exc:
            # What the data or the machine caused: a value the SQL cannot take, a file that
            # cannot be read, memory, an interrupt.
            raise UserError(f"DuckDB could not run the compiled SQL: "
                            f"{str(exc).splitlines()[0]}") from exc
        except duckdb.Error as exc:
            # SQL that does not parse or bind, having passed `outcomes check`: the compiler's.
            raise sql_fault("DuckDB", query, self.dialect, str(exc).splitlines()[0]) from exc
        return table

    def keep(self, name: str, query: exp.Expr) -> None:
        """Keep a query's result as a temporary table for the queries that follow."""
        self._execute(exp.Create(this=exp.to_table(name), kind="TABLE", expression=query,
                                 replace=True, properties=exp.Properties(
                                     expressions=[exp.TemporaryProperty()])), fetch=False)

    def register(self, name: str, table: pa.Table) -> None:
        """An Arrow table the queries that follow can read by `name` (not copied)."""
        self._con.register(name, table)

    def close(self) -> None:
        self._con.close()


BACKEND = DuckDBBackend
