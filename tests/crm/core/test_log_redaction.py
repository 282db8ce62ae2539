"""No secret token of a URL in the logs: the development server's, the application's and gunicorn's records."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from werkzeug.serving import make_server

from crm import create_app
from crm.core.extensions import db
from crm.core.redaction import redact

ROOT = Path(__file__).resolve().parents[3]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
SECRET = "Zq8SECRETxY_-42"
#: Requests that carry a secret, as the requester's browser sends them.
SECRET_PATHS = (f"/demandes/DEM-2026-000001?cle={SECRET}", f"/enquete/{SECRET}?note=4",
                f"/portail/mot-de-passe/{SECRET}", f"/demandes/DEM-2026-000001/confirmer-adresse?jeton={SECRET}")


def test_secrets_of_urls_are_masked_and_the_rest_is_kept():
    assert redact(f'"GET /demandes/DEM-2026-000001?cle={SECRET} HTTP/1.1" 302 -') == \
        '"GET /demandes/DEM-2026-000001?cle=*** HTTP/1.1" 302 -'
    assert redact(f"/enquete/{SECRET}?note=4") == "/enquete/***?note=4"
    assert redact(f"http://h/portail/mot-de-passe/{SECRET}") == "http://h/portail/mot-de-passe/***"
    assert redact(f"/x?a=1&CLE={SECRET}&b=2") == "/x?a=1&CLE=***&b=2"
    assert redact("/demandes/DEM-2026-000001?page=2") == "/demandes/DEM-2026-000001?page=2"
    assert redact("/aide/cle-de-repartition") == "/aide/cle-de-repartition"


def test_every_route_with_a_secret_in_its_path_is_masked(app):
    """A new route taking a token in its path must be added to SECRET_PATH_PREFIXES."""
    secret_names = {"token", "jeton", "cle", "key"}
    checked = 0
    with app.test_request_context():
        adapter = app.url_map.bind("localhost")
        for rule in app.url_map.iter_rules():
            names = rule.arguments & secret_names
            if not names:
                continue
            values = {name: "DEM-2026-000001" for name in rule.arguments} | {name: SECRET for name in names}
            url = adapter.build(rule.endpoint, values)
            assert SECRET not in redact(url), f"{rule.rule}: its secret would be logged"
            checked += 1
    assert checked >= 2  # the set-password and survey links at least


# -- the development server (werkzeug) and the application logger, with real records ---------------------------


@pytest.fixture
def live_server(app, tmp_path):
    """The application without TESTING (errors are logged, not raised) on an empty database, from a thread."""
    config = {k: v for k, v in app.config.items() if k not in ("SERVER_NAME", "TESTING")}
    config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    served = create_app(config)
    server = make_server("127.0.0.1", 0, served, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    with served.app_context():
        db.engine.dispose()


def test_the_development_server_and_the_application_log_no_secret(live_server, caplog):
    with caplog.at_level(logging.INFO):
        for path in SECRET_PATHS:
            requests.get(live_server + path, timeout=10, allow_redirects=False)
        time.sleep(0.2)  # the server thread logs after answering
    access = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    errors = [r.getMessage() for r in caplog.records if r.name == "crm"]
    assert len([line for line in access if "HTTP/1.1" in line]) == len(SECRET_PATHS)
    assert any("?cle=*** HTTP/1.1" in line for line in access)
    assert any("/enquete/***?note=4" in line for line in access)
    assert any("/portail/mot-de-passe/*** HTTP/1.1" in line for line in access)
    assert any("?jeton=***" in line for line in access)
    assert errors  # the empty database's errors, logged by the application
    assert not [r for r in caplog.records if SECRET in r.getMessage()]


def test_the_application_logger_masks_secrets(app, caplog):
    with caplog.at_level(logging.INFO, logger=app.logger.name):
        app.logger.warning("lien envoyé : %s", f"http://localhost/enquete/{SECRET}")
        app.logger.warning(f"clé reçue : /demandes/DEM-2026-000001?cle={SECRET}")
    assert [r.getMessage() for r in caplog.records if r.name == app.logger.name] == [
        "lien envoyé : http://localhost/enquete/***", "clé reçue : /demandes/DEM-2026-000001?cle=***"]


# -- gunicorn: the access and error logs of a real server ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn(tmp_path):
    """A gunicorn server of the application (gunicorn.conf.py read from the project), its log files."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    db.metadata.create_all(engine)
    engine.dispose()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GUICHET_") and k not in ("DATABASE_URL", "TEST_DATABASE_URL", "SECRET_KEY")}
    env.update(GUICHET_INSTANCE_PATH=str(tmp_path / "instance"), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
               GUICHET_KB_INDEX_BACKGROUND="false")
    port = _free_port()
    access, errors = tmp_path / "access.log", tmp_path / "error.log"
    process = subprocess.Popen([GUNICORN, "-w", "1", "-b", f"127.0.0.1:{port}", "--access-logfile", str(access),
                                "--error-logfile", str(errors), "wsgi:app"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               process_group=0)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"gunicorn stopped (rc {process.returncode}): {errors.read_text()[-2000:]}")
            with contextlib.suppress(requests.ConnectionError, requests.Timeout):
                if requests.get(base + "/healthz", timeout=10).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail("gunicorn did not answer /healthz within 90 s")
            time.sleep(0.2)
        yield base, access, errors
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_gunicorn_access_log_masks_secrets_in_the_request_line_and_the_referer(gunicorn):
    base, access, _errors = gunicorn
    for path in SECRET_PATHS:
        requests.get(base + path, timeout=10, allow_redirects=False, headers={"Referer": base + SECRET_PATHS[0]})
    deadline = time.monotonic() + 10
    while access.read_text().count("HTTP/1.1") < len(SECRET_PATHS) + 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    log = access.read_text()
    assert "GET /demandes/DEM-2026-000001?cle=*** HTTP/1.1" in log
    assert "GET /enquete/***?note=4 HTTP/1.1" in log and "GET /portail/mot-de-passe/*** HTTP/1.1" in log
    assert f'"{base}/demandes/DEM-2026-000001?cle=***"' in log  # the Referer column
    assert SECRET not in log
