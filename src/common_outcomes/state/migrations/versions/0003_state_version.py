"""A counter of changes, so that worker processes can cache reads and know when they are stale

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table('state_version',
                            sa.Column('id', sa.Integer(), nullable=False),
                            sa.Column('version', sa.BigInteger(), nullable=False),
                            sa.PrimaryKeyConstraint('id'))
    op.bulk_insert(table, [{'id': 1, 'version': 0}])


def downgrade() -> None:
    op.drop_table('state_version')
