"""Engines that run the compiled SQL: one small interface, `run(sql) -> pyarrow.Table`."""
