"""The nightly import of the business systems' files: idempotent bulk upserts by business key.

`import_directory()` reads one file per entity (CSV or JSON lines, see docs/import-format.md), refuses
bad lines one by one (file, line, reason) without touching the others, upserts the rest by business key,
and records an `ImportRun`. It only flushes: the caller commits.

Writing: on PostgreSQL the new and changed rows of a file are COPYed into a temporary staging table and
written by one `INSERT … SELECT … ON CONFLICT (business key) DO UPDATE … WHERE … IS DISTINCT FROM …`;
elsewhere (SQLite) in batches of BATCH_SIZE with an executemany upsert. Whenever the database refuses the
set (or a batch), it is replayed batch by batch, then line by line, so that only the culprit lines are refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import defaultdict
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, current_app

from crm.core.database import dialect_insert, is_postgresql, transaction
from crm.core.extensions import db, utcnow
from crm.core.models import Role, User, UserRole
from crm.core.views import path_for
from crm.imports import signals
from crm.imports.entities import ENTITIES, EntitySpec, ImportContext
from crm.imports.models import ImportRejection, ImportRun, ImportStatus
from crm.imports.parsing import FileError, RowError, read_rows
from notifications.services import notify_user

log = logging.getLogger(__name__)

BATCH_SIZE = 2000
COUNTERS = ("created", "updated", "unchanged", "rejected", "deleted")


#: The digest format of this version: rows written by an older one (a JSON digest, no prefix) are recognised.
DIGEST_PREFIX = "2:"
#: One encoder for every line (json.dumps with options builds a new one per call); same output as json.dumps.
_CANONICAL = json.JSONEncoder(sort_keys=True, default=str, separators=(",", ":"))


def row_hash(values: dict) -> str:
    """A digest of a line's parsed values: equal digests mean nothing to update.

    The repr of the values in the parser's order (str, int, bool, None, Decimal, date, lists of codes: all
    deterministic), half the cost of canonical JSON on a million lines.
    """
    return DIGEST_PREFIX + hashlib.blake2b(repr(tuple(values.values())).encode(), digest_size=15).hexdigest()


def legacy_row_hash(values: dict) -> str:
    """The digest of the versions before DIGEST_PREFIX: canonical JSON (kept to recognise their rows)."""
    return hashlib.blake2b(_CANONICAL.encode(values).encode(), digest_size=16).hexdigest()


def entity_files(directory: Path, name: str) -> list[Path]:
    """The files of an entity in the directory: NAME.csv and/or NAME.jsonl."""
    return [p for p in (directory / f"{name}.csv", directory / f"{name}.jsonl") if p.is_file()]


def _upsert_statement(spec: EntitySpec, columns: list[str]):
    """INSERT … ON CONFLICT (business key) DO UPDATE, for PostgreSQL and SQLite alike."""
    table = spec.model.__table__
    statement = dialect_insert(table)
    updated = [c for c in columns if c not in spec.key and c != "created_at"]
    return statement.on_conflict_do_update(index_elements=list(spec.key),
                                           set_={c: _incoming(spec, table, statement, c) for c in updated})


def _incoming(spec: EntitySpec, table: sa.Table, statement, column: str):
    """The value an upsert writes: the file's, except in a kept column that already holds one."""
    if column in spec.kept:
        return sa.func.coalesce(table.c[column], statement.excluded[column])
    return statement.excluded[column]


