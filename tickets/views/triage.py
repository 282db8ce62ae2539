"""Pages around triage: the requester's answer to an automatic reply, the agent's triage panel, the figures page."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from crm.core import periods, registry
from crm.core.i18n import day
from crm.core.models import Role
from crm.core.security import roles_required
from expert import conversations
from expert import queries as stats
from expert import services as expert
from expert.models import OUTCOME_LABELS
from tickets import call_choice, exports, triage
from tickets.forms import PeriodForm
from tickets.models import Status
from tickets.queries import ticket_references
from tickets.services import TicketError
from tickets.views.manager import DEFAULT_DAYS
from tickets.views.public import load_requester_ticket

bp = Blueprint("tickets_triage", __name__)

EXPERT_MANAGERS = (Role.MANAGER, Role.ADMIN)


# --- The requester's answer to an automatic reply -----------------------------------------------------


@bp.post("/demandes/<reference>/reponse-automatique/resolue")
def confirm_answer(reference: str):
    """« Cela répond à ma question »: the ticket is resolved and counted as deflected."""
    ticket = load_requester_ticket(reference)
    try:
        triage.confirm_answer(ticket, by=current_user if current_user.is_authenticated else None)
    except TicketError as error:
        flash(str(error), "error")
    else:
        flash(_("Merci ! Votre demande est close. Vous pouvez la rouvrir en répondant si besoin."), "success")
    return redirect(url_for("tickets_public.follow", reference=ticket.reference))


@bp.post("/demandes/<reference>/reponse-automatique/conseiller")
def ask_advisor(reference: str):
    """« J'ai besoin d'un conseiller »: the ticket goes to a person; the response time counts from submission."""
    ticket = load_requester_ticket(reference)
    try:
        triage.ask_advisor(ticket, by=current_user if current_user.is_authenticated else None)
    except TicketError as error:
        flash(str(error), "error")
    else:
        flash(_("Votre demande a été transmise à un conseiller, qui vous répondra."), "success")
    return redirect(url_for("tickets_public.follow", reference=ticket.reference))


@bp.post("/demandes/<reference>/appel")
def choose_call(reference: str):
    """« Quel appel votre question concerne-t-elle ? »: one click per offered call, then triage again."""
    ticket = load_requester_ticket(reference)
    code = (request.form.get("appel") or "").strip()[:40]
    try:
        record = call_choice.choose_call(ticket, code, by=current_user if current_user.is_authenticated else None)
    except TicketError as error:
        flash(str(error), "error")
    else:
        if ticket.status == Status.AUTO_ANSWERED:
            flash(_("Merci ! Une réponse vous est proposée ci-dessous."), "success")
        elif record.call_code:
            flash(_("Merci ! Un conseiller répondra à votre question sur cet appel."), "success")
        else:
            flash(_("Merci ! Un conseiller répondra à votre question."), "success")
    return redirect(url_for("tickets_public.follow", reference=ticket.reference))


def call_question(ticket) -> dict | None:
    """What the follow page needs to ask which call the question is about (None: nothing to ask)."""
    calls = call_choice.call_offer(ticket)
    if not calls:
        return None
    return {"calls": calls, "other": call_choice.OTHER_CALL,
            "url": url_for("tickets_triage.choose_call", reference=ticket.reference)}


def follow_actions(ticket) -> dict | None:
    """What the follow page needs to offer the two buttons (only while an automatic answer awaits a reply)."""
    if ticket.status != Status.AUTO_ANSWERED:
        return None
    return {"confirm": url_for("tickets_triage.confirm_answer", reference=ticket.reference),
            "advisor": url_for("tickets_triage.ask_advisor", reference=ticket.reference)}


# --- Manager figures ---------------------------------------------------------------------------------


def _with_references(items: list[tuple[int, str, list]]) -> list[tuple[str, str, list]]:
    """Replace ticket ids by references."""
    references = ticket_references({ticket_id for ticket_id, _q, _c in items})
    return [(references[i], q, c) for i, q, c in items if i in references]


def _expert_form() -> PeriodForm:
    """The period from the query string, the last 30 days when none is given."""
    return PeriodForm.from_query(request.args, DEFAULT_DAYS)


def _gaps(form: PeriodForm) -> list:
    """The questions without a sure answer over the (valid) form's period, grouped: requests, and the assistant's."""
    start, end = form.bounds()
    threshold = float(current_app.config["KB_AUTO_ANSWER_CONFIDENCE"])
    unanswered = _with_references(stats.unanswered(start, threshold)) + conversations.unanswered_questions(start, end)
    return stats.group_gaps(unanswered)[:30]


def _series(form: PeriodForm) -> list:
    """The rates and the assistant's conversations per week (or month) of the (valid) form's period."""
    steps = periods.buckets(form.du.data, form.au.data, ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"]))
    return list(zip(steps, stats.rates_by_step(steps), conversations.resolved_by_step(steps), strict=True))


def _expert_figures(form: PeriodForm) -> dict:
    """Rates, their evolution and the grouped gaps over the (valid) form's period."""
    return {"figures": stats.rates(*form.bounds()), "threshold": float(current_app.config["KB_AUTO_ANSWER_CONFIDENCE"]),
            "gaps": _gaps(form), "series": _series(form)}


