"""The development server of `make run` runs the scheduled jobs itself; the test and production apps do not."""

from __future__ import annotations

from crm import create_app
from crm.core.config import TestConfig
from notifications import scheduler


def _config(tmp_path, **overrides) -> dict:
    config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    config.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'db.sqlite3'}", **overrides)
    return config


def test_the_development_server_runs_every_job_in_process(tmp_path, capsys):
    app = create_app(_config(tmp_path, TESTING=False, SCHEDULER_IN_PROCESS=True))
    running = scheduler._in_process.pop(id(app))
    try:
        assert running.running
        assert {job.id for job in running.get_jobs()} >= {"sla_sweep", "outbox_dispatch", "nightly_import"}
        assert "Tâches planifiées lancées dans ce processus" in capsys.readouterr().err
    finally:
        running.shutdown(wait=False)


def test_no_job_runs_in_the_web_process_unless_asked(tmp_path):
    app = create_app(_config(tmp_path, TESTING=False))
    assert id(app) not in scheduler._in_process
    app = create_app(_config(tmp_path, SCHEDULER_IN_PROCESS=True))  # the test suite's apps never start it
    assert id(app) not in scheduler._in_process