def _copy_upsert(spec: EntitySpec, columns: list[str], records: list[dict]) -> tuple[int, int]:
    """PostgreSQL: COPY the records into a staging table, then one upsert; return (created, updated).

    A row whose columns all equal the record's is not written (IS DISTINCT FROM), so it counts in neither.
    """
    from psycopg import sql
    from sqlalchemy.dialects.postgresql import insert

    table = spec.model.__table__
    stage = sa.Table(f"import_stage_{table.name}", sa.MetaData(),
                     *(sa.Column(c, table.c[c].type) for c in columns),
                     prefixes=["TEMPORARY"], postgresql_on_commit="DROP")
    connection = db.session.connection()
    stage.create(connection)
    cursor = connection.connection.driver_connection.cursor()
    try:
        with cursor.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(stage.name), sql.SQL(", ").join(map(sql.Identifier, columns)))) as copy:
            for record in records:
                copy.write_row([record[c] for c in columns])
    finally:
        cursor.close()
    updated = [c for c in columns if c not in spec.key and c != "created_at"]
    compared = [c for c in updated if c != "updated_at"]
    statement = insert(table).from_select(columns, sa.select(*(stage.c[c] for c in columns)))
    statement = statement.on_conflict_do_update(
        index_elements=list(spec.key), set_={c: _incoming(spec, table, statement, c) for c in updated},
        where=sa.tuple_(*(table.c[c] for c in compared)).is_distinct_from(
            sa.tuple_(*(_incoming(spec, table, statement, c) for c in compared))))
    written = statement.returning(sa.literal_column("xmax = 0").label("inserted")).cte("written")
    created, changed = connection.execute(sa.select(sa.func.count().filter(written.c.inserted),
                                                    sa.func.count().filter(sa.not_(written.c.inserted)))).one()
    stage.drop(connection)
    return created, changed


def _fetch_all(statement: sa.Select) -> list[tuple]:
    """Every row of a SELECT without parameters, as the driver's tuples (no Row objects: a million rows)."""
    connection = db.session.connection()
    cursor = connection.connection.cursor()
    try:
        cursor.execute(str(statement.compile(connection)))
        return cursor.fetchall()
    finally:
        cursor.close()


