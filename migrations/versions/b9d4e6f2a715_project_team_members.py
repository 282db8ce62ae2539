"""project team members, imported every night: the portal shows a member the projects of their team (issue 11, part 5)

Revision ID: b9d4e6f2a715
Revises: e7b3d1a9c402
Create Date: 2026-12-03 13:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "b9d4e6f2a715"
down_revision = "e7b3d1a9c402"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "project_team_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("row_hash", sa.String(length=32), nullable=False),
        sa.CheckConstraint("end_date IS NULL OR start_date IS NULL OR end_date >= start_date",
                           name=op.f("ck_project_team_members_team_dates_ordered")),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], ondelete="CASCADE",
                                name=op.f("fk_project_team_members_person_id_people")),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE",
                                name=op.f("fk_project_team_members_project_id_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_team_members")),
        sa.UniqueConstraint("project_id", "person_id", name=op.f("uq_project_team_members_member")),
    )
    with op.batch_alter_table("project_team_members") as batch:
        batch.create_index(batch.f("ix_project_team_members_person_id"), ["person_id"], unique=False)


def downgrade():
    with op.batch_alter_table("project_team_members") as batch:
        batch.drop_index(batch.f("ix_project_team_members_person_id"))
    op.drop_table("project_team_members")
