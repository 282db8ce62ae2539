"""Call documents: the public page of a document (/aide/documents) and the référents' pages (/gestion/documents)."""

from __future__ import annotations

from io import BytesIO

import sqlalchemy as sa
from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.core import registry
from crm.core.extensions import db
from crm.core.security import roles_required
from knowledge_base import services as kb_services
from knowledge_base.documents import services
from knowledge_base.documents.forms import DocumentUploadForm, DocumentValidityForm
from knowledge_base.documents.models import MEDIA_TYPES, CallDocument, DocumentPassage, DocumentVersion
from knowledge_base.index import today

public = Blueprint("kb_documents", __name__, url_prefix="/aide/documents")
staff = Blueprint("kb_documents_admin", __name__, url_prefix="/gestion/documents")

editor_required = roles_required(*kb_services.EDITOR_ROLES)


# -- public pages (the agency's documents are public information) -------------------------------------


def _published_or_404(slug: str) -> tuple[CallDocument, DocumentVersion]:
    document = services.document_by_slug(slug)
    version = document.current_version if document is not None else None
    if version is None:
        abort(404)
    return document, version


@public.get("/<slug>")
def document(slug: str):
    """The text of a document's version in force, passage by passage, with headings and pages."""
    item, version = _published_or_404(slug)
    return render_template("knowledge_base/document.html", document=item, version=version,
                           passages=version.passages, in_force=item.is_valid_on(today()))


@public.get("/<slug>/fichier")
def download(slug: str):
    """The file uploaded for the version in force: a PDF opens in the browser (``#page=N``), others download."""
    item, version = _published_or_404(slug)
    inline = version.kind == "pdf"
    return send_file(BytesIO(version.content), mimetype=MEDIA_TYPES[version.kind], as_attachment=not inline,
                     download_name=version.filename, max_age=0)


# -- référents' pages --------------------------------------------------------------------------------


def _upload(form: DocumentUploadForm, document: CallDocument | None) -> DocumentVersion | None:
    """Run the upload of a validated form; a refusal becomes the file field's message (nothing written)."""
    limit = int(current_app.config["KB_DOCUMENT_MAX_BYTES"])
    upload = form.file.data
    try:
        return services.upload_document(
            title=form.title.data, call_code=form.call_code.data, valid_from=form.valid_from.data,
            valid_until=form.valid_until.data, filename=upload.filename or "", content=upload.read(limit + 1),
            author=current_user, document=document)
    except services.DocumentError as error:  # nothing was added; the 422 rolls back the request anyway
        form.file.errors = [*form.file.errors, str(error)]
        return None


@staff.route("", methods=["GET", "POST"])
@editor_required
def index():
    """The documents, and the form to upload a new one."""
    form = DocumentUploadForm()
    if form.validate_on_submit() and (version := _upload(form, None)) is not None:
        flash(_("Document enregistré : %(n)s passages, proposés d'ici quelques secondes.", n=len(version.passages)),
              "success")
        return redirect(url_for(".detail", document_id=version.document_id))
    counts = dict(db.session.execute(
        sa.select(DocumentVersion.document_id, sa.func.count(DocumentPassage.id))
        .join(DocumentPassage, DocumentPassage.version_id == DocumentVersion.id)
        .join(CallDocument, sa.and_(CallDocument.id == DocumentVersion.document_id,
                                    CallDocument.current_number == DocumentVersion.number))
        .group_by(DocumentVersion.document_id)).all())
    documents = db.session.scalars(services.documents_query()).all()
    return render_template("knowledge_base/documents_admin.html", form=form, documents=documents, counts=counts,
                           day=today()), 422 if form.errors else 200


@staff.route("/<int:document_id>", methods=["GET", "POST"])
@editor_required
def detail(document_id: int):
    """A document: its versions, the passages of one (the one in force by default), a new version's form."""
    item = db.get_or_404(CallDocument, document_id)
    form = DocumentUploadForm()
    if request.method == "GET":
        form.fill(item)
    elif form.validate_on_submit() and (version := _upload(form, item)) is not None:
        flash(_("Version %(v)s enregistrée : elle remplace la précédente.", v=version.number), "success")
        return redirect(url_for(".detail", document_id=item.id))
    number = request.args.get("version", type=int) or item.current_number
    shown = next((v for v in item.versions if v.number == number), None)
    if shown is None:
        abort(404)
    validity = DocumentValidityForm(prefix="validite", data={"valid_from": item.valid_from,
                                                             "valid_until": item.valid_until})
    return render_template("knowledge_base/document_admin.html", document=item, form=form, shown=shown,
                           validity=validity, day=today()), 422 if form.errors else 200


@staff.post("/<int:document_id>/validite")
@editor_required
def validity(document_id: int):
    """Change the validity dates: outside them, none of the document's passages is offered."""
    item = db.get_or_404(CallDocument, document_id)
    form = DocumentValidityForm(prefix="validite")
    if not form.validate_on_submit():
        flash(_("Dates de validité invalides : format AAAA-MM-JJ attendu."), "error")
        return redirect(url_for(".detail", document_id=item.id))
    try:
        services.update_validity(item, form.valid_from.data, form.valid_until.data)
    except services.DocumentError as error:
        flash(str(error), "error")
    else:
        flash(_("Dates de validité enregistrées."), "success")
    return redirect(url_for(".detail", document_id=item.id))


@staff.post("/passages/<int:passage_id>/brouillon")
@editor_required
def draft(passage_id: int):
    """Turn a passage into a draft article (the source recorded), then open it."""
    passage = db.get_or_404(DocumentPassage, passage_id)
    try:
        article = services.draft_from_passage(passage, current_user)
    except kb_services.ArticleError as error:
        flash(str(error), "error")
        return redirect(url_for(".detail", document_id=passage.version.document_id))
    flash(_("Brouillon d'article créé depuis le passage : relisez-le avant de le publier."), "success")
    return redirect(url_for("kb_admin.detail", article_id=article.id))


def init_app(app: Flask) -> None:
    """Register the blueprints and the staff menu entry."""
    app.register_blueprint(public)
    app.register_blueprint(staff)
    registry.add_menu(app, 41, "Documents d'appel", "kb_documents_admin.index", kb_services.can_edit_articles)
