"""reference numbers from one PostgreSQL sequence per year (issue 9: no row lock held until the commit)

On PostgreSQL, `ticket_reference_next(year)` gives the next number of a year from the sequence
`ticket_reference_<year>`, created by the year's first call to start after the counter row and the existing
tickets (so the numbers given before this migration go on). SQLite keeps its counter table; nothing to do there.
The function's text is tickets.models.REFERENCE_FUNCTION at the time of this migration.

Revision ID: 7c1e5b2a9d40
Revises: a6e3c9d7f210
Create Date: 2026-12-03 13:00:00
"""

from alembic import op

revision = "7c1e5b2a9d40"
down_revision = "a6e3c9d7f210"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION ticket_reference_next(p_year integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    seq text := 'ticket_reference_' || p_year;
    start bigint;
BEGIN
    IF to_regclass(seq) IS NULL THEN
        PERFORM pg_advisory_xact_lock(hashtext(seq));
        SELECT greatest(
            coalesce((SELECT c.last FROM reference_counters c WHERE c.year = p_year), 0),
            coalesce((SELECT max(CAST(split_part(t.reference, '-', 3) AS bigint)) FROM tickets t
                      WHERE t.reference ~ ('^DEM-' || p_year || '-[0-9]{1,18}$')), 0)) + 1 INTO start;
        EXECUTE 'CREATE SEQUENCE IF NOT EXISTS ' || quote_ident(seq) || ' START WITH ' || start;
    END IF;
    RETURN nextval(seq);
END
$$
"""

DROP = """
DO $$
DECLARE name text;
BEGIN
    FOR name IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind = 'S' AND n.nspname = current_schema() AND c.relname ~ '^ticket_reference_[0-9]+$'
    LOOP
        EXECUTE 'DROP SEQUENCE IF EXISTS ' || quote_ident(name);
    END LOOP;
    DROP FUNCTION IF EXISTS ticket_reference_next(integer);
END
$$
"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    # back to the counter table: each year's counter continues from the last number its sequence gave
    op.execute("""
DO $$
DECLARE name text; given bigint;
BEGIN
    FOR name IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind = 'S' AND n.nspname = current_schema() AND c.relname ~ '^ticket_reference_[0-9]+$'
    LOOP
        EXECUTE 'SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM ' || quote_ident(name)
            INTO given;
        INSERT INTO reference_counters (year, last) VALUES (CAST(substr(name, 18) AS integer), given)
            ON CONFLICT (year) DO UPDATE SET last = greatest(reference_counters.last, EXCLUDED.last);
    END LOOP;
END
$$
""")
    op.execute(DROP)
