"""``cohesion innovations``: the Carrefour des innovations sociales on the command line.

Each command parses its options and asks the core (:attr:`cohesion.core.Observatory.
innovations`), as the Carrefour's pages and API do: ``harvest`` (sources → store →
deduplication → index, with a progress bar), ``dedupe``, ``index``, ``search``,
``sources`` (their health), ``review`` (the pairs waiting for a reviewer) and
``admin`` (the first administrator, roles).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cohesion.cli.main import main, observatory
from cohesion.cli.output import console, errors, print_notes

#: The samples' folder, the default data root of the shipped connectors.
DEFAULT_ROOT = "../shared/data"


@contextmanager
def steps_bar(description: str) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar fed by ``progress(step, done, total)`` callbacks."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=errors, transient=False) as bar:
        tasks: dict[str, int] = {}

        def advance(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(f"{description} : {step}", total=total or None)
            bar.update(tasks[step], completed=done, total=total or None)

        yield advance


@main.group()
def innovations() -> None:
    """Carrefour des innovations sociales : moisson, dédoublonnage, recherche."""


@innovations.command("harvest")
@click.argument("sources", nargs=-1)
@click.option("--root", default=DEFAULT_ROOT, show_default=True,
              help="Dossier ou adresse de base des fichiers des sources.")
def harvest_command(sources: tuple[str, ...], root: str) -> None:
    """Moissonner des sources (défaut : les trois livrées), puis dédoublonner et indexer.

    SOURCES : noms de sources livrées (transiscope, dotations-2019,
    postes-politique-ville) ou fichiers YAML de connecteurs.
    """
    from cohesion.core.innovations import SHIPPED_SOURCES

    ctx = click.get_current_context()
    with observatory(ctx) as core, steps_bar("Moisson") as progress:
        outcome = core.innovations.harvest(list(sources or SHIPPED_SOURCES), root, progress)
    for run, report in outcome.reports:
        line = (f"{report.source} : {report.records} fiches ({report.new} nouvelles, "
                f"{report.updated} modifiées, {report.unchanged} inchangées, {report.gone} "
                f"disparues), {report.failed} refusées")
        console.print(line, highlight=False)
        if report.error:
            console.print(f"  [bold red]échec :[/] {report.error}", highlight=False)
        if report.alert:
            console.print(f"  [bold yellow]alerte :[/] {report.alert}", highlight=False)
        print_notes(list(run.notes) + [f"{f.where} : {f.reason}"
                                       for f in report.failures[:10]])
    if outcome.linkage:
        _print_linkage(outcome.linkage)
        console.print(f"{outcome.indexed} innovations indexées.")


def _print_linkage(linkage: object) -> None:
    console.print(f"Dédoublonnage : {linkage.records} fiches, {linkage.pairs} paires "
                  f"comparées, {linkage.links} liens, {linkage.queued} paires à revoir, "
                  f"{linkage.moved} fiches rattachées à une innovation nouvelle ou autre.")


@innovations.command("dedupe")
def dedupe_command() -> None:
    """Relier à nouveau les fiches de toutes les sources en innovations, puis indexer."""
    ctx = click.get_current_context()
    with observatory(ctx) as core, steps_bar("Dédoublonnage") as progress:
        linkage = core.innovations.dedupe(progress)
        indexed = core.innovations.reindex(progress)
    _print_linkage(linkage)
    console.print(f"{indexed} innovations indexées.")


@innovations.command("index")
def index_command() -> None:
    """Reconstruire l'index de recherche depuis les fiches publiées."""
    ctx = click.get_current_context()
    with observatory(ctx) as core, steps_bar("Indexation") as progress:
        indexed = core.innovations.reindex(progress)
    console.print(f"{indexed} innovations indexées.")


@innovations.command("search")
@click.argument("text", default="")
@click.option("--facet", "facets", multiple=True, metavar="NOM=VALEUR",
              help="Filtre sur une facette (domaines=…, sources=…, departement=33, qpv=oui).")
@click.option("--territory", "territories", multiple=True,
              help="Territoire concerné (EPCI:200054781, DEP:33, QPV:QN03301M…).")
@click.option("--sort", type=click.Choice(["relevance", "date"]), default="relevance",
              show_default=True)
