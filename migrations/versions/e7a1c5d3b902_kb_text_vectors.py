"""semantic vectors of knowledge-base texts (issue 14, part 3)

Revision ID: e7a1c5d3b902
Revises: d2a7f3c9e514, f1c8a4e2b7d6
Create Date: 2026-12-03 13:00:00
"""

import sqlalchemy as sa
from alembic import op

import crm.core.extensions  # noqa: F401  (UTCDateTime)

revision = "e7a1c5d3b902"
down_revision = ("d2a7f3c9e514", "f1c8a4e2b7d6")  # also joins the two heads of 2026-12-03 13:18
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "kb_text_vectors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", crm.core.extensions.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_text_vectors")),
        sa.UniqueConstraint("model", "text_hash", name=op.f("uq_kb_text_vectors_model")),
    )


def downgrade():
    op.drop_table("kb_text_vectors")
