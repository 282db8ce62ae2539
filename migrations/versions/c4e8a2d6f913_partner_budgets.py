"""partner budgets imported every night (file financial_annexes): the annexes publish a version from them (issue 12)

Revision ID: c4e8a2d6f913
Revises: a8d3f6c2e915
Create Date: 2026-12-04 02:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "c4e8a2d6f913"
down_revision = "a8d3f6c2e915"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "project_partner_budgets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("staff", sa.Numeric(14, 2), nullable=False),
        sa.Column("equipment", sa.Numeric(14, 2), nullable=False),
        sa.Column("missions", sa.Numeric(14, 2), nullable=False),
        sa.Column("subcontracting", sa.Numeric(14, 2), nullable=False),
        sa.Column("overheads", sa.Numeric(14, 2), nullable=False),
        sa.Column("requested_aid", sa.Numeric(14, 2), nullable=False),
        sa.Column("rate", sa.Numeric(5, 2), nullable=False),
        sa.Column("row_hash", sa.String(length=32), nullable=False),
        sa.CheckConstraint("rate >= 0 AND rate <= 100", name=op.f("ck_project_partner_budgets_budget_rate_percent")),
        sa.ForeignKeyConstraint(["partner_id"], ["project_partners.id"], ondelete="CASCADE",
                                name=op.f("fk_project_partner_budgets_partner_id_project_partners")),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE",
                                name=op.f("fk_project_partner_budgets_project_id_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_partner_budgets")),
        sa.UniqueConstraint("partner_id", name=op.f("uq_project_partner_budgets_partner_id")),
        sa.UniqueConstraint("project_id", "partner_id", name=op.f("uq_project_partner_budgets_partner")),
    )


def downgrade():
    op.drop_table("project_partner_budgets")
