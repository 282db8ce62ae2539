"""Rate limits hold in total, not per worker, and behind proxies per client (issue 10, item 5).

The shared-storage tests run real gunicorn processes against the machine's Redis (127.0.0.1:6379, or
TEST_REDIS_URL): Flask-Limiter keeps one storage per process, so only separate processes show what several
workers or instances do.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
import requests
import sqlalchemy as sa

from crm import create_app
from crm.core.config import ConfigError, check_config, per_process_rate_limits
from crm.core.extensions import db

ROOT = Path(__file__).resolve().parents[3]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LOGIN_LIMIT_PER_MINUTE = 10  # the documented default: RATELIMIT_LOGIN = "10 per minute;50 per hour"


# -- in one process: which address is the client -------------------------------------------------------------


def _limited_app(app, **overrides):
    config = {k: v for k, v in app.config.items() if k != "SERVER_NAME"}
    config.update(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="3 per minute", **overrides)
    return create_app(config)


def _login_statuses(client, forwarded_for: str | None, times: int, peer: str = "10.0.0.7") -> list[int]:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return [client.post("/connexion", data={"email": "inconnu@test.example", "password": "x" * 12},
                        headers=headers, environ_base={"REMOTE_ADDR": peer}).status_code
            for _ in range(times)]


@pytest.fixture
def behind_one_proxy(app):
    limited = _limited_app(app, TRUSTED_PROXIES=1)
    yield limited.test_client()
    with limited.app_context():
        db.engine.dispose()


@pytest.fixture
def no_proxy_trusted(app):
    limited = _limited_app(app)  # TRUSTED_PROXIES left at its default, 0
    assert limited.config["TRUSTED_PROXIES"] == 0
    yield limited.test_client()
    with limited.app_context():
        db.engine.dispose()


def test_behind_a_trusted_proxy_two_clients_get_separate_buckets(behind_one_proxy):
    assert _login_statuses(behind_one_proxy, "203.0.113.1", 4) == [200, 200, 200, 429]
    assert _login_statuses(behind_one_proxy, "203.0.113.2", 3) == [200, 200, 200]  # another client, its own bucket
    assert _login_statuses(behind_one_proxy, "203.0.113.1", 1) == [429]


def test_behind_a_trusted_proxy_a_client_cannot_choose_its_address(behind_one_proxy):
    """The proxy appends the peer it saw: what the client wrote to the left of it is not believed."""
    spoofs = [f"198.51.100.{n}, 203.0.113.9" for n in range(4)]
    assert [_login_statuses(behind_one_proxy, spoof, 1)[0] for spoof in spoofs] == [200, 200, 200, 429]


def test_without_a_trusted_proxy_a_forged_header_does_not_escape_the_limit(no_proxy_trusted):
    forged = [f"198.51.100.{n}" for n in range(5)]
    assert [_login_statuses(no_proxy_trusted, value, 1)[0] for value in forged] == [200, 200, 200, 429, 429]
    # and behind an untrusted load balancer every user shares its address: one bucket for all
    assert _login_statuses(no_proxy_trusted, None, 1, peer="10.0.0.7") == [429]
    assert _login_statuses(no_proxy_trusted, None, 1, peer="10.0.0.8") == [200]  # another peer, another bucket


def test_the_forgotten_password_form_is_limited_like_the_login(no_proxy_trusted):
    statuses = [no_proxy_trusted.post("/portail/mot-de-passe-oublie", data={"email": "inconnu@test.example"}
                                      ).status_code for _ in range(4)]
    assert statuses == [302, 302, 302, 429]


def test_a_negative_number_of_trusted_proxies_is_refused():
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        check_config({"TRUSTED_PROXIES": -1})


def test_per_process_counters_with_several_workers_are_reported():
    assert per_process_rate_limits({"RATELIMIT_STORAGE_URI": "memory://"}, 1) is None
    assert per_process_rate_limits({"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379"}, 4) is None
    assert per_process_rate_limits({"RATELIMIT_STORAGE_URI": "memory://", "RATELIMIT_ENABLED": False}, 4) is None
    assert "2 fois la limite" in per_process_rate_limits({"RATELIMIT_STORAGE_URI": "memory://"}, 2)


# -- real processes: counters shared through Redis -----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GUICHET_") and k not in ("DATABASE_URL", "TEST_DATABASE_URL", "SECRET_KEY")}
    env.update(GUICHET_INSTANCE_PATH=str(tmp_path / "instance"), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
               GUICHET_WTF_CSRF_ENABLED="false", GUICHET_KB_INDEX_BACKGROUND="false")
    env.update({f"GUICHET_{name}": value for name, value in settings.items()})
    return env


@pytest.fixture
def schema(tmp_path):
    """An SQLite database with the schema, for the servers (the logins below are refused: no account needed)."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    db.metadata.create_all(engine)
    engine.dispose()


