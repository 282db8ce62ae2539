"""the assistant's conversations and their turns (issue 14, part 1)

Revision ID: d2a7f3c9e514
Revises: 3fc0df117873
Create Date: 2026-12-03 13:30:00
"""

import sqlalchemy as sa
from alembic import op

import crm.core.extensions  # noqa: F401  (UTCDateTime)

revision = "d2a7f3c9e514"
down_revision = "3fc0df117873"
branch_labels = None
depends_on = None


def upgrade():
    when = crm.core.extensions.UTCDateTime(timezone=True)
    op.create_table(
        "expert_assistant_conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("call_code", sa.String(length=40), nullable=True),
        sa.Column("topic", sa.String(length=50), nullable=True),
        sa.Column("stage", sa.String(length=20), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("intent_reasons", sa.JSON(), nullable=False),
        sa.Column("clarifications", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("created_at", when, nullable=False),
        sa.Column("updated_at", when, nullable=False),
        sa.Column("expires_at", when, nullable=False),
        sa.Column("ended_at", when, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_expert_assistant_conversations_user_id_users")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="SET NULL",
                                name=op.f("fk_expert_assistant_conversations_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expert_assistant_conversations")),
        sa.UniqueConstraint("public_id", name=op.f("uq_expert_assistant_conversations_public_id")),
    )
    with op.batch_alter_table("expert_assistant_conversations") as batch:
        for column in ("user_id", "status", "ticket_id", "created_at", "expires_at"):
            batch.create_index(batch.f(f"ix_expert_assistant_conversations_{column}"), [column], unique=False)
    op.create_table(
        "expert_assistant_turns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("call_code", sa.String(length=40), nullable=True),
        sa.Column("created_at", when, nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["expert_assistant_conversations.id"], ondelete="CASCADE",
                                name=op.f("fk_expert_assistant_turns_conversation_id_expert_assistant_conversations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expert_assistant_turns")),
        sa.UniqueConstraint("conversation_id", "position", name=op.f("uq_expert_assistant_turns_conversation_id")),
    )
    with op.batch_alter_table("expert_assistant_turns") as batch:
        batch.create_index(batch.f("ix_expert_assistant_turns_conversation_id"), ["conversation_id"], unique=False)
        batch.create_index(batch.f("ix_expert_assistant_turns_kind"), ["kind"], unique=False)


def downgrade():
    op.drop_table("expert_assistant_turns")
    op.drop_table("expert_assistant_conversations")