@bp.get("/responsable/expert")
@roles_required(*EXPERT_MANAGERS)
def stats_page():
    """Auto-answer, deflection and escalation rates, and the questions the knowledge base could not answer."""
    form = _expert_form()
    if not form.validate():
        return render_template("expert/stats.html", form=form, figures=None), 422
    figures = _expert_figures(form)
    return render_template("expert/stats.html", form=form, **figures, outcome_labels=OUTCOME_LABELS,
                           period=(form.du.data, form.au.data), weekly=periods.is_weekly(form.du.data, form.au.data),
                           rates_chart=_rates_chart(figures["series"]), ticket_url=_gap_ticket_url,
                           export_args={k: v for k, v in request.args.items() if k in ("du", "au") and v})


@bp.get("/responsable/expert/<report>.<fmt>")
@roles_required(*EXPERT_MANAGERS)
def stats_export(report: str, fmt: str):
    """One table of the expert page as .xlsx or .csv, over the same period."""
    spec = exports.EXPERT_REPORTS.get(report)
    if spec is None or fmt not in ("xlsx", "csv"):
        abort(404)
    form = _expert_form()
    if not form.validate():
        abort(422)
    rows = {"evolution": lambda: exports.expert_series_rows(_series(form)),  # only the table asked for
            "issues": lambda: exports.expert_outcome_rows(stats.rates(*form.bounds())),
            "lacunes": lambda: exports.gap_rows(_gaps(form))}[report]()
    return exports.attachment(fmt, spec, rows)


#: The rates drawn over time on the expert page, in order.
SERIES_RATES = (("auto_answer_rate", "Taux de réponse automatique"),
                ("deflection_rate", "Taux de résolution confirmée"),
                ("escalation_rate", "Taux de recours à un conseiller"))


def _rates_chart(series: list) -> dict:
    """Step labels and the three rates in % (None where nothing was counted), as the chart component reads them."""
    def share(value):
        return None if value is None else round(value * 100, 1)

    def resolved(assistant):
        return share(assistant[1] / assistant[0]) if assistant[0] else None

    return {"labels": [day(step.first) for step, _rates, _assistant in series],
            "values": [[share(getattr(rates, name)) for _step, rates, _assistant in series]
                       for name, _label in SERIES_RATES]
            + [[resolved(assistant) for _step, _rates, assistant in series]],
            "names": [_(label) for _name, label in SERIES_RATES]
            + [_("Conversations de l'assistant résolues sans demande")]}


def _gap_ticket_url(reference: str) -> str | None:
    """The agent page of a gap's request (an assistant conversation has none)."""
    return url_for("tickets_agent.ticket", reference=reference) if reference.startswith("DEM-") else None


# --- Agent's ticket panel ---------------------------------------------------------------------------


def ticket_panel(ticket) -> Markup | None:
    """The triage decision with its explanation, and suggested articles the agent inserts in one click."""
    if not (current_user.is_authenticated and current_user.is_staff):
        return None
    decision = expert.latest_decision(ticket)
    first = next((m for m in ticket.messages if not m.internal), None)
    suggestions = expert.suggested_articles(f"{ticket.subject}\n{first.body if first else ''}",
                                            ticket.project_reference)
    return Markup(render_template(  # noqa: S704 - autoescaped by Jinja
        "expert/_ticket_panel.html", ticket=ticket, decision=decision, suggestions=suggestions,
        outcome_labels=OUTCOME_LABELS, answer_text=expert.markdown_to_text))


def init_app(app: Flask) -> None:
    """Register the blueprint, the figures menu entry, the ticket panel and the follow-page helper."""
    app.register_blueprint(bp)
    registry.add_menu(app, 30, "Module expert", "tickets_triage.stats_page",
                      lambda u: u.is_authenticated and u.has_role(*EXPERT_MANAGERS))
    registry.add_ticket_panel(app, 10, ticket_panel)
    app.add_template_global(follow_actions, "expert_follow_actions")
    app.add_template_global(call_question, "expert_call_question")
