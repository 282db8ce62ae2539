"""gunicorn settings (read from the working directory); GUICHET_SCHEDULER_WITH_WEB=true also runs the scheduler.

Single machine: `GUICHET_SCHEDULER_WITH_WEB=true gunicorn 'wsgi:app'` serves the web workers and runs
`guichet scheduler` beside them. The master starts a small supervisor (this file run as a script) when it is
ready; the supervisor runs `guichet scheduler`, restarts it if it stops on its own, and stops it when the
master exits. Both die with the master even if it is killed outright (Linux parent-death signal).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from gunicorn.glogging import Logger

wsgi_app = "wsgi:app"


class GuichetLogger(Logger):
    """gunicorn's logger, with the secret tokens of URLs (follow keys, password and survey links) written ***."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        from crm.core.redaction import SECRET_FILTER

        self.error_log.addFilter(SECRET_FILTER)
        self.access_log.addFilter(SECRET_FILTER)


logger_class = GuichetLogger

RESTART_DELAY_SECONDS = 10
STOP_TIMEOUT_SECONDS = 20
_supervisor: dict = {"process": None}


def _scheduler_wanted() -> bool:
    """Read GUICHET_SCHEDULER_WITH_WEB strictly (true/false)."""
    raw = os.environ.get("GUICHET_SCHEDULER_WITH_WEB", "")
    if not raw.strip():
        return False
    from crm.core.config import parse_bool

    return parse_bool("GUICHET_SCHEDULER_WITH_WEB", raw)


def _die_with_parent():
    """A preexec_fn (libc loaded beforehand, in the parent): Linux sends the child SIGTERM when its parent dies."""
    prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, signal.SIGTERM)


# -- in the gunicorn master --------------------------------------------------------------------


def on_starting(server) -> None:
    """Before any worker: per-process rate-limit counters (memory://) with several workers are refused in
    production and announced elsewhere, since each worker would let the whole limit through."""
    from crm.core.config import Config, ConfigError, load_environment, per_process_rate_limits

    config = {name: getattr(Config, name) for name in dir(Config) if name.isupper()}
    try:
        load_environment(config)
    except ConfigError as error:
        server.log.error("%s", error)
        sys.exit(1)
    problem = per_process_rate_limits(config, server.cfg.workers)
    if problem is None:
        return
    if config["ENV_NAME"] == "production":
        server.log.error("refused in production: %s", problem)
        sys.exit(1)
    server.log.warning("%s", problem)


def when_ready(server) -> None:
    """Master ready, no worker forked yet: start the scheduler's supervisor when asked to."""
    if not _scheduler_wanted():
        return
    process = subprocess.Popen(  # noqa: S603 - this file, no shell
        [sys.executable, str(Path(__file__).resolve()), "supervise", str(os.getpid())],
        preexec_fn=_die_with_parent(), process_group=0,
    )
    _supervisor["process"] = process
    server.log.info("guichet scheduler supervisor started (pid %s)", process.pid)


def on_exit(server) -> None:
    """Master exiting: stop the supervisor, which stops the scheduler."""
    process = _supervisor["process"]
    if process is None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT_SECONDS + 5)
    except subprocess.TimeoutExpired:
        process.kill()
    server.log.info("guichet scheduler stopped")


# -- the supervisor: `python gunicorn.conf.py supervise MASTER_PID` ---------------------------


def _log(message: str) -> None:
    print(f"[guichet scheduler supervisor {os.getpid()}] {message}", file=sys.stderr, flush=True)


def _scheduler_command() -> list[str]:
    """`guichet scheduler` from the same environment as gunicorn."""
    script = Path(sys.executable).with_name("guichet")
    guichet = str(script) if script.exists() else shutil.which("guichet")
    if guichet is None:
        raise SystemExit("commande `guichet` introuvable : installez le projet (pip install -e .)")
    return [guichet, "scheduler"]


def supervise(master_pid: int) -> None:
    """Run `guichet scheduler` until SIGTERM; restart it after a pause when it stops on its own."""
    stopping = False
    child: subprocess.Popen | None = None

    def _stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.terminate()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if os.getppid() != master_pid:  # the master died before the parent-death signal was armed
        return
    command, arm = _scheduler_command(), _die_with_parent()
    while not stopping:
        child = subprocess.Popen(command, preexec_fn=arm)  # noqa: S603 - fixed command, no shell
        if stopping:  # SIGTERM arrived while it was starting
            child.terminate()
        _log(f"guichet scheduler started (pid {child.pid})")
        code = child.wait()
        if stopping:
            break
        _log(f"guichet scheduler stopped (code {code}); restart in {RESTART_DELAY_SECONDS} s")
        deadline = time.monotonic() + RESTART_DELAY_SECONDS
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.2)
    if child is not None:
        try:
            child.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


if __name__ == "__main__" and sys.argv[1:2] == ["supervise"]:
    supervise(int(sys.argv[2]))
