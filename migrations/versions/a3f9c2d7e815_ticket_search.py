"""agents' full-text search index: ticket_search, kept by triggers (issue 13)

PostgreSQL: the unaccent extension, the guichet_fr text search configuration (french, accents folded), the table
ticket_search (ticket_id, tsvector) with a GIN index, and the triggers on tickets and ticket_messages that keep it
in the writing transaction. SQLite: an FTS5 table ticket_search (unicode61 remove_diacritics 2) and its triggers.
Both filled from the existing tickets. The statements are tickets.search's PG_DDL / SQLITE_DDL (and the drops)
at the time of this migration; the table is not in the models (tickets.search.is_search_table).

Revision ID: a3f9c2d7e815
Revises: c9e4b7a2d813
Create Date: 2026-12-04 01:30:00
"""

from alembic import op

revision = "a3f9c2d7e815"
down_revision = "c9e4b7a2d813"
branch_labels = None
depends_on = None

PG_DDL = [
    'CREATE EXTENSION IF NOT EXISTS unaccent',
    """DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'guichet_fr') THEN
        CREATE TEXT SEARCH CONFIGURATION guichet_fr (COPY = french);
        ALTER TEXT SEARCH CONFIGURATION guichet_fr
            ALTER MAPPING FOR hword, hword_part, word, asciiword, asciihword, hword_asciipart
            WITH unaccent, french_stem;
    END IF;
END $$""",
    """CREATE TABLE IF NOT EXISTS ticket_search (
    ticket_id integer PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    document tsvector NOT NULL)""",
    'CREATE INDEX IF NOT EXISTS ix_ticket_search_document ON ticket_search USING gin (document)',
    """CREATE OR REPLACE FUNCTION ticket_search_refresh(p_ticket integer) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO ticket_search (ticket_id, document)
    SELECT t.id,
           setweight(to_tsvector('guichet_fr', coalesce(t.subject, '')), 'A')
           || setweight(to_tsvector('guichet_fr', coalesce(t.requester_name, '')), 'B')
           || setweight(to_tsvector('guichet_fr', left(coalesce((
                  SELECT string_agg(m.body, E'\\n' ORDER BY m.id) FROM ticket_messages m WHERE m.ticket_id = t.id
              ), ''), 100000)), 'C')
    FROM tickets t WHERE t.id = p_ticket
    ON CONFLICT (ticket_id) DO UPDATE SET document = excluded.document
$$""",
    """CREATE OR REPLACE FUNCTION ticket_search_on_ticket() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ticket_search_refresh(NEW.id);
    RETURN NULL;
END $$""",
    """CREATE OR REPLACE FUNCTION ticket_search_on_message() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM ticket_search_refresh(OLD.ticket_id);
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.ticket_id IS DISTINCT FROM OLD.ticket_id) THEN
        PERFORM ticket_search_refresh(NEW.ticket_id);
    END IF;
    RETURN NULL;
END $$""",
    'DROP TRIGGER IF EXISTS ticket_search_ticket ON tickets',
    """CREATE TRIGGER ticket_search_ticket AFTER INSERT OR UPDATE OF subject, requester_name ON tickets
    FOR EACH ROW EXECUTE FUNCTION ticket_search_on_ticket()""",
    'DROP TRIGGER IF EXISTS ticket_search_message ON ticket_messages',
    """CREATE TRIGGER ticket_search_message AFTER INSERT OR DELETE OR UPDATE OF body, ticket_id ON ticket_messages
    FOR EACH ROW EXECUTE FUNCTION ticket_search_on_message()""",
]

PG_DROP = [
    'DROP TRIGGER IF EXISTS ticket_search_ticket ON tickets',
    'DROP TRIGGER IF EXISTS ticket_search_message ON ticket_messages',
    'DROP FUNCTION IF EXISTS ticket_search_on_ticket()',
    'DROP FUNCTION IF EXISTS ticket_search_on_message()',
    'DROP FUNCTION IF EXISTS ticket_search_refresh(integer)',
    'DROP TABLE IF EXISTS ticket_search',
    'DROP TEXT SEARCH CONFIGURATION IF EXISTS guichet_fr',
]