@pytest.fixture
def servers(tmp_path, schema):
    """start(workers=1, **settings): a gunicorn server of the application; all are stopped after the test."""
    started: list[subprocess.Popen] = []

    def start(workers: int = 1, **settings: str) -> str:
        port = _free_port()
        log = open(tmp_path / f"gunicorn-{port}.log", "w+b")  # noqa: SIM115 - closed with the process below
        process = subprocess.Popen([GUNICORN, "-w", str(workers), "-b", f"127.0.0.1:{port}", "wsgi:app"],
                                   cwd=ROOT, env=_environment(tmp_path, **settings), stdout=log, stderr=log,
                                   process_group=0)
        process.log = log
        started.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"gunicorn stopped (rc {process.returncode}): {log.read().decode()[-2000:]}")
            try:
                if requests.get(base + "/healthz", timeout=10).status_code == 200:
                    return base
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.2)
        pytest.fail(f"gunicorn on {base} did not answer /healthz within 90 s")

    yield start
    for process in started:
        _signal_group(process, signal.SIGTERM)
    for process in started:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()
        process.log.close()


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    """Signal the server's process group (master and workers), if it is still there."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


@pytest.fixture
def redis_prefix():
    """A key prefix of this test's own on the shared Redis, its keys deleted after the test."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as error:
        pytest.fail(f"Redis is not reachable on {REDIS_URL} (the machine runs one on 127.0.0.1:6379): {error}")
    prefix = f"guichet-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    for key in client.scan_iter(f"*{prefix}*"):
        client.delete(key)
    client.close()


def _failed_logins(bases: list[str], attempts: int) -> list[int]:
    """POST a wrong password `attempts` times, to each server in turn; the status codes in order."""
    statuses = []
    with requests.Session() as http:
        for n in range(attempts):
            response = http.post(bases[n % len(bases)] + "/connexion",
                                 data={"email": "personne@test.example", "password": "mauvais-mot-de-passe"},
                                 allow_redirects=False, timeout=30)
            statuses.append(response.status_code)
    return statuses


def test_with_redis_the_login_limit_holds_in_total_across_two_instances(servers, redis_prefix):
    storage = {"RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": redis_prefix}
    first, second = servers(**storage), servers(**storage)
    statuses = _failed_logins([first, second], 2 * LOGIN_LIMIT_PER_MINUTE + 2)
    assert statuses.count(200) == LOGIN_LIMIT_PER_MINUTE  # the documented limit, for both instances together
    assert statuses[LOGIN_LIMIT_PER_MINUTE:] == [429] * (LOGIN_LIMIT_PER_MINUTE + 2)
    assert redis.Redis.from_url(REDIS_URL).keys(f"*{redis_prefix}*")  # the counters are in Redis


def test_with_redis_the_login_limit_holds_across_the_workers_of_one_server(servers, redis_prefix):
    base = servers(workers=2, RATELIMIT_STORAGE_URI=REDIS_URL, RATELIMIT_KEY_PREFIX=redis_prefix)
    statuses = _failed_logins([base], LOGIN_LIMIT_PER_MINUTE + 5)
    assert statuses == [200] * LOGIN_LIMIT_PER_MINUTE + [429] * 5


def test_with_redis_down_the_limits_still_hold_per_process_and_nothing_fails(servers):
    """An unreachable shared storage is no error 500: the process counts in memory until it is back."""
    dead = f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens there
    base = servers(RATELIMIT_STORAGE_URI=dead, RATELIMIT_KEY_PREFIX="guichet-test-dead")
    statuses = _failed_logins([base], LOGIN_LIMIT_PER_MINUTE + 2)
    assert statuses == [200] * LOGIN_LIMIT_PER_MINUTE + [429] * 2


def test_with_memory_storage_each_instance_lets_the_whole_limit_through(servers):
    """What the shared storage fixes: two instances counting in memory accept twice the documented limit."""
    first, second = servers(), servers()
    statuses = _failed_logins([first, second], 2 * LOGIN_LIMIT_PER_MINUTE + 2)
    assert statuses.count(200) == 2 * LOGIN_LIMIT_PER_MINUTE


def test_production_gunicorn_refuses_memory_storage_with_several_workers(tmp_path, schema):
    env = _environment(tmp_path, ENV_NAME="production")
    env["SECRET_KEY"] = "s" * 40
    command = [GUNICORN, "-w", "2", "-b", f"127.0.0.1:{_free_port()}", "wsgi:app"]
    refused = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert "refused in production" in refused.stderr and "redis://" in refused.stderr
