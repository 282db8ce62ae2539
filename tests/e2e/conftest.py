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


#: The rules axe runs: WCAG 2.2 levels A and AA (target size included, which axe leaves off by default) and its
#: best practices (landmarks, headings, regions).
AXE_OPTIONS = {"resultTypes": ["violations"], "runOnly": {"type": "tag", "values": [
    "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa", "best-practice"]}}
PHONE = {"width": 320, "height": 812}


@pytest.fixture
def axe_check():
    """Run axe-core on the current page at its width and at 320 px (a phone), then give the page its width back;
    fail on serious or critical violations, listing them with the width."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    checked: list[str] = []

    def _violations(page, width: int) -> list[str]:
        # A dialog still fading in has its text at partial opacity: axe would read a contrast no one sees.
        page.wait_for_function("() => document.getAnimations().every(a => a.playState !== 'running')",
                               timeout=5000)
        results = axe.run(page, options=AXE_OPTIONS)
        return [f"  [{v['impact']}] {v['id']} at {width} px: {v['help']} — "
                + "; ".join(", ".join(n["target"]) for n in v["nodes"][:5])
                for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]

    def _check(page, label: str = "") -> None:
        size = page.viewport_size or {"width": 1280, "height": 800}
        bad = _violations(page, size["width"])
        if size["width"] != PHONE["width"]:
            page.set_viewport_size(PHONE)
            try:
                bad += _violations(page, PHONE["width"])
            finally:
                page.set_viewport_size(size)
        checked.append(page.url)
        if bad:
            lines = [f"{label or page.url}:", *bad]
            print("\n".join(lines))
            pytest.fail("\n".join(lines))

    _check.checked = checked
    return _check
