"""modification requests: the ticket's due time copied on the request, the queue's partial indexes (issue 12, 1)

Revision ID: a4d9e6c1f3b8
Revises: 5e2b9c7d1a48
Create Date: 2026-12-03 13:40:00
"""

import sqlalchemy as sa
from alembic import op

import crm.core.extensions  # noqa: F401  (UTCDateTime)

revision = "a4d9e6c1f3b8"
down_revision = "5e2b9c7d1a48"
branch_labels = None
depends_on = None

AT_AGENCY = sa.text("state IN ('under_review', 'information_requested')")


def upgrade():
    with op.batch_alter_table("change_requests") as batch:
        batch.add_column(sa.Column("due_at", crm.core.extensions.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE change_requests SET due_at = (SELECT tickets.next_due_at FROM tickets "
               "WHERE tickets.id = change_requests.ticket_id)")
    op.create_index("ix_change_requests_agency_due", "change_requests", ["due_at", "id"], unique=False,
                    postgresql_where=AT_AGENCY, sqlite_where=AT_AGENCY)
    op.create_index("ix_change_requests_agency_kind_due", "change_requests", ["kind", "due_at", "id"], unique=False,
                    postgresql_where=AT_AGENCY, sqlite_where=AT_AGENCY)
    op.create_index("ix_change_requests_updated", "change_requests", ["updated_at", "id"], unique=False)


def downgrade():
    op.drop_index("ix_change_requests_updated", table_name="change_requests")
    op.drop_index("ix_change_requests_agency_kind_due", table_name="change_requests")
    op.drop_index("ix_change_requests_agency_due", table_name="change_requests")
    with op.batch_alter_table("change_requests") as batch:
        batch.drop_column("due_at")
