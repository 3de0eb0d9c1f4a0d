"""DuckDB, embedded: the default engine on one machine."""

from __future__ import annotations

import pyarrow as pa

from common_outcomes.errors import UserError

DIALECT = "duckdb"


def run(sql: str) -> pa.Table:
    import duckdb

    with duckdb.connect() as con:
        try:
            table: pa.Table = con.sql(sql).to_arrow_table()
        except duckdb.Error as exc:
            raise UserError(f"The engine could not run the compiled SQL: "
                            f"{str(exc).splitlines()[0]}") from None
    return table
