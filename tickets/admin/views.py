"""Configuration pages (managers and administrators): queues, topics, calendars, SLA policies, saved replies.

Each kind has a list, a creation form and an edit page with its history; policies and calendars also show the
open tickets the current configuration changes, with « Recalculer les échéances ».
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from crm.core import registry
from crm.core.changes import history
from crm.core.extensions import db
from crm.core.models import Role
from crm.core.security import roles_required
from crm.organisations.models import SERVICE_TIER_LABELS
from tickets.admin import forms, services
from tickets.models import PRIORITY_LABELS, CannedResponse, Queue, SlaCalendar, SlaPolicy, Topic
from tickets.reference import reference
from tickets.sla import format_business_duration
from tickets.views.public import topic_label

bp = Blueprint("tickets_admin", __name__, url_prefix="/admin/configuration", template_folder="../templates")

EDITORS = (Role.MANAGER, Role.ADMIN)
PREVIEW_SHOWN = 100

ACTION_LABELS = {
    "created": "Création",
    "updated": "Modification",
    "activated": "Activation",
    "deactivated": "Désactivation",
    "deleted": "Suppression",
    "recomputed": "Recalcul des échéances",
}


@dataclass(frozen=True)
class Kind:
    key: str
    model: type
    form: type
    save: object
    title: str
    new_label: str
    order: object


KINDS = {k.key: k for k in (
    Kind("politiques", SlaPolicy, forms.PolicyForm, services.save_policy, _l("Politiques de délai (SLA)"),
         _l("Ajouter une politique"), SlaPolicy.name),
    Kind("calendriers", SlaCalendar, forms.CalendarForm, services.save_calendar, _l("Calendriers ouvrés"),
         _l("Ajouter un calendrier"), SlaCalendar.name),
    Kind("files", Queue, forms.QueueForm, services.save_queue, _l("Files d'attente"), _l("Ajouter une file"),
         Queue.name),
    Kind("themes", Topic, forms.TopicForm, services.save_topic, _l("Thèmes"), _l("Ajouter un thème"), Topic.position),
    Kind("reponses-types", CannedResponse, forms.ReplyForm, services.save_reply, _l("Réponses types"),
         _l("Ajouter une réponse type"), CannedResponse.title),
)}


def _kind(key: str) -> Kind:
    kind = KINDS.get(key)
    if kind is None:
        abort(404)
    return kind


def _row(kind: Kind, row_id: int):
    row = db.session.get(kind.model, row_id)
    if row is None:
        abort(404)
    return row


def _minutes(value: int) -> str:
    return format_business_duration(timedelta(minutes=value))


def _choices(form) -> None:
    """The select lists that come from the database."""
    queues = [(q.slug, q.name) for q in db.session.scalars(sa.select(Queue).order_by(Queue.name))]
    if hasattr(form, "default_queue"):
        form.default_queue.choices = [("", _("Aucune (file générale)")), *queues]
    if hasattr(form, "queue"):
        form.queue.choices = [("", _("Toutes")), *queues]
    if hasattr(form, "topic"):
        form.topic.choices = [("", _("Tous")), *((t.slug, topic_label(t)) for t in
                                                  db.session.scalars(sa.select(Topic).order_by(Topic.position)))]
    if hasattr(form, "calendar_id"):
        form.calendar_id.choices = [(c.id, c.name) for c in
                                    db.session.scalars(sa.select(SlaCalendar).order_by(SlaCalendar.name))]
    if hasattr(form, "region"):
        form.region.choices = services.holiday_regions()


def _topic_name(slug: str) -> str:
    topic = reference().topics.get(slug)
    return topic_label(topic) if topic is not None else slug


def _cells(kind: Kind, row) -> list[str]:
    """The list page's columns after the name."""
    if isinstance(row, SlaPolicy):
        criteria = [f"{_('Niveau')} {_(SERVICE_TIER_LABELS.get(row.service_tier, row.service_tier))}"
                    if row.service_tier else "",
                    f"{_('Priorité')} {_(PRIORITY_LABELS.get(row.priority, row.priority)).lower()}"
                    if row.priority else "",
                    f"{_('Thème')} {_topic_name(row.topic_slug)}" if row.topic_slug else "",
                    f"{_('File')} {row.queue.name}" if row.queue else ""]
        return [", ".join(c for c in criteria if c) or _("Aucun (politique par défaut)"),
                _minutes(row.first_response_minutes), _minutes(row.resolution_minutes), row.calendar.name]
    if isinstance(row, SlaCalendar):
        days = [_(services.DAY_LABELS[d]) + " " + services.format_day_ranges(r) for d, r in (row.hours or {}).items()]
        region = "/".join(p for p in (row.country, row.subdivision) if p) or _("aucun")
        return ["; ".join(days), region, str(len(row.closed_days or []))]
    if isinstance(row, Queue):
        return [row.slug, _("Référents") if row.is_referent_group else _("Support"),
                row.manager.name if row.manager else "—"]
    if isinstance(row, Topic):
        return [row.slug, row.default_queue.name if row.default_queue else "—", str(row.position)]
    return [row.queue.name if row.queue else _("Toutes les files")]


