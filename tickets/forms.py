"""Forms of the requester pages (request, reply, portal contact), the agent pages and the manager period."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, Optional

from crm.core.forms import PeriodForm  # the managers' reporting period, shared with the portal
from tickets.models import PRIORITY_LABELS, Status

MESSAGE_MAX = 20_000


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class RequestForm(FlaskForm):
    """The public request form; `website` is a honeypot that people never see nor fill."""

    name = StringField(_l("Nom et prénom"), filters=[_strip], validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("Adresse électronique"), filters=[_strip],
                       validators=[DataRequired(), Email(message=_l("Adresse électronique invalide.")),
                                   Length(max=254)])
    topic = SelectField(_l("Thème de votre demande"), validators=[DataRequired()], choices=[])
    subject = StringField(_l("Objet"), filters=[_strip], validators=[DataRequired(), Length(max=200)])
    message = TextAreaField(_l("Votre message"), filters=[_strip],
                            validators=[DataRequired(), Length(max=MESSAGE_MAX)])
    project_reference = StringField(_l("Référence du projet (facultatif)"), filters=[_strip],
                                    validators=[Optional(), Length(max=40)])
    #: For a signed-in person the business systems know: one of their projects (choices set by the view).
    project = SelectField(_l("Votre projet (facultatif)"), choices=[], validate_choice=False,
                          validators=[Optional()])
    #: The call for proposals the question is about (choices set by the view; empty: the project's, or unknown).
    call = SelectField(_l("Appel à projets concerné (facultatif)"), choices=[], validators=[Optional()])
    attachments = MultipleFileField(_l("Pièces jointes (facultatif)"))
    #: The requester's consent to the community space (tickets.community): off unless ticked; withdrawn from the
    #: follow page at any time. The same words as its form there.
    community = BooleanField(_l("J'accepte que ma question soit ouverte à la communauté des experts des "
                                "établissements (anonymisée)"))
    website = StringField(_l("Ne remplissez pas ce champ"))
    #: The conversation with the assistant the request comes from (its public id), attached to the request.
    conversation = HiddenField(validators=[Optional(), Length(max=40)])
    submit = SubmitField(_l("Envoyer ma demande"))


class OnBehalfForm(FlaskForm):
    """A request an agent enters for a requester who called or wrote (the channel is recorded on the request)."""

    channel = SelectField(_l("Reçue par"), validators=[DataRequired()], choices=[
        ("phone", _l("Téléphone")), ("letter", _l("Courrier")), ("email", _l("Courriel")),
    ])
    name = StringField(_l("Nom et prénom du demandeur"), filters=[_strip], validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("Adresse électronique du demandeur"), filters=[_strip],
                       validators=[DataRequired(), Email(message=_l("Adresse électronique invalide.")),
                                   Length(max=254)])
    topic = SelectField(_l("Thème de la demande"), validators=[DataRequired()], choices=[])
    priority = SelectField(_l("Priorité"), validators=[DataRequired()], choices=[])
    subject = StringField(_l("Objet"), filters=[_strip], validators=[DataRequired(), Length(max=200)])
    message = TextAreaField(_l("Demande, telle que formulée par le demandeur"), filters=[_strip],
                            validators=[DataRequired(), Length(max=MESSAGE_MAX)])
    project_reference = StringField(_l("Référence du projet (facultatif)"), filters=[_strip],
                                    validators=[Optional(), Length(max=40)])
    submit = SubmitField(_l("Enregistrer la demande"))


class RequesterReplyForm(FlaskForm):
    """The requester answers on the follow page."""

    body = TextAreaField(_l("Votre réponse"), filters=[_strip], validators=[DataRequired(), Length(max=MESSAGE_MAX)])
    attachments = MultipleFileField(_l("Pièces jointes (facultatif)"))
    submit = SubmitField(_l("Envoyer ma réponse"))


class NewLinkForm(FlaskForm):
    """A requester whose follow link expired asks for a new one, sent to the request's own address."""

    email = EmailField(_l("Adresse électronique utilisée pour la demande"), filters=[_strip],
                       validators=[DataRequired(), Email(message=_l("Adresse électronique invalide.")),
                                   Length(max=254)])
    submit = SubmitField(_l("Recevoir un nouveau lien"))


