"""Reliability under load, through a real gunicorn on PostgreSQL (issue 10, "Figures to keep").

    .venv/bin/python bench/reliability_load.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/DB \
        [--port 5391] [--submissions 200] [--kill-submissions 300] [--threads 8] [--replace] [--json]

DB is a scratch database: created if missing; if it exists it must hold no table, unless --replace (dropped and
created again). The script migrates it (`guichet db upgrade`), loads the demo reference data (queues, topics,
calendars, SLA policies, saved replies: tickets.demo.seed_reference_data) and starts `gunicorn wsgi:app` from the
repository root with 2 sync workers and the production settings (CSRF on; rate limits off, the load comes from one
address). Each client thread GETs /demande once (session cookie, csrf_token, topics) and then POSTs the form as a
browser does (multipart with an empty file input); every submission carries a unique tag in its subject, so each
HTTP answer can be matched with what the database holds.

  (a) concurrent  --submissions POSTs from --threads threads: every 302 has its ticket, exactly that many new
                  tickets, unique references, each with its first message, its "created" event and its requester
                  e-mail (acknowledgement or automatic answer) in the outbox.
  (b) kill -9     --kill-submissions POSTs while a gunicorn worker (a child of the master, busy with requests) is
                  killed with SIGKILL at one third and at two thirds of the load. Clients do not retry: 5xx and
                  connection errors are counted; every 302 must have its full ticket, and the database must hold
                  no partial row (ticket without message or events, outbox row of an unknown ticket).
  (c) SMTP down   an aiosmtpd catcher (tests/mail_servers.py) is started then stopped; `guichet outbox dispatch`
                  runs twice while it is down: every row retried (pending, attempts 2), none failed, none sent.
                  The catcher is started again on the same port; `guichet outbox worker` runs while
                  `guichet outbox dispatch` is called in a loop, until no row is pending: every outbox row is
                  received exactly once (Message-IDs counted at the catcher) and marked sent.

Prints a Markdown table of the outcomes (--json: one JSON object as well). Exit code 1 if a check fails.
OUTBOX_BACKOFF_SECONDS is set to 5 for the dispatchers of (c), so that the retries come due within the run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from mail_servers import SmtpCatcher, free_port  # noqa: E402

VENV_BIN = ROOT / ".venv" / "bin"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
TOPIC_SELECT = re.compile(r'<select[^>]*name="topic"[^>]*>(.*?)</select>', re.S)
OPTION = re.compile(r'<option[^>]*value="([^"]+)"')
REQUESTER_MAIL_KINDS = ("ack", "auto_answer")
BACKOFF_SECONDS = 5
MESSAGES = [
    "Bonjour, je n'arrive pas à téléverser le document scientifique de notre proposition. Pouvez-vous m'aider ?",
    "Bonjour, notre établissement a changé d'adresse : comment mettre à jour la fiche du laboratoire ?",
    "Bonjour, quel justificatif faut-il joindre à l'état récapitulatif des dépenses de la deuxième année ?",
    "Bonjour, le partenaire coordinateur part à la retraite : comment désigner un nouveau responsable ?",
]


# -- database -----------------------------------------------------------------------------------------


def prepare_database(url: str, replace: bool) -> None:
    target = make_url(url)
    if target.get_backend_name() != "postgresql":
        raise SystemExit("--database-url : une base PostgreSQL est attendue.")
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database})
    if exists and not replace:
        engine = sa.create_engine(target)
        with engine.connect() as connection:
            tables = connection.scalar(sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"))
        engine.dispose()
        if tables:
            raise SystemExit(f"La base {target.database} contient déjà {tables} tables (--replace pour la recréer).")
    elif exists:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE "{target.database}" WITH (FORCE)')
        exists = None
    if not exists:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    admin.dispose()


def seed_reference_data(env: dict) -> None:
    code = ("from crm import create_app\nfrom crm.core.extensions import db\nfrom tickets.demo import "
            "seed_reference_data\napp = create_app()\nwith app.app_context():\n    seed_reference_data()\n"
            "    db.session.commit()\n")
    subprocess.run([str(VENV_BIN / "python"), "-c", code], cwd=ROOT, env=env, check=True)


# -- HTTP client ----------------------------------------------------------------------------------------


class FormClient:
    """One browser: a keep-alive connection, the session cookie, the form's CSRF token and topics."""

    def __init__(self, port: int, timeout: float = 60) -> None:
        self.port, self.timeout = port, timeout
        self.connection: http.client.HTTPConnection | None = None
        self.cookies: dict[str, str] = {}
        status, _headers, body = self.request("GET", "/demande")
        html = body.decode("utf-8", "replace")
        token, select = CSRF.search(html), TOPIC_SELECT.search(html)
        if status != 200 or not token or not select:
            raise RuntimeError(f"GET /demande -> {status}, pas de jeton CSRF ou de thèmes")
        self.token = token.group(1)
        self.topics = [v for v in OPTION.findall(select.group(1)) if v]

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = None  # the next request opens a new connection
            raise
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
            self.connection = None
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def submit(self, tag: str, index: int) -> tuple[int | None, str]:
        """POST the form once; (status, location) or (None, the connection error)."""
        fields = {"csrf_token": self.token, "name": "Camille Martin", "email": f"{tag.lower()}@labo.example",
                  "topic": self.topics[index % len(self.topics)], "subject": f"[{tag}] Question sur le dossier",
                  "message": MESSAGES[index % len(MESSAGES)], "project_reference": "", "website": ""}
        boundary = "----fiabilite" + uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                 for k, v in fields.items()]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; filename=""\r\n'
                     "Content-Type: application/octet-stream\r\n\r\n\r\n")
        payload = ("".join(parts) + f"--{boundary}--\r\n").encode()
        origin = f"http://127.0.0.1:{self.port}"
        try:
            status, headers, _ = self.request("POST", "/demande", body=payload, headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}", "Origin": origin,
                "Referer": origin + "/demande"})
        except (OSError, http.client.HTTPException) as error:
            return None, f"{type(error).__name__}: {error}"
        return status, headers.get("location", "")


