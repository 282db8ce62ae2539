"""Every setting of Config is declared with a type, and the environment override converts to that type."""

from __future__ import annotations

import types
import typing

import pytest

from crm import create_app
from crm.core.config import NOT_SETTINGS, Config, ConfigError, TestConfig, load_environment, setting_types

DECLARED = setting_types(Config)


def _inner(annotation):
    """X for `X | None`, else the annotation itself."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    return annotation


def _sample(annotation) -> str:
    """A well-formed environment value for a setting of this type."""
    inner = _inner(annotation)
    origin = typing.get_origin(inner) or inner
    samples = {bool: "false", int: "42", float: "0.5", str: "valeur", tuple: "fr, en", dict: '{"pool_size": 3}'}
    return samples[origin]


def _matches(value, annotation) -> bool:
    """True when the value has the declared type (None allowed for `X | None`)."""
    if value is None:
        return _inner(annotation) is not annotation
    inner = _inner(annotation)
    origin = typing.get_origin(inner) or inner
    if origin is tuple:
        return isinstance(value, tuple) and all(isinstance(item, str) for item in value)
    if origin is int:
        return type(value) is int
    return isinstance(value, origin)


def test_every_uppercase_setting_is_declared_with_a_type():
    uppercase = {name for name in dir(Config) if name.isupper()}
    assert uppercase == set(DECLARED)
    assert {name for name in dir(TestConfig) if name.isupper()} <= set(DECLARED)


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_code_default_has_the_declared_type(name):
    assert _matches(getattr(Config, name), DECLARED[name]), (name, getattr(Config, name))
    assert _matches(getattr(TestConfig, name), DECLARED[name]), (name, getattr(TestConfig, name))


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_environment_value_gets_the_declared_type(name):
    annotation = DECLARED[name]
    config: dict = {}
    load_environment(config, {f"GUICHET_{name}": _sample(annotation)})
    assert _matches(config[name], annotation), (name, config[name], annotation)
    assert config[name] is not None


@pytest.mark.parametrize("name", sorted(n for n, a in DECLARED.items() if _inner(a) is not a))
def test_empty_value_unsets_an_optional_setting(name):
    config: dict = {name: "ancienne valeur"}
    load_environment(config, {f"GUICHET_{name}": ""})
    assert config[name] is None


def test_values_the_issue_named():
    config: dict = {}
    load_environment(config, {"GUICHET_KB_INDEX_BACKGROUND": "false", "GUICHET_PORTAL_LINK_HOURS": "48",
                              "GUICHET_LANGUAGES": "fr,en", "GUICHET_KB_AUTO_ANSWER_CONFIDENCE": "0.9",
                              "GUICHET_SMTP_USERNAME": "guichet", "GUICHET_IMAP_SSL": "0"})
    assert config == {"KB_INDEX_BACKGROUND": False, "PORTAL_LINK_HOURS": 48, "LANGUAGES": ("fr", "en"),
                      "KB_AUTO_ANSWER_CONFIDENCE": 0.9, "SMTP_USERNAME": "guichet", "IMAP_SSL": False}


def test_application_reads_typed_values_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GUICHET_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("GUICHET_KB_INDEX_BACKGROUND", "false")
    monkeypatch.setenv("GUICHET_PORTAL_LINK_HOURS", "48")
    monkeypatch.setenv("GUICHET_SMTP_PORT", "2525")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["KB_INDEX_BACKGROUND"] is False
    assert app.config["PORTAL_LINK_HOURS"] == 48
    assert app.config["SMTP_PORT"] == 2525
    assert app.config["RATELIMIT_KB_SUGGESTIONS"] == "60 per minute"
    assert app.config["OPENAPI_URL_PREFIX"] == "/api/v1"
    assert app.config["UPLOAD_FOLDER"] == str(tmp_path / "uploads")
    assert app.config["KB_CALIBRATION_FILE"].endswith("demo_queries.jsonl")


def test_index_is_built_in_the_background_unless_testing(monkeypatch, tmp_path):
    from knowledge_base.index import index_service

    monkeypatch.setenv("GUICHET_INSTANCE_PATH", str(tmp_path))
    assert index_service(create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})).background is False
    assert index_service(create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})).background is True
    monkeypatch.setenv("GUICHET_KB_INDEX_BACKGROUND", "false")
    assert index_service(create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})).background is False


@pytest.mark.parametrize(("variable", "raw", "message"), [
    ("GUICHET_SMTP_PORT", "abc", "GUICHET_SMTP_PORT : nombre entier attendu, reçu 'abc'."),
    ("GUICHET_PORTAL_LINK_HOURS", "48h", "GUICHET_PORTAL_LINK_HOURS : nombre entier attendu, reçu '48h'."),
    ("GUICHET_IMAP_PORT", "", "GUICHET_IMAP_PORT : nombre entier attendu, reçu ''."),
    ("GUICHET_KB_INDEX_BACKGROUND", "peut-être",
     "GUICHET_KB_INDEX_BACKGROUND : valeur booléenne attendue (true ou false), reçu 'peut-être'."),
    ("GUICHET_RATELIMIT_ENABLED", "",
     "GUICHET_RATELIMIT_ENABLED : valeur booléenne attendue (true ou false), reçu ''."),
    ("GUICHET_SLA_AT_RISK_SHARE", "75 %", "GUICHET_SLA_AT_RISK_SHARE : nombre attendu (par exemple 0.8), reçu '75 %'."),
    ("GUICHET_KB_AUTO_ANSWER_CONFIDENCE", "nan",
     "GUICHET_KB_AUTO_ANSWER_CONFIDENCE : nombre attendu (par exemple 0.8), reçu 'nan'."),
    ("GUICHET_SQLALCHEMY_ENGINE_OPTIONS", "[1]",
     "GUICHET_SQLALCHEMY_ENGINE_OPTIONS : objet JSON attendu"),
])
def test_malformed_value_is_refused_with_a_clear_message(variable, raw, message):
    with pytest.raises(ConfigError) as error:
        load_environment({}, {variable: raw})
    assert str(error.value).startswith(message)


def test_unknown_setting_is_refused_with_a_suggestion():
    with pytest.raises(ConfigError) as error:
        load_environment({}, {"GUICHET_SMTP_PROT": "2525"})
    assert str(error.value) == ("GUICHET_SMTP_PROT : paramètre inconnu (il n'est pas déclaré dans "
                                "crm/core/config.py). Vouliez-vous dire GUICHET_SMTP_PORT ?")


def test_variables_that_are_not_settings_are_left_alone():
    config: dict = {}
    load_environment(config, {name: "ailleurs" for name in NOT_SETTINGS} | {"PATH": "/usr/bin"})
    assert config == {}


def test_create_app_stops_on_a_malformed_value(monkeypatch, tmp_path):
    monkeypatch.setenv("GUICHET_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("GUICHET_SMTP_PORT", "abc")
    with pytest.raises(ConfigError, match="GUICHET_SMTP_PORT : nombre entier attendu"):
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
