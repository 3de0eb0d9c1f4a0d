"""The story behind the curve: contributing factors and partners on narratives; actions
numbered and versioned, with a partner

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('narratives') as batch:
        batch.add_column(sa.Column('factors', sa.Text(), nullable=False, server_default=''))
        batch.add_column(sa.Column('partners', sa.Text(), nullable=False,
                                   server_default='[]'))
    # No release wrote actions before this revision: the new columns need no back-fill.
    with op.batch_alter_table('actions') as batch:
        batch.add_column(sa.Column('number', sa.Integer(), nullable=False, server_default='1'))
        batch.add_column(sa.Column('version', sa.Integer(), nullable=False,
                                   server_default='1'))
        batch.add_column(sa.Column('partner', sa.String(length=100), nullable=True))
        batch.create_unique_constraint('uq_actions_workspace_number_version',
                                       ['workspace', 'number', 'version'])


def downgrade() -> None:
    with op.batch_alter_table('actions') as batch:
        batch.drop_constraint('uq_actions_workspace_number_version', type_='unique')
        batch.drop_column('partner')
        batch.drop_column('version')
        batch.drop_column('number')
    with op.batch_alter_table('narratives') as batch:
        batch.drop_column('partners')
        batch.drop_column('factors')
