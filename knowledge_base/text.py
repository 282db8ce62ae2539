"""French text normalisation for knowledge-base matching (pure functions, no I/O)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import snowballstemmer

__all__ = [
    "QUESTION_WORDS",
    "STOP_WORDS",
    "analyzer_words",
    "call_key",
    "content_words",
    "fold",
    "stem_ngrams",
    "stem_word",
    "stems",
    "tokens",
    "words",
]

# Elided articles, pronouns and conjunctions, matched on folded text at the start of a word before an
# apostrophe (straight, curly or modifier letter).
_ELISION_RE = re.compile(r"\b(?:jusqu|lorsqu|puisqu|qu|[ldjnscmt])['’ʼ‘`]")
# A word is a run of letters or digits once text is folded; everything else separates words.
_WORD_RE = re.compile(r"[^\W_]+")
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss"})

# Curated French stop words (already folded): articles, pronouns, prepositions, conjunctions, the
# forms of "être"/"avoir" and the interrogative words that open most questions (see QUESTION_WORDS).
# Negation ("ne", "pas") is listed too: it seldom decides which FAQ entry a question is about.
STOP_WORDS: frozenset[str] = frozenset(
    [
        "a", "ai", "aie", "aient", "aies", "ait", "as", "au", "aucun", "aucune", "aupres", "aussi", "autre",
        "autres", "aux", "avaient", "avais", "avait", "avec", "avez", "aviez", "avions", "avoir", "avons",
        "ayant", "c", "ca", "car", "ce", "ceci", "cela", "celle", "celles", "celui", "cependant", "certain",
        "certaine", "certaines", "certains", "ces", "cet", "cette", "ceux", "chaque", "chez", "ci",
        "combien", "comme", "comment", "d", "dans", "de", "des", "donc", "dont", "du", "elle", "elles",
        "en", "encore", "entre", "es", "est", "et", "etaient", "etais", "etait", "etant", "ete", "etes",
        "etiez", "etions", "etre", "eu", "eue", "eues", "eus", "eux", "faut", "il", "ils", "j", "je", "jusqu",
        "l", "la", "laquelle", "le", "lequel", "les", "lesquelles", "lesquels", "leur", "leurs", "lorsqu", "lui", "m",
        "ma", "mais", "me", "meme", "memes", "mes", "moi", "mon", "n", "ne", "ni", "nos", "notre", "nous",
        "o", "on", "ont", "ou", "par", "parce", "pas", "peu", "peut", "peuvent", "peux", "plus", "pour",
        "pourquoi", "puis", "puisque", "puisqu", "qu", "quand", "que", "quel", "quelle", "quelles", "quels", "qui",
        "quoi", "s", "sa", "sans", "se", "sera", "seront", "ses", "si", "sien", "sienne", "soi", "soient",
        "sois", "soit", "sommes", "son", "sont", "sous", "soyez", "suis", "sur", "t", "ta", "te", "tes",
        "toi", "ton", "tous", "tout", "toute", "toutes", "tres", "tu", "un", "une", "unes", "uns", "va",
        "vais", "vers", "voici", "voila", "vont", "vos", "votre", "vous", "y",
    ]
)

# Interrogatives are noise in answer text ("quand il ...") but tell FAQ questions apart ("Jusqu'à
# quand ..." is about a deadline, "Combien ..." about an amount): callers may keep them.
QUESTION_WORDS: frozenset[str] = frozenset(
    ["combien", "comment", "pourquoi", "quand", "quel", "quelle", "quelles", "quels", "qui"]
)

_STEMMER = snowballstemmer.stemmer("french")
# Snowball's French rules rely on accents (-ité, -ière, -èrent, -ée) that users often omit, so the
# stemmer always sees the folded word with these suffixes re-accented, and a trailing "e" is then
# dropped: "éligibilité", "eligibilite" and "Eligibilité" share one stem, as do "déposée" and "déposer".
_REACCENT: tuple[tuple[str, str], ...] = (
    ("ites", "ités"),
    ("ite", "ité"),
    ("ieres", "ières"),
    ("iere", "ière"),
    ("erent", "èrent"),
    ("ees", "ées"),
    ("ee", "ée"),
)


def _fold_slow(text: str) -> str:
    """Fold any text: lower-case, compatibility decomposition, no combining marks, no ligatures."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    # Lower-case again: compatibility forms (𝐀, Ⅸ) only become plain capitals once decomposed.
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower().translate(_LIGATURES)


# Characters below U+3000 (every Latin, Greek and Cyrillic letter, combining marks, punctuation) are
# folded one by one through a table; ASCII is only lower-cased, and rarer characters take the slow path.
_FOLD_LIMIT = "\u3000"
_FOLD_TABLE = {code: _fold_slow(chr(code)) for code in range(0x80, ord(_FOLD_LIMIT))}
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


def _fold_run(match: re.Match[str]) -> str:
    """Fold a run of non-ASCII characters through the table (or the slow path beyond it)."""
    run = match.group()
    return run.translate(_FOLD_TABLE) if max(run) < _FOLD_LIMIT else _fold_slow(run)


def fold(text: str) -> str:
    """Lower-case ``text`` and strip accents and ligatures (é→e, œ→oe), keeping everything else."""
    if text.isascii():
        return text.lower()
    return _NON_ASCII_RUN.sub(_fold_run, text.lower())


def call_key(code: str) -> str:
    """A call code compared without case, accents, spaces or dashes: « AAPG-2026 », « aapg 2026 » → « AAPG2026 »."""
    return "".join(_WORD_RE.findall(fold(code))).upper()


def words(text: str) -> list[str]:
    """Return every folded word of ``text`` (elisions removed, stop words kept)."""
    return _WORD_RE.findall(_ELISION_RE.sub(" ", fold(text)))


def content_words(folded_words: Iterable[str], *, keep_question_words: bool = False) -> list[str]:
    """Return the words of :func:`words` output that are not stop words (interrogatives kept on demand)."""
    if keep_question_words:
        return [w for w in folded_words if w not in STOP_WORDS or w in QUESTION_WORDS]
    return [w for w in folded_words if w not in STOP_WORDS]


def tokens(text: str, *, keep_question_words: bool = False) -> list[str]:
    """Return the folded words of ``text`` without elisions, punctuation or stop words."""
    return content_words(words(text), keep_question_words=keep_question_words)


@lru_cache(maxsize=200_000)
def stem_word(word: str) -> str:
    """Return the French Snowball stem of an already folded word (numbers are kept as they are)."""
    if word.isdigit():
        return word
    for suffix, accented in _REACCENT:
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            word = word[: -len(suffix)] + accented
            break
    stem = fold(_STEMMER.stemWord(word))
    while len(stem) > 3 and stem.endswith("e"):
        stem = stem[:-1]
    return stem


def stems(text: str, *, keep_question_words: bool = False) -> list[str]:
    """Return the stems of the content words of ``text`` (see :func:`tokens`)."""
    return [stem_word(w) for w in tokens(text, keep_question_words=keep_question_words)]


def stem_ngrams(folded_tokens: list[str]) -> list[str]:
    """Return the stems of already normalised tokens followed by their adjacent stem bigrams."""
    unigrams = [stem_word(w) for w in folded_tokens]
    return unigrams + [f"{a} {b}" for a, b in zip(unigrams, unigrams[1:], strict=False)]


def analyzer_words(text: str, *, keep_question_words: bool = False) -> list[str]:
    """Return stemmed unigrams and adjacent bigrams of ``text``, for ``TfidfVectorizer(analyzer=...)``."""
    return stem_ngrams(tokens(text, keep_question_words=keep_question_words))
