"""cache_versions: one token per namespace of reference data cached per process (crm.core.refcache)

Revision ID: f5d2a8c1b9e4
Revises: e4b2c7d19a36
Create Date: 2026-12-02 17:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "f5d2a8c1b9e4"
down_revision = "e4b2c7d19a36"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "cache_versions",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cache_versions")),
    )


def downgrade():
    op.drop_table("cache_versions")
