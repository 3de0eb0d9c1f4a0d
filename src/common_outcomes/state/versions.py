"""Where a server process learns the state version (the `state_version` row, moved on by every
change in its own transaction), so that a request knows whether what the process remembers is
current: on SQLite read from the file on the thread's own connection; on PostgreSQL announced
(every change sends NOTIFY on CHANNEL with the new version when it commits, and a thread in
each process listens), so a request makes no round trip to the database.

While that thread is not listening (starting, or the database went away) it knows nothing,
and the version is read from the table instead.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable

import psycopg
from psycopg import sql
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError

from common_outcomes.state.models import StateVersion

CHANNEL = "outcomes_state"
RETRY = 1.0  # seconds between attempts to listen again after the database went away
TICK = 1.0  # seconds the thread waits for a notification before it checks whether to stop


VERSION = select(StateVersion.version).where(StateVersion.id == 1)


class Versions:
    """The state version as this process can know it."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # Reads outside a transaction (PostgreSQL's autocommit: no BEGIN and COMMIT).
        self._autocommit = (engine.execution_options(isolation_level="AUTOCOMMIT")
                            if engine.dialect.name == "postgresql" else engine)
        self.local = engine.dialect.name == "sqlite"
        database = engine.url.database
        self._file = database if self.local and database not in (None, "", ":memory:") else None
        self._sql = str(VERSION.compile(dialect=engine.dialect,
                                        compile_kwargs={"literal_binds": True}))
        self._threads = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._watch: Watch | None = None  # started by the first request (see _watching)
        self._lock = threading.Lock()
        self.committed = 0  # the newest version this process committed itself

    def known(self, seen: int = 0) -> int | None:
        """The version, if it can be known without a round trip to a database server: read
        in-process from SQLite, or announced by PostgreSQL and at least `seen`."""
        if self.local:
            return self.read()
        known = self._watching().known()
        return known if known is not None and known >= seen else None

    def current(self, seen: int = 0) -> int:
        """The version, at least `seen`: known (see above), else read from the table."""
        known = self.known(seen)
        return self.read() if known is None else known

    def saw(self, version: int) -> None:
        """This process committed `version`: known at once, before its notification."""
        self.committed = max(self.committed, version)
        if (watch := self._watch) is not None:
            watch.saw(version)

    def read(self) -> int:
        """One primary-key read: on SQLite on the thread's own sqlite3 connection rather than
        through the pool (a quarter of the cost; the event loop reads it for every request),
        else on a plain connection (an ORM session costs three times as much)."""
        if self._file is not None:
            return self._read_file(self._file)
        with self._autocommit.connect() as connection:
            found: int | None = connection.execute(VERSION).scalar()
            return found or 0

    def close(self) -> None:
        """Stop listening and close the threads' connections; usable again after, with new
        ones (as the engine's pool after dispose(): an app's lifespan closes its state each
        time a test client stops it)."""
        with self._lock:
            watch, self._watch = self._watch, None
            for connection in self._opened:
                connection.close()
            self._opened.clear()
            self._threads = threading.local()
        if watch is not None:
            watch.close()

    def _read_file(self, path: str) -> int:
        connection: sqlite3.Connection | None = getattr(self._threads, "connection", None)
        if connection is None:
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._threads.connection = connection
            with self._lock:
                self._opened.append(connection)
        row = connection.execute(self._sql).fetchone()
        return int(row[0]) if row else 0

    def _watching(self) -> Watch:
        watch = self._watch
        if watch is None:
            with self._lock:
                if self._watch is None:
                    self._watch = Watch(self._engine, self.read)
                watch = self._watch
        return watch


class Watch:
    """The thread that listens for PostgreSQL's announcements."""

    def __init__(self, engine: Engine, read: Callable[[], int]) -> None:
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False)
        self._read = read
        self._known: int | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="state-watch", daemon=True)
        self._thread.start()

    def known(self) -> int | None:
        """The newest version announced, or None while not listening."""
        return self._known

    def saw(self, version: int) -> None:
        """This process committed `version` itself: known at once, before its notification."""
        with self._lock:
            if self._known is not None and version > self._known:
                self._known = version

    def close(self) -> None:
        """Stop listening: the thread ends within TICK, on its own (no one waits for it)."""
        self._stop.set()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as connection:
                    connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    # Read after LISTEN, so that no change falls between the two.
                    self._set(self._read())
                    while not self._stop.is_set():
                        for note in connection.notifies(timeout=TICK):
                            self._set(int(note.payload))
            except (psycopg.Error, DBAPIError, OSError, ValueError):
                pass  # the database went away: read the table until it is back
            with self._lock:
                self._known = None  # not listening: the state reads the table meanwhile
            self._stop.wait(RETRY)

    def _set(self, version: int) -> None:
        with self._lock:
            self._known = version if self._known is None else max(self._known, version)
