"""triage decisions awaiting the semantic channel's second look after the submission's commit (issue 9)

Revision ID: f19c4e7a2b53
Revises: c4e8a2d6f913
Create Date: 2026-12-04 04:00:00
"""

import sqlalchemy as sa
from alembic import op

import crm.core.extensions  # noqa: F401  (UTCDateTime)

revision = "f19c4e7a2b53"
down_revision = "c4e8a2d6f913"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("expert_triage_decisions") as batch:
        batch.add_column(sa.Column("second_look_at", crm.core.extensions.UTCDateTime(timezone=True), nullable=True))
    op.create_index("ix_expert_triage_decisions_second_look", "expert_triage_decisions", ["second_look_at"],
                    postgresql_where=sa.text("second_look_at IS NOT NULL"),
                    sqlite_where=sa.text("second_look_at IS NOT NULL"))


def downgrade():
    op.drop_index("ix_expert_triage_decisions_second_look", table_name="expert_triage_decisions")
    with op.batch_alter_table("expert_triage_decisions") as batch:
        batch.drop_column("second_look_at")
