"""Where the state lives and how its schema is brought up to date."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from common_outcomes.errors import UserError

MIGRATIONS = Path(__file__).parent / "migrations"
DEFAULT_FILE = Path(".outcomes") / "app.sqlite3"
# Connections kept open for as many threads as the server runs at once (40), so that under
# load none is opened and closed again per request (a PostgreSQL backend started each time).
POOL = {"pool_size": 20, "max_overflow": 30}


def database_url(folder: Path, environ: dict[str, str] | None = None) -> str:
    """DATABASE_URL when it is set, else a SQLite file in the workspace's .outcomes folder."""
    url = (os.environ if environ is None else environ).get("DATABASE_URL", "").strip()
    if not url:
        return f"sqlite:///{(folder / DEFAULT_FILE).resolve()}"
    # Hosting platforms write postgres:// or postgresql://; SQLAlchemy needs the driver named.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def open_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise UserError(f"DATABASE_URL is not a database URL: {e}.") from e
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **POOL)
        event.listen(engine, "connect", _sqlite_pragmas)
        with engine.begin() as connection:
            # WAL lets readers work during a write; it is kept in the file, so set once.
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise UserError(f"DATABASE_URL names '{parsed.get_backend_name()}': the app's state "
                        "lives in SQLite or PostgreSQL.")
    # Pre-ping: a connection the server dropped (a restart, a failover) is opened again
    # rather than failing a request. It costs a round trip per checkout, which is rare: the
    # state version comes from the server's announcements (state/versions.py), not a read.
    return create_engine(url, pool_pre_ping=True, **POOL)


def _sqlite_pragmas(connection: object, _record: object) -> None:
    # Foreign keys are off in SQLite unless each connection asks for them.
    cursor = connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def migrate(engine: Engine) -> None:
    """Bring the schema to Alembic's newest revision (a no-op when it is there already)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
