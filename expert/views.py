"""Web pages of the expert module: rules (admin), « try it », référents (the tickets package serves the rest)."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.core import registry
from crm.core.extensions import db
from crm.core.i18n import day, paris_today
from crm.core.models import Role, User
from crm.core.security import roles_required
from expert import queries, ruleset, services
from expert.forms import (
    PRIORITY_CHOICES,
    AbsenceForm,
    DeleteForm,
    ReferentForm,
    RuleForm,
    RuleSetYamlForm,
    TryForm,
    accepted_values,
)
from expert.models import RuleSetVersion
from expert.rules import ACTIONS, CONDITIONS, RuleError

bp = Blueprint("expert", __name__, template_folder="templates")

RULES_ADMIN = (Role.ADMIN,)
EXPERT_MANAGERS = (Role.MANAGER, Role.ADMIN)


def _version_or_404(number: int) -> RuleSetVersion:
    version = queries.rule_set_version(number)
    if version is None:
        abort(404)
    return version


# --- Rules (administrators) ------------------------------------------------------------------------


@bp.get("/admin/expert/regles")
@roles_required(*RULES_ADMIN)
def rules_list():
    return render_template("expert/rules.html", rules=ruleset.stored_rules(), version=ruleset.latest_version(),
                           conditions=CONDITIONS, actions=ACTIONS, value_labels={
                               "route_to_group": dict(services.queue_choices()),
                               "set_topic": dict(services.topic_choices()), "set_priority": dict(PRIORITY_CHOICES)})


@bp.route("/admin/expert/regles/yaml", methods=["GET", "POST"])
@roles_required(*RULES_ADMIN)
def rules_yaml():
    """Edit, import (typed or as a file) or export the whole rule set as one YAML document."""
    form = RuleSetYamlForm()
    if request.method == "GET":
        form.document.data = ruleset.dump_yaml(ruleset.rule_dicts())
    elif form.validate_on_submit() and (text := form.text()) is not None:
        try:
            version = ruleset.import_yaml(text, by=current_user, comment=form.comment.data or _("Modification en YAML"))
        except RuleError as error:
            (form.file if form.file.data else form.document).errors.append(str(error))
        else:
            flash(_("Règles enregistrées (version %(n)s).", n=version.number if version else "-"), "success")
            return redirect(url_for(".rules_list"))
    status = 422 if form.errors else 200
    return render_template("expert/rules_yaml.html", form=form, conditions=CONDITIONS, actions=ACTIONS), status


@bp.get("/admin/expert/regles/export.yaml")
@roles_required(*RULES_ADMIN)
def rules_export():
    """The current rule set as a YAML file to download (the bulk export; the YAML page imports it back)."""
    return Response(ruleset.dump_yaml(ruleset.rule_dicts()), mimetype="application/yaml", headers={
        "Content-Disposition": f'attachment; filename="guichet-regles-{paris_today().isoformat()}.yaml"'})


@bp.route("/admin/expert/regles/nouvelle", methods=["GET", "POST"], defaults={"code": None})
@bp.route("/admin/expert/regles/<code>/modifier", methods=["GET", "POST"])
@roles_required(*RULES_ADMIN)
def rule_edit(code: str | None):
    """Create or edit one rule as a form; « Ajouter une ligne » re-renders it with one more condition row."""
    current = next((r for r in ruleset.stored_rules() if r.code == code), None) if code else None
    if code and current is None:
        abort(404)
    form = RuleForm(formdata=None) if request.method == "GET" else RuleForm()
    if request.method == "GET":
        if current is not None:
            form.fill(current)
        form.add_empty_rows()
    form.set_choices(services.queue_choices(), services.topic_choices(), kept=current.actions if current else {})
    if form.add_row.data:
        form.conditions.append_entry()
    elif request.method == "POST":
        valid = form.validate_on_submit()
        data = form.rule_data()  # the engine's checks run too, so that every error shows at once
        if valid and data is not None:
            try:
                ruleset.save_rule(code, data, by=current_user, position=form.position.data)
            except RuleError as error:  # raised by the whole set's validation, before anything is changed
                (form.code.errors if "code de règle" in str(error) else form.form_errors).append(str(error))
            else:
                flash(_("Règle %(code)s enregistrée.", code=form.code.data), "success")
                return redirect(url_for(".rules_list") + "#regles")
    errors = form.error_list() if request.method == "POST" and not form.add_row.data else []
    return render_template("expert/rule_form.html", form=form, rule=current, errors=errors, conditions=CONDITIONS,
                           accepted=accepted_values(services.topic_choices())), 422 if errors else 200


@bp.post("/admin/expert/regles/<code>/<operation>")
@roles_required(*RULES_ADMIN)
def rule_operation(code: str, operation: str):
    """Move up or down, enable, disable or delete a rule (each is a new version)."""
    operations = {
        "monter": lambda: ruleset.move_rule(code, -1, by=current_user),
        "descendre": lambda: ruleset.move_rule(code, 1, by=current_user),
        "activer": lambda: ruleset.set_rule_enabled(code, True, by=current_user),
        "desactiver": lambda: ruleset.set_rule_enabled(code, False, by=current_user),
        "supprimer": lambda: ruleset.delete_rule(code, by=current_user),
    }
    if operation not in operations:
        abort(404)
    if operation == "supprimer" and request.form.get("confirmer") != "1":  # a deletion is confirmed first
        rule = next((r for r in ruleset.stored_rules() if r.code == code), None)
        if rule is None:
            abort(404)
        return render_template("expert/rule_delete_confirm.html", rule=rule)
    try:
        operations[operation]()
    except RuleError as error:
        db.session.rollback()
        flash(str(error), "error")
    return redirect(url_for(".rules_list") + "#regles")


@bp.get("/admin/expert/regles/historique")
@roles_required(*RULES_ADMIN)
def rules_history():
    return render_template("expert/history.html", versions=ruleset.versions(100))


@bp.get("/admin/expert/regles/historique/<int:number>")
@roles_required(*RULES_ADMIN)
def rules_version(number: int):
    version = _version_or_404(number)
    return render_template("expert/version.html", version=version, document=ruleset.dump_yaml(version.rules))


@bp.post("/admin/expert/regles/historique/<int:number>/restaurer")
@roles_required(*RULES_ADMIN)
def rules_restore(number: int):
    version = _version_or_404(number)
    new = ruleset.restore_version(version, by=current_user)
    flash(_("La version %(old)s est de nouveau en vigueur (version %(new)s).", old=number, new=new.number), "success")
    return redirect(url_for(".rules_list"))


# --- Try a question ----------------------------------------------------------------------------------


@bp.get("/admin/expert/essai")
@roles_required(*EXPERT_MANAGERS)
def try_rules():
    """Triage a sample question and show the rules that fire, the candidate articles and the action."""
    form = TryForm(request.args)
    form.topic.choices = [("", _("Aucun")), *services.topic_choices()]
    decision = None
    if request.args and form.validate():
        decision = services.try_question(form.subject.data, form.body.data or "", topic=form.topic.data,
                                         call=form.call.data, profile=form.profile.data,
                                         project_state=form.project_state.data)
    return render_template("expert/try.html", form=form, decision=decision, labels=services.labels(),
                           threshold=current_app.config["KB_AUTO_ANSWER_CONFIDENCE"])


# --- Référents ---------------------------------------------------------------------------------------


@bp.get("/expert/referents")
@roles_required(*EXPERT_MANAGERS)
def referents():
    """Référents: group, expertise, availability (absences included) and current load, over-loads flagged."""
    return render_template("expert/referents.html", users=queries.referent_users(),
                           profiles=queries.referent_profiles(), loads=services.active_loads(),
                           absent_until=queries.current_absences(paris_today()))


@bp.route("/expert/referents/<int:user_id>", methods=["GET", "POST"])
@login_required
def referent_edit(user_id: int):
    """Managers edit any référent's profile; a référent edits their own."""
    user = db.session.get(User, user_id)
    if user is None or not user.has_role(Role.REFERENT):
        abort(404)
    if not (current_user.has_role(*EXPERT_MANAGERS) or current_user.id == user.id):
        abort(403)
    profile = queries.referent_profile(user)
    form = ReferentForm(obj=profile) if request.method == "GET" else ReferentForm()
    form.group.choices = [(0, _("Aucun")), *services.referent_groups()]
    if request.method == "GET":
        form.group.data = profile.group_id if profile and profile.group_id else 0
        form.topics.data = ", ".join(profile.topics) if profile else ""
        form.calls.data = ", ".join(profile.calls) if profile else ""
        form.available.data = profile.available if profile else True
    elif form.validate_on_submit():
        services.save_referent_profile(
            user, group_id=form.group.data or None, topics=_split(form.topics.data), calls=_split(form.calls.data),
            available=form.available.data, max_load=form.max_load.data)
        flash(_("Profil de %(name)s enregistré.", name=user.name), "success")
        if current_user.has_role(*EXPERT_MANAGERS):
            return redirect(url_for(".referents"))
        return redirect(url_for(".referent_edit", user_id=user.id))
    return _referent_page(user, form=form, status=422 if form.errors else 200)


