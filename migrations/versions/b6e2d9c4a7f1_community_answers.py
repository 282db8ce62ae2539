"""answers shared between establishments: community experts, questions, answers, endorsements (issue 14, part 4)

Revision ID: b6e2d9c4a7f1
Revises: b8e2f4a6c1d9
Create Date: 2026-12-04 01:40:00
"""

import sqlalchemy as sa
from alembic import op

import crm.core.extensions  # noqa: F401  (UTCDateTime)

revision = "b6e2d9c4a7f1"
down_revision = "b8e2f4a6c1d9"
branch_labels = None
depends_on = None

WHEN = crm.core.extensions.UTCDateTime(timezone=True)


def upgrade():
    op.create_table(
        "community_experts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("designated_by_id", sa.Integer(), nullable=True),
        sa.Column("designated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_community_experts_user_id_users")),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"], ondelete="CASCADE",
                                name=op.f("fk_community_experts_organisation_id_organisations")),
        sa.ForeignKeyConstraint(["designated_by_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_community_experts_designated_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_experts")),
        sa.UniqueConstraint("user_id", name=op.f("uq_community_experts_user_id")),
    )
    op.create_index(op.f("ix_community_experts_organisation_id"), "community_experts", ["organisation_id"])
    op.create_table(
        "community_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("consent_at", WHEN, nullable=True),
        sa.Column("withdrawn_at", WHEN, nullable=True),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("opened_at", WHEN, nullable=True),
        sa.Column("answered_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE",
                                name=op.f("fk_community_questions_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_questions")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_community_questions_ticket_id")),
    )
    op.create_index("ix_community_questions_open", "community_questions", ["is_open", "consent", "opened_at"])
    op.create_table(
        "community_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("establishment_name", sa.String(length=255), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("moderated_by_id", sa.Integer(), nullable=True),
        sa.Column("moderated_at", WHEN, nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("article_external_id", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["question_id"], ["community_questions.id"], ondelete="CASCADE",
                                name=op.f("fk_community_answers_question_id_community_questions")),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_community_answers_author_id_users")),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"], ondelete="SET NULL",
                                name=op.f("fk_community_answers_organisation_id_organisations")),
        sa.ForeignKeyConstraint(["moderated_by_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_community_answers_moderated_by_id_users")),
        sa.ForeignKeyConstraint(["message_id"], ["ticket_messages.id"], ondelete="SET NULL",
                                name=op.f("fk_community_answers_message_id_ticket_messages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_answers")),
    )
    op.create_index(op.f("ix_community_answers_question_id"), "community_answers", ["question_id"])
    op.create_index(op.f("ix_community_answers_author_id"), "community_answers", ["author_id"])
    op.create_index("ix_community_answers_state_created", "community_answers", ["state", "created_at"])
    op.create_table(
        "community_endorsements",
        sa.Column("answer_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["answer_id"], ["community_answers.id"], ondelete="CASCADE",
                                name=op.f("fk_community_endorsements_answer_id_community_answers")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_community_endorsements_user_id_users")),
        sa.PrimaryKeyConstraint("answer_id", "user_id", name=op.f("pk_community_endorsements")),
    )


def downgrade():
    op.drop_table("community_endorsements")
    op.drop_index("ix_community_answers_state_created", table_name="community_answers")
    op.drop_index(op.f("ix_community_answers_author_id"), table_name="community_answers")
    op.drop_index(op.f("ix_community_answers_question_id"), table_name="community_answers")
    op.drop_table("community_answers")
    op.drop_index("ix_community_questions_open", table_name="community_questions")
    op.drop_table("community_questions")
    op.drop_index(op.f("ix_community_experts_organisation_id"), table_name="community_experts")
    op.drop_table("community_experts")