class _EntityRun:
    """The import of one entity's files: existing rows, claimed unique values, pending batch, counts."""

    def __init__(self, spec: EntitySpec, ctx: ImportContext, counts: dict, now):
        self.spec, self.ctx, self.counts, self.now = spec, ctx, counts, now
        table = spec.model.__table__
        selected = [table.c[k] for k in spec.key] + [table.c.id, table.c.row_hash] + [
            table.c[u] for u in spec.unique]
        self.existing: dict[tuple, tuple[int, str]] = {}
        self.claims: dict[str, dict] = {u: {} for u in spec.unique}
        self.owned: dict[str, dict] = {u: {} for u in spec.unique}
        n = len(spec.key)
        for row in _fetch_all(sa.select(*selected)):
            key = tuple(row[:n])
            self.existing[key] = (row[n], row[n + 1])
            for u, value in zip(spec.unique, row[n + 2:], strict=True):
                if value is not None:
                    self.claims[u][value] = key
                    self.owned[u][key] = value
        self.seen: dict[tuple, int] = {}
        #: Parents named by a refused line: their rows stay as they are in this run (None: the parent is unknown).
        self.protected: set[int | None] = set()
        self.batch: list[tuple[int, str, dict]] = []
        self.changed: list[tuple[int, dict]] = []
        self.statement = None
        self.timestamps = "updated_at" in table.c
        #: Unchanged rows whose stored digest is in an older format: only their digest is rewritten.
        self.rehashed: list[dict] = []
        #: PostgreSQL: the file's rows go in one COPY and one upsert at the end of the file (see flush()).
        self.bulk = is_postgresql()

    def add(self, line: int, values: dict) -> None:
        """Classify one parsed line and queue it for writing."""
        key = tuple(values[k] for k in self.spec.key)
        if key in self.seen:
            raise RowError(f"clé en double dans le fichier (déjà vue ligne {self.seen[key]})")
        for u in self.spec.unique:
            value = values.get(u)
            owner = self.claims[u].get(value) if value is not None else None
            if owner is not None and owner != key:
                raise RowError(f"« {u} » {value} déjà attribué à une autre ligne ({', '.join(map(str, owner))})")
        self.seen[key] = line
        for u in self.spec.unique:
            old = self.owned[u].get(key)
            if old is not None and self.claims[u].get(old) == key:
                del self.claims[u][old]
            if values.get(u) is not None:
                self.claims[u][values[u]] = key
                self.owned[u][key] = values[u]
        digest = row_hash(values)
        previous = self.existing.get(key)
        if previous is not None and previous[1] != digest and not previous[1].startswith(DIGEST_PREFIX) \
                and previous[1] == legacy_row_hash(values):
            self.rehashed.append({"b_id": previous[0], "b_hash": digest})  # unchanged, digest of an older version
            previous = (previous[0], digest)
        if previous is not None and previous[1] == digest:
            self.counts["unchanged"] += 1
            return
        status = "created" if previous is None else "updated"
        record = {k: v for k, v in values.items() if not k.startswith("_")}
        record["row_hash"] = digest
        if self.timestamps:
            record.update(created_at=self.now, updated_at=self.now)
        self.batch.append((line, status, record))
        self.changed.append((line, values))
        if len(self.batch) >= BATCH_SIZE and not self.bulk:
            self.flush()

    def flush(self) -> None:
        """Write the pending lines; if the database refuses them, retry in batches, then line by line."""
        if not self.batch:
            return
        if self.bulk:
            from psycopg import Error as DriverError

            try:
                with db.session.begin_nested():
                    created, updated = _copy_upsert(self.spec, list(self.batch[0][2]),
                                                    [record for _l, _s, record in self.batch])
                self.counts["created"] += created
                self.counts["updated"] += updated
                self.counts["unchanged"] += len(self.batch) - created - updated
                self.batch = []
                return
            except (sa.exc.DBAPIError, DriverError):
                log.info("import of %s: the set was refused, replayed in batches", self.spec.name)
        pending, self.batch = self.batch, []
        for start in range(0, len(pending), BATCH_SIZE):
            self._write(pending[start:start + BATCH_SIZE])

    def _write(self, batch: list[tuple[int, str, dict]]) -> None:
        """One executemany upsert in a savepoint; if refused, the batch line by line (culprits rejected)."""
        if self.statement is None:
            self.statement = _upsert_statement(self.spec, list(batch[0][2]))
        try:
            with db.session.begin_nested():
                db.session.execute(self.statement, [record for _l, _s, record in batch])
            for _line, status, _record in batch:
                self.counts[status] += 1
        except sa.exc.DBAPIError:
            for line, status, record in batch:
                try:
                    with db.session.begin_nested():
                        db.session.execute(self.statement, [record])
                    self.counts[status] += 1
                except sa.exc.DBAPIError as error:
                    self.ctx.reject(line, "refusée par la base de données : " + str(error.orig).splitlines()[0])
                    self.counts["rejected"] += 1
                    self.changed = [(n, v) for n, v in self.changed if n != line]

    def write_digests(self) -> None:
        """Store the current digest of the unchanged rows an older version had digested (once after an upgrade)."""
        if self.rehashed:
            table = self.spec.model.__table__
            db.session.execute(table.update().where(table.c.id == sa.bindparam("b_id"))
                               .values(row_hash=sa.bindparam("b_hash")), self.rehashed)
            self.rehashed = []

    def protect(self, row: dict) -> None:
        """A refused line: the rows of its parent are not deleted in this run (all of them if it is unknown)."""
        if self.spec.parent is None:
            return
        try:
            project_id = self.ctx.project(row)
            if self.spec.parent == "partner_id":
                number = int(str(row.get("partner_number", "")).strip())
                self.protected.add(self.ctx.partner_keys.get((project_id, number)))
            else:
                self.protected.add(project_id)
        except (RowError, ValueError):
            self.protected.add(None)

    def stale_ids(self, keep: set[int] = frozenset()) -> tuple[list[int], int]:
        """(rows of the parents mentioned in the file that it no longer lists, how many a refused line keeps)."""
        if self.spec.parent is None:
            return [], 0
        position = self.spec.key.index(self.spec.parent)
        parents = {key[position] for key in self.seen}
        stale = [(key[position], row_id) for key, (row_id, _h) in self.existing.items()
                 if key[position] in parents and key not in self.seen and row_id not in keep]
        if None in self.protected:
            return [], len(stale)
        kept = [row_id for parent, row_id in stale if parent in self.protected]
        return [row_id for parent, row_id in stale if parent not in self.protected], len(kept)