@dataclass
class Outcome:
    tag: str
    status: int | None
    detail: str


@dataclass
class Load:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    killed: list[int] = field(default_factory=list)


def run_load(port: int, prefix: str, n: int, threads: int, on_progress=None) -> Load:
    """n submissions tagged prefix-0000…, from `threads` clients pulling from one queue."""
    todo: queue.Queue[int] = queue.Queue()
    for i in range(n):
        todo.put(i)
    load, lock = Load(), threading.Lock()
    clients = [FormClient(port) for _ in range(threads)]

    def work(client: FormClient) -> None:
        while True:
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            tag = f"{prefix}-{i:04d}"
            status, detail = client.submit(tag, i)
            with lock:
                load.outcomes.append(Outcome(tag, status, detail))
                done = len(load.outcomes)
            if on_progress is not None:
                on_progress(done)

    started = time.perf_counter()
    workers = [threading.Thread(target=work, args=(c,)) for c in clients]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    load.seconds = time.perf_counter() - started
    return load


# -- gunicorn ---------------------------------------------------------------------------------------------


def worker_pids(master: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    except FileNotFoundError:
        return []


def busy_workers(master: int, port: int) -> list[int]:
    """The workers holding an established connection on the port right now (a request in hand)."""
    established = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
            established.add(fields[9])
    busy = []
    for pid in worker_pids(master):
        try:
            links = {os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
        except OSError:
            continue
        if any(link == f"socket:[{inode}]" for inode in established for link in links):
            busy.append(pid)
    return busy


def start_gunicorn(env: dict, port: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "wsgi:app", "-w", "2", "-b", f"127.0.0.1:{port}", "--timeout", "60",
         "--no-control-socket", "--error-logfile", str(log)], cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200 and len(worker_pids(process.pid)) == 2:
                return process
        except OSError:
            pass
        if process.poll() is not None:
            raise SystemExit(f"gunicorn s'est arrêté (code {process.returncode}), voir {log}")
        time.sleep(0.5)
    process.terminate()
    raise SystemExit(f"gunicorn ne répond pas sur le port {port}, voir {log}")


# -- checks ---------------------------------------------------------------------------------------------


def ticket_rows(engine, prefix: str) -> dict[str, dict]:
    """Per tag: the tickets with that tag, their reference and what they hold."""
    query = sa.text("""
        SELECT t.id, t.reference, t.subject, t.requester_email,
               (SELECT count(*) FROM ticket_messages m WHERE m.ticket_id = t.id) AS messages,
               (SELECT count(*) FROM ticket_messages m WHERE m.ticket_id = t.id AND m.author_kind = 'requester'
                  AND m.internal = false AND m.body LIKE 'Bonjour,%') AS first_messages,
               (SELECT count(*) FROM ticket_events e WHERE e.ticket_id = t.id AND e.kind = 'created') AS created,
               (SELECT count(*) FROM outbox_messages o WHERE o.ticket_id = t.id AND o.kind IN ('ack', 'auto_answer')
                  AND o.recipient = t.requester_email) AS requester_mails
        FROM tickets t WHERE t.subject LIKE :like""")
    found: dict[str, list[dict]] = {}
    with engine.connect() as connection:
        for row in connection.execute(query, {"like": f"[{prefix}-%"}).mappings():
            tag = row["subject"][1:].split("]", 1)[0]
            found.setdefault(tag, []).append(dict(row))
    return found


def partial_rows(engine) -> dict[str, int]:
    checks = {
        "tickets sans message": "SELECT count(*) FROM tickets t WHERE NOT EXISTS "
                                "(SELECT 1 FROM ticket_messages m WHERE m.ticket_id = t.id)",
        "tickets sans événement « created »": "SELECT count(*) FROM tickets t WHERE NOT EXISTS "
                                              "(SELECT 1 FROM ticket_events e WHERE e.ticket_id = t.id "
                                              "AND e.kind = 'created')",
        "tickets sans courriel au demandeur": "SELECT count(*) FROM tickets t WHERE NOT EXISTS "
                                              "(SELECT 1 FROM outbox_messages o WHERE o.ticket_id = t.id "
                                              "AND o.kind IN ('ack', 'auto_answer'))",
        "lignes de la boîte d'envoi sans ticket": "SELECT count(*) FROM outbox_messages o WHERE o.ticket_id IS NOT "
                                                  "NULL AND NOT EXISTS (SELECT 1 FROM tickets t "
                                                  "WHERE t.id = o.ticket_id)",
        "références en double": "SELECT count(*) - count(DISTINCT reference) FROM tickets",
    }
    with engine.connect() as connection:
        return {name: connection.scalar(sa.text(sql)) for name, sql in checks.items()}


def complete(rows: list[dict]) -> bool:
    return len(rows) == 1 and rows[0]["first_messages"] == 1 and rows[0]["created"] == 1 \
        and rows[0]["requester_mails"] == 1


def summarise(load: Load, found: dict[str, list[dict]]) -> dict:
    redirects = [o for o in load.outcomes if o.status == 302 and o.detail.endswith("/demande/envoyee")]
    errors = [o for o in load.outcomes if o.status is None]
    server_errors = [o for o in load.outcomes if o.status is not None and o.status >= 500]
    other = [o for o in load.outcomes if o not in redirects and o not in errors and o not in server_errors]
    references = [r["reference"] for rows in found.values() for r in rows]
    return {
        "submissions": len(load.outcomes), "seconds": round(load.seconds, 1),
        "per_second": round(len(load.outcomes) / load.seconds, 1) if load.seconds else None,
        "302": len(redirects), "5xx": len(server_errors), "connection_errors": len(errors),
        "other_status": sorted({o.status for o in other if o.status is not None}),
        "tickets": len(references), "unique_references": len(set(references)),
        "duplicated_submissions": sum(1 for rows in found.values() if len(rows) > 1),
        "302_with_full_ticket": sum(1 for o in redirects if complete(found.get(o.tag, []))),
        "errors_committed": sum(1 for o in errors + server_errors if found.get(o.tag)),
        "errors_committed_full": sum(1 for o in errors + server_errors if complete(found.get(o.tag, [])))
        if errors or server_errors else 0,
        "error_samples": sorted({o.detail[:120] for o in errors})[:3],
    }


# -- SMTP down, then back -----------------------------------------------------------------------------------


def guichet(env: dict, *args: str) -> str:
    result = subprocess.run([str(VENV_BIN / "guichet"), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"guichet {' '.join(args)} : code {result.returncode}\n{result.stderr[-2000:]}")
    return result.stdout.strip()


def outbox_state(engine) -> dict:
    with engine.connect() as connection:
        by_status = dict(connection.execute(sa.text(
            "SELECT status, count(*) FROM outbox_messages GROUP BY status")).all())
        attempts = dict(connection.execute(sa.text(
            "SELECT attempts, count(*) FROM outbox_messages GROUP BY attempts")).all())
        refused = connection.scalar(sa.text(
            "SELECT count(*) FROM outbox_messages WHERE last_error LIKE '%Connection refused%'"))
        ids = set(connection.scalars(sa.text("SELECT message_id FROM outbox_messages")))
    return {"by_status": by_status, "attempts": attempts, "connection_refused": refused, "message_ids": ids}


def smtp_down_then_back(env: dict, engine, deadline_seconds: float = 240) -> dict:
    port = free_port()
    mail_env = {**env, "GUICHET_SMTP_HOST": "127.0.0.1", "GUICHET_SMTP_PORT": str(port),
                "GUICHET_SMTP_TIMEOUT": "5", "GUICHET_OUTBOX_BACKOFF_SECONDS": str(BACKOFF_SECONDS)}
    before = outbox_state(engine)
    catcher = SmtpCatcher(port=port).start()
    catcher.stop()  # the server goes down before anything is sent
    down = [guichet(mail_env, "outbox", "dispatch")]
    time.sleep(BACKOFF_SECONDS + 0.5)
    down.append(guichet(mail_env, "outbox", "dispatch"))
    during = outbox_state(engine)

    catcher = SmtpCatcher(port=port).start()
    worker = subprocess.Popen([str(VENV_BIN / "guichet"), "outbox", "worker"], cwd=ROOT, env=mail_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started, rounds = time.monotonic(), 0
    try:
        while time.monotonic() - started < deadline_seconds:
            guichet(mail_env, "outbox", "dispatch")
            rounds += 1
            state = outbox_state(engine)
            if set(state["by_status"]) <= {"sent", "failed"}:
                break
            time.sleep(1)
        time.sleep(1)  # anything still in flight at the worker
    finally:
        worker.send_signal(signal.SIGINT)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        catcher.stop()
    after = outbox_state(engine)
    received = [m["Message-ID"] for m in catcher.messages]
    return {
        "rows": len(before["message_ids"]), "dispatch_down": down,
        "down_status": during["by_status"], "down_attempts": during["attempts"],
        "down_connection_refused": during["connection_refused"],
        "back_seconds": round(time.monotonic() - started, 1), "dispatch_rounds": rounds,
        "after_status": after["by_status"], "received": len(received), "received_unique": len(set(received)),
        "received_match_rows": set(received) == after["message_ids"],
    }


# -- report -------------------------------------------------------------------------------------------------


def report(a: dict, b: dict, c: dict, partial: dict, killed: list[int], busy: list[bool],
           respawned: bool) -> tuple[str, bool]:
    n_a, n_b, rows = a["submissions"], b["submissions"], c["rows"]
    checks = [
        ("(a) dépôts simultanés", f"{n_a} POST, {a['per_second']}/s", f"{a['302']} × 302",
         a["302"] == n_a == a["tickets"] == a["unique_references"] == a["302_with_full_ticket"]
         and a["duplicated_submissions"] == 0,
         f"{a['tickets']} tickets, {a['unique_references']} références distinctes, "
         f"{a['302_with_full_ticket']} complets (message, événement, accusé)"),
        ("(b) 2 workers tués (SIGKILL)", f"{n_b} POST, pids {', '.join(map(str, killed))} "
         f"({sum(busy)} en pleine requête)",
         f"{b['302']} × 302, {b['5xx']} × 5xx, {b['connection_errors']} erreurs de connexion",
         b["302"] == b["302_with_full_ticket"] and b["5xx"] == 0 and b["duplicated_submissions"] == 0
         and b["302"] + b["connection_errors"] == n_b and respawned,
         f"{b['302_with_full_ticket']}/{b['302']} 302 complets ; requêtes interrompues validées quand même : "
         f"{b['errors_committed']} (complètes : {b['errors_committed_full']}) ; workers remplacés : "
         f"{'oui' if respawned else 'non'}"),
        ("(a)+(b) lignes partielles", "toute la base", "—", not any(partial.values()),
         ", ".join(f"{k} : {v}" for k, v in partial.items())),
        ("(c) SMTP arrêté", f"{rows} courriels, 2 × `outbox dispatch`", " / ".join(c["dispatch_down"]),
         c["down_status"] == {"pending": rows} and c["down_attempts"] == {2: rows}
         and c["down_connection_refused"] == rows,
         f"statuts {c['down_status']}, tentatives {c['down_attempts']}"),
        ("(c) SMTP relancé", f"worker + {c['dispatch_rounds']} × `outbox dispatch`, {c['back_seconds']} s",
         f"{c['received']} reçus, {c['received_unique']} Message-ID distincts",
         c["after_status"] == {"sent": rows} and c["received"] == c["received_unique"] == rows
         and c["received_match_rows"],
         f"statuts {c['after_status']} ; Message-ID reçus = ceux de la boîte d'envoi : "
         f"{'oui' if c['received_match_rows'] else 'non'}"),
    ]
    lines = ["| cas | charge | réponses | vérifié | résultat |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {load} | {answers} | {detail} | {'OK' if ok else 'ÉCHEC'} |"
              for name, load, answers, ok, detail in checks]
    return "\n".join(lines), all(ok for *_rest, ok, _detail in checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, default=5391)
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--kill-submissions", type=int, default=300)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--replace", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    url = make_url(args.database_url).set(drivername="postgresql+psycopg")
    prepare_database(url.render_as_string(hide_password=False), args.replace)
    work = Path(tempfile.mkdtemp(prefix="guichet-fiabilite-"))
    env = {**os.environ, "DATABASE_URL": url.render_as_string(hide_password=False),
           "SECRET_KEY": "banc-fiabilite-" + uuid.uuid4().hex, "GUICHET_RATELIMIT_ENABLED": "false",
           "GUICHET_UPLOAD_FOLDER": str(work / "uploads"), "GUICHET_INSTANCE_PATH": str(work / "instance"),
           "GUICHET_SCHEDULER_WITH_WEB": "false", "GUICHET_KB_INDEX_BACKGROUND": "false",
           "GUICHET_SMTP_PORT": str(free_port())}  # nothing listens there: the web workers never send anyway
    guichet(env, "db", "upgrade")
    seed_reference_data(env)
    engine = sa.create_engine(url)
    run = uuid.uuid4().hex[:6].upper()
    gunicorn = start_gunicorn(env, args.port, work / "gunicorn.log")
    try:
        load_a = run_load(args.port, f"A{run}", args.submissions, args.threads)
        found_a = ticket_rows(engine, f"A{run}")

        killed: list[int] = []
        killed_busy: list[bool] = []
        marks = [args.kill_submissions // 3, 2 * args.kill_submissions // 3]
        kill_lock = threading.Lock()

        def kill_at(done: int) -> None:
            """At each mark, SIGKILL a worker that has a request in hand (looked for during 2 s at most)."""
            with kill_lock:
                if not marks or done < marks[0]:
                    return
                marks.pop(0)
                deadline = time.monotonic() + 2
                while not (pids := busy_workers(gunicorn.pid, args.port)) and time.monotonic() < deadline:
                    time.sleep(0.005)
                pid = (pids or worker_pids(gunicorn.pid))[0]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                killed_busy.append(bool(pids))

        load_b = run_load(args.port, f"B{run}", args.kill_submissions, args.threads, on_progress=kill_at)
        time.sleep(2)
        now = worker_pids(gunicorn.pid)
        respawned = len(now) == 2 and not set(now) & set(killed) and len(killed) == 2
        found_b = ticket_rows(engine, f"B{run}")
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
    partial = partial_rows(engine)
    a, b = summarise(load_a, found_a), summarise(load_b, found_b)
    c = smtp_down_then_back(env, engine)
    table, ok = report(a, b, c, partial, killed, killed_busy, respawned)
    print(table)
    if args.json:
        print(json.dumps({"a": a, "b": b, "c": c, "partial": partial, "killed": killed,
                          "killed_busy": killed_busy}, default=str,
                         ensure_ascii=False))
    engine.dispose()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
