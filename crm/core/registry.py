"""Extension points the domain packages fill in from their init_app(): home pages, demo seeders, menus, jobs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask


def add_home(app: Flask, home_of: Callable) -> None:
    """Register a function user -> URL or None; the first URL found is the user's home page."""
    app.extensions.setdefault("guichet.home", []).append(home_of)


def add_seeder(app: Flask, order: int, name: str, seed: Callable) -> None:
    """Register a demo-data seeder; seeders run by increasing order within one transaction."""
    app.extensions.setdefault("guichet.seeders", []).append((order, name, seed))


def seeders(app: Flask) -> list[tuple[int, str, Callable]]:
    """The registered demo seeders in running order."""
    return sorted(app.extensions.get("guichet.seeders", []), key=lambda s: (s[0], s[1]))


def add_menu(app: Flask, order: int, label: str, endpoint: str, allowed: Callable) -> None:
    """Add a header navigation entry shown to users for whom allowed(user) is true."""
    app.extensions.setdefault("guichet.menu", []).append((order, label, endpoint, allowed))


def menu_for(app: Flask, user) -> list[tuple[str, str]]:
    """The navigation entries (label, endpoint) visible to a user."""
    items = sorted(app.extensions.get("guichet.menu", []), key=lambda m: m[0])
    return [(label, endpoint) for _o, label, endpoint, allowed in items if allowed(user)]


def add_login_link(app: Flask, order: int, label: str, endpoint: str) -> None:
    """Add a link under the login form (forgotten password, registration); label is a lazy translation."""
    app.extensions.setdefault("guichet.login_links", []).append((order, label, endpoint))


def login_links(app: Flask) -> list[tuple[str, str]]:
    """The links (label, endpoint) shown under the login form, in order."""
    return [(label, endpoint) for _o, label, endpoint in sorted(app.extensions.get("guichet.login_links", []),
                                                                    key=lambda link: link[0])]


def add_home_card(app: Flask, order: int, card: Callable) -> None:
    """Register a function user -> dict(title, text, url) or None, shown on the public home page."""
    app.extensions.setdefault("guichet.cards", []).append((order, card))


def home_cards_for(app: Flask, user) -> list[dict]:
    """The home-page cards visible to a user."""
    cards = sorted(app.extensions.get("guichet.cards", []), key=lambda c: c[0])
    return [c for c in (card(user) for _o, card in cards) if c]


def add_ticket_panel(app: Flask, order: int, panel: Callable) -> None:
    """Register a function ticket -> Markup or None, shown in the side column of the agent's ticket page."""
    app.extensions.setdefault("guichet.ticket_panels", []).append((order, panel))


def ticket_panels(app: Flask, ticket) -> list:
    """The rendered side panels of a ticket, in order (panels answering None are skipped)."""
    panels = sorted(app.extensions.get("guichet.ticket_panels", []), key=lambda p: p[0])
    return [html for html in (panel(ticket) for _o, panel in panels) if html]


def add_project_section(app: Flask, order: int, section: Callable) -> None:
    """Register a section of the portal's project sheet: a function (project, user) -> Markup or None."""
    app.extensions.setdefault("guichet.project_sections", []).append((order, section))


def project_sections(app: Flask, project, user) -> list:
    """The rendered sections of a project sheet for a user, in order (sections answering None are skipped)."""
    sections = sorted(app.extensions.get("guichet.project_sections", []), key=lambda s: s[0])
    return [html for html in (section(project, user) for _o, section in sections) if html]


def add_help_panel(app: Flask, order: int, panel: Callable) -> None:
    """Register a function () -> Markup or None, shown at the top of the public help page (/aide)."""
    app.extensions.setdefault("guichet.help_panels", []).append((order, panel))


def help_panels(app: Flask) -> list:
    """The rendered panels of the help page, in order (panels answering None are skipped)."""
    panels = sorted(app.extensions.get("guichet.help_panels", []), key=lambda p: p[0])
    return [html for html in (panel() for _o, panel in panels) if html]


def add_org_panel(app: Flask, order: int, panel: Callable) -> None:
    """Register a panel of the organisation 360° view: a function organisation -> Markup or None."""
    app.extensions.setdefault("guichet.org_panels", []).append((order, panel))


def org_panels(app: Flask) -> list[tuple[int, Callable]]:
    """The registered 360° panels in display order."""
    return sorted(app.extensions.get("guichet.org_panels", []), key=lambda p: p[0])


@dataclass(frozen=True)
class Job:
    """A scheduled job: ``func()`` runs in an application context, the scheduler commits after it."""

    id: str
    func: Callable[[], object]
    trigger: dict


def add_job(app: Flask, job_id: str, func: Callable[[], object], trigger_kwargs: dict) -> None:
    """Register a scheduled job (replacing one of the same id): {"trigger": "interval", "minutes": 5} or cron."""
    registered = app.extensions.setdefault("guichet.jobs", [])
    registered[:] = [job for job in registered if job.id != job_id]
    registered.append(Job(job_id, func, dict(trigger_kwargs)))


def jobs(app: Flask) -> list[Job]:
    """The registered scheduled jobs, in registration order."""
    return list(app.extensions.get("guichet.jobs", []))


def add_worker_job(app: Flask, job_id: str) -> None:
    """Also run a registered job at every round of `guichet outbox worker`, before the dispatch (work a commit
    queues for right after it: the worker is woken by the commit's NOTIFY, notifications.worker.wake_worker)."""
    registered = app.extensions.setdefault("guichet.worker_jobs", [])
    if job_id not in registered:
        registered.append(job_id)


def worker_jobs(app: Flask) -> list[str]:
    """The jobs `guichet outbox worker` runs at every round, in registration order."""
    return list(app.extensions.get("guichet.worker_jobs", []))


def set_mail_intake(app: Flask, handler: Callable) -> None:
    """Register the function InboundMail -> IntakeResult (notifications.intake) that turns mail into requests."""
    app.extensions["guichet.mail_intake"] = handler


def mail_intake(app: Flask) -> Callable | None:
    """The registered mail intake handler, or None."""
    return app.extensions.get("guichet.mail_intake")


def set_portal_requests(app: Flask, provider) -> None:
    """Register the provider of an establishment's requests shown in the portal (crm.portal.requests.Provider)."""
    app.extensions["guichet.portal_requests"] = provider


def portal_requests(app: Flask):
    """The registered provider of the portal's establishment requests, or None."""
    return app.extensions.get("guichet.portal_requests")
