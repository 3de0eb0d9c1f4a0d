"""The state version as PostgreSQL announces it: every change sends NOTIFY on CHANNEL with the
new version when it commits, and a thread in each server process listens, so a request knows
whether what the process remembers is current without a round trip to the database.

While the thread is not listening (starting, or the database went away) it knows nothing, and
the state reads the version from the table instead, as it does on SQLite.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
from psycopg import sql
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

CHANNEL = "outcomes_state"
RETRY = 1.0  # seconds between attempts to listen again after the database went away
TICK = 1.0  # seconds the thread waits for a notification before it checks whether to stop


class Watch:
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
