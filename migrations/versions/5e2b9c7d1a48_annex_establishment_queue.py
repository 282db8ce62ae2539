"""financial annexes: the establishment each one is addressed to, and the partial indexes of the queues (issue 12)

Revision ID: 5e2b9c7d1a48
Revises: e7a1c5d3b902
Create Date: 2026-12-03 13:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "5e2b9c7d1a48"
down_revision = "e7a1c5d3b902"
branch_labels = None
depends_on = None

PENDING = "state IN ('published', 'corrections_requested')"


def upgrade():
    with op.batch_alter_table("financial_annexes") as batch:
        batch.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
    op.execute("UPDATE financial_annexes SET organisation_id = (SELECT organisation_id FROM project_partners "
               "WHERE project_partners.id = financial_annexes.partner_id)")
    with op.batch_alter_table("financial_annexes") as batch:
        batch.alter_column("organisation_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(batch.f("fk_financial_annexes_organisation_id_organisations"), "organisations",
                                 ["organisation_id"], ["id"])
        batch.create_index("ix_financial_annexes_pending_due", ["due_on", "id"], unique=False,
                           postgresql_where=sa.text(PENDING), sqlite_where=sa.text(PENDING))
        batch.create_index("ix_financial_annexes_org_pending_due", ["organisation_id", "due_on", "id"], unique=False,
                           postgresql_include=["project_id", "partner_id"], postgresql_where=sa.text(PENDING),
                           sqlite_where=sa.text(PENDING))


def downgrade():
    with op.batch_alter_table("financial_annexes") as batch:
        batch.drop_index("ix_financial_annexes_org_pending_due")
        batch.drop_index("ix_financial_annexes_pending_due")
        batch.drop_constraint(batch.f("fk_financial_annexes_organisation_id_organisations"), type_="foreignkey")
        batch.drop_column("organisation_id")