def _import_entity(spec: EntitySpec, files: list[Path], ctx: ImportContext, counts: dict, now) -> _EntityRun:
    run = _EntityRun(spec, ctx, counts, now)
    if spec.name == "organisations":  # parents may be defined further down the same file
        ctx.org_codes_in_file = {str(row.get("code", "")).strip() for path in files
                                 for _n, row in _safe_rows(path, spec)}
    for path in files:
        ctx.file = path.name
        try:
            for line, row in read_rows(path, spec.required):
                try:
                    if "__error__" in row:
                        raise RowError(row["__error__"])
                    run.add(line, spec.parse(row, ctx))
                except RowError as error:
                    ctx.reject(line, str(error))
                    counts["rejected"] += 1
                    run.protect(row)
        except (FileError, UnicodeDecodeError) as error:
            ctx.reject(1, f"fichier illisible : {error}")
            counts["rejected"] += 1
        run.flush()
    run.write_digests()
    if spec.after is not None and run.changed:
        spec.after(ctx, run.changed)
    ctx.load(spec.name)
    return run


def _safe_rows(path: Path, spec: EntitySpec):
    try:
        yield from read_rows(path, spec.required)
    except (FileError, UnicodeDecodeError):
        return


def _delete(spec: EntitySpec, ids: list[int], counts: dict) -> None:
    table = spec.model.__table__
    for start in range(0, len(ids), 500):
        db.session.execute(table.delete().where(table.c.id.in_(ids[start:start + 500])))
    counts["deleted"] += len(ids)


def import_directory(directory: str | Path, *, trigger: str = "cli", actor=None, allow_deletions: bool = False,
                     max_deletion_share: float | None = None) -> ImportRun:
    """Import every entity file found in the directory and return the recorded run (flushed only).

    A refused line leaves the existing rows of its parent as they were. Unless ``allow_deletions``, an entity
    loses at most ``max_deletion_share`` of its rows (IMPORT_MAX_DELETION_SHARE): past that, its deletions are
    held and the run report says so, so that a truncated export never empties the portal.
    """
    if max_deletion_share is None:
        max_deletion_share = current_app.config["IMPORT_MAX_DELETION_SHARE"]
    directory = Path(directory)
    started, now = time.perf_counter(), utcnow()
    run = ImportRun(source=str(directory), trigger=trigger, started_at=now)
    db.session.add(run)
    db.session.flush()
    if not directory.is_dir():
        raise FileNotFoundError(f"dossier d'import introuvable : {directory}")
    ctx = ImportContext()
    for name in ("organisations", "people", "projects", "partners"):
        ctx.load(name)
    counts = {spec.name: dict.fromkeys(COUNTERS, 0) for spec in ENTITIES}
    runs: dict[str, _EntityRun] = {}
    for spec in ENTITIES:
        files = entity_files(directory, spec.name)
        if files:
            runs[spec.name] = _import_entity(spec, files, ctx, counts[spec.name], now)
    # Children the file no longer lists go, in reverse order; a partner still named by a line stays.
    for spec in reversed(ENTITIES):
        if spec.name in runs and spec.parent is not None:
            keep: set[int] = set()
            if spec.name == "partners":
                keep = _partners_still_referenced(runs.get("payment_lines"))
            stale, kept = runs[spec.name].stale_ids(keep)
            ctx.file = spec.name
            if kept:
                ctx.reject(0, f"{kept} enregistrement(s) conservé(s) tel(s) quel(s) malgré leur absence du fichier : "
                              "une ligne de leur projet a été refusée")
            total = len(runs[spec.name].existing)
            if stale and not allow_deletions and len(stale) > max_deletion_share * total:
                ctx.reject(0, f"suppressions suspendues : {len(stale)} enregistrement(s) sur {total} ne figurent plus "
                              f"dans le fichier (plus de {max_deletion_share:.0%}) ; si c'est voulu, relancez "
                              "l'import avec --allow-deletions")
                kept, stale = kept + len(stale), []
            if kept:
                counts[spec.name]["kept"] = kept
            _delete(spec, stale, counts[spec.name])
    _finish(run, ctx, counts, time.perf_counter() - started)
    return run


