"""référents' absence periods (issue 11, part 3)

Revision ID: a6e3c9d7f210
Revises: f5d2a8c1b9e4
Create Date: 2026-12-02 18:20:00
"""

import sqlalchemy as sa
from alembic import op

import crm.core.extensions  # noqa: F401  (UTCDateTime)

revision = "a6e3c9d7f210"
down_revision = "f5d2a8c1b9e4"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "expert_referent_absences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", crm.core.extensions.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_expert_referent_absences_absence_dates_ordered")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_expert_referent_absences_created_by_id_users")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_expert_referent_absences_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expert_referent_absences")),
    )
    with op.batch_alter_table("expert_referent_absences") as batch:
        batch.create_index(batch.f("ix_expert_referent_absences_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("expert_referent_absences") as batch:
        batch.drop_index(batch.f("ix_expert_referent_absences_user_id"))
    op.drop_table("expert_referent_absences")
