"""Agents' full-text search over subjects, requester names and message bodies, with the match highlighted.

PostgreSQL: one tsvector per ticket in `ticket_search` (subject weight A, requester name B, message bodies C, in
the `guichet_fr` configuration: French stemming after `unaccent`), kept by triggers in the writing statement's
own transaction (no statement more on the write path), a GIN index, `websearch_to_tsquery`, `ts_rank`,
`ts_headline`. SQLite: an FTS5 table (`unicode61 remove_diacritics 2`) kept by triggers, bm25, `highlight()`
and `snippet()`. Neither table is in the models' metadata: they are created by the DDL below (create_all
through the metadata events, the migration a3f9c2d7e815 with the same text) and left out of the
models/migrations comparison by `is_search_table`. A batch migration that rebuilds `tickets` or
`ticket_messages` on SQLite drops their triggers: such a migration runs `SQLITE_DDL` again (IF NOT EXISTS);
tests/test_migrations.py fails when a trigger is missing.

Highlights come back from the database with the \\x02 and \\x03 markers around matches; `highlighted` escapes
everything else and turns only those markers into <mark>, so no user text is ever rendered as HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy.dialects.postgresql import REGCONFIG

from crm.core.extensions import db
from knowledge_base.text import STOP_WORDS, fold
from tickets.models import Status, Ticket
from tickets.queries import QueueFilters, filter_clauses

MAX_LENGTH = 200
MAX_TERMS = 12
PER_PAGE = 20
#: At most this many matches (the newest) are ranked and paged (see ranked_query).
RANK_WINDOW = 2000
CONFIG = "guichet_fr"
START, STOP = "\x02", "\x03"
#: Stands for '<' in the text given to ts_headline, which would otherwise leave out anything shaped like a tag.
LT_STANDIN = "\x01"
#: The bodies of a ticket indexed and highlighted are cut at this many characters (a tsvector holds 1 MB).
BODY_LIMIT = 100_000

SEARCH_TABLE = "ticket_search"

PG_DDL = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    f"""DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = '{CONFIG}') THEN
        CREATE TEXT SEARCH CONFIGURATION {CONFIG} (COPY = french);
        ALTER TEXT SEARCH CONFIGURATION {CONFIG}
            ALTER MAPPING FOR hword, hword_part, word, asciiword, asciihword, hword_asciipart
            WITH unaccent, french_stem;
    END IF;
END $$""",  # noqa: S608 - constants only, no user input
    """CREATE TABLE IF NOT EXISTS ticket_search (
    ticket_id integer PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    document tsvector NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS ix_ticket_search_document ON ticket_search USING gin (document)",
    f"""CREATE OR REPLACE FUNCTION ticket_search_refresh(p_ticket integer) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO ticket_search (ticket_id, document)
    SELECT t.id,
           setweight(to_tsvector('{CONFIG}', coalesce(t.subject, '')), 'A')
           || setweight(to_tsvector('{CONFIG}', coalesce(t.requester_name, '')), 'B')
           || setweight(to_tsvector('{CONFIG}', left(coalesce((
                  SELECT string_agg(m.body, E'\\n' ORDER BY m.id) FROM ticket_messages m WHERE m.ticket_id = t.id
              ), ''), {BODY_LIMIT})), 'C')
    FROM tickets t WHERE t.id = p_ticket
    ON CONFLICT (ticket_id) DO UPDATE SET document = excluded.document
$$""",  # noqa: S608 - constants only, no user input
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
    "DROP TRIGGER IF EXISTS ticket_search_ticket ON tickets",
    """CREATE TRIGGER ticket_search_ticket AFTER INSERT OR UPDATE OF subject, requester_name ON tickets
    FOR EACH ROW EXECUTE FUNCTION ticket_search_on_ticket()""",
    "DROP TRIGGER IF EXISTS ticket_search_message ON ticket_messages",
    """CREATE TRIGGER ticket_search_message AFTER INSERT OR DELETE OR UPDATE OF body, ticket_id ON ticket_messages
    FOR EACH ROW EXECUTE FUNCTION ticket_search_on_message()""",
]

