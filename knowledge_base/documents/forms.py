"""Forms of the call documents' pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, StringField
from wtforms.validators import DataRequired, Length, Optional


class DocumentUploadForm(FlaskForm):
    """Upload a call document, or a new version of one."""

    title = StringField(_l("Titre du document"), validators=[DataRequired(), Length(max=255)])
    call_code = StringField(_l("Appel concerné (code, vide : tous les appels)"),
                            validators=[Optional(), Length(max=40)])
    valid_from = DateField(_l("En vigueur à partir du"), validators=[Optional()])
    valid_until = DateField(_l("En vigueur jusqu'au"), validators=[Optional()])
    file = FileField(_l("Fichier (PDF, HTML ou Markdown)"), validators=[FileRequired(_l("Choisissez un fichier."))])

    def fill(self, document) -> None:
        """Pre-fill with a document (a new version keeps its title, call and dates unless changed)."""
        self.title.data = document.title
        self.call_code.data = document.call_code or ""
        self.valid_from.data = document.valid_from
        self.valid_until.data = document.valid_until


class DocumentValidityForm(FlaskForm):
    """Change the dates within which a document's passages are offered (no new file)."""

    valid_from = DateField(_l("En vigueur à partir du"), validators=[Optional()])
    valid_until = DateField(_l("En vigueur jusqu'au"), validators=[Optional()])