@click.option("--page", type=int, default=1, show_default=True)
@click.option("--per-page", type=int, default=10, show_default=True)
def search_command(text: str, facets: tuple[str, ...], territories: tuple[str, ...],
                   sort: str, page: int, per_page: int) -> None:
    """Chercher des innovations (mots, "expressions", préfixes*, -exclusions)."""
    from cohesion.innovations.search import FACETS, SearchQuery

    filters: dict[str, list[str]] = {}
    for item in facets:
        name, _, value = item.partition("=")
        if not value:
            raise click.BadParameter(f"attendu NOM=VALEUR, reçu {item!r}", param_hint="--facet")
        filters.setdefault(name, []).append(value)
    query = SearchQuery(text=text, filters=filters, territories=territories, sort=sort,
                        page=page, per_page=per_page, facets=FACETS[:4])
    ctx = click.get_current_context()
    with observatory(ctx) as core:
        result = core.innovations.search(query)
    console.print(f"{result.total} innovations ({result.took_ms:.1f} ms)", highlight=False)
    for rank, hit in enumerate(result.hits, start=query.offset + 1):
        document = hit.document
        place = document.get("commune_name") or document.get("departement") or ""
        console.print(f"{rank:>4}. [bold]{hit.title}[/] — {place} "
                      f"[dim]({', '.join(document.get('sources', []))}, {hit.id})[/]",
                      highlight=False)
    for name, counts in result.facets.items():
        if counts:
            console.print(f"  {name} : " + ", ".join(f"{v} ({n})" for v, n in counts[:8]),
                          highlight=False)


@innovations.command("sources")
def sources_command() -> None:
    """L'état des sources : dernière moisson, fiches, alertes."""
    ctx = click.get_current_context()
    with observatory(ctx) as core:
        health = core.innovations.store.source_health()
    if not health:
        console.print("Aucune source moissonnée : `cohesion innovations harvest`.")
    for h in health:
        run = h.last_run
        console.print(f"{h.source} : {h.status}, dernière moisson {run.applied[:16]}, "
                      f"{run.records} fiches lues ({h.counts.get('published', 0)} publiées, "
                      f"{h.counts.get('gone', 0)} disparues), {run.failed} refusées",
                      highlight=False, soft_wrap=True)
        if h.alert:
            console.print(f"  [bold yellow]alerte :[/] {h.alert}", highlight=False,
                          soft_wrap=True)


@innovations.command("review")
@click.option("--limit", type=int, default=20, show_default=True)
def review_command(limit: int) -> None:
    """Les paires de fiches incertaines qui attendent un relecteur."""
    ctx = click.get_current_context()
    with observatory(ctx) as core:
        queue = core.innovations.store.review_queue(limit)
        store = core.innovations.store
        for pair in queue:
            first, second = store.record(pair.record_a), store.record(pair.record_b)
            console.print(f"{pair.probability:.2f}  {first.title} ({first.source}) ↔ "
                          f"{second.title} ({second.source})", highlight=False)
    if not queue:
        console.print("Aucune paire à revoir.")


@innovations.group("admin")
def admin() -> None:
    """Comptes du Carrefour : premier administrateur, rôles."""


@admin.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True, help="Nom affiché.")
@click.password_option(help="Mot de passe (12 caractères au moins).")
def admin_create(email: str, name: str, password: str) -> None:
    """Créer le premier compte administrateur (refusé s'il en existe un)."""
    from cohesion.innovations.accounts import create_first_administrator

    ctx = click.get_current_context()
    with observatory(ctx) as core:
        account = create_first_administrator(core.innovations.store, email, name, password)
    console.print(f"Compte administrateur créé : {account.email} (n° {account.id}).")


@admin.command("role")
@click.option("--admin-email", required=True, help="Adresse de l'administrateur qui agit.")
@click.password_option("--admin-password", confirmation_prompt=False)
@click.argument("email")
@click.argument("role", type=click.Choice(["contributeur", "moderateur", "administrateur"]))
def admin_role(admin_email: str, admin_password: str, email: str, role: str) -> None:
    """Donner un rôle à un compte (l'administrateur s'authentifie ; inscrit au journal)."""
    ctx = click.get_current_context()
    with observatory(ctx) as core:
        accounts = core.innovations.accounts
        administrator = accounts.authenticate(admin_email, admin_password)
        target = next((a for a in accounts.accounts(administrator) if a.email == email.lower()),
                      None)
        if target is None:
            raise click.BadParameter(f"aucun compte {email}", param_hint="EMAIL")
        changed = accounts.set_role(administrator, target.id, role)
    console.print(f"{changed.email} : {changed.role}.")


