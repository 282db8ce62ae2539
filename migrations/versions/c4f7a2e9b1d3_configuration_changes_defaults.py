"""configuration change log, organisations' agency contact, default calendars, queue, topic and SLA policies
(issue 11, part 4)

Revision ID: c4f7a2e9b1d3
Revises: 8d3f1b6a2c95
Create Date: 2026-12-03 13:00:00

The default set is written only on a database that has none of these rows yet (a fresh instance): the same
values as tickets.admin.defaults, copied here so that this migration never changes with the application code.
"""

import sqlalchemy as sa
from alembic import op

import crm.core.extensions  # noqa: F401  (UTCDateTime)

revision = "c4f7a2e9b1d3"
down_revision = "8d3f1b6a2c95"
branch_labels = None
depends_on = None

_OFFICE = "Heures de bureau (Paris)"
_ALWAYS = "24 h/24, 7 j/7"
_OFFICE_HOURS = {day: [["09:00", "12:30"], ["13:30", "17:30"]] for day in ("mon", "tue", "wed", "thu", "fri")}
_ALWAYS_HOURS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
_ESCALATION = {"warn_assignee": True, "notify_manager_on_breach": True}
_POLICIES = [
    ("Standard", None, 900, 4500, _OFFICE),
    ("Standard — priorité basse", "low", 1350, 6750, _OFFICE),
    ("Standard — priorité haute", "high", 450, 2250, _OFFICE),
    ("Urgence 24/7", "urgent", 240, 1440, _ALWAYS),
]

calendars = sa.table("sla_calendars", sa.column("id", sa.Integer), sa.column("name", sa.String),
                     sa.column("timezone", sa.String), sa.column("country", sa.String),
                     sa.column("subdivision", sa.String), sa.column("hours", sa.JSON),
                     sa.column("closed_days", sa.JSON))
queues = sa.table("queues", sa.column("id", sa.Integer), sa.column("slug", sa.String), sa.column("name", sa.String),
                  sa.column("description", sa.Text), sa.column("is_referent_group", sa.Boolean),
                  sa.column("active", sa.Boolean))
topics = sa.table("topics", sa.column("slug", sa.String), sa.column("label", sa.String),
                  sa.column("label_en", sa.String), sa.column("default_queue_id", sa.Integer),
                  sa.column("position", sa.Integer), sa.column("active", sa.Boolean))
policies = sa.table("sla_policies", sa.column("name", sa.String), sa.column("priority", sa.String),
                    sa.column("first_response_minutes", sa.Integer), sa.column("resolution_minutes", sa.Integer),
                    sa.column("calendar_id", sa.Integer), sa.column("escalation", sa.JSON),
                    sa.column("active", sa.Boolean))


def _empty(connection, table) -> bool:
    return connection.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0


def _install_defaults() -> None:
    connection = op.get_bind()
    if _empty(connection, calendars) and _empty(connection, policies):
        op.bulk_insert(calendars, [
            {"name": _OFFICE, "timezone": "Europe/Paris", "country": "FR", "subdivision": None,
             "hours": _OFFICE_HOURS, "closed_days": []},
            {"name": _ALWAYS, "timezone": "Europe/Paris", "country": None, "subdivision": None,
             "hours": _ALWAYS_HOURS, "closed_days": []},
        ])
        ids = dict(connection.execute(sa.select(calendars.c.name, calendars.c.id)).all())
        op.bulk_insert(policies, [
            {"name": name, "priority": priority, "first_response_minutes": first, "resolution_minutes": resolution,
             "calendar_id": ids[calendar], "escalation": _ESCALATION, "active": True}
            for name, priority, first, resolution, calendar in _POLICIES
        ])
    if _empty(connection, queues):
        op.bulk_insert(queues, [{"slug": "support", "name": "Support", "is_referent_group": False, "active": True,
                                 "description": "File générale : les demandes qu'aucun thème ni règle n'envoie "
                                                "ailleurs."}])
        if _empty(connection, topics):
            queue_id = connection.execute(sa.select(queues.c.id).where(queues.c.slug == "support")).scalar()
            op.bulk_insert(topics, [{"slug": "autre", "label": "Autre question", "label_en": "Other question",
                                     "default_queue_id": queue_id, "position": 100, "active": True}])


def upgrade():
    op.create_table(
        "change_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("object_type", sa.String(length=40), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("comment", sa.String(length=300), nullable=False),
        sa.Column("created_at", crm.core.extensions.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_change_records_actor_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_records")),
    )
    with op.batch_alter_table("change_records") as batch:
        batch.create_index("ix_change_records_object", ["object_type", "object_id", "created_at"], unique=False)
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("agency_contact_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(batch.f("fk_organisations_agency_contact_id_users"), "users",
                                 ["agency_contact_id"], ["id"], ondelete="SET NULL")
    _install_defaults()


def downgrade():
    with op.batch_alter_table("organisations") as batch:
        batch.drop_constraint(batch.f("fk_organisations_agency_contact_id_users"), type_="foreignkey")
        batch.drop_column("agency_contact_id")
    with op.batch_alter_table("change_records") as batch:
        batch.drop_index("ix_change_records_object")
    op.drop_table("change_records")
