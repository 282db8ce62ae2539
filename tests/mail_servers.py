"""Real mail servers for the tests: an aiosmtpd SMTP catcher and a Dovecot IMAP server on loopback."""

from __future__ import annotations

import email
import email.policy
import getpass
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Collector:
    def __init__(self, owner: SmtpCatcher) -> None:
        self.owner = owner

    async def handle_RCPT(self, server, session, envelope: Envelope, address, rcpt_options):  # noqa: N802
        if address in self.owner.refused:
            return "550 5.1.1 Mailbox unavailable"
        if address in self.owner.deferred:
            return "451 4.2.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope: Envelope):  # noqa: N802
        self.owner.peers.append(session.peer)  # (address, port): one port per SMTP connection
        self.owner.messages.append(email.message_from_bytes(envelope.original_content or envelope.content,
                                                            policy=email.policy.default))
        return "250 Message accepted for delivery"


class SmtpCatcher:
    """aiosmtpd on 127.0.0.1 collecting every message it accepts (parsed, in `messages`)."""

    def __init__(self, port: int | None = None, *, smtputf8: bool = False) -> None:
        self.port = port or free_port()
        self.smtputf8 = smtputf8  # whether the server takes internationalised addresses (RFC 6531)
        self.messages: list[email.message.EmailMessage] = []
        self.peers: list[tuple] = []  # the client end of the connection each message came over
        self.refused: set[str] = set()
        self.deferred: set[str] = set()
        self.controller: Controller | None = None

    def start(self) -> SmtpCatcher:
        self.controller = Controller(_Collector(self), hostname="127.0.0.1", port=self.port,
                                     enable_SMTPUTF8=self.smtputf8)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def config(self) -> dict:
        return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": self.port, "SMTP_STARTTLS": False, "SMTP_SSL": False,
                "SMTP_USERNAME": None, "SMTP_PASSWORD": None, "SMTP_TIMEOUT": 5}


DOVECOT_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
"""


class DovecotError(RuntimeError):
    """Dovecot could not be started: the message says what to install or fix."""


class DovecotServer:
    """A throw-away Dovecot IMAP server (plain IMAP on loopback, one passwd-file user, maildir in a tmp dir).

    As root, Dovecot refuses to run its login and mail processes as root: they run as the Debian
    package's `dovenull` and `dovecot` users, which own the tmp dir; otherwise everything runs as us.
    """

    user = "guichet"
    password = "motdepasse-imap"  # noqa: S105

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="guichet-dovecot-"))
        self.process: subprocess.Popen | None = None

    def _accounts(self) -> dict:
        if os.geteuid() != 0:
            me = getpass.getuser()
            return {"internal_user": me, "internal_group": _group_name(os.getgid()), "login_user": me,
                    "mail_uid": os.getuid(), "mail_gid": os.getgid()}
        try:
            mail = pwd.getpwnam("dovecot")
            pwd.getpwnam("dovenull")
        except KeyError:
            raise DovecotError("les comptes système dovecot/dovenull manquent : installez dovecot-imapd "
                               "(make system-deps)") from None
        return {"internal_user": "dovecot", "internal_group": _group_name(mail.pw_gid), "login_user": "dovenull",
                "mail_uid": mail.pw_uid, "mail_gid": mail.pw_gid}

    def start(self) -> DovecotServer:
        binary = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
        if binary is None:
            raise DovecotError("Dovecot est introuvable : installez le paquet Debian dovecot-imapd "
                               "(make system-deps) pour lancer les tests du courriel entrant.")
        accounts = self._accounts()
        for sub in ("run", "state", "mail", "home"):
            (self.root / sub).mkdir()
        os.chmod(self.root, 0o755)  # noqa: S103 - the dovecot/dovenull users must reach their sockets
        (self.root / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        if os.geteuid() == 0:
            for sub in ("mail", "home"):
                os.chown(self.root / sub, accounts["mail_uid"], accounts["mail_gid"])
        conf = self.root / "dovecot.conf"
        conf.write_text(DOVECOT_CONF.format(root=self.root, port=self.port, **accounts))
        self.process = subprocess.Popen([binary, "-F", "-c", str(conf)], stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.process.stdout.read().decode(errors="replace")
                raise DovecotError(f"Dovecot s'est arrêté au démarrage : {output}\n{self.log()}")
            try:
                client = self.client()
                client.logout()
                return self
            except (OSError, imaplib.IMAP4.error) as error:
                last_error = error
                time.sleep(0.1)
        self.stop()
        raise DovecotError(f"Dovecot ne répond pas sur le port {self.port} : {last_error}\n{self.log()}")

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout:
            self.process.stdout.close()
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(self.user, self.password)
        return client

    def config(self) -> dict:
        return {"IMAP_HOST": "127.0.0.1", "IMAP_PORT": self.port, "IMAP_SSL": False, "IMAP_STARTTLS": False,
                "IMAP_USERNAME": self.user, "IMAP_PASSWORD": self.password, "IMAP_FOLDER": "INBOX"}

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        """Deliver a message with IMAP APPEND."""
        client = self.client()
        try:
            typ, data = client.append(f'"{folder}"', None, None, raw)
            assert typ == "OK", data
        finally:
            client.logout()

    def messages(self, folder: str) -> list[bytes]:
        """The raw messages currently in a folder (empty when the folder does not exist)."""
        client = self.client()
        try:
            typ, _data = client.select(f'"{folder}"', readonly=True)
            if typ != "OK":
                return []
            typ, data = client.uid("SEARCH", None, "UNDELETED")
            result = []
            for uid in (data[0] or b"").split():
                typ, fetched = client.uid("FETCH", uid, "(BODY.PEEK[])")
                result.append(next(item[1] for item in fetched if isinstance(item, tuple)))
            return result
        finally:
            client.logout()


def _group_name(gid: int) -> str:
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