class QueueFilterForm(FlaskForm):
    """Filters of the agent queue, read from the query string (GET, no CSRF token)."""

    class Meta:
        csrf = False

    q = StringField(_l("Rechercher"), filters=[_strip], validators=[Optional(), Length(max=200)])
    file = SelectField(_l("File"), choices=[], validators=[Optional()])
    statut = SelectField(_l("Statut"), choices=[], validators=[Optional()])
    priorite = SelectField(_l("Priorité"), choices=[], validators=[Optional()])
    theme = SelectField(_l("Thème"), choices=[], validators=[Optional()])
    attribution = SelectField(_l("Attribuée à"), choices=[], validators=[Optional()])
    sla = SelectField(_l("Délai"), choices=[], validators=[Optional()])
    tri = SelectField(_l("Trier par"), choices=[], validators=[Optional()])


class AgentReplyForm(FlaskForm):
    """A public reply, with saved replies insertable with or without JavaScript."""

    body = TextAreaField(_l("Réponse au demandeur"), filters=[_strip],
                         validators=[DataRequired(), Length(max=MESSAGE_MAX)])
    canned = SelectField(_l("Réponse type"), choices=[], validators=[Optional()])
    next_status = SelectField(_l("Après l'envoi"), validators=[Optional()], choices=[
        ("", _l("Laisser la demande en cours")),
        (Status.WAITING.value, _l("Mettre en attente du demandeur")),
        (Status.RESOLVED.value, _l("Marquer comme résolue")),
    ])
    attachments = MultipleFileField(_l("Pièces jointes (facultatif)"))
    #: the newest message when the page was shown: a reply by another agent since then stops this one
    last_message = HiddenField(validators=[Optional(), Length(max=20)])
    insert = SubmitField(_l("Insérer la réponse type"))
    submit = SubmitField(_l("Envoyer la réponse"))


class NoteForm(FlaskForm):
    """An internal note, for staff only."""

    note = TextAreaField(_l("Note interne (jamais visible du demandeur)"), filters=[_strip],
                         validators=[DataRequired(), Length(max=MESSAGE_MAX)])
    submit = SubmitField(_l("Ajouter la note"))


class AssignForm(FlaskForm):
    """Give the ticket to a staff member, or to nobody."""

    assignee = SelectField(_l("Attribuer à"), choices=[], validators=[Optional()])
    submit = SubmitField(_l("Attribuer"))


class UpdateForm(FlaskForm):
    """Change priority, topic and queue."""

    priority = SelectField(_l("Priorité"), choices=[(k.value, _l(v)) for k, v in PRIORITY_LABELS.items()])
    topic = SelectField(_l("Thème"), choices=[], validators=[Optional()])
    queue = SelectField(_l("File"), choices=[], validators=[DataRequired()])
    submit = SubmitField(_l("Enregistrer"))


class MergeForm(FlaskForm):
    """Merge this ticket, a duplicate, into another one."""

    target = StringField(_l("Référence de la demande à conserver"), filters=[_strip],
                         validators=[DataRequired(), Length(max=20)],
                         description=_l("Par exemple DEM-2026-000123"))
    #: "1" once the agent confirmed on the page that shows both requests (a merge is asked for first)
    confirm = HiddenField(validators=[Optional(), Length(max=1)])
    submit = SubmitField(_l("Fusionner comme doublon"))


class LinkForm(FlaskForm):
    """An agent corrects what the ticket is linked to: a project by its reference, an establishment."""

    project_reference = StringField(_l("Référence du projet"), filters=[_strip],
                                    validators=[Optional(), Length(max=40)],
                                    description=_l("Laisser vide : aucun projet"))
    organisation = StringField(_l("Établissement (code, SIRET, SIREN ou RNSR)"), filters=[_strip],
                               validators=[Optional(), Length(max=40)],
                               description=_l("Laisser vide : déduit du projet, sinon de la personne"))
    submit = SubmitField(_l("Enregistrer le rattachement"))


