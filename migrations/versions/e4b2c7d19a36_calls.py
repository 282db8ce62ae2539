"""calls (code, names, acronyms, dates, state) and the call a triage decision found (issue 11)

Revision ID: e4b2c7d19a36
Revises: d81e5a7c40b3
Create Date: 2026-12-02 17:45:00

"""
from alembic import op
import sqlalchemy as sa
import crm.core.extensions  # noqa: F401  (UTCDateTime)


# revision identifiers, used by Alembic.
revision = 'e4b2c7d19a36'
down_revision = 'd81e5a7c40b3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('acronyms', sa.JSON(), nullable=False),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('opens_on', sa.Date(), nullable=True),
    sa.Column('closes_on', sa.Date(), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('updated_at', crm.core.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calls')),
    sa.UniqueConstraint('code', name=op.f('uq_calls_code'))
    )
    with op.batch_alter_table('expert_triage_decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('call_code', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('call_source', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('call_choices', sa.JSON(), server_default='[]', nullable=False))


def downgrade():
    with op.batch_alter_table('expert_triage_decisions', schema=None) as batch_op:
        batch_op.drop_column('call_choices')
        batch_op.drop_column('call_source')
        batch_op.drop_column('call_code')
    op.drop_table('calls')
