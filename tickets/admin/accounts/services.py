"""Account administration: each service flushes and records its change; the request commits.

Rules: an account is created without a password and its holder chooses one through the portal's single-use
link (crm.portal.services, the same tokens as « mot de passe oublié »); nobody deactivates their own account, and
the last active administrator keeps the role and the account.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from crm.core import services
from crm.core.changes import record_change
from crm.core.database import LIKE_ESCAPE, like_pattern
from crm.core.extensions import db
from crm.core.models import Role, User, UserRole
from crm.organisations.models import Person
from crm.portal.services import send_new_password_link
from tickets.models import Queue, QueueMember

OBJECT_TYPE = "user"
AccountError = services.AccountError


@dataclass(frozen=True)
class AccountCriteria:
    """The list's filters: free text on name and e-mail, one role, active or not (None: both)."""

    text: str = ""
    role: str | None = None
    active: bool | None = True


def search_accounts(criteria: AccountCriteria) -> sa.Select:
    """Accounts matching the criteria, by name."""
    query = sa.select(User).order_by(User.name, User.id)
    text = criteria.text.strip().lower()
    if text:
        pattern = like_pattern(text)
        query = query.where(sa.or_(sa.func.lower(User.name).like(pattern, escape=LIKE_ESCAPE),
                                   User.email.like(pattern, escape=LIKE_ESCAPE)))
    if criteria.role:
        query = query.where(User.id.in_(sa.select(UserRole.user_id).where(UserRole.role == criteria.role)))
    if criteria.active is not None:
        query = query.where(User.active.is_(criteria.active))
    return query


def queue_ids(user: User) -> list[int]:
    """The queues the user works, by id."""
    return list(db.session.scalars(sa.select(QueueMember.queue_id).where(QueueMember.user_id == user.id)
                                   .order_by(QueueMember.queue_id)))


def snapshot(user: User) -> dict:
    """The recorded fields of an account (roles by value, queues by name)."""
    names = db.session.scalars(sa.select(Queue.name).join(QueueMember, QueueMember.queue_id == Queue.id)
                               .where(QueueMember.user_id == user.id).order_by(Queue.name))
    return {"name": user.name, "email": user.email, "roles": sorted(user.role_names), "queues": list(names),
            "active": user.active}


def _other_active_admins(user: User) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User).join(UserRole).where(
        UserRole.role == Role.ADMIN, User.active.is_(True), User.id != user.id))


def _is_admin(user: User) -> bool:
    return Role.ADMIN in user.role_names


def _set_queues(user: User, ids: list[int]) -> None:
    known = set(db.session.scalars(sa.select(Queue.id).where(Queue.id.in_(ids))))
    if set(ids) - known:
        raise AccountError(_("File inconnue."))
    db.session.execute(sa.delete(QueueMember).where(QueueMember.user_id == user.id, QueueMember.queue_id.not_in(known)))
    for queue_id in known - set(queue_ids(user)):
        db.session.add(QueueMember(queue_id=queue_id, user_id=user.id))
    db.session.flush()


def create_account(email: str, name: str, roles: list[str], queues: list[int], *, by: User) -> User:
    """A new account without a password, its roles and queues; its holder receives a single-use link."""
    if not roles:
        raise AccountError(_("Choisissez au moins un rôle."))
    user = services.create_user(email, name, roles)
    person = db.session.scalar(sa.select(Person).where(Person.email == user.email, Person.user_id.is_(None)))
    if person is not None:  # the person the business systems know by this address: their portal profiles follow
        person.user_id = user.id
    _set_queues(user, queues)
    record_change(OBJECT_TYPE, user.id, "created", by=by, after=snapshot(user))
    send_new_password_link(user)
    return user


def update_account(user: User, name: str, roles: list[str], queues: list[int], *, by: User) -> None:
    """New name, roles and queues; the last active administrator keeps the role."""
    if not roles:
        raise AccountError(_("Choisissez au moins un rôle."))
    unknown = set(roles) - {r.value for r in Role}
    if unknown:
        raise AccountError(_("Rôle inconnu : %(roles)s.", roles=", ".join(sorted(unknown))))
    if _is_admin(user) and Role.ADMIN not in roles and user.active and _other_active_admins(user) == 0:
        raise AccountError(_("C'est le dernier compte administrateur actif : il garde ce rôle. Donnez d'abord ce "
                             "rôle à une autre personne."))
    before = snapshot(user)
    user.name = name.strip()
    kept = [r for r in user.roles if r.role in roles]
    user.roles = kept + [UserRole(role=r) for r in dict.fromkeys(roles) if r not in {k.role for k in kept}]
    db.session.flush()
    _set_queues(user, queues)
    record_change(OBJECT_TYPE, user.id, "updated", by=by, before=before, after=snapshot(user))


def set_account_active(user: User, active: bool, *, by: User) -> None:
    """Deactivate (its sessions end at once, it can no longer log in) or reactivate an account."""
    if user.active == active:
        return
    if not active and user.id == by.id:
        raise AccountError(_("Vous ne pouvez pas désactiver votre propre compte."))
    if not active and _is_admin(user) and _other_active_admins(user) == 0:
        raise AccountError(_("C'est le dernier compte administrateur actif : il ne peut pas être désactivé."))
    user.active = active
    if not active:
        services.end_sessions(user)
    db.session.flush()
    record_change(OBJECT_TYPE, user.id, "activated" if active else "deactivated", by=by,
                  before={"active": not active}, after={"active": active})


def send_password_reset(user: User, *, by: User) -> None:
    """E-mail the account a new single-use link to choose its password; earlier links stop working."""
    if not user.active:
        raise AccountError(_("Ce compte est désactivé : réactivez-le d'abord."))
    send_new_password_link(user)
    record_change(OBJECT_TYPE, user.id, "password_link", by=by)