PG_DROP = [
    "DROP TRIGGER IF EXISTS ticket_search_ticket ON tickets",
    "DROP TRIGGER IF EXISTS ticket_search_message ON ticket_messages",
    "DROP FUNCTION IF EXISTS ticket_search_on_ticket()",
    "DROP FUNCTION IF EXISTS ticket_search_on_message()",
    "DROP FUNCTION IF EXISTS ticket_search_refresh(integer)",
    "DROP TABLE IF EXISTS ticket_search",
    f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {CONFIG}",
]

#: The bodies of one ticket, as the SQLite triggers index them.
_SQLITE_BODIES = f"""substr(coalesce((
        SELECT group_concat(m.body, char(10))
        FROM (SELECT body FROM ticket_messages WHERE ticket_id = {{id}} ORDER BY id) m), ''), 1, {BODY_LIMIT})
    """  # noqa: S608 - constants only, no user input

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
    f"""CREATE TRIGGER IF NOT EXISTS ticket_search_message_insert AFTER INSERT ON ticket_messages BEGIN
    UPDATE ticket_search SET body = {_SQLITE_BODIES.format(id="NEW.ticket_id")} WHERE rowid = NEW.ticket_id;
END""",  # noqa: S608 - constants only, no user input
    f"""CREATE TRIGGER IF NOT EXISTS ticket_search_message_update AFTER UPDATE OF body, ticket_id ON ticket_messages
BEGIN
    UPDATE ticket_search SET body = {_SQLITE_BODIES.format(id="OLD.ticket_id")} WHERE rowid = OLD.ticket_id;
    UPDATE ticket_search SET body = {_SQLITE_BODIES.format(id="NEW.ticket_id")} WHERE rowid = NEW.ticket_id;
END""",  # noqa: S608 - constants only, no user input
    f"""CREATE TRIGGER IF NOT EXISTS ticket_search_message_delete AFTER DELETE ON ticket_messages BEGIN
    UPDATE ticket_search SET body = {_SQLITE_BODIES.format(id="OLD.ticket_id")} WHERE rowid = OLD.ticket_id;
END""",  # noqa: S608 - constants only, no user input
]

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS ticket_search_ticket_insert",
    "DROP TRIGGER IF EXISTS ticket_search_ticket_update",
    "DROP TRIGGER IF EXISTS ticket_search_ticket_delete",
    "DROP TRIGGER IF EXISTS ticket_search_message_insert",
    "DROP TRIGGER IF EXISTS ticket_search_message_update",
    "DROP TRIGGER IF EXISTS ticket_search_message_delete",
    "DROP TABLE IF EXISTS ticket_search",
]

#: Index every existing ticket (the migration, and the benchmark after its COPY).
PG_REBUILD = "SELECT ticket_search_refresh(id) FROM tickets"
SQLITE_REBUILD = f"""INSERT INTO ticket_search (rowid, subject, requester_name, body)
    SELECT t.id, t.subject, t.requester_name, {_SQLITE_BODIES.format(id="t.id")}FROM tickets t"""  # noqa: S608 - constants only, no user input


def is_search_table(name: str) -> bool:
    """Tables of the search index (and FTS5's shadow tables), which the models do not declare."""
    return name == SEARCH_TABLE or name.startswith(SEARCH_TABLE + "_")


TRIGGERS = {"postgresql": ("ticket_search_ticket", "ticket_search_message"),
            "sqlite": ("ticket_search_ticket_insert", "ticket_search_ticket_update", "ticket_search_ticket_delete",
                       "ticket_search_message_insert", "ticket_search_message_update",
                       "ticket_search_message_delete")}