def _referent_page(user: User, *, form: ReferentForm | None = None, absence_form: AbsenceForm | None = None,
                   status: int = 200):
    if form is None:
        profile = queries.referent_profile(user)
        form = ReferentForm(obj=profile)
        form.group.choices = [(0, _("Aucun")), *services.referent_groups()]
        form.group.data = profile.group_id if profile and profile.group_id else 0
        form.topics.data = ", ".join(profile.topics) if profile else ""
        form.calls.data = ", ".join(profile.calls) if profile else ""
        form.available.data = profile.available if profile else True
    return render_template("expert/referent_form.html", form=form, user=user,
                           absence_form=absence_form or AbsenceForm(formdata=None),
                           absences=services.absences_of(user), delete_form=DeleteForm(),
                           today=paris_today()), status


def _editable_referent(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or not user.has_role(Role.REFERENT):
        abort(404)
    if not (current_user.has_role(*EXPERT_MANAGERS) or current_user.id == user.id):
        abort(403)
    return user


@bp.post("/expert/referents/<int:user_id>/absences")
@login_required
def absence_add(user_id: int):
    """A référent (or a manager for them) records an absence: no new request goes to them meanwhile."""
    user = _editable_referent(user_id)
    form = AbsenceForm()
    if not form.validate_on_submit():
        return _referent_page(user, absence_form=form, status=422)
    services.add_absence(user, starts_on=form.starts_on.data, ends_on=form.ends_on.data, reason=form.reason.data or "",
                         by=current_user)
    flash(_("Absence du %(start)s au %(end)s enregistrée.", start=day(form.starts_on.data),
            end=day(form.ends_on.data)), "success")
    return redirect(url_for(".referent_edit", user_id=user.id))


@bp.post("/expert/referents/<int:user_id>/absences/<int:absence_id>/supprimer")
@login_required
def absence_delete(user_id: int, absence_id: int):
    """Remove one of the référent's absence periods."""
    user = _editable_referent(user_id)
    if not DeleteForm().validate_on_submit():
        abort(400)
    if not services.remove_absence(user, absence_id):
        abort(404)
    flash(_("Absence supprimée."), "success")
    return redirect(url_for(".referent_edit", user_id=user.id))


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def init_app(app: Flask) -> None:
    """Register the blueprint and the rules menu entry."""
    app.register_blueprint(bp)
    registry.add_menu(app, 31, "Règles de tri", "expert.rules_list",
                      lambda u: u.is_authenticated and u.has_role(*RULES_ADMIN))
