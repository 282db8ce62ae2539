"""The ticket's history as agents read it: who did what, when, before → after, in the reader's language."""

from __future__ import annotations

from flask_babel import gettext as _

from tickets.models import CHANNEL_LABELS, PRIORITY_LABELS, STATUS_LABELS, Ticket
from tickets.modifications.states import STATE_LABELS as MODIFICATION_STATE_LABELS
from tickets.reference import reference
from tickets.services import requester_label
from tickets.sla_tracking import TARGET_LABELS

EVENT_LABELS = {
    "created": "Demande créée",
    "sla_policy": "Politique de délai choisie",
    "status": "Statut modifié",
    "reply": "Réponse envoyée au demandeur",
    "requester_reply": "Réponse du demandeur",
    "note": "Note interne ajoutée",
    "assignee": "Attribution modifiée",
    "priority": "Priorité modifiée",
    "topic": "Thème modifié",
    "queue": "File modifiée",
    "merged": "Fusionnée dans une autre demande",
    "merged_from": "Doublon fusionné dans cette demande",
    "unmerged": "Fusion annulée : demande de nouveau distincte",
    "unmerged_from": "Fusion d'un doublon annulée",
    "links": "Rattachement modifié",
    "sla_at_risk": "Délai à risque",
    "sla_breached": "Délai dépassé",
    "follow_link_sent": "Nouveau lien de suivi envoyé au demandeur",
    "triage": "Tri automatique",
    "auto_answer": "Réponse automatique envoyée",
    "auto_answer_confirmed": "Réponse automatique acceptée par le demandeur",
    "advisor_requested": "Conseiller demandé par le demandeur",
    "call_chosen": "Appel à projets choisi",
    "requester_confirmed": "Adresse du demandeur confirmée",
    "satisfaction": "Enquête de satisfaction reçue",
    "modification": "Demande de modification du projet",
    "assistant_handover": "Transmise par l'assistant",
}


def _value_label(kind: str, value):
    if value is None or value == "":
        return _("aucun")
    if kind == "status":
        return _(STATUS_LABELS.get(value, value))
    if kind == "priority":
        return _(PRIORITY_LABELS.get(value, value))
    if kind == "modification":
        return _(MODIFICATION_STATE_LABELS.get(value, value))
    return str(value)


def _created_detail(data: dict) -> str:
    """The channel and the first queue of a new request, by their labels (the event keeps their codes)."""
    parts = [_(CHANNEL_LABELS.get(data["channel"], data["channel"]))] if data.get("channel") else []
    queue = reference().queues.get(data.get("queue") or "")
    return ", ".join(parts + ([queue.name] if queue is not None else []))


#: What the requester does, recorded without an account when they have none: credited to them, not to Guichet.
REQUESTER_EVENTS = frozenset({"created", "requester_reply", "auto_answer_confirmed", "advisor_requested",
                              "call_chosen", "requester_confirmed", "satisfaction", "assistant_handover"})


def _actor(ticket: Ticket, event, requester_at) -> str:
    """Who made the change: the account, else the requester for what they do (and a status their action changes
    at the same instant: a reply reopening, an accepted answer resolving), else Guichet itself."""
    if event.actor is not None:
        return event.actor.name
    if event.kind in REQUESTER_EVENTS or (event.kind == "status" and event.created_at == requester_at):
        return _("%(name)s (demandeur)", name=requester_label(ticket))
    return _("Guichet (automatique)")


def timeline(ticket: Ticket) -> list[dict]:
    """The audit trail in the reader's language: who, when, what, before → after, details."""
    entries = []
    requester_at = None  # the instant of the requester's last action
    for event in ticket.events:
        if event.actor is None and event.kind in REQUESTER_EVENTS and event.kind != "created":
            requester_at = event.created_at  # (the triage of a new request changes its status: not the requester)
        data = event.data or {}
        label = _(EVENT_LABELS[event.kind]) if event.kind in EVENT_LABELS else _("Autre événement")
        detail = ""
        if event.kind == "assignee" and data.get("claimed"):
            label = _("Prise en charge")
        elif event.kind in ("sla_at_risk", "sla_breached"):
            detail = _(TARGET_LABELS.get(data.get("target"), data.get("target") or ""))
        elif event.kind == "merged":
            detail = _("dans %(ref)s", ref=data.get("into", ""))
        elif event.kind in ("merged_from", "unmerged_from"):
            detail = _("doublon %(ref)s", ref=data.get("source", ""))
        elif event.kind == "unmerged":
            detail = _("elle était fusionnée dans %(ref)s", ref=data.get("source", ""))
        elif event.kind in ("status", "sla_policy") and data.get("reason"):
            detail = data["reason"]
        elif event.kind == "created":
            detail = _created_detail(data)
        change = None
        if "before" in data or "after" in data:
            change = (_value_label(event.kind, data.get("before")), _value_label(event.kind, data.get("after")))
        entries.append({"at": event.created_at, "actor": _actor(ticket, event, requester_at), "label": label,
                        "change": change, "detail": detail, "kind": event.kind})
    return entries
