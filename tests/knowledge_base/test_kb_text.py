"""Tests of French text normalisation for the knowledge base."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from knowledge_base.text import QUESTION_WORDS, STOP_WORDS, analyzer_words, fold, stem_word, stems, tokens


def test_fold_case_accents_and_ligatures() -> None:
    """Folding lower-cases and strips accents, cedillas and ligatures."""
    assert fold("Éligibilité ÀÇÔ") == "eligibilite aco"
    assert fold("Cœur, Ægis") == "coeur, aegis"
    assert fold("déjà-vu") == "deja-vu"
    assert fold("𝐀ß İ") == "ass i"


@given(st.text(max_size=100))
def test_fold_is_idempotent(text: str) -> None:
    """Folding folded text changes nothing."""
    assert fold(fold(text)) == fold(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("l'appel", ["appel"]),
        ("L’Agence", ["agence"]),
        ("d'évaluation", ["evaluation"]),
        ("qu'un projet", ["projet"]),
        ("jusqu'à la clôture", ["cloture"]),
        ("lorsqu'il dépose", ["depose"]),
        ("puisqu'elle finance", ["finance"]),
        ("j'ai n'est s'inscrire c'est m'inscrire t'inscrire", ["inscrire", "inscrire", "inscrire"]),
    ],
)
def test_elisions_removed(text: str, expected: list[str]) -> None:
    """Elided articles and pronouns, with ' or ’, are removed before the word."""
    assert tokens(text) == expected


def test_non_latin_letters_kept() -> None:
    """Letters without a decomposition (ø, Greek) stay inside their word."""
    assert tokens("København et Αθήνα") == ["københavn", "αθηνα"]


def test_elision_only_at_word_start() -> None:
    """Apostrophes inside a word such as aujourd'hui are not elisions."""
    assert tokens("aujourd'hui") == ["aujourd", "hui"]


def test_tokens_drop_punctuation_and_stop_words_keep_numbers() -> None:
    """Punctuation and stop words go; numbers and content words stay."""
    assert tokens("Quelle est la date limite ? Le 15/03/2026, à 17 h !") == [
        "date",
        "limite",
        "15",
        "03",
        "2026",
        "17",
        "h",
    ]


def test_question_words_can_be_kept() -> None:
    """Interrogatives are stop words unless the caller keeps them."""
    assert tokens("Quand est versée l'aide ?") == ["versee", "aide"]
    assert tokens("Quand est versée l'aide ?", keep_question_words=True) == ["quand", "versee", "aide"]
    assert QUESTION_WORDS <= STOP_WORDS


def test_stop_word_list_is_folded() -> None:
    """Every stop word is already folded, so it matches folded tokens."""
    assert all(fold(word) == word for word in STOP_WORDS)
    assert {"le", "la", "les", "de", "des", "du", "et", "est", "a"} <= STOP_WORDS
    assert "projet" not in STOP_WORDS


@pytest.mark.parametrize(
    "variants",
    [
        ["éligibilité", "eligibilite", "ÉLIGIBILITÉ"],
        ["déposer", "déposée", "déposées", "deposer"],
        ["financement", "financements"],
        ["évaluation", "évaluations", "evaluation"],
        ["prolongation", "prolongations"],
        ["projet", "projets"],
    ],
)
def test_stems_group_variants(variants: list[str]) -> None:
    """Inflections, capitals and missing accents share one stem."""
    assert len({tuple(stems(v)) for v in variants}) == 1


def test_stems_keep_numbers() -> None:
    """Numbers are not stemmed."""
    assert stems("les 36 mois") == ["36", "mois"]
    assert stem_word("2026") == "2026"


def test_analyzer_words_unigrams_then_bigrams() -> None:
    """The analyzer returns stems followed by adjacent stem pairs."""
    assert analyzer_words("dépôt des dossiers de candidature") == [
        "depot",
        "dossi",
        "candidatur",
        "depot dossi",
        "dossi candidatur",
    ]
    assert analyzer_words("") == []


def test_analyzer_words_plugs_into_scikit_learn() -> None:
    """analyzer_words can be TfidfVectorizer's analyzer."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer=analyzer_words)
    matrix = vectorizer.fit_transform(["Les dépôts de projets", "le dépôt d'un projet"])
    assert "depot projet" in vectorizer.vocabulary_
    assert matrix.shape[0] == 2


@given(st.text(max_size=200))
def test_normalisation_never_fails_and_is_folded(text: str) -> None:
    """Any text normalises to lower-case letters and digits without accents or stop words."""
    for token in tokens(text):
        assert token and token.isalnum() and token == fold(token)
        assert token not in STOP_WORDS
    assert len(stems(text)) == len(tokens(text))
