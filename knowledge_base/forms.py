"""Forms of the knowledge-base pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SearchField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

# Same slugs as the ticket topics (tickets/demo.py), so articles and requests share one vocabulary.
TOPIC_LABELS = {
    "depot": _l("Dépôt d'une proposition"),
    "eligibilite": _l("Éligibilité"),
    "calendrier": _l("Calendrier et dates limites"),
    "evaluation": _l("Évaluation et sélection"),
    "financement": _l("Règles de financement"),
    "versements": _l("Versements et justificatifs"),
    "avenant": _l("Avenant et modification du projet"),
    "portail": _l("Compte et portail projets"),
    "autre": _l("Autre question"),
}


class ArticleForm(FlaskForm):
    """Create or edit an article."""

    question = StringField(_l("Question"), validators=[DataRequired(), Length(max=500)])
    phrasings = TextAreaField(_l("Autres formulations (une par ligne)"), validators=[Optional(), Length(max=10000)])
    answer = TextAreaField(_l("Réponse (Markdown)"), validators=[DataRequired(), Length(max=50000)])
    topic = SelectField(_l("Thème"), choices=[("", _l("— Aucun —")), *TOPIC_LABELS.items()],
                        validators=[Optional()])
    calls = StringField(_l("Appels concernés (codes séparés par des virgules, vide : tous)"),
                        validators=[Optional(), Length(max=500)])
    language = SelectField(_l("Langue"), choices=[("fr", _l("Français")), ("en", _l("Anglais"))])
    valid_from = DateField(_l("Valable à partir du"), validators=[Optional()])
    valid_until = DateField(_l("Valable jusqu'au"), validators=[Optional()])
    comment = StringField(_l("Motif de la modification"), validators=[Optional(), Length(max=500)])

    def content(self) -> dict:
        """Return the article content entered in the form."""
        return {
            "question": self.question.data,
            "phrasings": self.phrasings.data or "",
            "answer": self.answer.data,
            "topic": self.topic.data or None,
            "calls": [c.strip() for c in (self.calls.data or "").split(",") if c.strip()],
            "language": self.language.data,
            "valid_from": self.valid_from.data,
            "valid_until": self.valid_until.data,
        }

    def fill(self, article) -> None:
        """Pre-fill the form with an article."""
        self.question.data = article.question
        self.phrasings.data = "\n".join(article.phrasings or ())
        self.answer.data = article.answer
        self.topic.data = article.topic or ""
        self.calls.data = ", ".join(article.calls or ())
        self.language.data = article.language
        self.valid_from.data = article.valid_from
        self.valid_until.data = article.valid_until


class HelpSearchForm(FlaskForm):
    """The public search box (GET, no CSRF)."""

    class Meta:
        csrf = False

    q = SearchField(_l("Rechercher dans l'aide"), validators=[Optional(), Length(max=300)])
    theme = SelectField(_l("Thème"), choices=[("", _l("Tous les thèmes")), *TOPIC_LABELS.items()],
                        validators=[Optional()])
