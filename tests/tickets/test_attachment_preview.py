"""Attachment preview (issue 13): images and PDF shown by the browser only when their content is one (sniffed, not
the declared type), sandboxed and never type-guessed; everything else stays a download."""

from __future__ import annotations

import pytest

from crm.core.extensions import db
from tickets.attachments import IncomingFile, inline_type

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.mark.parametrize(("head", "expected"), [
    (PNG, "image/png"), (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"), (b"GIF89a\x01\x00", "image/gif"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"), (PDF, "application/pdf"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'>", None), (b"<html><script>", None), (b"PK\x03\x04", None),
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", None), (b"", None),
])
def test_inline_type_is_sniffed_from_the_first_bytes(head, expected):
    assert inline_type(head) == expected


def test_agent_previews_an_image_inline_sandboxed_and_a_lying_file_is_downloaded(client, make_ticket, make_user,
                                                                                    login):
    login(make_user("agent"))
    ticket = make_ticket(attachments=[IncomingFile("photo.png", PNG), IncomingFile("page.txt", b"<html><script>x")])
    image, lying = ticket.messages[0].attachments
    lying.content_type = "image/png"  # declared an image: the content decides
    db.session.flush()

    html = client.get(f"/agent/demandes/{ticket.reference}").get_data(as_text=True)
    assert f'href="/agent/pieces-jointes/{image.id}?apercu=1"' in html
    assert f'<img src="/agent/pieces-jointes/{image.id}?apercu=1" alt=""' in html

    shown = client.get(f"/agent/pieces-jointes/{image.id}?apercu=1", buffered=True)
    refused = client.get(f"/agent/pieces-jointes/{lying.id}?apercu=1", buffered=True)
    plain = client.get(f"/agent/pieces-jointes/{image.id}", buffered=True)
    for response in (shown, refused, plain):
        response.close()
        assert response.status_code == 200
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"] == "sandbox"
    assert shown.mimetype == "image/png" and shown.headers["Content-Disposition"].startswith("inline")
    assert refused.headers["Content-Disposition"].startswith("attachment")
    assert plain.headers["Content-Disposition"].startswith("attachment")  # no preview asked: a download
