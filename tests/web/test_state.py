"""The app's state on SQLite and PostgreSQL: Alembic's migrations build exactly the models'
schema; passwords are stored as Argon2id hashes; roles nest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import select

from common_outcomes.state import Role, database_url
from common_outcomes.state.models import Base, User
from common_outcomes.state.store import Story

PASSWORD = "a worker's long passphrase"


def test_the_migrations_build_the_models_schema(app: FastAPI) -> None:
    engine = app.state.site.state.engine
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_passwords_are_stored_as_argon2id_hashes(app: FastAPI) -> None:
    engine = app.state.site.state.engine
    with engine.connect() as connection:
        hashes = connection.execute(select(User.password_hash)).scalars().all()
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert not any("passphrase" in h for h in hashes)


def test_roles_nest() -> None:
    assert Role.ADMIN.allows(Role.CONTRIBUTOR) and Role.ANALYST.allows(Role.VIEWER)
    assert not Role.VIEWER.allows(Role.CONTRIBUTOR)
    assert not Role.CONTRIBUTOR.allows(Role.ANALYST)


def test_the_database_is_sqlite_unless_database_url_says_otherwise(tmp_path: Path) -> None:
    assert database_url(tmp_path, {}) == f"sqlite:///{tmp_path / '.outcomes' / 'app.sqlite3'}"
    assert database_url(tmp_path, {"DATABASE_URL": "postgres://u@h/db"}) == (
        "postgresql+psycopg://u@h/db")


def test_a_change_in_one_worker_is_seen_by_the_next_request_in_another(
        app: FastAPI, database: str) -> None:
    """Each worker process remembers accounts and stories with the state version they were
    read at. A second State on the same database stands for another worker: what it changes
    shows in the first one's next read when the browser carries the version its change made
    (the `seen` cookie), and for everyone else a moment later (PostgreSQL announces it;
    SQLite is read each time), never after a set delay."""
    import time
    from datetime import date

    from common_outcomes.state import ActionFields, State

    first: State = app.state.site.state
    other = State.open(database)

    def soon(read: Callable[[], object], wanted: Callable[[object], bool]) -> object:
        deadline = time.monotonic() + 5
        while not wanted(found := read()):
            assert time.monotonic() < deadline, f"still {found!r} after 5 s"
            time.sleep(0.01)
        return found

    try:
        email = f"worker-{first.version()}@example.org"
        other.add_user(email, "Worker", PASSWORD, "tower-hamlets", Role.VIEWER, "tests")
        token = other.sign_in(email, PASSWORD, "tests")
        seen = first.account(token, first.version(other.committed()))
        assert seen is not None and seen.roles == {"tower-hamlets": Role.VIEWER}
        assert first.remembered(token, first.version(other.committed())) == (True, seen)

        other.grant(email, "tower-hamlets", Role.CONTRIBUTOR, "tests")
        seen = first.account(token, first.version(other.committed()))  # the granter's browser
        assert seen is not None and seen.roles == {"tower-hamlets": Role.CONTRIBUTOR}

        before = first.story("tower-hamlets", "indicator", "early-booking")
        writer = other.account(token)
        assert writer is not None
        other.save_narrative(writer, "tower-hamlets", "indicator", "early-booking",
                             "2024/25", "Bookings rose.")
        other.add_action(writer, "tower-hamlets", "indicator", "early-booking", ActionFields(
            "2024/25", "Ask the GPs", "Lead midwife", None, date(2026, 1, 31), "open"))
        # Anyone else's next page: at once on SQLite, within moments on PostgreSQL.
        after = soon(lambda: first.story("tower-hamlets", "indicator", "early-booking"),
                     lambda s: len(s.actions) == len(before.actions) + 1)  # type: ignore
        assert isinstance(after, Story)
        assert len(after.narratives) == len(before.narratives) + 1
        assert after.narratives[0].text == "Bookings rose."
        assert first.actions("tower-hamlets", "indicator", "early-booking") == after.actions

        other.sign_out(token, writer)
        assert first.account(token, first.version(other.committed())) is None
        assert soon(lambda: first.account(token), lambda a: a is None) is None
    finally:
        other.close()


def test_connections_the_database_dropped_are_opened_again_without_an_error(
        postgres_url: str) -> None:
    """When PostgreSQL drops every connection (a restart, a failover), the next reads open
    new ones rather than fail, and the state version is heard again (state/versions.py)."""
    import psycopg

    from common_outcomes.state import State

    state = State.open(postgres_url)
    try:
        with state.engine.connect() as one, state.engine.connect() as two:
            # Two server sessions in the pool, both of which the database will drop.
            pids = {c.exec_driver_sql("SELECT pg_backend_pid()").scalar() for c in (one, two)}
            assert len(pids) == 2
        before = state.version()
        database = postgres_url.rsplit("/", 1)[1]
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                             autocommit=True) as admin:
            dropped = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s", (database,)).fetchone()
        assert dropped is not None and dropped[0] >= 1
        assert state.version() == before
        assert state.story("tower-hamlets", "indicator", "early-booking").narratives is not None
        assert state.has_user("nobody@example.org") is False
    finally:
        state.close()
