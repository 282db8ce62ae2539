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


#: A plain account of a sending error, by words of its technical text (the first that matches); shown to
#: administrators on the outbox page, the technical text on demand.
ERROR_REASON_LABELS = {
    "ConnectionRefused": "Le serveur de messagerie refuse la connexion (arrêté ou mal configuré).",
    "Errno 111": "Le serveur de messagerie refuse la connexion (arrêté ou mal configuré).",
    "timed out": "Le serveur de messagerie ne répond pas (délai d'attente dépassé).",
    "Timeout": "Le serveur de messagerie ne répond pas (délai d'attente dépassé).",
    "gaierror": "Le nom du serveur de messagerie est introuvable.",
    "Name or service not known": "Le nom du serveur de messagerie est introuvable.",
    "Authentication": "Le serveur de messagerie refuse l'identifiant ou le mot de passe.",
    "SSL": "La connexion chiffrée avec le serveur de messagerie a échoué (certificat ou TLS).",
    "Disconnected": "Le serveur de messagerie a coupé la connexion.",
    "ConnectionReset": "Le serveur de messagerie a coupé la connexion.",
    "adresse internationalisée": "Adresse avec accents refusée : le serveur de messagerie ne les accepte pas.",
    "destinataire refusé pour le moment": "Destinataire refusé pour le moment : nouvel essai prévu.",
    "destinataire refusé": "Adresse du destinataire refusée par le serveur de messagerie.",
    "message reporté": "Message reporté par le serveur de messagerie : nouvel essai prévu.",
    "message refusé": "Message refusé par le serveur de messagerie.",
    "envoi interrompu": "Envoi interrompu : nouvel essai prévu.",
    "": "L'envoi a échoué (voir le détail technique).",  # matches any text: keep it last
}


def error_reason(error: str) -> str:
    """The French label of a stored sending error (empty for no error); translate it with `_()` to show it."""
    if not error:
        return ""
    return next(label for words, label in ERROR_REASON_LABELS.items() if words in error)
