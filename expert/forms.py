"""Forms of the expert module: rules (as a form or as YAML), the « try it » question, référent profiles."""

from __future__ import annotations

import re

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from crm.projects.models import PROJECT_STATE_LABELS
from expert.rules import ACTIONS, CONDITIONS, PROJECT_STATES, RuleError


def _strip(value):
    return value.strip() if isinstance(value, str) else value


#: Priority slugs of the engine (expert.rules.PRIORITIES) with their labels.
PRIORITY_CHOICES = [("low", _l("Basse")), ("normal", _l("Normale")), ("high", _l("Haute")), ("urgent", _l("Urgente"))]
#: Conditions whose value is a list (one value per line in the form); the others take one value.
LIST_CONDITIONS = ("topic", "keywords", "all_keywords", "patterns", "call", "profile", "project_state", "channel",
                   "urgency")
#: The actions the form offers, one field each (the engine's ACTIONS, checked by the tests).
FORM_ACTIONS = ("auto_answer", "route_to_group", "set_priority", "set_topic", "require_human")
#: How many empty condition rows a rule form offers (and « Ajouter une ligne » adds one more).
EMPTY_ROWS = 3
#: « Appel ouvert » written in a condition row.
YES_NO = {"oui": True, "yes": True, "true": True, "non": False, "no": False, "false": False}
_ENGINE_PREFIX = re.compile(r"^(?:règle [^:]+ : )?(?:condition|action) « [^»]+ » : ")


class ConditionRowForm(Form):
    """One condition of a rule: what is tested (its operator included, e.g. « Confiance ≥ ») and the value."""

    key = SelectField(_l("Condition"), choices=[("", _l("(aucune)"))] + [
        (name, _l(condition.label)) for name, condition in CONDITIONS.items()], validators=[Optional()])
    value = TextAreaField(_l("Valeur"), filters=[_strip], validators=[Optional(), Length(max=5000)])


