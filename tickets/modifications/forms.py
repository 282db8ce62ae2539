"""The forms of modification requests: one per kind, built from its fields (tickets.modifications.kinds), and the
small action forms (co-validation, information, decision, withdrawal). The rules are the kinds' own."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FileField, MultipleFileField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from tickets.attachments import IncomingFile
from tickets.modifications import kinds


class _Marked:
    """No check (kinds.validate decides), only the "required" mark on the label."""

    field_flags = {"required": True}

    def __call__(self, form, field):
        return None


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def request_form_class(kind: str, facts: kinds.ProjectFacts) -> type[FlaskForm]:
    """The form of one kind for one project (a partner choice lists its partners, amounts one input each)."""
    spec = kinds.SPECS[kind]
    partners = [("", _l("Choisir un partenaire"))] + [(str(p.number), f"{p.number} — {p.name}") for p in facts.partners]
    attrs: dict = {}
    for f in spec.fields:
        validators = [_Marked()] if f.required else []
        label = _l(f.label)
        if f.type == "amounts":
            for p in facts.partners:
                attrs[f"amount_{p.number}"] = StringField(f"{p.number} — {p.name}", filters=[_strip],
                                                          validators=[_Marked()])
        elif f.type == "long_text":
            attrs[f.name] = TextAreaField(label, filters=[_strip], validators=validators)
        elif f.type == "partner":
            attrs[f.name] = SelectField(label, choices=partners, validate_choice=False, validators=validators)
        elif f.type == "choice":
            attrs[f.name] = RadioField(label, choices=[(c, _l(text)) for c, text in f.choices],
                                       validate_choice=False, validators=validators)
        else:
            attrs[f.name] = StringField(label, filters=[_strip], validators=validators)
    for document in spec.documents:
        attrs[f"document_{document.slug}"] = FileField(_l(document.label), validators=[] if not document.required
                                                       else [_Marked()])
    attrs["save"] = SubmitField(_l("Enregistrer le brouillon"))
    attrs["submit"] = SubmitField(_l("Déposer la demande"))
    return type(f"{kind.title().replace('_', '')}RequestForm", (FlaskForm,), attrs)


def data_fields(form: FlaskForm) -> dict[str, str]:
    """The typed values by data name (documents and buttons left out)."""
    return {name: field.data or "" for name, field in form._fields.items()
            if not name.startswith("document_") and name not in ("save", "submit", "csrf_token")}


def uploaded_documents(form: FlaskForm) -> dict[str, IncomingFile]:
    """The files given, by document slug (an empty input is no file)."""
    files = {}
    for name, field in form._fields.items():
        storage = field.data if name.startswith("document_") else None
        if storage is not None and getattr(storage, "filename", ""):
            files[name.removeprefix("document_")] = IncomingFile(storage.filename, storage.read(),
                                                                 storage.mimetype)
    return files


def show_errors(form: FlaskForm, errors: dict[str, str]) -> None:
    """Put kinds.validate's messages on the fields (a rule on all amounts goes on the first one)."""
    for name, message in errors.items():
        target = name
        if name == "amounts":
            target = next((n for n in form._fields if n.startswith("amount_")), name)
        if target in form._fields:
            form[target].errors = [*form[target].errors, message]
        else:
            form.form_errors.append(message)


class ReasonForm(FlaskForm):
    """A co-validation, a refusal of it, or a withdrawal: the reason is needed only when declining."""

    reason = TextAreaField(_l("Motif (obligatoire pour renvoyer la demande)"), filters=[_strip],
                           validators=[Optional(), Length(max=5000)])


class InformationForm(FlaskForm):
    """The filer's answer to a request for information, with documents."""

    body = TextAreaField(_l("Votre réponse"), filters=[_strip], validators=[DataRequired(), Length(max=20000)])
    attachments = MultipleFileField(_l("Documents (PDF, facultatif)"))


class AgentActionForm(FlaskForm):
    """The agency's message: a request for information or a reasoned decision."""

    action = SelectField(_l("Action"), choices=[("request_information", _l("Demander des compléments")),
                                                *((d, _l(label)) for d, label in (
                                                    ("accept", "Accepter"), ("partly_accept", "Accepter partiellement"),
                                                    ("refuse", "Refuser")))])
    body = TextAreaField(_l("Message au demandeur (motivation de la décision)"), filters=[_strip],
                         validators=[DataRequired(), Length(max=20000)])
