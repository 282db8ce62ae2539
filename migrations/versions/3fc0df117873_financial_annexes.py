"""financial annexes: référents, annexes, versions, reviews, audit trail, funding-decision readiness (issue 12)

Revision ID: 3fc0df117873
Revises: b9d4e6f2a715
Create Date: 2026-12-03 13:00:00
"""

import sqlalchemy as sa
from alembic import op

import crm.core.extensions  # noqa: F401  (UTCDateTime)

revision = "3fc0df117873"
down_revision = "b9d4e6f2a715"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('annex_referents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('identifier', sa.String(length=14), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('designated_by_id', sa.Integer(), nullable=True),
    sa.Column('designated_at', crm.core.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['designated_by_id'], ['users.id'],
                            name=op.f('fk_annex_referents_designated_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                            name=op.f('fk_annex_referents_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annex_referents')),
    sa.UniqueConstraint('kind', 'identifier', 'user_id', name='uq_annex_referents_designation')
    )
    with op.batch_alter_table('annex_referents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_annex_referents_user_id'), ['user_id'], unique=False)

    op.create_table('funding_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('ready_at', crm.core.extensions.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ready_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'],
                            name=op.f('fk_funding_decisions_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ready_by_id'], ['users.id'],
                            name=op.f('fk_funding_decisions_ready_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_funding_decisions')),
    sa.UniqueConstraint('project_id', name=op.f('uq_funding_decisions_project_id'))
    )
    op.create_table('financial_annexes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('first_published_at', crm.core.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_at', crm.core.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', crm.core.extensions.UTCDateTime(timezone=True), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_version', sa.Integer(), nullable=True),
    sa.Column('approved_digest', sa.String(length=64), nullable=True),
    sa.Column('reminder_sent_at', crm.core.extensions.UTCDateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', crm.core.extensions.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'],
                            name=op.f('fk_financial_annexes_approved_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['partner_id'], ['project_partners.id'],
                            name=op.f('fk_financial_annexes_partner_id_project_partners'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'],
                            name=op.f('fk_financial_annexes_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'],
                            name=op.f('fk_financial_annexes_published_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_financial_annexes')),
    sa.UniqueConstraint('partner_id', name=op.f('uq_financial_annexes_partner_id'))
    )
    with op.batch_alter_table('financial_annexes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_financial_annexes_project_id'), ['project_id'], unique=False)
        batch_op.create_index('ix_financial_annexes_state_due', ['state', 'due_on', 'id'], unique=False)

    op.create_table('annex_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('annex_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', crm.core.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'],
                            name=op.f('fk_annex_events_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['annex_id'], ['financial_annexes.id'],
                            name=op.f('fk_annex_events_annex_id_financial_annexes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'],
                            name=op.f('fk_annex_events_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annex_events'))
    )
    with op.batch_alter_table('annex_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_annex_events_annex_id'), ['annex_id'], unique=False)
        batch_op.create_index('ix_annex_events_project_created', ['project_id', 'created_at'], unique=False)

    op.create_table('annex_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('annex_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=24), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', crm.core.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('comments', sa.JSON(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['annex_id'], ['financial_annexes.id'],
                            name=op.f('fk_annex_reviews_annex_id_financial_annexes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'],
                            name=op.f('fk_annex_reviews_reviewer_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annex_reviews'))
    )
    with op.batch_alter_table('annex_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_annex_reviews_annex_id'), ['annex_id'], unique=False)

    op.create_table('annex_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('annex_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('staff', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('equipment', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('missions', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('subcontracting', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('overheads', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('requested_aid', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('rate', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.Column('published_at', crm.core.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['annex_id'], ['financial_annexes.id'],
                            name=op.f('fk_annex_versions_annex_id_financial_annexes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'],
                            name=op.f('fk_annex_versions_published_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annex_versions')),
    sa.UniqueConstraint('annex_id', 'number', name='uq_annex_versions_number')
    )


def downgrade():
    op.drop_table('annex_versions')
    with op.batch_alter_table('annex_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_annex_reviews_annex_id'))

    op.drop_table('annex_reviews')
    with op.batch_alter_table('annex_events', schema=None) as batch_op:
        batch_op.drop_index('ix_annex_events_project_created')
        batch_op.drop_index(batch_op.f('ix_annex_events_annex_id'))

    op.drop_table('annex_events')
    with op.batch_alter_table('financial_annexes', schema=None) as batch_op:
        batch_op.drop_index('ix_financial_annexes_state_due')
        batch_op.drop_index(batch_op.f('ix_financial_annexes_project_id'))

    op.drop_table('financial_annexes')
    op.drop_table('funding_decisions')
    with op.batch_alter_table('annex_referents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_annex_referents_user_id'))

    op.drop_table('annex_referents')
