"""saved_queue_views: a staff member's named views of the agent queue (issue 13)

Revision ID: a8d3f6c2e915
Revises: a3f9c2d7e815
Create Date: 2026-12-04 01:30:00
"""

import sqlalchemy as sa
from alembic import op

import crm.core.extensions  # noqa: F401  (UTCDateTime)

revision = "a8d3f6c2e915"
down_revision = "a3f9c2d7e815"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "saved_queue_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("query", sa.String(length=2000), nullable=False),
        sa.Column("created_at", crm.core.extensions.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_saved_queue_views_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_queue_views")),
        sa.UniqueConstraint("user_id", "name", name=op.f("uq_saved_queue_views_user_id")),
    )


def downgrade():
    op.drop_table("saved_queue_views")