def _partners_still_referenced(payment_run: _EntityRun | None) -> set[int]:
    """Partners that a payment line of this run names: they are never deleted."""
    if payment_run is None:
        return set()
    return {key[0] for key in payment_run.seen}


def _finish(run: ImportRun, ctx: ImportContext, counts: dict, seconds: float) -> None:
    if ctx.rejections:
        db.session.execute(sa.insert(ImportRejection), [
            {"run_id": run.id, "file": file[:255], "line": line, "reason": reason}
            for file, line, reason in ctx.rejections])
    totals: dict[str, int] = defaultdict(int)
    for entity in counts.values():
        for counter, value in entity.items():
            totals[counter] += value
    for counter in COUNTERS:
        setattr(run, counter, totals[counter])
    run.counts = {name: entity for name, entity in counts.items() if any(entity.values())}
    run.status = ImportStatus.SUCCEEDED
    run.finished_at = utcnow()
    run.duration_seconds = round(seconds, 3)
    db.session.flush()


def record_failed_run(directory: str, trigger: str, error: BaseException) -> ImportRun:
    """Record a run that could not complete (after the caller rolled back its work)."""
    now = utcnow()
    run = ImportRun(source=str(directory), trigger=trigger, status=ImportStatus.FAILED, started_at=now,
                    finished_at=now, error=f"{type(error).__name__}: {error}"[:2000])
    db.session.add(run)
    db.session.flush()
    return run


def run_nightly_import(app: Flask) -> ImportRun | None:
    """The scheduled job: import IMPORT_DIR, commit, or roll back and record the failure."""
    with app.app_context():
        directory = app.config.get("IMPORT_DIR")
        if not directory:
            log.info("nightly import skipped: IMPORT_DIR is not set")
            return None
        try:
            with transaction():
                run = import_directory(directory, trigger="nightly")
        except Exception as error:
            log.exception("nightly import of %s failed", directory)
            with transaction():
                run = record_failed_run(directory, "nightly", error)
        log.info("nightly import %s: %s created, %s updated, %s unchanged, %s rejected", run.status,
                 run.created, run.updated, run.unchanged, run.rejected)
        signals.import_finished.send(app, run=run)
        return run


def nightly_import_job() -> ImportRun | None:
    """The scheduler's entry point (it runs jobs in an application context)."""
    return run_nightly_import(current_app._get_current_object())


def on_import_finished(_app, run: ImportRun, **_kw) -> None:
    """Tell the administrators, in the app and by e-mail, that a nightly import failed."""
    if run.status != ImportStatus.FAILED:
        return
    admins = db.session.scalars(sa.select(User).join(UserRole).where(UserRole.role == Role.ADMIN,
                                                                     User.active.is_(True))).all()
    for admin in admins:
        title = (f"The import of the business systems' files failed (run {run.id})"
                 if (admin.locale or "fr").startswith("en") else f"Échec de l'import des données (exécution {run.id})")
        notify_user(admin, kind="import_failed", dedup_key=f"import_failed:{run.id}:{admin.id}", urgent=True,
                    title=title, body=run.error[:500],
                    url=path_for("crm_imports.run", run_id=run.id))
