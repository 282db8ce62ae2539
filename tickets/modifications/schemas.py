"""Marshmallow schemas of the modification requests' API."""

from __future__ import annotations

import base64
import binascii

from marshmallow import Schema, ValidationError, fields, validate

from tickets.modifications.kinds import KIND_ORDER
from tickets.modifications.states import DECISIONS, State
from tickets.schemas import MAX_PAGE, Text, _choice

MAX_PER_PAGE = 100
#: A form's value: a string at most this long (the longest field takes 5,000 characters).
_VALUE = Text(validate=validate.Length(max=5000))


class ListArgsSchema(Schema):
    kind = fields.String(validate=_choice(KIND_ORDER))
    state = fields.String(validate=_choice(State))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=25, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class DraftSchema(Schema):
    """A new draft on a project in the caller's scope; ``data``: the form's values by field name."""

    project_reference = Text(required=True, validate=validate.Length(min=1, max=40))
    kind = fields.String(required=True, validate=_choice(KIND_ORDER))
    data = fields.Dict(keys=Text(validate=validate.Length(max=40)), values=_VALUE, load_default=dict,
                       validate=validate.Length(max=60))


class DocumentSchema(Schema):
    filename = Text(required=True, validate=validate.Length(min=1, max=200))
    content_base64 = fields.String(required=True, validate=validate.Length(min=1, max=14_000_000),
                                   metadata={"description": "Le contenu du PDF, encodé en base 64"})


def decode_document(document: dict) -> bytes:
    try:
        return base64.b64decode(document["content_base64"], validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("Contenu base 64 invalide.") from None


class SubmitSchema(Schema):
    """Filing a draft: the final values (replacing the draft's) and the documents by slug."""

    data = fields.Dict(keys=Text(validate=validate.Length(max=40)), values=_VALUE, load_default=None,
                       validate=validate.Length(max=60))
    documents = fields.Dict(keys=Text(validate=validate.Length(max=40)), values=fields.Nested(DocumentSchema),
                            load_default=dict, validate=validate.Length(max=5))


class FilerMessageSchema(Schema):
    """The filer's message to the agency: the answer to a request for information, or about the decision."""

    body = Text(required=True, validate=validate.Length(min=1, max=20_000))
    documents = fields.List(fields.Nested(DocumentSchema), load_default=list, validate=validate.Length(max=5))


class CoValidationSchema(Schema):
    decision = fields.String(required=True, validate=_choice(["approve", "decline"]))
    reason = Text(load_default="", validate=validate.Length(max=5000))


class AgentActionSchema(Schema):
    action = fields.String(required=True, validate=_choice(["request_information", *DECISIONS, "record", "close"]))
    body = Text(load_default="", validate=validate.Length(max=20_000),
                metadata={"description": "Le message au demandeur : obligatoire pour une décision ou une demande "
                                         "de compléments"})


class RequestSchema(Schema):
    id = fields.Integer()
    reference = fields.String()
    project_reference = fields.String(attribute="project.reference")
    kind = fields.String()
    state = fields.String()
    filer_role = fields.String()
    data = fields.Dict(keys=fields.String(), values=fields.String())
    documents = fields.List(fields.Dict())
    decision = fields.String(allow_none=True)
    decision_reason = fields.String()
    submitted_at = fields.DateTime(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    due_at = fields.DateTime(allow_none=True, attribute="ticket.next_due_at")
    updated_at = fields.DateTime()


class RequestPageSchema(Schema):
    items = fields.List(fields.Nested(RequestSchema))
    page = fields.Integer()
    per_page = fields.Integer()
    has_next = fields.Boolean()


class AcceptedSchema(Schema):
    format = fields.String(metadata={"description": "guichet.modifications.accepted/1"})
    items = fields.List(fields.Dict(), metadata={"description": "Une modification acceptée par élément : reference, "
                                                                "project_reference, kind, decision, decided_at, …"})
