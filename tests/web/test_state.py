"""The app's state on SQLite and PostgreSQL: Alembic's migrations build exactly the models'
schema; passwords are stored as Argon2id hashes; roles nest."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import select

from common_outcomes.state import Role, database_url
from common_outcomes.state.models import Base, User


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
