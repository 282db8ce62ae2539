"""Scheduler: job locks across processes, registered jobs, CLI, and escalations surviving a killed sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from mail_servers import SmtpCatcher

from crm.core.extensions import db
from notifications import scheduler
from notifications.locks import job_lock, lock_key
from notifications.models import Notification, OutboxMessage, OutboxStatus
from notifications.outbox import dispatch_outbox
from tickets import services
from tickets.models import SlaMark

ROOT = Path(__file__).resolve().parents[2]


def test_lock_keys_are_stable_and_distinct():
    assert lock_key("sla_sweep") == lock_key("sla_sweep")
    assert lock_key("sla_sweep") != lock_key("outbox_dispatch")
    assert -(2**63) <= lock_key("x") < 2**63


def test_a_held_job_lock_cannot_be_taken_twice(app):
    with job_lock("test_job") as first:
        assert first
        with job_lock("test_job") as second:
            assert not second
        with job_lock("other_job") as other:
            assert other
    with job_lock("test_job") as again:
        assert again


def test_a_job_locked_in_another_process_is_skipped(app, tmp_path):
    """A second process (another scheduler) holds the lock: this one skips the job."""
    marker = tmp_path / "held"
    script = f"""
import os, sys, time
from crm import create_app
app = create_app({{"SQLALCHEMY_DATABASE_URI": {app.config["SQLALCHEMY_DATABASE_URI"]!r}, "TESTING": True}})
from notifications.locks import job_lock
with app.app_context(), job_lock("test_cross_process") as held:
    open({str(marker)!r}, "w").write(str(held))
    sys.stdin.read()
"""
    env = dict(os.environ, GUICHET_INSTANCE_PATH=app.instance_path)
    process = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env, stdin=subprocess.PIPE)
    try:
        _wait_for(marker)
        assert marker.read_text() == "True"
        calls = []
        scheduler.add_job(app, "test_cross_process", lambda: calls.append(1), {"trigger": "interval", "hours": 1})
        with job_lock("test_cross_process") as held:
            assert not held
    finally:
        process.communicate(b"", timeout=30)
    with job_lock("test_cross_process") as held:
        assert held


def test_builtin_jobs_and_extension_point(app):
    jobs = scheduler.jobs_of(app)
    assert {"sla_sweep", "outbox_dispatch", "unassigned_check", "digest", "data_retention",
            "nightly_import"} <= set(jobs)
    assert jobs["sla_sweep"].trigger == {"trigger": "interval", "minutes": 1}
    scheduler.add_job(app, "kb_validity_test", lambda: None, {"trigger": "cron", "hour": 4})
    built = scheduler.build_scheduler(app, blocking=False)
    assert {job.id for job in built.get_jobs()} >= {"sla_sweep", "kb_validity_test"}
    app.extensions["guichet.jobs"] = [j for j in app.extensions["guichet.jobs"] if j.id != "kb_validity_test"]


@pytest.mark.committed
def test_run_job_commits_and_rolls_back(app):
    from crm.core.models import User

    def good():
        db.session.add(User(email="job@test.example", name="Job"))

    def bad():
        db.session.add(User(email="rolled@test.example", name="Rolled"))
        raise RuntimeError("boom")

    scheduler.add_job(app, "test_good", good, {"trigger": "interval", "hours": 1})
    scheduler.add_job(app, "test_bad", bad, {"trigger": "interval", "hours": 1})
    assert scheduler.run_job(app, "test_good") == (True, None)
    with pytest.raises(RuntimeError):
        scheduler.run_job(app, "test_bad")
    emails = set(db.session.scalars(sa.select(User.email)))
    assert "job@test.example" in emails and "rolled@test.example" not in emails
    app.extensions["guichet.jobs"] = [j for j in app.extensions["guichet.jobs"] if not j.id.startswith("test_")]


@pytest.mark.committed
def test_cli_commands(app, make_ticket):
    server = SmtpCatcher().start()
    saved = {k: app.config.get(k) for k in server.config()}
    app.config.update(server.config())
    try:
        make_ticket()
        db.session.commit()
        runner = app.test_cli_runner()
        result = runner.invoke(args=["outbox", "dispatch"])
        assert result.exit_code == 0, result.output
        assert "1 envoyé(s)" in result.output and len(server.messages) == 1
        assert runner.invoke(args=["digest", "send"]).exit_code == 0
        listed = runner.invoke(args=["scheduler", "--list"])
        assert "sla_sweep" in listed.output and "outbox_dispatch" in listed.output
        assert runner.invoke(args=["scheduler", "--run", "sla_sweep"]).exit_code == 0
        missing = runner.invoke(args=["mail", "fetch"])
        assert missing.exit_code != 0 and "IMAP_HOST" in missing.output
    finally:
        server.stop()
        app.config.update(saved)


# -- the killed sweep -----------------------------------------------------------------------------

SWEEP_SCRIPT = """
import os, time
from crm import create_app
from crm.core.config import TestConfig
config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
config["SQLALCHEMY_DATABASE_URI"] = os.environ["SWEEP_DB"]
app = create_app(config)
kill_after = int(os.environ.get("KILL_AFTER", "0"))
if kill_after:
    from tickets import signals
    seen = []

    def hang(ticket, **kw):
        seen.append(ticket.id)
        if len(seen) == kill_after:
            open(os.environ["MARKER"], "w").write("half-way")
            time.sleep(600)

    signals.sla_breached.connect(hang)
