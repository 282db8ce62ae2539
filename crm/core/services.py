"""Account services: passwords (argon2), users, API tokens. They flush; the caller commits."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _

from crm.core.extensions import db, utcnow
from crm.core.models import ApiToken, Role, User, UserRole
from crm.core.security import token_digest

MIN_PASSWORD_LENGTH = 12
_HASHERS: dict[str, tuple[PasswordHasher, str]] = {}


def _password_hasher() -> tuple[PasswordHasher, str]:
    """The hasher of the configured profile (PASSWORD_HASH_PROFILE), and a hash it made of a dummy password.

    The dummy hash is verified against when the e-mail is unknown, so that both paths cost the same time.
    """
    name = current_app.config.get("PASSWORD_HASH_PROFILE", "RFC_9106_LOW_MEMORY")
    if name not in _HASHERS:
        hasher = PasswordHasher.from_parameters(getattr(profiles, name))  # a known name: check_config()
        _HASHERS[name] = (hasher, hasher.hash("guichet-dummy-password"))
    return _HASHERS[name]


class AccountError(ValueError):
    """An account operation was refused; the message is shown to the user."""


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return _password_hasher()[0].hash(password)


def check_password_strength(password: str) -> None:
    """Refuse passwords that are too short."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(_("Le mot de passe doit comporter au moins %(n)s caractères.", n=MIN_PASSWORD_LENGTH))


def normalise_email(email: str) -> str:
    """Lower-case and strip an e-mail address."""
    return email.strip().lower()


def is_own_email(user: User, email: str | None) -> bool:
    """Whether the address is the user's own, whatever its case and surrounding spaces."""
    return bool(email) and normalise_email(email) == normalise_email(user.email)


def user_by_email(email: str) -> User | None:
    """The user with this e-mail address, if any."""
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def create_user(email: str, name: str, roles: list[str] | tuple[str, ...], password: str | None = None,
                locale: str = "fr") -> User:
    """Create an account with roles; the e-mail must be new."""
    email = normalise_email(email)
    unknown = set(roles) - {r.value for r in Role}
    if unknown:
        raise AccountError(_("Rôle inconnu : %(roles)s.", roles=", ".join(sorted(unknown))))
    if user_by_email(email) is not None:
        raise AccountError(_("Un compte existe déjà pour %(email)s.", email=email))
    user = User(email=email, name=name.strip(), locale=locale)
    if password is not None:
        check_password_strength(password)
        user.password_hash = hash_password(password)
    user.roles = [UserRole(role=str(r)) for r in dict.fromkeys(roles)]
    db.session.add(user)
    db.session.flush()
    return user


def set_password(user: User, password: str) -> None:
    """Replace the user's password and end every session opened with the old one (a reset, a change)."""
    check_password_strength(password)
    user.password_hash = hash_password(password)
    end_sessions(user)


def change_password(user: User, current: str, new: str) -> None:
    """Replace the password of a signed-in user who gives the current one; AccountError otherwise."""
    try:
        valid = bool(user.password_hash) and _password_hasher()[0].verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        valid = False
    if not valid:
        raise AccountError(_("Le mot de passe actuel est incorrect."))
    if new == current:
        raise AccountError(_("Le nouveau mot de passe doit être différent de l'actuel."))
    set_password(user, new)


def end_sessions(user: User) -> None:
    """Invalidate every login session of the user, on every device (logout, new password)."""
    user.session_version = (user.session_version or 0) + 1


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, else None; constant work for unknown e-mails."""
    user = user_by_email(email)
    hasher, dummy_hash = _password_hasher()
    stored = user.password_hash if user is not None and user.password_hash else dummy_hash
    try:
        hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.password_hash or not user.active:
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


def create_api_token(user: User, name: str, *, valid_for: timedelta | None = None,
                     expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Create a token for the user, expiring after valid_for or at expires_at if given (never otherwise).

    The clear value is returned once and never stored; an expiry already past is an AccountError.
    """
    if valid_for is not None:
        expires_at = utcnow() + valid_for
    if expires_at is not None and expires_at <= utcnow():
        raise AccountError(_("La date d'expiration doit être dans le futur."))
    clear = "gch_" + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, prefix=clear[:12], token_hash=token_digest(clear),
                     expires_at=expires_at)
    db.session.add(token)
    db.session.flush()
    return token, clear


def token_expiry(last_day: date, tz: str) -> datetime:
    """The instant a token valid through last_day (a calendar day in the time zone tz) expires: the next midnight."""
    midnight = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=ZoneInfo(tz))
    return midnight.astimezone(UTC)


def api_token_by_value(clear: str) -> ApiToken | None:
    """The token with this clear value, whatever its state, else None."""
    return db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == token_digest(clear)))


def authenticate_api_token(clear: str, *, now: datetime | None = None) -> User | None:
    """The active user owning this unrevoked, unexpired token, else None."""
    now = now or utcnow()
    token = api_token_by_value(clear)
    if token is None or token.revoked_at is not None or token.is_expired(now):
        return None
    if not token.user.active:
        return None
    token.last_used_at = now
    return token.user


def user_api_tokens(user: User) -> list[ApiToken]:
    """The user's API tokens, newest first."""
    return list(db.session.scalars(
        sa.select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
    ))


def user_api_token(user: User, token_id: int) -> ApiToken | None:
    """The user's API token with this id, else None."""
    return db.session.scalar(sa.select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id))


def revoke_api_token(token: ApiToken) -> None:
    """Revoke a token at once."""
    token.revoked_at = utcnow()
