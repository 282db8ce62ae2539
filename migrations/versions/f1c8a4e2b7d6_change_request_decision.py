"""the decision a modification request received, kept once it is recorded or closed (issue 12, part 1)

Revision ID: f1c8a4e2b7d6
Revises: 3fc0df117873
Create Date: 2026-12-03 13:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "f1c8a4e2b7d6"
down_revision = "3fc0df117873"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("change_requests") as batch:
        batch.add_column(sa.Column("decision", sa.String(length=20), nullable=True))


def downgrade():
    with op.batch_alter_table("change_requests") as batch:
        batch.drop_column("decision")
