"""ticket links: the person, the laboratory, where the service tier comes from, candidates when ambiguous

Revision ID: b7c1e4a2d901
Revises: 570ed248dda4
Create Date: 2026-12-02 17:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7c1e4a2d901'
down_revision = '570ed248dda4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('person_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('laboratory_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('tier_origin', sa.String(length=400), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('link_candidates', sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f('ix_tickets_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_laboratory_id'), ['laboratory_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_tickets_person_id_people'), 'people', ['person_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_tickets_laboratory_id_organisations'), 'organisations',
                                    ['laboratory_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_tickets_laboratory_id_organisations'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_tickets_person_id_people'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_tickets_laboratory_id'))
        batch_op.drop_index(batch_op.f('ix_tickets_person_id'))
        batch_op.drop_column('link_candidates')
        batch_op.drop_column('tier_origin')
        batch_op.drop_column('laboratory_id')
        batch_op.drop_column('person_id')
