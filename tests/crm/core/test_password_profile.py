"""The argon2 cost comes from the configuration; a hash made with other parameters is redone at login."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, extract_parameters, profiles

from crm.core import services
from crm.core.config import ConfigError, check_config
from crm.core.extensions import db


def test_hashes_follow_the_configured_profile_and_an_older_cost_is_redone_at_login(app, make_user):
    user = make_user("agent")
    assert extract_parameters(user.password_hash).memory_cost == profiles.CHEAPEST.memory_cost
    # An account hashed with the production profile (the parameters differ) still logs in, and is re-hashed.
    user.password_hash = PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY).hash("motdepasse-de-test-1")
    db.session.flush()
    assert services.authenticate(user.email, "motdepasse-de-test-1") is user
    assert extract_parameters(user.password_hash).memory_cost == profiles.CHEAPEST.memory_cost
    assert services.authenticate(user.email, "un autre mot de passe") is None


@pytest.mark.parametrize(("settings", "accepted"), [
    ({"PASSWORD_HASH_PROFILE": "RFC_9106_LOW_MEMORY", "ENV_NAME": "production"}, True),
    ({"PASSWORD_HASH_PROFILE": "CHEAPEST", "ENV_NAME": "testing"}, True),
    ({"PASSWORD_HASH_PROFILE": "CHEAPEST", "ENV_NAME": "production"}, False),
    ({"PASSWORD_HASH_PROFILE": "MD5", "ENV_NAME": "development"}, False),
])
def test_the_profile_is_checked_at_startup(settings, accepted):
    config = {"SECRET_KEY": "x" * 40, **settings}
    if accepted:
        check_config(config)
    else:
        with pytest.raises(ConfigError, match="PASSWORD_HASH_PROFILE"):
            check_config(config)
