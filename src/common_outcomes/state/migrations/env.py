"""Alembic's environment: run on the connection the app hands over (state.database.migrate)."""

from alembic import context

from common_outcomes.state.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
