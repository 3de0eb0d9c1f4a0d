"""Quarterly reviews with their data snapshot and sign-off; who may write a priority's
reviews; where an action arose

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'reviews',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('workspace', sa.String(length=100), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('subject_kind', sa.String(length=20), nullable=False),
        sa.Column('subject', sa.String(length=100), nullable=False),
        sa.Column('quarter', sa.String(length=50), nullable=False),
        sa.Column('held', sa.Date(), nullable=False),
        sa.Column('learned', sa.Text(), nullable=False),
        sa.Column('decisions', sa.Text(), nullable=False),
        sa.Column('snapshot', sa.Text(), nullable=False),
        sa.Column('signed_by', sa.String(length=320), nullable=True),
        sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('author_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['author_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('workspace', 'number', name='uq_reviews_workspace_number'),
    )
    op.create_table(
        'review_grants',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('workspace', sa.String(length=100), nullable=False),
        sa.Column('subject_kind', sa.String(length=20), nullable=False),
        sa.Column('subject', sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'workspace', 'subject_kind', 'subject',
                            name='uq_review_grants'),
    )
    # Every action written before this revision came from a story behind the curve.
    with op.batch_alter_table('actions') as batch:
        batch.add_column(sa.Column('origin', sa.String(length=20), nullable=False,
                                   server_default='story'))
        batch.add_column(sa.Column('origin_ref', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('actions') as batch:
        batch.drop_column('origin_ref')
        batch.drop_column('origin')
    op.drop_table('review_grants')
    op.drop_table('reviews')