class LinkChoiceForm(FlaskForm):
    """One click on a candidate project or establishment of the ticket."""

    project = IntegerField(validators=[Optional()])
    organisation = IntegerField(validators=[Optional()])


class SurveyForm(FlaskForm):
    score = RadioField(
        _l("Votre note (1 : pas du tout satisfait, 5 : très satisfait)"),
        choices=[(str(n), str(n)) for n in range(1, 6)],
        validators=[DataRequired(message=_l("Choisissez une note de 1 à 5."))],
    )
    comment = TextAreaField(_l("Commentaire (facultatif)"), validators=[Optional(), Length(max=2000)])


#: Portal contact reasons: reason → (label, topic slug used for routing when that topic exists).
CONTACT_REASONS = {
    "introuvable": (_l("Je ne trouve pas mon projet"), "portail"),
    "donnees": (_l("Les données sont erronées"), "portail"),
    "livrable": (_l("Mon livrable est absent"), "versements"),
    "modification": (_l("Ma demande de modification n'apparaît pas"), "avenant"),
    "autre": (_l("Autre"), "portail"),
}


class PortalContactForm(FlaskForm):
    """The portal's contact form about a project: a reason and a message."""

    reason = RadioField(_l("Motif"), choices=[(k, v[0]) for k, v in CONTACT_REASONS.items()],
                        validators=[DataRequired()])
    body = TextAreaField(_l("Votre message"), validators=[DataRequired(), Length(max=10000)])
    submit = SubmitField(_l("Envoyer"))


class AssistantQuestionForm(FlaskForm):
    """A question to the assistant (the same limit as the request form's message); `website` is a honeypot."""

    question = TextAreaField(_l("Votre question"), filters=[_strip],
                             validators=[DataRequired(message=_l("Écrivez votre question.")), Length(max=MESSAGE_MAX)])
    website = StringField(_l("Ne remplissez pas ce champ"))
    submit = SubmitField(_l("Envoyer ma question"))


class AssistantChoiceForm(FlaskForm):
    """One click on an option of the assistant's clarifying question."""

    choix = StringField(validators=[DataRequired(), Length(max=100)])


class BulkActionForm(FlaskForm):
    """One action on the tickets ticked in the queue; read from the query string for the confirmation page
    (no CSRF token), then posted with the token and `confirmer` to apply it."""

    demandes = SelectMultipleField(_l("Demandes"), coerce=int, validate_choice=False,
                                   validators=[DataRequired(_l("Cochez au moins une demande."))])
    action = SelectField(_l("Action sur la sélection"), choices=[],
                         validators=[DataRequired(_l("Choisissez une action."))])
    agent = SelectField(_l("Membre de l'équipe"), choices=[], validators=[Optional()])
    file_cible = SelectField(_l("Nouvelle file"), choices=[], validators=[Optional()])
    priorite_cible = SelectField(_l("Nouvelle priorité"), choices=[], validators=[Optional()])
    doublon = StringField(_l("Référence de la demande à conserver"), filters=[_strip],
                          validators=[Optional(), Length(max=20)])
    retour = HiddenField(validators=[Optional(), Length(max=2000)])
    confirmer = HiddenField()

    #: action -> the field it needs
    NEEDS = {"assign": "agent", "queue": "file_cible", "priority": "priorite_cible", "duplicate": "doublon"}

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        needed = self.NEEDS.get(self.action.data or "")
        if needed and not self[needed].data:
            self[needed].errors = [*self[needed].errors, _l("Ce champ est nécessaire pour cette action.")]
            valid = False
        return valid


class SavedViewForm(FlaskForm):
    """Save the queue's current filters and sort under a name."""

    nom = StringField(_l("Nom de la vue"), filters=[_strip], validators=[DataRequired(), Length(max=80)])
    requete = HiddenField(validators=[Optional(), Length(max=2000)])


class SlaReportForm(PeriodForm):
    """The manager's SLA period, and the queue or service tier its series are drawn for (choices set by the view)."""

    file = SelectField(_l("File"), choices=[], validators=[Optional()])
    niveau = SelectField(_l("Niveau de service"), choices=[], validators=[Optional()])
