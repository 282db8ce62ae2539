"""modification requests filed online, and a call's maximum duration (issue 12, part 1)

Revision ID: e7b3d1a9c402
Revises: 7c1e5b2a9d40
Create Date: 2026-12-03 13:10:00
"""

import sqlalchemy as sa
from alembic import op

import crm.core.extensions  # noqa: F401  (UTCDateTime)

revision = "e7b3d1a9c402"
down_revision = "7c1e5b2a9d40"
branch_labels = None
depends_on = None

WHEN = crm.core.extensions.UTCDateTime(timezone=True)


def upgrade():
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("max_duration_months", sa.Integer(), nullable=True))
    op.create_table(
        "change_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("filer_id", sa.Integer(), nullable=True),
        sa.Column("filer_person_id", sa.Integer(), nullable=True),
        sa.Column("filer_role", sa.String(length=24), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("co_validator_person_id", sa.Integer(), nullable=True),
        sa.Column("co_validated_at", WHEN, nullable=True),
        sa.Column("co_validated_by_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        sa.Column("decided_at", WHEN, nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("submitted_at", WHEN, nullable=True),
        sa.Column("recorded_at", WHEN, nullable=True),
        sa.Column("closed_at", WHEN, nullable=True),
        sa.Column("imported_request_id", sa.Integer(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE",
                                name=op.f("fk_change_requests_project_id_projects")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="SET NULL",
                                name=op.f("fk_change_requests_ticket_id_tickets")),
        sa.ForeignKeyConstraint(["filer_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_change_requests_filer_id_users")),
        sa.ForeignKeyConstraint(["filer_person_id"], ["people.id"], ondelete="SET NULL",
                                name=op.f("fk_change_requests_filer_person_id_people")),
        sa.ForeignKeyConstraint(["partner_id"], ["project_partners.id"], ondelete="SET NULL",
                                name=op.f("fk_change_requests_partner_id_project_partners")),
        sa.ForeignKeyConstraint(["co_validator_person_id"], ["people.id"], ondelete="SET NULL",
                                name=op.f("fk_change_requests_co_validator_person_id_people")),
        sa.ForeignKeyConstraint(["co_validated_by_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_change_requests_co_validated_by_id_users")),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_change_requests_decided_by_id_users")),
        sa.ForeignKeyConstraint(["imported_request_id"], ["modification_requests.id"], ondelete="SET NULL",
                                name=op.f("fk_change_requests_imported_request_id_modification_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_requests")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_change_requests_ticket_id")),
        sa.UniqueConstraint("imported_request_id", name=op.f("uq_change_requests_imported_request_id")),
    )
    with op.batch_alter_table("change_requests") as batch:
        batch.create_index(batch.f("ix_change_requests_filer_id"), ["filer_id"], unique=False)
        batch.create_index(batch.f("ix_change_requests_co_validator_person_id"), ["co_validator_person_id"],
                           unique=False)
        batch.create_index("ix_change_requests_project_state", ["project_id", "state"], unique=False)
        batch.create_index("ix_change_requests_state_kind", ["state", "kind"], unique=False)
        batch.create_index("ix_change_requests_decided_at", ["decided_at"], unique=False)
        batch.create_index("ix_change_requests_submitted_at", ["submitted_at"], unique=False)


def downgrade():
    op.drop_table("change_requests")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("max_duration_months")