def missing_triggers(connection: sa.Connection) -> list[str]:
    """The index's triggers absent from the database (a SQLite batch migration rebuilding a table drops them)."""
    if connection.dialect.name == "postgresql":
        present = set(connection.scalars(sa.text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")))
    else:
        present = set(connection.scalars(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
    return [name for name in TRIGGERS[connection.dialect.name] if name not in present]


def include_name(name: str | None, type_: str, _parent_names) -> bool:
    """Alembic's include_name: the models/migrations comparison leaves the search index's tables out."""
    return not (type_ == "table" and name is not None and is_search_table(name))


for _statement in PG_DDL:
    sa.event.listen(db.metadata, "after_create", sa.DDL(_statement).execute_if(dialect="postgresql"))
for _statement in PG_DROP:
    sa.event.listen(db.metadata, "before_drop", sa.DDL(_statement).execute_if(dialect="postgresql"))
for _statement in SQLITE_DDL:
    sa.event.listen(db.metadata, "after_create", sa.DDL(_statement).execute_if(dialect="sqlite"))
for _statement in SQLITE_DROP:
    sa.event.listen(db.metadata, "before_drop", sa.DDL(_statement).execute_if(dialect="sqlite"))


# -- the query text --------------------------------------------------------------------------------------


class SearchError(ValueError):
    """The search text cannot be searched; the message says why, for the person who typed it."""


@dataclass(frozen=True)
class Terms:
    """A parsed search: alternatives (OR) of words and phrases that must all match, and excluded ones."""

    groups: tuple[tuple[str, ...], ...]
    excluded: tuple[str, ...] = ()


_TOKEN_RE = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORD_RE = re.compile(r"[^\W_]+")


def _words(text: str) -> list[str]:
    """Words of a term, elided articles and stop words left out (« l'évaluation » → évaluation)."""
    return [w for w in _WORD_RE.findall(text) if fold(w) not in STOP_WORDS]


def parse(text: str) -> Terms:
    """Parse the web-search syntax agents know: words, "exact phrases" (an unclosed quote runs to the end),
    OR between alternatives, -word to exclude. Raises SearchError for an empty, too long or stop-words-only text."""
    text = (text or "").strip()
    if not text:
        raise SearchError(_("Saisissez au moins un mot à rechercher."))
    if len(text) > MAX_LENGTH:
        raise SearchError(_("La recherche est limitée à %(n)s caractères.", n=MAX_LENGTH))
    groups: list[list[str]] = [[]]
    excluded: list[str] = []
    for match in _TOKEN_RE.finditer(text):
        negated, phrase, bare = match.group(1), match.group(2), match.group(3)
        if bare == "OR":
            groups.append([])
            continue
        if bare is not None and bare.startswith("-") and len(bare) > 1:
            negated, bare = "-", bare[1:]
        # a phrase keeps its short words, which the index counts in its positions
        words = (_WORD_RE.findall(phrase) if _words(phrase) else []) if phrase is not None else _words(bare)
        if not words:
            continue
        term = " ".join(words)
        (excluded if negated else groups[-1]).append(term)
    kept = tuple(tuple(g) for g in groups if g)
    if sum(len(g) for g in kept) + len(excluded) > MAX_TERMS:
        raise SearchError(_("La recherche est limitée à %(n)s mots ou expressions.", n=MAX_TERMS))
    if not kept:
        raise SearchError(_("Cette recherche ne contient que des mots trop courants (le, de, pour…) ou des "
                            "exclusions : ajoutez un mot plus précis."))
    return Terms(groups=kept, excluded=tuple(excluded))


def fts5_expression(terms: Terms) -> str:
    """The FTS5 MATCH expression of parsed terms: each word or phrase quoted, so no FTS5 syntax gets through."""
    def quoted(term: str) -> str:
        return '"' + term.replace('"', '""') + '"'

    expression = " OR ".join("(" + " AND ".join(quoted(t) for t in group) + ")" for group in terms.groups)
    for term in terms.excluded:
        expression = f"({expression}) NOT {quoted(term)}"
    return expression


def websearch_text(terms: Terms) -> str:
    """The same search written for PostgreSQL's websearch_to_tsquery."""
    alternatives = " or ".join(" ".join(f'"{t}"' if " " in t else t for t in group) for group in terms.groups)
    return " ".join([alternatives, *(f'-"{t}"' for t in terms.excluded)])


def highlighted(text: str | None) -> Markup:
    """Escape text from the database and mark the matches it carries between START and STOP with <mark>."""
    parts: list[str] = []
    open_ = False
    for piece in re.split(f"([{START}{STOP}])", (text or "").replace(LT_STANDIN, "<")):
        if piece == START:
            if not open_:
                parts.append("<mark>")
                open_ = True
        elif piece == STOP:
            if open_:
                parts.append("</mark>")
                open_ = False
        else:
            parts.append(str(escape(piece)))
    if open_:
        parts.append("</mark>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text is escaped above


# -- the queries -----------------------------------------------------------------------------------------


@dataclass
class Hit:
    """One ticket found, with its subject, requester name and an extract of its messages, matches marked."""

    ticket: Ticket
    subject: Markup
    requester_name: Markup
    extract: Markup


@dataclass
class SearchPage:
    """One page of hits; `matches` is how many tickets matched, counted up to RANK_WINDOW."""

    hits: list[Hit]
    page: int
    per_page: int
    has_next: bool
    matches: int = 0

    @property
    def window_full(self) -> bool:
        """More tickets match than are ranked: only the RANK_WINDOW newest are."""
        return self.matches >= RANK_WINDOW

    @property
    def has_prev(self) -> bool:
        return self.page > 1


_pg_table = sa.table(SEARCH_TABLE, sa.column("ticket_id"), sa.column("document"))
_fts = sa.literal_column(SEARCH_TABLE)
_rowid = sa.literal_column(f"{SEARCH_TABLE}.rowid")


def _pg_query(terms: Terms):
    return sa.func.websearch_to_tsquery(sa.cast(CONFIG, REGCONFIG), websearch_text(terms))


ALL_STATUSES = tuple(Status)


def _match(terms: Terms, dialect: str):
    """(search table, its ticket id, the match condition, the rank order) for a dialect."""
    if dialect == "postgresql":
        tsquery = _pg_query(terms)
        return (_pg_table, _pg_table.c.ticket_id, _pg_table.c.document.op("@@")(tsquery),
                sa.func.ts_rank(_pg_table.c.document, tsquery).desc())
    return sa.table(SEARCH_TABLE), _rowid, _fts.op("MATCH")(fts5_expression(terms)), sa.func.bm25(_fts, 10.0, 5.0, 1.0)


def window_query(terms: Terms, filters: QueueFilters, dialect: str) -> sa.Select:
    """The ids of the RANK_WINDOW newest tickets matching the terms and the filters, from the search index."""
    table, key, match, _rank = _match(terms, dialect)
    return (sa.select(key).select_from(table).join(Ticket, Ticket.id == key)
            .where(match, *filter_clauses(filters)).order_by(key.desc()).limit(RANK_WINDOW))


def ranked_query(terms: Terms, filters: QueueFilters, dialect: str) -> sa.Select:
    """SELECT the tickets of the window, best match first (then the newest). The window keeps a word found in a
    tenth of a million tickets from ranking them all: the newest matches are read first, from the index."""
    table, key, match, rank = _match(terms, dialect)
    return (sa.select(Ticket).select_from(table).join(Ticket, Ticket.id == key)
            .where(match, key.in_(window_query(terms, filters, dialect).scalar_subquery()))
            .order_by(rank, Ticket.id.desc()))


def search_tickets(text: str, filters: QueueFilters | None = None, *, page: int = 1,
                   per_page: int = PER_PAGE) -> SearchPage:
    """Tickets matching the text and the queue's filters (so the same access), best match first.

    Every status by default (filters.statuses empty means every status here, not the queue's active ones)."""
    terms = parse(text)
    filters = (filters or QueueFilters()).with_(search="")  # the queue's own search (substring) is not this one
    if not filters.statuses:
        filters = filters.with_(statuses=ALL_STATUSES)
    page = max(int(page or 1), 1)
    dialect = db.session.get_bind().dialect.name
    query = ranked_query(terms, filters, dialect).offset((page - 1) * per_page).limit(per_page + 1)
    tickets = list(db.session.scalars(query).unique())
    # parse() drops the usual stop words; PostgreSQL's own list may drop the rest: asked only when nothing matched
    if not tickets and dialect == "postgresql" and not db.session.scalar(sa.select(sa.func.numnode(_pg_query(terms)))):
        raise SearchError(_("Cette recherche ne contient que des mots trop courants (le, de, pour…) ou des "
                            "exclusions : ajoutez un mot plus précis."))
    shown = tickets[:per_page]
    if page == 1 and len(tickets) <= per_page:
        matches = len(tickets)
    else:
        matches = db.session.scalar(sa.select(sa.func.count()).select_from(
            window_query(terms, filters, dialect).subquery()))
    marks = _pg_highlights(terms, shown) if dialect == "postgresql" else _sqlite_highlights(terms, shown)
    hits = [Hit(ticket=t, subject=highlighted(marks.get(t.id, (t.subject,))[0]),
                requester_name=highlighted(marks.get(t.id, ("", t.requester_name))[1]),
                extract=highlighted(marks.get(t.id, ("", "", ""))[2])) for t in shown]
    return SearchPage(hits=hits, page=page, per_page=per_page, has_next=len(tickets) > per_page,
                      matches=matches)


def _pg_highlights(terms: Terms, tickets: list[Ticket]) -> dict[int, tuple[str, str, str]]:
    if not tickets:
        return {}
    tsquery = _pg_query(terms)
    config = sa.cast(CONFIG, REGCONFIG)
    every = f"StartSel={START}, StopSel={STOP}, HighlightAll=true"
    extract = (f"StartSel={START}, StopSel={STOP}, MaxWords=30, MinWords=12, MaxFragments=2, "
               "FragmentDelimiter=\" … \"")
    bodies = (sa.select(sa.func.left(sa.func.string_agg(sa.text("m.body"), sa.text("E'\\n' ORDER BY m.id")),
                                     BODY_LIMIT))
              .select_from(sa.text("ticket_messages m")).where(sa.text("m.ticket_id = tickets.id"))
              .scalar_subquery())
    def untagged(text):  # ts_headline drops what looks like an HTML tag: '<' goes through as LT_STANDIN
        return sa.func.replace(text, "<", LT_STANDIN)

    rows = db.session.execute(
        sa.select(Ticket.id, sa.func.ts_headline(config, untagged(Ticket.subject), tsquery, every),
                  sa.func.ts_headline(config, untagged(Ticket.requester_name), tsquery, every),
                  sa.func.ts_headline(config, untagged(sa.func.coalesce(bodies, "")), tsquery, extract))
        .where(Ticket.id.in_([t.id for t in tickets])))
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


def _sqlite_highlights(terms: Terms, tickets: list[Ticket]) -> dict[int, tuple[str, str, str]]:
    if not tickets:
        return {}
    rows = db.session.execute(
        sa.select(_rowid, sa.func.highlight(_fts, 0, START, STOP), sa.func.highlight(_fts, 1, START, STOP),
                  sa.func.snippet(_fts, 2, START, STOP, " … ", 30))
        .select_from(sa.table(SEARCH_TABLE))
        .where(_fts.op("MATCH")(fts5_expression(terms)), _rowid.in_([t.id for t in tickets])))
    return {row[0]: (row[1], row[2], row[3]) for row in rows}
