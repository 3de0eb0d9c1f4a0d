"""Apache Spark: the same compiled SQL on a cluster (or on `local[*]`), for data past one machine.

Imported only when `--engine spark` is asked for: pyspark is the optional extra
`common-outcomes[spark]`. Settings are Spark's own configuration (`spark.master`, any
`spark.*` key) plus two of ours: `outcomes.data`, where Spark reads the store's Parquet files
(a path or URI holding a copy of the store's `versions/` folder), and `outcomes.store`,
the local store those files were copied from (filled in by `Project`).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from collections.abc import Callable, Mapping
from contextlib import suppress
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, TypeVar

import pyarrow as pa
from sqlglot import exp

from common_outcomes.engine.backends import sql_fault
from common_outcomes.errors import UserError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

T = TypeVar("T")
SHUFFLE = "spark.sql.shuffle.partitions"
DATA = "outcomes.data"
STORE = "outcomes.store"
# What a master URL's scheme listens on when the URL names no port.
_DEFAULT_PORTS = {"spark": 7077}
_HOSTS = re.compile(r"^spark://(?P<hosts>[^/]+)")
# The master URLs Spark 4 accepts (SparkContext.createTaskScheduler and its cluster managers).
_MASTER = re.compile(r"^(local(\[(\*|\d+)(,\d+)?\])?|local-cluster\[\d+,\d+,\d+\]"
                     r"|spark://[^/]+|yarn|k8s://.+)$")


class SparkBackend:
    """One Spark session for a run. A session already running in this process (spark-submit,
    a Databricks job, a test suite) is used as it is and left running."""

    dialect = "spark"

    def __init__(self, settings: Mapping[str, str]) -> None:
        self._data = settings.get(DATA)
        store = settings.get(STORE)
        self._store = Path(store) if store else None
        conf = {k: v for k, v in settings.items() if k not in (DATA, STORE)}
        self._spark, self._owned = _session(conf)

    # Any number of records rolls up in the cluster (engine/rollup.py): what reaches the
    # driver is then the results' rows, not every small area's months.
    min_records = 0

    def run(self, query: exp.Expr) -> pa.Table:
        return _as_stage_two_reads(self._guarded(query, lambda sql: self._spark.sql(sql)
                                                 .toArrow()))

    def keep(self, name: str, query: exp.Expr) -> None:
        """Keep a query's result in the cluster (checkpointed there, so that it is computed
        once) as a temporary view for the queries that follow."""
        self._guarded(query, lambda sql: self._spark.sql(sql).localCheckpoint(eager=True)
                      .createOrReplaceTempView(name))

    def register(self, name: str, table: pa.Table) -> None:
        """A small Arrow table of ours as a temporary view for the queries that follow."""
        self._spark.createDataFrame(table).createOrReplaceTempView(name)

    def _guarded(self, query: exp.Expr, work: Callable[[str], T]) -> T:
        from py4j.protocol import Py4JError
        from pyspark.errors import AnalysisException, PySparkException

        if self._data is not None and self._store is not None:
            query = relocated(query, self._store, self._data)
        sql = query.sql(dialect=self.dialect)
        try:
            return work(sql)
        except AnalysisException as exc:
            if exc.getCondition() == "PATH_NOT_FOUND":
                raise UserError(_missing(exc, self._data)) from exc
            # SQL that does not parse or resolve, having passed `outcomes check`: ours.
            raise sql_fault("Spark", query, self.dialect, _reason(exc)) from exc
        except (PySparkException, Py4JError) as exc:
            # What the cluster or the data caused while running (memory, lost executors).
            raise UserError(f"Spark could not run the compiled SQL: {_reason(exc)}") from exc

    def close(self) -> None:
        if self._owned:
            self._spark.stop()


def _as_stage_two_reads(table: pa.Table) -> pa.Table:
    """Counts as 64-bit integers whatever Spark typed them (MAX of a 0/1 flag is an int), and
    sums of decimals as floats; months are already dates (Spark's TRUNC gives a DATE)."""
    def kind(t: pa.DataType) -> pa.DataType:
        if pa.types.is_integer(t):
            return pa.int64()
        return pa.float64() if pa.types.is_decimal(t) else t

    return table.cast(pa.schema([f.with_type(kind(f.type)) for f in table.schema]))


def relocated(query: exp.Expr, store: Path, data: str) -> exp.Expr:
    """The query reading each part from `data` instead of the local store it sits in."""
    base = data.rstrip("/")

    def move(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.ReadParquet):
            moved = [exp.Literal.string(f"{base}/{_under(Path(p.name), store)}")
                     if isinstance(p, exp.Literal) and p.is_string else p
                     for p in node.expressions]
            return exp.ReadParquet(expressions=moved)
        return node

    return query.transform(move)


def _under(path: Path, store: Path) -> str:
    try:
        return PurePosixPath(*path.relative_to(store).parts).as_posix()
    except ValueError:
        raise UserError(f"The part {path} is not in the store at {store}, so it cannot be "
                        "found at the data location.") from None


def _session(conf: Mapping[str, str]) -> tuple[SparkSession, bool]:
    """The running session (not ours to stop), or a new one started with `conf`."""
    try:
        from pyspark import SparkContext
        from pyspark.sql import SparkSession
    except ImportError:
        raise UserError("The Spark engine needs pyspark: install it with "
                        "pip install 'common-outcomes[spark]'.") from None

    running = SparkSession.getActiveSession()
    if running is None and SparkContext._active_spark_context is not None:
        running = SparkSession.builder.getOrCreate()  # a job's session, started on another thread
    if running is not None:
        _apply(running, conf)
        return running, False
    _check_java()
    _check_master(conf.get("spark.master"))
    builder = SparkSession.builder.appName("common-outcomes").config(
        "spark.ui.showConsoleProgress", "false")  # `outcomes run` shows its own progress
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # any failure to start is the user's setting or machine to fix
        raise UserError(_not_started(exc)) from None
    context = session.sparkContext
    context.setLogLevel("ERROR")
    if (context.master or "").startswith("local") and not context.getConf().contains(SHUFFLE):
        # One machine: a few tasks per core, not the 200 Spark assumes of a cluster (it halves
        # the time of London's passes on two cores; docs/performance.md).
        session.conf.set(SHUFFLE, str(2 * context.defaultParallelism))
    return session, True


def _not_started(exc: Exception) -> str:
    if getattr(exc, "getCondition", lambda: None)() == "JAVA_GATEWAY_EXITED":
        # Java has already said why on the terminal; say what to look at.
        return ("Spark could not start: its Java process stopped at once (its reason is just "
                "above): check the --conf settings, and that Java is version 17 or newer.")
    return f"Spark could not start ({_reason(exc)}): check --master and --conf."


def _apply(session: SparkSession, conf: Mapping[str, str]) -> None:
    """Settings for a session that is already running: what can change at run time does;
    a fixed setting (like the master) that differs is an error, not silently ignored."""
    for key, value in conf.items():
        if session.conf.isModifiable(key):
            session.conf.set(key, value)
        elif session.sparkContext.getConf().get(key) != value:
            raise UserError(f"Spark is already running in this process, so {key} cannot be "
                            f"changed to '{value}': leave it out, or set it where Spark is "
                            "started (spark-submit or the cluster's configuration).")


def _check_java() -> None:
    """Spark runs in a JVM: say so plainly rather than let the gateway die without one."""
    home = os.environ.get("JAVA_HOME")
    if home:
        if not (Path(home) / "bin" / "java").is_file():
            raise UserError(f"JAVA_HOME is {home}, which holds no bin/java: set it to a Java 17 "
                            "(or newer) installation for Spark.")
    elif shutil.which("java") is None:
        raise UserError("Spark needs Java 17 or newer and none was found: install it, or set "
                        "JAVA_HOME to its folder.")


def _check_master(master: str | None) -> None:
    """A master Spark would not understand, or a standalone master that cannot be reached,
    fails at once in one sentence (not after a Java stack trace or a minute of retries)."""
    if master is None:
        return
    if not _MASTER.match(master):
        raise UserError(f"'{master}' is not a Spark master URL: use local[*], local[N], "
                        "spark://HOST:PORT, yarn or k8s://HOST:PORT.")
    found = _HOSTS.match(master)
    if found is None:
        return
    problems = []
    for host_port in found["hosts"].split(","):  # spark://a:7077,b:7077 is a master with standby
        host, _, port = host_port.rpartition(":") if ":" in host_port else (host_port, "", "")
        try:
            with socket.create_connection((host.strip("[]"),
                                           int(port or _DEFAULT_PORTS["spark"])),
                                          timeout=5):
                return
        except (OSError, ValueError) as exc:
            problems.append(getattr(exc, "strerror", None) or str(exc))
    raise UserError(f"The Spark master {master} cannot be reached ({problems[0]}): check the "
                    "URL and that the master is running.")


def _missing(exc: Exception, data: str | None) -> str:
    if data is None:
        return (f"Spark cannot read a part of the store ({_reason(exc)}): the files the "
                "catalog lists must be where Spark runs; on a cluster, copy the store and give "
                "its location with --data.")
    return (f"Spark found no data at the data location {data} ({_reason(exc)}): copy the "
            "store's versions folder there (docs/spark.md), or point --data at the copy.")


def _reason(exc: BaseException) -> str:
    """The one line of an engine's error that says what went wrong (not its stack)."""
    text, java = str(exc), getattr(exc, "java_exception", None)
    with suppress(Exception):  # if the JVM is gone, the last message read will do
        while java is not None:  # Spark wraps the cause ("Exception thrown in awaitResult")
            text, java = str(java.toString()), java.getCause()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else type(exc).__name__
    return re.sub(r"\s*SQLSTATE: \w+$", "", first).rstrip(".")


BACKEND = SparkBackend
