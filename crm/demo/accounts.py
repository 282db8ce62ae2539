"""Demo accounts: the people a newcomer logs in as after `make run`."""

from __future__ import annotations

from crm.core import services
from crm.core.models import Role

DEMO_PASSWORD = "guichet-demo-2026"  # noqa: S105 - demo data only, printed by `make run`

STAFF = [
    ("agent", "Camille Martin", "agent@guichet.example", [Role.AGENT]),
    ("agent2", "Yanis Benali", "agent2@guichet.example", [Role.AGENT]),
    ("agent3", "Léa Dubois", "agent3@guichet.example", [Role.AGENT]),
    ("referent", "Sophie Lefèvre", "referent@guichet.example", [Role.REFERENT]),
    ("referent_finance", "Marc Girard", "referent.finances@guichet.example", [Role.REFERENT]),
    ("referent_evaluation", "Nadia Haddad", "referent.evaluation@guichet.example", [Role.REFERENT]),
    ("manager", "Isabelle Moreau", "manager@guichet.example", [Role.MANAGER]),
    ("admin", "Thomas Petit", "admin@guichet.example", [Role.ADMIN]),
]

REQUESTERS = [
    ("Julie Fontaine", "julie.fontaine@univ-exemple.fr"),
    ("Karim Mansouri", "karim.mansouri@labo-exemple.fr"),
    ("Élodie Garnier", "elodie.garnier@cnrs-exemple.fr"),
    ("Antoine Roux", "antoine.roux@inserm-exemple.fr"),
    ("Chloé Lambert", "chloe.lambert@ecole-exemple.fr"),
    ("Hugo Chevalier", "hugo.chevalier@startup-exemple.fr"),
    ("Manon Faure", "manon.faure@univ-exemple.fr"),
    ("Lucas Blanc", "lucas.blanc@inrae-exemple.fr"),
]

LABELS = {
    "agent": "Agent de support",
    "referent": "Référent (amendements)",
    "manager": "Responsable",
    "admin": "Administrateur",
    "requester": "Demandeur",
}


def seed_accounts(context: dict) -> None:
    """Create staff and requester accounts; share them with later seeders through context."""
    users = context.setdefault("users", {})
    for key, name, email, roles in STAFF:
        users[key] = services.create_user(email, name, roles, DEMO_PASSWORD)
    requesters = context.setdefault("requesters", [])
    for name, email in REQUESTERS:
        requesters.append(services.create_user(email, name, [Role.REQUESTER], DEMO_PASSWORD))
    context["password"] = DEMO_PASSWORD
