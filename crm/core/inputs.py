"""Bad input stops at the door with a clear 400, before any view: NUL bytes, absurd page numbers, deep JSON."""

from __future__ import annotations

import re

from flask import Flask, abort, request
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter

#: Beyond this a page number is a typo or a probe (and would overflow the database's integers).
MAX_PAGE = 100_000
#: The largest identifier a path may name: every key is a 32-bit integer column (PostgreSQL `integer`).
MAX_ID = 2**31 - 1
#: JSON documents of the API are flat; nesting deeper than this is refused before it is parsed.
MAX_JSON_DEPTH = 64
_JSON_STRING = re.compile(rb'"(?:\\.|[^"\\])*"')
_BRACKETS = re.compile(rb"[\[\]{}]")
_JSON_NUL = re.compile(rb"\\u0000", re.IGNORECASE)


class BoundedIntegerConverter(IntegerConverter):
    """`<int:…>` in a route: beyond the largest identifier the path matches nothing (404), never the database."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,  # noqa: A002
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings skipped), without parsing it."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub(b"", body)):
        depth += 1 if bracket in (b"[", b"{") else -1
        deepest = max(deepest, depth)
    return deepest


def _has_nul(pairs) -> bool:
    return any("\x00" in key or "\x00" in value for key, value in pairs)


def check_request() -> None:
    """Refuse NUL bytes (404 in a path; 400 in a query, form, file name or JSON), bad page numbers, deep JSON.

    The pages take forms, the API takes JSON: a JSON body sent to a page is refused (415) before a form reads it.
    """
    if "\x00" in request.path:  # no resource has such a name
        abort(404)
    api = request.path.startswith("/api/")
    query_status = 422 if api else 400  # the API's invalid parameters are 422
    if _has_nul(request.args.items(multi=True)):
        abort(query_status, description=_("La demande contient un caractère nul : elle ne peut pas être traitée."))
    page = (request.args.get("page") or "").strip().lstrip("+")
    if page.isdigit() and int(page) > MAX_PAGE:  # other garbage falls back to page 1 (pages) or a 422 (API schema)
        abort(query_status, description=_("Numéro de page invalide (de 1 à %(max)s).", max=MAX_PAGE))
    if request.method in ("POST", "PUT", "PATCH"):
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data") and (
                _has_nul(request.form.items(multi=True))
                or any("\x00" in (f.filename or "") for f in request.files.values())):
            abort(400, description=_("Le formulaire contient un caractère nul : il n'a pas été enregistré."))
        if request.is_json and not api:
            abort(415, description=_("Les pages acceptent des formulaires, pas du JSON (voir l'API /api/v1)."))
        if request.is_json:
            body = request.get_data(cache=True)
            if b"\x00" in body or _JSON_NUL.search(body):
                abort(400, description=_("La demande contient un caractère nul : elle ne peut pas être traitée."))
            if json_depth(body) > MAX_JSON_DEPTH:
                abort(400, description=_("Document JSON trop imbriqué (%(max)s niveaux au plus).",
                                         max=MAX_JSON_DEPTH))


def init_app(app: Flask) -> None:
    """Bound the integers of paths (before any route is added) and check every request before its view."""
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.before_request(check_request)
