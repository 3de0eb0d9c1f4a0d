"""Parquet: typed columns kept as they are, read in batches."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import IO

import pyarrow as pa
import pyarrow.parquet as pq

from common_outcomes.data.readers.base import (
    ARROW_ERRORS,
    BadRow,
    FileInfo,
    ReadError,
    Run,
    SeekableFormat,
    check_columns,
)


class ParquetFormat(SeekableFormat):
    """Apache Parquet, as analysts' tools and the store itself write it."""

    name: str = "parquet"
    suffixes: tuple[str, ...] = (".parquet",)
    near: Mapping[str, str] = MappingProxyType({})
    tables: Mapping[str, tuple[str, ...]] = MappingProxyType({})

    def header(self, fh: IO[bytes], name: str) -> tuple[str, ...]:
        return _parquet_inspect(fh, name)

    def rows(self, fh: IO[bytes], info: FileInfo, chunk_rows: int) -> Iterator[Run | BadRow]:
        return _parquet_events(fh, info, chunk_rows)

    def schema(self, fh: IO[bytes], info: FileInfo) -> pa.Schema:
        try:
            schema = pq.ParquetFile(fh).schema_arrow
        except ARROW_ERRORS as exc:
            raise ReadError("parquet.corrupt", f"{info.name} is not a readable Parquet file.") \
                from exc
        fh.seek(0)
        return pa.schema([field.with_name(c)
                          for field, c in zip(schema, info.columns, strict=True)])


def _parquet_inspect(fh: IO[bytes], name: str) -> tuple[str, ...]:
    try:
        parquet = pq.ParquetFile(fh)
        names = list(parquet.schema_arrow.names)
        rows = int(parquet.metadata.num_rows)
    except ARROW_ERRORS as exc:
        raise ReadError("parquet.corrupt", f"{name} is not a readable Parquet file.") from exc
    if rows == 0 or not names:
        raise ReadError("file.empty", f"{name} has no rows of data.")
    return check_columns(names, name)


def _parquet_events(fh: IO[bytes], info: FileInfo, chunk_rows: int) -> Iterator[Run]:
    first = 1
    try:
        parquet = pq.ParquetFile(fh)
        batches = parquet.iter_batches(batch_size=chunk_rows)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            table = pa.Table.from_batches([batch]).rename_columns(list(info.columns))
            yield Run(first, table)
            first += table.num_rows
    except ARROW_ERRORS as exc:
        raise ReadError("parquet.corrupt", f"{info.name} is damaged after row {first - 1} and "
                        "could not be read.", row=first) from exc
