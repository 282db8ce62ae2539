"""financial annexes: the establishment follows the partner (foreign key on partner and establishment, ON UPDATE
CASCADE), so the référents' queue reads it without checking the partner row by row (issue 12)

Revision ID: 8d3f1b6a2c95
Revises: a4d9e6c1f3b8
Create Date: 2026-12-03 13:45:00
"""

from alembic import op

revision = "8d3f1b6a2c95"
down_revision = "a4d9e6c1f3b8"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("uq_project_partners_id_organisation", "project_partners", ["id", "organisation_id"], unique=True)
    with op.batch_alter_table("financial_annexes") as batch:
        batch.drop_constraint("fk_financial_annexes_partner_id_project_partners", type_="foreignkey")
        batch.create_foreign_key("fk_financial_annexes_partner_establishment", "project_partners",
                                 ["partner_id", "organisation_id"], ["id", "organisation_id"],
                                 onupdate="CASCADE", ondelete="CASCADE")


def downgrade():
    with op.batch_alter_table("financial_annexes") as batch:
        batch.drop_constraint("fk_financial_annexes_partner_establishment", type_="foreignkey")
        batch.create_foreign_key("fk_financial_annexes_partner_id_project_partners", "project_partners",
                                 ["partner_id"], ["id"], ondelete="CASCADE")
    op.drop_index("uq_project_partners_id_organisation", table_name="project_partners")
