"""call documents, their versions and passages; the passage an assistant turn quoted (issue 14, part 2)

Revision ID: b8e2f4a6c1d9
Revises: c4f7a2e9b1d3
Create Date: 2026-12-04 01:30:00
"""

import sqlalchemy as sa
from alembic import op

import crm.core.extensions  # noqa: F401  (UTCDateTime)

revision = "b8e2f4a6c1d9"
down_revision = "c4f7a2e9b1d3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "kb_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("call_code", sa.String(length=40), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("current_number", sa.Integer(), nullable=False),
        sa.Column("created_at", crm.core.extensions.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm.core.extensions.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_kb_documents_created_by_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_documents")),
        sa.UniqueConstraint("call_code", "title", name=op.f("uq_kb_documents_call_code")),
        sa.UniqueConstraint("slug", name=op.f("uq_kb_documents_slug")),
    )
    op.create_table(
        "kb_document_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", crm.core.extensions.UTCDateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["document_id"], ["kb_documents.id"],
                                name=op.f("fk_kb_document_versions_document_id_kb_documents"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["uploaded_by_id"], ["users.id"],
                                name=op.f("fk_kb_document_versions_uploaded_by_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_document_versions")),
        sa.UniqueConstraint("document_id", "number", name=op.f("uq_kb_document_versions_document_id")),
    )
    op.create_index(op.f("ix_kb_document_versions_document_id"), "kb_document_versions", ["document_id"])
    op.create_table(
        "kb_passages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("heading_path", sa.JSON(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["kb_document_versions.id"],
                                name=op.f("fk_kb_passages_version_id_kb_document_versions"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_passages")),
        sa.UniqueConstraint("version_id", "position", name=op.f("uq_kb_passages_version_id")),
    )
    op.create_index(op.f("ix_kb_passages_version_id"), "kb_passages", ["version_id"])
    with op.batch_alter_table("expert_assistant_turns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("passage_id", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("expert_assistant_turns", schema=None) as batch_op:
        batch_op.drop_column("passage_id")
    op.drop_index(op.f("ix_kb_passages_version_id"), table_name="kb_passages")
    op.drop_table("kb_passages")
    op.drop_index(op.f("ix_kb_document_versions_document_id"), table_name="kb_document_versions")
    op.drop_table("kb_document_versions")
    op.drop_table("kb_documents")
