"""SMTP delivery configured by SMTP_* settings (plain, STARTTLS or implicit TLS, optional login)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage


class PermanentError(Exception):
    """The server refused this message for good (5xx, or an address it cannot take): retrying would not help."""


class TransientError(Exception):
    """The server put this message off (4xx): retry it later, alone; the session goes on with the others."""


class SmtpTransport:
    """One SMTP session used for a batch of messages: `with SmtpTransport(config) as smtp: smtp.send(m)`."""

    def __init__(self, config) -> None:
        self.config = config
        self.client: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpTransport:
        c = self.config
        host, port, timeout = c["SMTP_HOST"], int(c["SMTP_PORT"]), float(c["SMTP_TIMEOUT"])
        if c.get("SMTP_SSL"):
            self.client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
        else:
            self.client = smtplib.SMTP(host, port, timeout=timeout)
            if c.get("SMTP_STARTTLS"):
                self.client.starttls(context=ssl.create_default_context())
        if c.get("SMTP_USERNAME"):
            self.client.login(c["SMTP_USERNAME"], c.get("SMTP_PASSWORD") or "")
        return self

    def send(self, message: EmailMessage) -> None:
        """Send one message; PermanentError or TransientError concern it alone, other errors the session."""
        try:
            refused = self.client.send_message(message)
        except smtplib.SMTPNotSupportedError as error:  # an internationalised address (RFC 6531), no SMTPUTF8
            raise PermanentError("adresse internationalisée refusée : le serveur de messagerie ne propose pas "
                                 f"SMTPUTF8 ({error})") from error
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _msg in error.recipients.values()]
            if all(code >= 500 for code in codes):
                raise PermanentError(f"destinataire refusé : {error.recipients}") from error
            raise TransientError(f"destinataire refusé pour le moment : {error.recipients}") from error
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as error:
            if error.smtp_code >= 500:
                raise PermanentError(f"message refusé ({error.smtp_code}) : {error.smtp_error!r}") from error
            raise TransientError(f"message reporté ({error.smtp_code}) : {error.smtp_error!r}") from error
        if refused:
            raise PermanentError(f"destinataire refusé : {refused}")

    def __exit__(self, *exc) -> None:
        if self.client is not None:
            try:
                self.client.quit()
            except (smtplib.SMTPException, OSError):
                self.client.close()
