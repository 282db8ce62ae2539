"""requester identity: reply token, address confirmation, authentication results of incoming mail (issue 10)

Revision ID: d81e5a7c40b3
Revises: c3a9f05d6e12
Create Date: 2026-12-02 17:40:00

Existing tickets get a random reply token each (so their future e-mails carry one); their addresses stay
unconfirmed: a ticket filed from an account keeps its link, one known only by its address waits for a link.
"""
import base64
import secrets

import sqlalchemy as sa
from alembic import op

import crm.core.extensions  # noqa: F401  (UTCDateTime)

# revision identifiers, used by Alembic.
revision = 'd81e5a7c40b3'
down_revision = 'c3a9f05d6e12'
branch_labels = None
depends_on = None


def _token() -> str:
    return base64.b32encode(secrets.token_bytes(15)).decode().lower()


def upgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reply_token', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('requester_confirmed_at', crm.core.extensions.UTCDateTime(timezone=True),
                                      nullable=True))
    tickets = sa.table('tickets', sa.column('id', sa.Integer()), sa.column('reply_token', sa.String()))
    connection = op.get_bind()
    while True:
        ids = connection.execute(
            sa.select(tickets.c.id).where(tickets.c.reply_token.is_(None)).limit(5000)).scalars().all()
        if not ids:
            break
        connection.execute(tickets.update().where(tickets.c.id == sa.bindparam('ticket_id'))
                           .values(reply_token=sa.bindparam('token')),
                           [{'ticket_id': i, 'token': _token()} for i in ids])
    op.create_index(op.f('ix_tickets_reply_token'), 'tickets', ['reply_token'], unique=True)
    with op.batch_alter_table('ticket_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_auth', sa.JSON(), nullable=True))
    with op.batch_alter_table('inbound_mails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('auth_results', sa.JSON(), nullable=True))
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reply_to', sa.String(length=254), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('reply_to')
    with op.batch_alter_table('inbound_mails', schema=None) as batch_op:
        batch_op.drop_column('auth_results')
    with op.batch_alter_table('ticket_messages', schema=None) as batch_op:
        batch_op.drop_column('email_auth')
    op.drop_index(op.f('ix_tickets_reply_token'), table_name='tickets')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('requester_confirmed_at')
        batch_op.drop_column('reply_token')
