"""Tests of the knowledge-base matching index on a small hand-written French FAQ."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge_base.matcher import (
    DEFAULT_CALIBRATION,
    Calibration,
    Entry,
    Match,
    MatchConfig,
    Matcher,
    MatchIndex,
    char_ngrams,
)

# (id, canonical question, phrasings, answer, topic)
FAQ: list[tuple[str, str, tuple[str, ...], str, str]] = [
    (
        "depot-date-limite",
        "Quelle est la date limite de dépôt des propositions ?",
        ("Jusqu'à quand puis-je déposer mon projet ?", "Quand ferme l'appel à projets ?"),
        "La date de clôture est indiquée dans le texte de l'appel ; le dépôt ferme à 17 h, heure de Paris.",
        "Dépôt",
    ),
    (
        "depot-modifier",
        "Puis-je modifier ma proposition après l'avoir soumise ?",
        ("Comment corriger un dossier déjà envoyé ?",),
        "Vous pouvez modifier votre proposition sur le site de soumission jusqu'à la clôture de l'appel.",
        "Dépôt",
    ),
    (
        "depot-compte",
        "Comment créer un compte sur le site de soumission ?",
        ("Je n'arrive pas à m'inscrire sur la plateforme de dépôt.",),
        "Cliquez sur « Créer un compte », saisissez votre adresse électronique professionnelle et "
        "validez le lien reçu.",
        "Dépôt",
    ),
    (
        "depot-mot-de-passe",
        "J'ai oublié mon mot de passe, que faire ?",
        ("Comment réinitialiser mon mot de passe ?",),
        "Utilisez le lien « Mot de passe oublié » de la page de connexion ; un courriel de "
        "réinitialisation vous est envoyé.",
        "Compte",
    ),
    (
        "depot-langue",
        "Dans quelle langue rédiger la proposition ?",
        ("Peut-on écrire le document scientifique en anglais ?",),
        "Le document scientifique peut être rédigé en français ou en anglais ; le résumé est demandé "
        "dans les deux langues.",
        "Dépôt",
    ),
    (
        "depot-pages",
        "Combien de pages pour le document scientifique ?",
        ("Quelle est la taille maximale du document de soumission ?",),
        "Le document scientifique ne doit pas dépasser 20 pages, annexes comprises, en police 11.",
        "Dépôt",
    ),
    (
        "eligibilite-coordinateur",
        "Qui peut être coordinateur d'un projet ?",
        ("Quelles sont les conditions pour coordonner un projet ?",),
        "Le coordinateur doit appartenir à un organisme de recherche ou un établissement "
        "d'enseignement supérieur français.",
        "Éligibilité",
    ),
    (
        "eligibilite-entreprise",
        "Une entreprise peut-elle participer à un projet ?",
        ("Les sociétés privées sont-elles éligibles ?", "Une PME peut-elle être partenaire ?"),
        "Les entreprises peuvent être partenaires d'un projet collaboratif et recevoir une aide "
        "selon les règles des aides d'État.",
        "Éligibilité",
    ),
    (
        "eligibilite-etranger",
        "Un laboratoire étranger peut-il être partenaire ?",
        ("Peut-on avoir des partenaires hors de France ?",),
        "Un partenaire étranger peut participer sur ses propres financements ; il ne reçoit pas d'aide de l'agence.",
        "Éligibilité",
    ),
    (
        "eligibilite-double-depot",
        "Puis-je déposer plusieurs projets au même appel ?",
        ("Est-il possible de soumettre deux propositions ?",),
        "Une même personne ne peut coordonner qu'une seule proposition par appel ; elle peut être "
        "partenaire d'autres projets.",
        "Éligibilité",
    ),
    (
        "evaluation-criteres",
        "Quels sont les critères d'évaluation ?",
        ("Sur quoi les projets sont-ils jugés ?",),
        "Les projets sont évalués sur la qualité scientifique, l'organisation du projet et son impact.",
        "Évaluation",
    ),
    (
        "evaluation-experts",
        "Qui évalue les propositions ?",
        ("Comment sont choisis les évaluateurs ?",),
        "Chaque proposition est évaluée par des experts extérieurs puis discutée par un comité d'évaluation.",
        "Évaluation",
    ),
    (
        "evaluation-resultats",
        "Quand les résultats seront-ils publiés ?",
        ("À quelle date connaîtrai-je la décision de financement ?",),
        "La liste des projets retenus est publiée sur le site de l'agence, en général en juillet.",
        "Évaluation",
    ),
    (
        "evaluation-rapports",
        "Puis-je lire les rapports d'évaluation de mon projet ?",
        ("Comment obtenir les avis des experts ?",),
        "Les avis des experts et la synthèse du comité sont transmis au coordinateur après la décision.",
        "Évaluation",
    ),
    (
        "evaluation-recours",
        "Comment contester une décision de non-financement ?",
        ("Existe-t-il une procédure de recours ?",),
        "Un recours gracieux peut être adressé à la direction dans les deux mois suivant la notification.",
        "Évaluation",
    ),
    (
        "financement-montant",
        "Quel est le montant maximal de l'aide ?",
        ("Combien peut-on demander comme financement ?",),
        "Il n'y a pas de plafond général ; le budget doit être justifié par les besoins du projet.",
        "Financement",
    ),
    (
        "financement-frais-gestion",
        "Les frais de gestion sont-ils pris en charge ?",
        ("Quel taux de frais généraux est appliqué ?",),
        "Les frais de gestion sont forfaitaires : 8 % des dépenses éligibles pour les organismes publics.",
        "Financement",
    ),
    (
        "financement-salaire",
        "Peut-on financer le salaire d'un doctorant ?",
        ("Une thèse peut-elle être financée par le projet ?",),
        "Oui, un contrat doctoral de 36 mois peut être financé sur l'aide du projet.",
        "Financement",
    ),
    (
        "financement-equipement",
        "Peut-on acheter du matériel avec l'aide ?",
        ("Les équipements sont-ils des dépenses éligibles ?",),
        "Les équipements nécessaires au projet sont éligibles, au prorata de leur usage pour le projet.",
        "Financement",
    ),
    (
        "financement-versement",
        "Quand l'aide est-elle versée ?",
        ("Quel est l'échéancier des paiements ?",),
        "Une avance est versée à la signature, puis des versements suivent sur présentation des états de dépenses.",
        "Financement",
    ),
    (
        "conventionnement-prolongation",
        "Comment demander une prolongation de la durée du projet ?",
        ("Mon projet prend du retard, peut-on le prolonger ?", "Demande de report de la date de fin"),
        "La prolongation se demande par avenant, au moins deux mois avant la date de fin, avec une justification.",
        "Conventionnement",
    ),
    (
        "conventionnement-changement-partenaire",
        "Comment ajouter ou retirer un partenaire ?",
        ("Un partenaire quitte le consortium, que faire ?",),
        "Tout changement de partenaire fait l'objet d'une demande de modification instruite par l'agence.",
        "Conventionnement",
    ),
    (
        "conventionnement-coordinateur-depart",
        "Le coordinateur change d'établissement, que se passe-t-il ?",
        ("Mutation du responsable scientifique en cours de projet",),
        "Le projet peut suivre le coordinateur dans son nouvel établissement après accord de l'agence.",
        "Conventionnement",
    ),
    (
        "conventionnement-budget",
        "Peut-on modifier la répartition du budget ?",
        ("Transférer des crédits entre postes de dépenses",),
        "Les transferts entre postes de dépenses sont libres dans la limite de 15 % ; au-delà, un "
        "avenant est nécessaire.",
        "Conventionnement",
    ),
    (
        "rapport-scientifique",
        "Quand faut-il rendre le rapport scientifique ?",
        ("Quelles sont les échéances des rapports intermédiaires et final ?",),
        "Un rapport intermédiaire est demandé à mi-parcours et un rapport final dans les trois mois suivant la fin.",
        "Suivi",
    ),
    (
        "rapport-financier",
        "Comment remplir l'état récapitulatif des dépenses ?",
        ("Où déclarer les dépenses réalisées ?",),
        "L'état récapitulatif des dépenses est saisi en ligne et signé par l'agent comptable de l'établissement.",
        "Suivi",
    ),
    (
        "science-ouverte",
        "Faut-il publier en accès ouvert ?",
        ("Quelle est la politique de science ouverte ?",),
        "Les publications issues du projet doivent être déposées en accès ouvert dans une archive ouverte.",
        "Science ouverte",
    ),
    (
        "plan-gestion-donnees",
        "Qu'est-ce que le plan de gestion des données ?",
        ("Quand fournir le PGD ?",),
        "Le plan de gestion des données est fourni dans les six mois suivant le début du projet puis mis à jour.",
        "Science ouverte",
    ),
    (
        "ethique",
        "Mon projet implique des expérimentations animales, quelles démarches ?",
        ("Autorisation pour l'utilisation d'animaux",),
        "Les autorisations réglementaires doivent être obtenues avant le début des expérimentations concernées.",
        "Éthique",
    ),
    (
        "contact-referent",
        "Comment contacter mon chargé de projet ?",
        ("Qui est mon interlocuteur à l'agence ?",),
        "Le nom de votre chargé de projet figure dans la convention et sur votre espace personnel.",
        "Contact",
    ),
    (
        "attestation",
        "Comment obtenir une attestation de financement ?",
        ("J'ai besoin d'un justificatif prouvant que mon projet est financé",),
        "L'attestation de financement est téléchargeable depuis votre espace personnel une fois la convention signée.",
        "Contact",
    ),
    (
        "jeunes-chercheurs",
        "Existe-t-il un appel réservé aux jeunes chercheurs ?",
        ("Instrument pour les chercheurs en début de carrière",),
        "L'instrument JCJC est ouvert aux jeunes chercheuses et jeunes chercheurs, sans condition d'âge.",
        "Appels",
    ),
    (
        "international",
        "Quels appels existent avec des agences étrangères ?",
        ("Collaborations bilatérales franco-allemandes",),
        "Des appels bilatéraux sont ouverts avec plusieurs agences partenaires, dont la DFG en Allemagne.",
        "Appels",
    ),
    (
        "conflit-interets",
        "Que faire en cas de conflit d'intérêts avec un évaluateur ?",
        ("Je connais un expert qui pourrait évaluer mon dossier",),
        "Vous pouvez signaler lors du dépôt les personnes que vous ne souhaitez pas voir évaluer votre projet.",
        "Évaluation",
    ),
    (
        "accessibilite",
        "Le site de soumission est-il accessible aux personnes handicapées ?",
        ("Accessibilité de la plateforme",),
        "Le site respecte le référentiel d'accessibilité ; contactez l'assistance pour toute difficulté.",
        "Compte",
    ),
    (
        "donnees-personnelles",
        "Comment sont utilisées mes données personnelles ?",
        ("Protection des données et RGPD",),
        "Vos données sont traitées pour la gestion des appels, conformément au RGPD ; vous disposez "
        "d'un droit d'accès.",
        "Compte",
    ),
]

# (query as a user would type it: paraphrases, missing accents, typos; expected id)
FAQ_QUERIES: list[tuple[str, str]] = [
    ("date limite pour deposer", "depot-date-limite"),
    ("jusqu'a quand peut on soumettre", "depot-date-limite"),
    ("l'appel a projet ferme quand ?", "depot-date-limite"),
    ("je veux changer mon dossier apres l'envoi", "depot-modifier"),
    ("corriger une proposition soumise", "depot-modifier"),
    ("impossible de m'inscrire sur le site", "depot-compte"),
    ("creation de compte plateforme", "depot-compte"),
    ("mot de pase oublié", "depot-mot-de-passe"),
    ("reinitialiser le mdp mot de passe", "depot-mot-de-passe"),
    ("peut on rediger en anglais", "depot-langue"),
    ("langue du dossier", "depot-langue"),
    ("nombre de pages maximum", "depot-pages"),
    ("combien de page le document scientifque", "depot-pages"),
    ("qui a le droit d'etre coordinateur", "eligibilite-coordinateur"),
    ("conditions pour coordoner un projet", "eligibilite-coordinateur"),
    ("une entreprise privée peut elle participer", "eligibilite-entreprise"),
    ("les PME sont elles eligibles", "eligibilite-entreprise"),
    ("partenaire a l'etranger", "eligibilite-etranger"),
    ("un labo étranger peut il participer au projet", "eligibilite-etranger"),
    ("deposer deux projets au meme appel", "eligibilite-double-depot"),
    ("soumettre plusieurs propositions", "eligibilite-double-depot"),
    ("criteres d'evaluation", "evaluation-criteres"),
    ("comment les projets sont ils juges", "evaluation-criteres"),
    ("qui evalue les projets", "evaluation-experts"),
    ("choix des évaluateurs", "evaluation-experts"),
    ("date de publication des resultats", "evaluation-resultats"),
    ("quand aurai-je la decision de financement", "evaluation-resultats"),
    ("lire les rapports d'evaluation", "evaluation-rapports"),
    ("avis des experts sur mon projet", "evaluation-rapports"),
    ("contester la décision", "evaluation-recours"),
    ("faire un recours", "evaluation-recours"),
    ("montant maximum de l'aide", "financement-montant"),
    ("combien demander comme financement", "financement-montant"),
    ("frais de gestion", "financement-frais-gestion"),
    ("taux des frais generaux", "financement-frais-gestion"),
    ("financer un doctorant", "financement-salaire"),
    ("financement d'une thèse", "financement-salaire"),
    ("acheter du materiel", "financement-equipement"),
    ("les equipements sont ils eligibles", "financement-equipement"),
    ("quand est versee l'aide", "financement-versement"),
    ("echeancier de paiement", "financement-versement"),
    ("prolonger mon projet", "conventionnement-prolongation"),
    ("demande de prolongation", "conventionnement-prolongation"),
    ("report de la date de fin du projet", "conventionnement-prolongation"),
    ("ajouter un partenaire", "conventionnement-changement-partenaire"),
    ("un partenaire quitte le consortium", "conventionnement-changement-partenaire"),
    ("le coordinateur change d'etablissement", "conventionnement-coordinateur-depart"),
    ("mutation du responsable scientifique", "conventionnement-coordinateur-depart"),
    ("modifier la repartition du budget", "conventionnement-budget"),
    ("transfert de credits entre postes", "conventionnement-budget"),
    ("quand rendre le rapport scientifique", "rapport-scientifique"),
    ("echeance du rapport final", "rapport-scientifique"),
    ("etat recapitulatif des depenses", "rapport-financier"),
    ("declarer les depenses", "rapport-financier"),
    ("publication en acces ouvert", "science-ouverte"),
    ("politique de science ouverte", "science-ouverte"),
    ("plan de gestion des donnees", "plan-gestion-donnees"),
    ("quand fournir le PGD", "plan-gestion-donnees"),
    ("experimentation animale autorisation", "ethique"),
    ("utilisation d'animaux dans le projet", "ethique"),
    ("contacter le chargé de projet", "contact-referent"),
    ("qui est mon interlocuteur", "contact-referent"),
    ("attestation de financement", "attestation"),
    ("justificatif de financement du projet", "attestation"),
    ("appel jeunes chercheurs", "jeunes-chercheurs"),
    ("chercheur en debut de carriere", "jeunes-chercheurs"),
    ("appel franco-allemand", "international"),
    ("collaboration bilaterale avec une agence etrangere", "international"),
    ("conflit d'interet evaluateur", "conflit-interets"),
    ("je connais un expert", "conflit-interets"),
    ("accessibilite du site pour handicapés", "accessibilite"),
    ("RGPD donnees personnelles", "donnees-personnelles"),
    ("protection de mes données", "donnees-personnelles"),
]


def faq_entries() -> list[Entry]:
    """Return the hand-written FAQ as matcher entries."""
    return [Entry(i, q, a, p, topic) for i, q, p, a, topic in FAQ]


@pytest.fixture(scope="module")
def index() -> MatchIndex:
    """Return an index built on the hand-written FAQ."""
    return MatchIndex.build(faq_entries())


def test_index_satisfies_protocol(index: MatchIndex) -> None:
    """The index can be used wherever a Matcher is expected."""
    assert isinstance(index, Matcher)
    assert len(index) == len(FAQ)


def test_finds_paraphrases_and_typos(index: MatchIndex) -> None:
    """Most paraphrased, unaccented or misspelt questions find their entry first, all in the top 3."""
    first = 0
    for query, expected in FAQ_QUERIES:
        ids = [m.id for m in index.search(query, k=3)]
        assert expected in ids, (query, ids)
        first += ids[0] == expected
    assert first / len(FAQ_QUERIES) >= 0.9


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("mot de pase oublie", "depot-mot-de-passe"),
        ("prolongaton du projet", "conventionnement-prolongation"),
        ("critère d'évalutaion", "evaluation-criteres"),
        ("DATE LIMITE DE DÉPÔT", "depot-date-limite"),
    ],
)
def test_typos_and_case(index: MatchIndex, query: str, expected: str) -> None:
    """Typos, missing accents and capitals still find the entry first."""
    assert index.search(query, k=1)[0].id == expected


def test_results_shape(index: MatchIndex) -> None:
    """Results are Match objects, best first, with the matched phrasing and bounded confidence."""
    results = index.search("Jusqu'à quand puis-je déposer mon projet ?", k=5)
    assert len(results) == 5
    assert all(isinstance(m, Match) for m in results)
    assert [m.score for m in results] == sorted((m.score for m in results), reverse=True)
    assert results[0].matched_text == "Jusqu'à quand puis-je déposer mon projet ?"
    assert all(0.0 <= m.confidence <= 1.0 for m in results)
    assert [m.confidence for m in results] == sorted((m.confidence for m in results), reverse=True)


def test_empty_and_unknown_queries(index: MatchIndex) -> None:
    """Blank queries give nothing; queries with unknown words get a low confidence."""
    assert index.search("   ") == []
    assert index.search("projet", k=0) == []
    vague = index.search("xyzzy plugh", k=3)
    assert all(m.confidence < 0.5 for m in vague)


def test_confidence_higher_for_exact_question(index: MatchIndex) -> None:
    """An exact canonical question is more confident than a vague one-word query."""
    exact = index.search("Comment demander une prolongation de la durée du projet ?", k=1)[0]
    vague = index.search("projet", k=1)[0]
    assert exact.id == "conventionnement-prolongation"
    assert exact.confidence > vague.confidence


def test_paragraph_entries_without_questions() -> None:
    """Entries with an empty question (answer paragraphs only) are matched on their answer."""
    entries = [
        Entry("a", "", "Le Rhône prend sa source dans le glacier du Rhône, en Suisse, et finit en Méditerranée."),
        Entry("b", "", "La tour Eiffel, construite pour l'Exposition universelle de 1889, mesure 330 mètres."),
        Entry("c", "", "Le camembert est un fromage normand au lait de vache, à pâte molle et croûte fleurie."),
    ]
    index = MatchIndex.build(entries)
    assert index.search("Où le Rhône prend-il sa source ?", k=1)[0].id == "a"
    assert index.search("hauteur de la tour eiffel", k=1)[0].id == "b"
    top = index.search("fromage de normandie", k=1)[0]
    assert top.id == "c"
    assert top.matched_text.startswith("Le camembert")


def test_mixed_entries_and_empty_index() -> None:
    """An index mixing FAQ entries and bare paragraphs works, and an empty index finds nothing."""
    entries = [*faq_entries()[:5], Entry("para", "", "Les frais de mission des experts sont remboursés.")]
    index = MatchIndex.build(entries)
    assert index.search("remboursement des frais de mission", k=1)[0].id == "para"
    assert index.search("date limite de dépôt", k=1)[0].id == "depot-date-limite"
    assert MatchIndex.build([]).search("date limite") == []


def test_duplicate_ids_rejected() -> None:
    """Two entries with the same id are refused."""
    with pytest.raises(ValueError, match="duplicate"):
        MatchIndex.build([Entry("x", "a", "b"), Entry("x", "c", "d")])


def test_default_calibration_is_monotonic() -> None:
    """The default confidence rises with the score, the margin and the fuzzy similarity."""
    base = DEFAULT_CALIBRATION.probability(0.5, 0.1, 0.5)
    assert DEFAULT_CALIBRATION.probability(0.6, 0.1, 0.5) > base
    assert DEFAULT_CALIBRATION.probability(0.5, 0.2, 0.5) > base
    assert DEFAULT_CALIBRATION.probability(0.5, 0.1, 0.9) > base


@settings(max_examples=100, deadline=None)
@given(
    score=st.floats(0, 1),
    margin=st.floats(-1, 1),
    fuzzy=st.floats(0, 1),
    bump=st.floats(0, 0.5),
)
def test_calibration_probability_bounded_and_monotonic(score: float, margin: float, fuzzy: float, bump: float) -> None:
    """Probabilities stay in [0, 1] and never fall when a feature rises."""
    p = DEFAULT_CALIBRATION.probability(score, margin, fuzzy)
    assert 0.0 <= p <= 1.0
    assert DEFAULT_CALIBRATION.probability(score + bump, margin, fuzzy) >= p
    assert DEFAULT_CALIBRATION.probability(score, margin + bump, fuzzy) >= p


def test_calibrate_fits_probabilities(index: MatchIndex) -> None:
    """Calibration on labelled queries gives non-negative weights, probabilities and a round-trip dict."""
    labelled = [(q, e) for q, e in FAQ_QUERIES] + [("xyzzy", "depot-date-limite"), ("projet", "ethique")]
    labelled += [(q, "accessibilite") for q, _ in FAQ_QUERIES[:10]]
    local = MatchIndex.build(faq_entries())
    calibration = local.calibrate(labelled)
    assert local.calibration is calibration
    assert calibration.n_samples == len(labelled) - 1  # "xyzzy" has no result at all: not a sample
    assert min(calibration.coef_score, calibration.coef_margin, calibration.coef_fuzzy) >= 0.0
    data = json.loads(json.dumps(calibration.to_dict()))
    assert Calibration.from_dict(data) == calibration
    for query, _ in FAQ_QUERIES[:20]:
        for match in local.search(query, k=3):
            assert 0.0 <= match.confidence <= 1.0
    right = local.search("Quels sont les critères d'évaluation ?", k=1)[0].confidence
    vague = local.search("projet", k=1)[0].confidence
    assert right > vague
    assert local.search("xyzzy") == []  # nothing in common with any entry


def test_calibrate_needs_both_outcomes(index: MatchIndex) -> None:
    """Calibration refuses a set where every top result is right."""
    with pytest.raises(ValueError):
        MatchIndex.build(faq_entries()).calibrate([("frais de gestion", "financement-frais-gestion")])


def test_config_weights_change_ranking_inputs() -> None:
    """A configuration can be passed and is kept on the index."""
    config = MatchConfig(word_weight=1.0, fuzzy_weight=0.0)
    index = MatchIndex.build(faq_entries(), config)
    assert index.config is config
    assert index.search("frais de gestion", k=1)[0].id == "financement-frais-gestion"


def test_char_ngrams_like_char_wb() -> None:
    """Character n-grams are the 3- to 5-grams of the space-padded word."""
    assert char_ngrams("ab") == [" ab", "ab ", " ab "]
    assert char_ngrams("a") == [" a "]
    assert " pro" in char_ngrams("projet") and "jet " in char_ngrams("projet") and "proje" in char_ngrams("projet")


def test_top_results_do_not_depend_on_k(index: MatchIndex) -> None:
    """Asking for fewer results returns the head of the longer list (the re-ranking is exact there)."""
    for query, _ in FAQ_QUERIES[::3]:
        ten = [(m.id, m.score) for m in index.search(query, k=10)]
        assert [(m.id, m.score) for m in index.search(query, k=3)] == ten[:3]
        assert [(m.id, m.score) for m in index.search(query, k=1)] == ten[:1]
