"""Portal accounts: registration by known e-mail, single-use password links, establishment profiles.

Services flush; the request or the command commits.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import gettext as _

from crm.core import services
from crm.core.extensions import db, utcnow
from crm.core.models import Role, User
from crm.core.security import token_digest
from crm.organisations.identifiers import IdentifierError, validate_rnsr, validate_siren, validate_siret
from crm.organisations.models import Organisation, Person
from crm.portal import signals
from crm.portal.models import GRANTED_PROFILES, PasswordToken, PortalGrant, ProfileKind, ProfileRequest, RequestState

log = logging.getLogger(__name__)

_VALIDATORS = {ProfileKind.HEADQUARTERS: (validate_siren, Organisation.siren),
               ProfileKind.ENTITY: (validate_siret, Organisation.siret),
               ProfileKind.LAB_DIRECTOR: (validate_rnsr, Organisation.rnsr)}


def send_password_link(user: User, url: str, *, reset: bool = False) -> None:
    """Hand the link to whoever sends e-mail (signal), and log it outside production."""
    if current_app.config.get("ENV_NAME") == "production":
        log.info("password link issued for user %s", user.id)
    else:
        log.info("password link for %s: %s", user.email, url)
    signals.password_link_requested.send(current_app._get_current_object(), user=user, url=url, reset=reset)


def send_new_password_link(user: User) -> None:
    """Issue a single-use link for the account and send it (a reset if it has a password, else a first one)."""
    url, _token = issue_password_token(user)
    send_password_link(user, url, reset=bool(user.password_hash))


def request_password_reset(email: str) -> None:
    """« Mot de passe oublié » : a single-use link to an active account; a first link to a person the agency knows.

    Nothing visible tells whether the address has an account (the page answers the same in every case).
    """
    user = services.user_by_email(email)
    if user is None:
        request_password_link(email)
        return
    if not user.active:
        log.info("password reset for a deactivated account ignored")
        return
    send_new_password_link(user)


def request_password_link(email: str) -> None:
    """Send a set-password link if the business systems know this e-mail; do nothing visible otherwise."""
    email = services.normalise_email(email)
    person = db.session.scalar(sa.select(Person).where(Person.email == email))
    if person is None:
        log.info("portal registration for an unknown e-mail ignored")
        return
    user = services.user_by_email(email)
    if user is None:
        user = services.create_user(email, person.full_name or email, [Role.REQUESTER])
    if not user.active:
        return
    if person.user_id is None:
        person.user_id = user.id
    url, _token = issue_password_token(user)
    send_password_link(user, url)


def issue_password_token(user: User) -> tuple[str, PasswordToken]:
    """A fresh single-use link for the user; earlier unused links stop working."""
    now = utcnow()
    db.session.execute(sa.update(PasswordToken).where(PasswordToken.user_id == user.id,
                                                      PasswordToken.used_at.is_(None)).values(used_at=now))
    clear = secrets.token_urlsafe(32)
    hours = current_app.config["PORTAL_LINK_HOURS"]
    token = PasswordToken(user_id=user.id, token_hash=token_digest(clear), created_at=now,
                          expires_at=now + timedelta(hours=hours))
    db.session.add(token)
    db.session.flush()
    base = current_app.config["BASE_URL"].rstrip("/")
    return base + url_for("portal.set_password", token=clear), token


def valid_password_token(clear: str) -> PasswordToken | None:
    """The unused, unexpired token with this value, else None."""
    token = db.session.scalar(sa.select(PasswordToken).where(PasswordToken.token_hash == token_digest(clear)))
    if token is None or token.used_at is not None or token.expires_at <= utcnow():
        return None
    return token


def set_password_with_token(token: PasswordToken, password: str) -> User:
    """Set the password and burn the link."""
    services.set_password(token.user, password)
    token.used_at = utcnow()
    db.session.flush()
    return token.user


def normalise_profile_identifier(kind: str, identifier: str) -> str:
    """The identifier validated for the profile kind (SIREN, SIRET or RNSR), else AccountError."""
    if kind not in GRANTED_PROFILES:
        raise services.AccountError(_("Ce profil n'est pas attribué par un administrateur."))
    validate, _column = _VALIDATORS[ProfileKind(kind)]
    try:
        return validate(identifier)
    except IdentifierError as error:
        raise services.AccountError(str(error)) from None


def grant_profile(user: User, kind: str, identifier: str, *, by: User | None) -> PortalGrant:
    """Grant an establishment profile bound to a known SIREN, SIRET or RNSR (idempotent)."""
    identifier = normalise_profile_identifier(kind, identifier)
    _validate, column = _VALIDATORS[ProfileKind(kind)]
    if db.session.scalar(sa.select(sa.func.count()).select_from(Organisation).where(column == identifier)) == 0:
        raise services.AccountError(_("Aucun établissement connu avec l'identifiant %(identifier)s.",
                                      identifier=identifier))
    grant = db.session.scalar(sa.select(PortalGrant).where(
        PortalGrant.user_id == user.id, PortalGrant.kind == kind, PortalGrant.identifier == identifier))
    if grant is None:
        grant = PortalGrant(user_id=user.id, kind=kind, identifier=identifier,
                            granted_by_id=by.id if by else None)
        db.session.add(grant)
        db.session.flush()
    return grant


def revoke_profile(grant: PortalGrant) -> None:
    """Withdraw a granted profile at once."""
    db.session.delete(grant)
    db.session.flush()


def request_profile(user: User, kind: str, identifier: str, message: str = "") -> ProfileRequest:
    """Record a user's request for an establishment profile, for an administrator to decide."""
    identifier = normalise_profile_identifier(kind, identifier)
    request = ProfileRequest(user_id=user.id, kind=kind, identifier=identifier, message=message.strip())
    db.session.add(request)
    db.session.flush()
    return request


def decide_profile_request(request: ProfileRequest, *, grant: bool, by: User) -> None:
    """Grant or refuse a pending request."""
    if request.state != RequestState.PENDING:
        raise services.AccountError(_("Cette demande a déjà été traitée."))
    if grant:
        grant_profile(request.user, request.kind, request.identifier, by=by)
    request.state = RequestState.GRANTED if grant else RequestState.REFUSED
    request.decided_by_id = by.id
    request.decided_at = utcnow()
    db.session.flush()
