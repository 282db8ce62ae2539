"""Shared helpers of crm.core: secret-token digests and literal LIKE patterns."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from crm.core.database import LIKE_ESCAPE, like_pattern
from crm.core.extensions import db
from crm.core.security import token_digest


def test_token_digest_is_the_sha256_hex_of_the_clear_token():
    assert token_digest("gch_secret") == hashlib.sha256(b"gch_secret").hexdigest()
    assert len(token_digest("é")) == 64


@pytest.mark.parametrize("text, value, matches", [
    ("50%", "taux 50% atteint", True), ("50%", "taux 500 atteint", False),
    ("a_b", "x a_b y", True), ("a_b", "x acb y", False),
    ("c:\\d", "c:\\d", True), ("c:\\d", "c:d", False), ("LaBo", "le labo", True),
])
def test_like_pattern_takes_wildcards_literally(app, text, value, matches):
    query = sa.select(sa.literal(value).ilike(like_pattern(text), escape=LIKE_ESCAPE))
    assert bool(db.session.scalar(query)) is matches