class RuleForm(FlaskForm):
    """One rule as fields: conditions as rows, each action as a field; validated by the rule engine itself."""

    code = StringField(_l("Code"), filters=[_strip], validators=[
        DataRequired(), Length(max=20), Regexp(r"^[A-Za-z0-9_-]+$", message=_l("Lettres, chiffres, - ou _."))])
    name = StringField(_l("Nom"), filters=[_strip], validators=[DataRequired(), Length(max=200)])
    position = IntegerField(_l("Position dans l'ordre d'évaluation"),
                            validators=[Optional(), NumberRange(min=1, max=10000)])
    enabled = BooleanField(_l("Active"), default=True)
    stop = BooleanField(_l("Arrêter l'évaluation quand cette règle s'applique"))
    conditions = FieldList(FormField(ConditionRowForm), label=_l("Conditions"))
    auto_answer = SelectField(_l("Réponse automatique"), choices=[
        ("", _l("Non")), ("best", _l("Oui, avec le meilleur article candidat")),
        ("article", _l("Oui, avec un article précis"))], validators=[Optional()])
    auto_answer_article = StringField(_l("Identifiant de l'article"), filters=[_strip],
                                      validators=[Optional(), Length(max=100)])
    route_to_group = SelectField(_l("Orienter vers la file ou le groupe de référents"), validators=[Optional()])
    set_priority = SelectField(_l("Fixer la priorité"), choices=[("", _l("Ne pas changer")), *PRIORITY_CHOICES],
                               validators=[Optional()])
    set_topic = SelectField(_l("Fixer le thème"), validators=[Optional()])
    require_human = BooleanField(_l("Exiger un traitement humain (pas de réponse automatique)"))
    add_row = SubmitField(_l("Ajouter une ligne"))
    submit = SubmitField(_l("Enregistrer la règle"))

    def set_choices(self, queues: list[tuple[str, str]], topics: list[tuple[str, str]], kept: dict) -> None:
        """Queue and topic choices; the stored rule's slug stays selectable when no longer offered (nothing lost)."""
        for field, offered, none in ((self.route_to_group, queues, _l("Ne pas orienter")),
                                     (self.set_topic, topics, _l("Ne pas changer"))):
            field.choices = [("", none), *offered]
            stored = kept.get(field.name)
            if stored and stored not in dict(offered):
                field.choices.append((stored, stored))

    def fill(self, rule) -> None:
        """Show a stored rule: one row per condition, a field per action."""
        self.code.data, self.name.data, self.position.data = rule.code, rule.name, rule.position
        self.enabled.data, self.stop.data = rule.enabled, rule.stop
        for key, value in (rule.conditions or {}).items():
            self.conditions.append_entry({"key": key, "value": condition_text(key, value)})
        actions = rule.actions or {}
        answer = actions.get("auto_answer")
        self.auto_answer.data = "" if answer is None else "best" if answer in ("best", True) else "article"
        self.auto_answer_article.data = "" if answer in (None, "best", True) else str(answer)
        self.route_to_group.data = actions.get("route_to_group") or ""
        self.set_priority.data = actions.get("set_priority") or ""
        self.set_topic.data = actions.get("set_topic") or ""
        self.require_human.data = actions.get("require_human") is True

    def add_empty_rows(self, count: int = EMPTY_ROWS) -> None:
        for _ in range(count):
            self.conditions.append_entry()

    def rule_data(self) -> dict | None:
        """The rule as the engine's mapping, each value checked by the engine (errors on their field); None if any."""
        conditions: dict = {}
        for row in self.conditions:
            key, text = row.form.key.data, row.form.value.data or ""
            if not key:
                if text:
                    row.form.key.errors.append(_l("Choisissez ce que la condition teste."))
                continue
            if key not in CONDITIONS:  # not one of the choices: the select's own error says so
                if not row.form.key.errors:
                    row.form.key.errors.append(_l("Choisissez ce que la condition teste."))
                continue
            if key in conditions:
                row.form.key.errors.append(_l("Cette condition figure déjà plus haut : une seule ligne par condition."))
                continue
            conditions[key] = condition_value(key, text)
            _check(row.form.value, lambda k=key: CONDITIONS[k].parse(conditions[k]))
        actions: dict = {}
        if self.auto_answer.data == "best":
            actions["auto_answer"] = "best"
        elif self.auto_answer.data == "article":
            actions["auto_answer"] = _article_id(self.auto_answer_article.data)
            _check(self.auto_answer_article, lambda: ACTIONS["auto_answer"][1](actions["auto_answer"]))
        for name in ("route_to_group", "set_priority", "set_topic"):
            if getattr(self, name).data:
                actions[name] = getattr(self, name).data
                _check(getattr(self, name), lambda n=name: ACTIONS[n][1](actions[n]))
        if self.require_human.data:
            actions["require_human"] = True
        if not actions:
            self.form_errors.append(_l("Choisissez au moins une action."))
        if self.error_list():
            return None
        return {"code": self.code.data, "name": self.name.data, "enabled": self.enabled.data, "stop": self.stop.data,
                "conditions": conditions, "actions": actions}

    def error_list(self) -> list[tuple[str, str, str]]:
        """(field id, label, message) of every error, rows included, for the error summary."""
        found = [("", "", str(message)) for message in self.form_errors]
        for field in self:
            if field.type == "FieldList":
                for number, row in enumerate(field, start=1):
                    for sub in row.form:
                        found += [(sub.id, f"{field.label.text} {number} – {sub.label.text}", str(m))
                                  for m in sub.errors]
            elif field.type != "CSRFTokenField":  # a missing or stale token is refused before (CSRFProtect, 400)
                found += [(field.id, field.label.text, str(m)) for m in field.errors]
        return found


def _check(field, parse) -> None:
    """Run the engine's parser of one value; its (French) error goes on the field, without the key's name."""
    try:
        parse()
    except RuleError as error:
        field.errors.append(_ENGINE_PREFIX.sub("", str(error)))


def _article_id(text: str | None):
    text = (text or "").strip()
    return int(text) if text.isdigit() else text


def condition_value(key: str, text: str):
    """The engine's value of a condition written in the form (lists one per line, « oui »/« non », 0,8)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if key == "urgency" and not lines:
        return True  # the engine's default urgency cues
    if key in LIST_CONDITIONS:
        return lines[0] if len(lines) == 1 else lines
    if key == "call_open":
        return YES_NO.get(text.lower(), text)
    if key == "deadline_within_days":
        return int(text) if text.isdigit() else text
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return text  # the engine refuses it with its message


def condition_text(key: str, value) -> str:
    """A stored condition value as the form shows it in the user's language (the inverse of condition_value)."""
    french = str(get_locale()) != "en"
    if key == "urgency" and value is True:
        return ""
    if isinstance(value, bool):
        return ("oui" if value else "non") if french else ("yes" if value else "no")
    if isinstance(value, list | tuple):
        return "\n".join(str(v) for v in value)
    if isinstance(value, float):
        return str(value).replace(".", ",") if french else str(value)
    return str(value)


#: The largest YAML document accepted, typed or uploaded (characters).
YAML_MAX = 200000