HEADERS = {
    "politiques": (_l("Critères"), _l("Première réponse"), _l("Résolution"), _l("Calendrier")),
    "calendriers": (_l("Heures d'ouverture"), _l("Jours fériés"), _l("Jours de fermeture")),
    "files": (_l("Identifiant"), _l("Type"), _l("Responsable")),
    "themes": (_l("Identifiant"), _l("File par défaut"), _l("Ordre")),
    "reponses-types": (_l("File"),),
}


def _name(row) -> str:
    return getattr(row, "name", None) or getattr(row, "label", None) or row.title


@bp.get("")
@roles_required(*EDITORS)
def index():
    """The configuration kinds, with their counts."""
    counts = {key: db.session.scalar(sa.select(sa.func.count()).select_from(kind.model)) for key, kind in KINDS.items()}
    return render_template("tickets/admin/index.html", kinds=KINDS, counts=counts, kind=None, here=None)


@bp.get("/<section>")
@roles_required(*EDITORS)
def list_items(section: str):
    key = section
    kind = _kind(key)
    rows = list(db.session.scalars(sa.select(kind.model).order_by(kind.order, kind.model.id)).unique())
    items = [{"id": r.id, "name": _name(r), "cells": _cells(kind, r), "active": getattr(r, "active", None)}
             for r in rows]
    return render_template("tickets/admin/list.html", kind=kind, items=items, headers=HEADERS[key], here=None)


@bp.route("/<section>/nouveau", methods=["GET", "POST"], defaults={"row_id": None})
@bp.route("/<section>/<int:row_id>", methods=["GET", "POST"])
@roles_required(*EDITORS)
def edit(section: str, row_id: int | None):
    """Create or edit one item; its history and, for a policy or a calendar, the open tickets it changes."""
    key = section
    kind = _kind(key)
    row = _row(kind, row_id) if row_id is not None else None
    form = kind.form()
    _choices(form)
    if request.method == "GET" and row is not None:
        form.fill(row)
    if row is not None and hasattr(form, "slug"):
        form.slug.render_kw = {"readonly": True}
        form.slug.data = row.slug
    if request.method == "POST" and form.validate_on_submit():
        try:
            saved = kind.save(row, form.values(), by=current_user)
        except services.ConfigError as error:
            db.session.rollback()
            target = form[error.field] if error.field and error.field in form else None
            if target is not None:
                target.errors = [*target.errors, str(error)]
            else:
                form.form_errors.append(str(error))
        else:
            flash(_("« %(name)s » enregistré.", name=_name(saved)), "success")
            return redirect(url_for(".edit", section=key, row_id=saved.id))
    status = 422 if request.method == "POST" else 200
    here = _name(row) if row is not None else kind.new_label
    return render_template("tickets/admin/edit.html", kind=kind, row=row, form=form, here=here,
                           **_details(kind, row)), status


def _details(kind: Kind, row) -> dict:
    if row is None:
        return {"history": [], "preview": None, "usage": []}
    preview = services.preview_impact(row) if isinstance(row, SlaPolicy | SlaCalendar) else None
    return {"history": history(services.object_type(row), row.id), "preview": preview, "shown": PREVIEW_SHOWN,
            "usage": services.usage(row), "action_labels": ACTION_LABELS, "show_value": _show_value,
            "can_toggle": hasattr(row, "active")}


def _show_value(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("oui") if value else _("non")
    if isinstance(value, dict):
        return "; ".join(f"{k} : {_show_value(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list):
        return ", ".join("-".join(v) if isinstance(v, list) else str(v) for v in value) or "—"
    return str(value)


OPERATIONS = {"activer", "desactiver", "supprimer", "recalculer"}


@bp.post("/<section>/<int:row_id>/<operation>")
@roles_required(*EDITORS)
def operation(section: str, row_id: int, operation: str):
    """Activate, deactivate, delete, or recompute the due times of the open tickets a change concerns."""
    key = section
    kind = _kind(key)
    row = _row(kind, row_id)
    if operation not in OPERATIONS:
        abort(404)
    name = _name(row)
    try:
        if operation == "supprimer":
            services.delete_item(row, by=current_user)
            flash(_("« %(name)s » supprimé.", name=name), "success")
            return redirect(url_for(".list_items", section=key))
        if operation == "recalculer":
            if not isinstance(row, SlaPolicy | SlaCalendar):
                abort(404)
            changed = services.recompute_impact(row, by=current_user)
            flash(_("Échéances recalculées : %(n)s demande(s) ouverte(s).", n=changed), "success")
        else:
            services.set_active(row, operation == "activer", by=current_user)
            flash(_("« %(name)s » activé.", name=name) if operation == "activer"
                  else _("« %(name)s » désactivé.", name=name), "success")
    except services.ConfigError as error:
        db.session.rollback()
        flash(str(error), "error")
    return redirect(url_for(".edit", section=key, row_id=row_id))


def init_app(app: Flask) -> None:
    """Register the configuration pages and their menu entry (managers and administrators)."""
    app.register_blueprint(bp)
    registry.add_menu(app, 90, "Configuration", "tickets_admin.index",
                      lambda u: u.is_authenticated and u.has_role(*EDITORS))