PG_REBUILD = 'SELECT ticket_search_refresh(id) FROM tickets'

SQLITE_DDL = [
    """CREATE VIRTUAL TABLE IF NOT EXISTS ticket_search USING fts5(
    subject, requester_name, body, tokenize = 'unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER IF NOT EXISTS ticket_search_ticket_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO ticket_search (rowid, subject, requester_name, body)
    VALUES (NEW.id, NEW.subject, NEW.requester_name, '');
END""",
    """CREATE TRIGGER IF NOT EXISTS ticket_search_ticket_update AFTER UPDATE OF subject, requester_name ON tickets
BEGIN
    UPDATE ticket_search SET subject = NEW.subject, requester_name = NEW.requester_name WHERE rowid = NEW.id;
END""",
    """CREATE TRIGGER IF NOT EXISTS ticket_search_ticket_delete AFTER DELETE ON tickets BEGIN
    DELETE FROM ticket_search WHERE rowid = OLD.id;
END""",
    """CREATE TRIGGER IF NOT EXISTS ticket_search_message_insert AFTER INSERT ON ticket_messages BEGIN
    UPDATE ticket_search SET body = substr(coalesce((
        SELECT group_concat(m.body, char(10))
        FROM (SELECT body FROM ticket_messages WHERE ticket_id = NEW.ticket_id ORDER BY id) m), ''), 1, 100000)
     WHERE rowid = NEW.ticket_id;
END""",
    """CREATE TRIGGER IF NOT EXISTS ticket_search_message_update AFTER UPDATE OF body, ticket_id ON ticket_messages
BEGIN
    UPDATE ticket_search SET body = substr(coalesce((
        SELECT group_concat(m.body, char(10))
        FROM (SELECT body FROM ticket_messages WHERE ticket_id = OLD.ticket_id ORDER BY id) m), ''), 1, 100000)
     WHERE rowid = OLD.ticket_id;
    UPDATE ticket_search SET body = substr(coalesce((
        SELECT group_concat(m.body, char(10))
        FROM (SELECT body FROM ticket_messages WHERE ticket_id = NEW.ticket_id ORDER BY id) m), ''), 1, 100000)
     WHERE rowid = NEW.ticket_id;
END""",
    """CREATE TRIGGER IF NOT EXISTS ticket_search_message_delete AFTER DELETE ON ticket_messages BEGIN
    UPDATE ticket_search SET body = substr(coalesce((
        SELECT group_concat(m.body, char(10))
        FROM (SELECT body FROM ticket_messages WHERE ticket_id = OLD.ticket_id ORDER BY id) m), ''), 1, 100000)
     WHERE rowid = OLD.ticket_id;
END""",
]

SQLITE_DROP = [
    'DROP TRIGGER IF EXISTS ticket_search_ticket_insert',
    'DROP TRIGGER IF EXISTS ticket_search_ticket_update',
    'DROP TRIGGER IF EXISTS ticket_search_ticket_delete',
    'DROP TRIGGER IF EXISTS ticket_search_message_insert',
    'DROP TRIGGER IF EXISTS ticket_search_message_update',
    'DROP TRIGGER IF EXISTS ticket_search_message_delete',
    'DROP TABLE IF EXISTS ticket_search',
]

SQLITE_REBUILD = """INSERT INTO ticket_search (rowid, subject, requester_name, body)
    SELECT t.id, t.subject, t.requester_name, substr(coalesce((
        SELECT group_concat(m.body, char(10))
        FROM (SELECT body FROM ticket_messages WHERE ticket_id = t.id ORDER BY id) m), ''), 1, 100000)
    FROM tickets t"""


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in PG_DDL if postgres else SQLITE_DDL:
        op.execute(statement)
    op.execute(PG_REBUILD if postgres else SQLITE_REBUILD)


def downgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in PG_DROP if postgres else SQLITE_DROP:
        op.execute(statement)