class RuleSetYamlForm(FlaskForm):
    """The whole rule set as one YAML document, typed or uploaded (bulk import)."""

    document = TextAreaField(_l("Règles (YAML)"), validators=[Optional(), Length(max=YAML_MAX)])
    file = FileField(_l("Ou importer un fichier YAML"),
                     description=_l("Il remplace le texte ci-dessus ; encodé en UTF-8, 200 Ko au plus."))
    comment = StringField(_l("Commentaire de version"), filters=[_strip], validators=[Optional(), Length(max=300)])
    submit = SubmitField(_l("Enregistrer une nouvelle version"))

    def text(self) -> str | None:
        """The document to import: the uploaded file's text, else the typed one; None with a field error if neither."""
        if self.file.data:
            raw = self.file.data.read(YAML_MAX * 4 + 1)
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                self.file.errors.append(_l("Le fichier n'est pas un texte encodé en UTF-8."))
                return None
            if len(raw) > YAML_MAX * 4 or len(text) > YAML_MAX:
                self.file.errors.append(_l("Le fichier dépasse 200 Ko."))
                return None
            return text
        if not (self.document.data or "").strip():
            self.document.errors.append(_l("Saisissez les règles ou importez un fichier."))
            return None
        return self.document.data


PROFILE_CHOICES = [
    ("anonymous", _l("Anonyme (non connecté)")), ("requester", _l("Demandeur connecté")),
    ("headquarters", _l("Siège (SIREN)")), ("entity", _l("Entité (SIRET)")),
    ("lab_director", _l("Directeur de laboratoire (RNSR)")), ("coordinator", _l("Coordinateur")),
    ("scientific_lead", _l("Responsable scientifique")), ("administrative_lead", _l("Responsable administratif")),
    ("staff", _l("Membre de l'équipe")),
]
STATE_CHOICES = [("", _l("Non précisé"))] + [(s, _l(PROJECT_STATE_LABELS[s])) for s in PROJECT_STATES]


#: The channels a rule may test (expert.rules.ChannelCondition), with the tickets' labels.
CHANNEL_CHOICES = [("web", _l("Formulaire web")), ("portal", _l("Portail projets")), ("email", _l("Courriel")),
                   ("api", _l("API"))]


def accepted_values(topics: list[tuple[str, str]]) -> list[tuple[str, list[tuple[str, str]]]]:
    """(condition, [(value, label)]) of the conditions whose values are codes, for the rule form's help."""
    return [(name, choices) for name, choices in (
        ("topic", topics), ("profile", PROFILE_CHOICES), ("project_state", STATE_CHOICES[1:]),
        ("channel", CHANNEL_CHOICES))]


class TryForm(FlaskForm):
    """A sample question, sent by GET: trying has no side effect."""

    class Meta:
        csrf = False

    subject = StringField(_l("Objet"), filters=[_strip], validators=[DataRequired(), Length(max=200)])
    body = TextAreaField(_l("Message"), filters=[_strip], validators=[Optional(), Length(max=20000)])
    topic = SelectField(_l("Thème choisi par le demandeur"), validators=[Optional()])
    call = StringField(_l("Appel à projets (code)"), filters=[_strip], validators=[Optional(), Length(max=40)])
    profile = SelectField(_l("Profil du demandeur"), choices=PROFILE_CHOICES, default="anonymous")
    project_state = SelectField(_l("État du projet"), choices=STATE_CHOICES, validators=[Optional()])


class ReferentForm(FlaskForm):
    """A référent's group, expertise and availability."""

    group = SelectField(_l("Groupe de référents"), coerce=int)
    topics = StringField(_l("Thèmes d'expertise"), filters=[_strip], validators=[Optional(), Length(max=500)],
                         description=_l("Identifiants séparés par des virgules, par exemple : avenant, versements"))
    calls = StringField(_l("Appels à projets"), filters=[_strip], validators=[Optional(), Length(max=500)],
                        description=_l("Codes séparés par des virgules, par exemple : AAPG2025"))
    available = BooleanField(_l("Disponible pour recevoir de nouvelles demandes"))
    max_load = IntegerField(_l("Charge maximale (demandes actives, 0 : sans limite)"),
                            validators=[NumberRange(min=0, max=1000)], default=20)
    submit = SubmitField(_l("Enregistrer"))


class AbsenceForm(FlaskForm):
    """A period during which the référent receives no new request (inclusive dates)."""

    starts_on = DateField(_l("Absent du"), validators=[DataRequired(_l("Indiquez le premier jour d'absence."))])
    ends_on = DateField(_l("au (inclus)"), validators=[DataRequired(_l("Indiquez le dernier jour d'absence."))])
    reason = StringField(_l("Motif (facultatif)"), filters=[_strip], validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Ajouter l'absence"))

    def validate_ends_on(self, field) -> None:
        from wtforms.validators import ValidationError

        if self.starts_on.data and field.data and field.data < self.starts_on.data:
            raise ValidationError(_l("La date de fin de l'absence précède sa date de début."))


class DeleteForm(FlaskForm):
    """A button that deletes one item (CSRF only)."""

    submit = SubmitField(_l("Supprimer"))