from notifications.scheduler import run_job
print(run_job(app, "sla_sweep"))
"""


def _wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.05)


def _sweep(app, tmp_path, kill_after: int = 0) -> subprocess.CompletedProcess | None:
    env = dict(os.environ, SWEEP_DB=app.config["SQLALCHEMY_DATABASE_URI"], GUICHET_INSTANCE_PATH=str(tmp_path))
    if not kill_after:
        return subprocess.run([sys.executable, "-c", SWEEP_SCRIPT], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120, check=True)
    marker = tmp_path / "marker"
    env.update(KILL_AFTER=str(kill_after), MARKER=str(marker))
    process = subprocess.Popen([sys.executable, "-c", SWEEP_SCRIPT], cwd=ROOT, env=env)
    try:
        _wait_for(marker)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    return None


@pytest.mark.committed
def test_each_escalation_fires_once_even_when_the_sweep_is_killed_half_way(app, make_ticket, make_user,
                                                                         reference_data, tmp_path):
    manager, agent = make_user("manager"), make_user("agent")
    reference_data["queues"]["support"].manager = manager
    long_ago = datetime.now(UTC) - timedelta(days=40)
    tickets = []
    for i in range(6):
        ticket = make_ticket(subject=f"Demande {i}", topic="depot", created_at=long_ago)
        services.claim_ticket(ticket, agent, now=long_ago)
        tickets.append(ticket)
    db.session.commit()
    db.session.execute(sa.delete(OutboxMessage))  # acknowledgements are not what we count here
    db.session.commit()

    _sweep(app, tmp_path, kill_after=3)  # SIGKILL in the middle of the breach notifications
    db.session.commit()  # end the read snapshot: see what the other processes committed
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0  # rolled back
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SlaMark)) == 0

    _sweep(app, tmp_path)  # the scheduler restarts
    _sweep(app, tmp_path)  # and sweeps again a minute later
    db.session.commit()  # end the read snapshot: see what the other processes committed

    def count(model, *where):
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))

    # Per ticket and target: at risk → assignee; breached → assignee again and the manager, once each.
    assert count(SlaMark) == 6 * 2 * 2
    assert count(Notification, Notification.user_id == manager.id) == 6 * 2
    assert count(Notification, Notification.user_id == agent.id) == 6 * 2 * 2
    assert count(OutboxMessage, OutboxMessage.recipient == manager.email) == 6 * 2
    assert count(OutboxMessage, OutboxMessage.recipient == agent.email) == 6 * 2 * 2

    server = SmtpCatcher().start()
    saved = {k: app.config.get(k) for k in server.config()}
    app.config.update(server.config())
    try:
        later = datetime.now(UTC) + timedelta(days=4)  # past any business-hours deferral
        dispatch_outbox(now=later)
        dispatch_outbox(now=later + timedelta(minutes=1))
    finally:
        server.stop()
        app.config.update(saved)
    to_manager = [m for m in server.messages if m["To"] == manager.email]
    assert len(to_manager) == 12 and len(server.messages) == 36
    assert len({m["Message-ID"] for m in server.messages}) == 36
    assert count(OutboxMessage, OutboxMessage.status != OutboxStatus.SENT) == 0
