"""RFC 9457 problem details for the JSON API."""

from __future__ import annotations

from flask import Response, jsonify
from werkzeug.http import HTTP_STATUS_CODES


def problem(status: int, detail: str | None = None, *, title: str | None = None, **extra) -> Response:
    """A JSON problem-details response with the right status code."""
    body = {
        "type": "about:blank",
        "title": title or HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response
