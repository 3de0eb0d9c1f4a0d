"""Sign-in attempts: an outcome (pending, failed, succeeded, refused) instead of a flag, so
that an attempt is written before its password is checked; indexes for counting by email
and by client

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sign_in_attempts') as batch:
        batch.add_column(sa.Column('outcome', sa.String(length=12), nullable=False,
                                   server_default='failed'))
    op.execute("UPDATE sign_in_attempts SET outcome = 'succeeded' WHERE succeeded")
    with op.batch_alter_table('sign_in_attempts') as batch:
        batch.alter_column('outcome', server_default=None)
        batch.drop_column('succeeded')
    op.create_index('ix_sign_in_attempts_email_at', 'sign_in_attempts', ['email', 'at'])
    op.create_index('ix_sign_in_attempts_client_at', 'sign_in_attempts', ['client', 'at'])


def downgrade() -> None:
    op.drop_index('ix_sign_in_attempts_client_at', table_name='sign_in_attempts')
    op.drop_index('ix_sign_in_attempts_email_at', table_name='sign_in_attempts')
    with op.batch_alter_table('sign_in_attempts') as batch:
        batch.add_column(sa.Column('succeeded', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.execute("UPDATE sign_in_attempts SET succeeded = (outcome = 'succeeded')")
    with op.batch_alter_table('sign_in_attempts') as batch:
        batch.alter_column('succeeded', server_default=None)
        batch.drop_column('outcome')
