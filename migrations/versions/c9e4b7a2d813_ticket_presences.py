"""ticket_presences: which agents are on a ticket's page, since when, writing a reply or not (issue 13)

Revision ID: c9e4b7a2d813
Revises: b6e2d9c4a7f1, b8e2f4a6c1d9 (also joins the two heads committed side by side)
Create Date: 2026-12-04 01:40:00
"""

import sqlalchemy as sa
from alembic import op

import crm.core.extensions  # (UTCDateTime)

revision = "c9e4b7a2d813"
down_revision = ("b6e2d9c4a7f1", "b8e2f4a6c1d9")
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ticket_presences",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("since", crm.core.extensions.UTCDateTime(), nullable=False),
        sa.Column("last_seen", crm.core.extensions.UTCDateTime(), nullable=False),
        sa.Column("replying", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_presences_ticket_id_tickets"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_ticket_presences_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ticket_id", "user_id", name=op.f("pk_ticket_presences")),
    )


def downgrade():
    op.drop_table("ticket_presences")
