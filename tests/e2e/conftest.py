"""End-to-end fixtures: the application served from a thread, a headless Debian Chromium, axe checks."""

from __future__ import annotations

import shutil
import threading

import pytest
from werkzeug.serving import make_server

from crm import create_app
from crm.core.extensions import db

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def pytest_collection_modifyitems(config, items):
    """Skip the browser tests when Chromium or Playwright is missing (make test installs them)."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        reason = "playwright is not installed"
    else:
        reason = None if shutil.which(CHROMIUM) else f"{CHROMIUM} is not installed"
    if reason:
        for item in items:
            if "e2e" in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="module")
def live_app(app):
    """A second application on the test database, as in production: real CSRF, no SERVER_NAME."""
    config = {k: v for k, v in app.config.items() if k not in ("SERVER_NAME", "TESTING")}
    config.update(WTF_CSRF_ENABLED=True, RATELIMIT_ENABLED=False, ENV_NAME="testing")
    application = create_app(config)
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def live_server(live_app):
    """Serve the application on 127.0.0.1 on a free port from a thread; yields the base URL."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright (never `playwright install`)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def axe_check():
    """Run axe-core on the current page; fail on serious or critical violations, listing them."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    checked: list[str] = []

    def _check(page, label: str = "") -> None:
        results = axe.run(page)
        bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
        checked.append(page.url)
        if bad:
            lines = [f"{label or page.url}:"]
            for v in bad:
                targets = "; ".join(", ".join(n["target"]) for n in v["nodes"][:5])
                lines.append(f"  [{v['impact']}] {v['id']}: {v['help']} — {targets}")
            print("\n".join(lines))
            pytest.fail("\n".join(lines))

    _check.checked = checked
    return _check
