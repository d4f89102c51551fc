"""The ``cohesion`` command line: build, import, fetch, explore and export.

Every command works on one warehouse file (``--warehouse``, or ``COHESION_WAREHOUSE``,
default ``var/cohesion.duckdb``). Exit codes: 0 success, 1 a Cohésion error (bad
option value, missing data), 2 wrong usage, 3 a file that cannot be imported (the
warehouse is left unchanged), 4 an unknown territory, indicator or dataset.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import pandas as pd
import yaml
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from cohesion.config import node_modules, warehouse_path
from cohesion.errors import CohesionError, InputFileError, UnknownTerritoryError
from cohesion.indicators.periods import period_key
from cohesion.store.warehouse import Warehouse

console = Console()
errors = Console(stderr=True)

EXIT_ERROR, EXIT_BAD_FILE, EXIT_NOT_FOUND = 1, 3, 4


def _exit_code(error: CohesionError) -> int:
    from cohesion.importers.catalogue import UnknownDatasetError
    from cohesion.indicators.engine import UnknownIndicatorError

    if isinstance(error, InputFileError):
        return EXIT_BAD_FILE
    if isinstance(error, UnknownTerritoryError | UnknownIndicatorError | UnknownDatasetError):
        return EXIT_NOT_FOUND
    return EXIT_ERROR


class CohesionGroup(click.Group):
    """Turn errors into a one-line message and an exit code, never a traceback.

    Set ``COHESION_DEBUG=1`` to see the traceback of an unexpected error.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CohesionError as error:
            errors.print(f"[bold red]Erreur :[/] {error}", highlight=False, soft_wrap=True)
            ctx.exit(_exit_code(error))
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as error:
            if os.environ.get("COHESION_DEBUG"):
                raise
            errors.print(f"[bold red]Erreur interne :[/] {type(error).__name__}: {error} "
                         "(relancer avec COHESION_DEBUG=1 pour le détail)",
                         highlight=False, soft_wrap=True)
            ctx.exit(EXIT_ERROR)


@click.group(cls=CohesionGroup)
@click.option("--warehouse", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Fichier de l'entrepôt DuckDB (défaut : "
              "$COHESION_WAREHOUSE ou var/cohesion.duckdb).")
@click.version_option(package_name="cohesion")
@click.pass_context
def main(ctx: click.Context, warehouse: Path | None) -> None:
    """Cohésion : référentiel territorial, entrepôt d'indicateurs et données officielles."""
    ctx.obj = warehouse or warehouse_path()


@contextmanager
def opened(ctx: click.Context, read_only: bool = False) -> Iterator[Warehouse]:
    """Open the warehouse of this invocation."""
    path: Path = ctx.obj
    if read_only and not path.exists():
        raise CohesionError(f"aucun entrepôt en {path} : lancez d'abord `cohesion build`")
    with Warehouse(path, read_only=read_only) as warehouse:
        yield warehouse


@contextmanager
def steps_progress(description: str) -> Iterator[Callable[[str], None]]:
    """A spinner with the current step, for work made of named steps."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=errors, transient=False) as progress:
        task = progress.add_task(description)

        def step(message: str) -> None:
            progress.update(task, description=f"{description} : {message}")

        yield step
        progress.update(task, description=f"{description} : terminé")


def print_frame(frame: pd.DataFrame, title: str | None = None, limit: int = 50) -> None:
    """Print a DataFrame as a table (first ``limit`` rows)."""
    table = Table(title=title, show_lines=False)
    for column in frame.columns:
        table.add_column(str(column), overflow="fold")
    for row in frame.head(limit).itertuples(index=False):
        table.add_row(*[_cell(v) for v in row])
    console.print(table)
    if len(frame) > limit:
        console.print(f"… {len(frame) - limit} lignes de plus (--csv pour tout écrire)")


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, float):
        text = f"{value:,.0f}" if value == int(value) and abs(value) >= 100 else f"{value:,.2f}"
        return text.replace(",", "\u202f")
    return str(value)


# -- référentiel ----------------------------------------------------------------------

@main.command()
@click.option("--vintage", "vintages", type=int, multiple=True,
              help="Millésime à construire (répétable ; défaut : 2021 à 2026).")
@click.option("--no-geometries", is_flag=True, help="Ne pas construire les contours.")
@click.option("--force", is_flag=True, help="Reconstruire même si le référentiel est à jour.")
@click.pass_context
def build(ctx: click.Context, vintages: tuple[int, ...], no_geometries: bool,
          force: bool) -> None:
    """Construire le référentiel territorial de chaque millésime du COG."""
    from cohesion.territory.build import build_referentiel, is_up_to_date
    from cohesion.territory.vintages import VINTAGES, check_vintage

    chosen = tuple(sorted(check_vintage(v) for v in vintages)) or VINTAGES
    with opened(ctx) as warehouse:
        if not force and is_up_to_date(warehouse, chosen, geometries=not no_geometries):
            console.print(f"Référentiel {', '.join(map(str, chosen))} déjà construit avec "
                          "les mêmes versions des sources (--force pour reconstruire).")
            return
        with steps_progress("Référentiel") as step:
            tables = build_referentiel(warehouse, node_modules(), chosen,
                                       geometries=not no_geometries, progress=step)
    for vintage, vintage_tables in tables.items():
        counts = vintage_tables.territories["level"].value_counts()
        console.print(f"COG {vintage} : {counts.get('COM', 0)} communes, "
                      f"{counts.get('EPCI', 0)} EPCI, {counts.get('DEP', 0)} départements, "
                      f"{counts.get('REG', 0)} régions")


@main.command()
@click.pass_context
def summary(ctx: click.Context) -> None:
    """Résumer le contenu de l'entrepôt."""
    with opened(ctx, read_only=True) as warehouse:
        console.print(f"Entrepôt : {ctx.obj}")
        console.print(f"Millésimes du COG : {', '.join(map(str, warehouse.vintages()))}")
        print_frame(warehouse.summary(), "Tables")
        datasets = warehouse.datasets()
        if not datasets.empty:
            datasets["periods"] = datasets["periods"].map(_periods_text)
            print_frame(datasets[["dataset_id", "name", "producer", "vintage", "periods",
                                  "rows", "file_name"]], "Jeux de données importés")


def _periods_text(periods: list[str] | None) -> str:
    """A short form of a dataset's periods: all of them, or the range when many."""
    periods = sorted(periods, key=period_key) if periods is not None else []
    if len(periods) <= 4:
        return ", ".join(periods) or "—"
    return f"{periods[0]} … {periods[-1]} ({len(periods)})"


@main.group()
def territory() -> None:
    """Chercher et afficher des territoires."""


@territory.command("search")
@click.argument("text")
@click.option("--vintage", type=int, help="Millésime (défaut : le plus récent).")
@click.option("--level", "levels", multiple=True, help="Échelon(s) : COM, EPCI, DEP…")
@click.option("--limit", type=click.IntRange(1, 500), default=10, show_default=True)
@click.pass_context
def territory_search(ctx: click.Context, text: str, vintage: int | None,
                     levels: tuple[str, ...], limit: int) -> None:
    """Chercher par nom (sans accents ni majuscules), code ou code postal."""
    from cohesion.territory.service import Referentiel

    with opened(ctx, read_only=True) as warehouse:
        found = Referentiel(warehouse).search(text, vintage, list(levels) or None, limit)
    if found.empty:
        raise UnknownTerritoryError(f"aucun territoire ne correspond à {text!r}")
    print_frame(found[["id", "name", "population", "match"]])


@territory.command("show")
@click.argument("text")
@click.option("--vintage", type=int, help="Millésime (défaut : le plus récent).")
@click.option("--period", help="Période des indicateurs (défaut : la plus récente).")
@click.pass_context
def territory_show(ctx: click.Context, text: str, vintage: int | None,
                   period: str | None) -> None:
    """Chiffres clés d'un territoire comparés à son département, sa région et la France."""
    from cohesion.portrait import key_figures, sources
    from cohesion.territory.service import Referentiel

    with opened(ctx, read_only=True) as warehouse:
        found = Referentiel(warehouse).resolve(text, vintage)
        console.print(f"[bold]{found.name}[/] ({found.id}) — population "
                      f"{_cell(found.population)}, superficie {_cell(found.area_km2)} km²")
        for level, parent in found.parents.items():
            console.print(f"  {level} : {found.parent_names[level]} ({parent.code})")
        figures = key_figures(warehouse, found, period)
        credits = sources(warehouse)
    print_frame(figures, "Chiffres clés", limit=100)
    console.print(f"Géographie : COG {found.id.vintage}. Sources : " + " ; ".join(credits))


@main.command("passage")
@click.argument("from_vintage", type=int)
@click.argument("to_vintage", type=int)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Écrire la table en CSV.")
@click.pass_context
def passage(ctx: click.Context, from_vintage: int, to_vintage: int,
            output: Path | None) -> None:
    """Table de passage des communes entre deux millésimes du COG."""
    from cohesion.indicators.engine import IndicatorEngine
    from cohesion.territory.passage import chain

    with opened(ctx, read_only=True) as warehouse:
        warehouse.require_vintage(from_vintage)
        warehouse.require_vintage(to_vintage)
        table = chain(IndicatorEngine(warehouse)._steps(), from_vintage, to_vintage)
    changed = table[table["kind"] != "same"]
    if output:
        table.to_csv(output, index=False)
        console.print(f"{len(table)} lignes écrites dans {output}")
    print_frame(changed, f"Communes modifiées entre {from_vintage} et {to_vintage} "
                f"({len(changed)} lignes)")


# -- données --------------------------------------------------------------------------

def _parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise click.BadParameter(f"{pair!r} : attendu CLÉ=VALEUR", param_hint="--option")
        extra[key.strip()] = yaml.safe_load(value) if value else ""
    return extra


def _import_help() -> str:
    from cohesion.importers import importers

    names = ", ".join(importers())
    return f"Importer un fichier officiel. IMPORTER parmi : {names}."


@main.command("import", help=_import_help())
@click.argument("importer_name", metavar="IMPORTER")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--vintage", type=int, help="Millésime du COG des codes (défaut : détecté).")
@click.option("--period", help="Période des valeurs sans année dans le nom de colonne.")
@click.option("--replace", is_flag=True, help="Remplacer les séries déjà présentes.")
@click.option("--name", help="Nom du jeu de données (défaut : celui de l'importeur).")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Fichier YAML décrivant la table (importeur « table »).")
@click.option("--option", "pairs", multiple=True, metavar="CLÉ=VALEUR",
              help="Option propre à l'importeur (répétable).")
@click.pass_context
def import_file(ctx: click.Context, importer_name: str, path: Path, vintage: int | None,
                period: str | None, replace: bool, name: str | None, mapping: Path | None,
                pairs: tuple[str, ...]) -> None:
    """Import one file (help text built from the registry)."""
    from cohesion.importers import ImportOptions, importers, run_import
    from cohesion.importers.catalogue import UnknownDatasetError

    registry = importers()
    if importer_name not in registry:
        raise UnknownDatasetError(f"importeur inconnu {importer_name!r} "
                                  f"(attendu l'un de {', '.join(registry)})")
    extra = _parse_options(pairs)
    if mapping:
        extra["mapping"] = str(mapping)
    options = ImportOptions(vintage=vintage, period=period, replace=replace, extra=extra)
    with opened(ctx) as warehouse, steps_progress(f"Import de {path.name}") as step:
        step("lecture et validation")
        report = run_import(warehouse, registry[importer_name], path, name=name,
                            options=options)
    _print_report(report)


def _print_report(report: Any) -> None:
    if report.already_imported:
        console.print(f"{report.path.name} : déjà importé (jeu {report.dataset_id}), "
                      "rien n'a changé.")
        return
    console.print(f"{report.path.name} : {report.rows} lignes lues, {report.observations} "
                  f"valeurs enregistrées (jeu {report.dataset_id}, millésime "
                  f"{report.vintage}, périodes {', '.join(report.periods) or '—'}).")
    for note in report.notes:
        console.print(f"  • {note}")


@main.group()
def data() -> None:
    """Jeux de données : catalogue officiel, téléchargement, liste des imports."""


@data.command("list")
@click.pass_context
def data_list(ctx: click.Context) -> None:
    """Lister les jeux de données importés avec leur provenance."""
    with opened(ctx, read_only=True) as warehouse:
        datasets = warehouse.datasets()
    if datasets.empty:
        console.print("Aucun jeu de données importé.")
        return
    datasets["periods"] = datasets["periods"].map(_periods_text)
    print_frame(datasets[["dataset_id", "name", "title", "producer", "licence", "vintage",
                          "periods", "rows", "file_name", "imported_at"]], limit=500)


@data.command("catalogue")
def data_catalogue() -> None:
    """Lister les jeux de données officiels que `data fetch` sait télécharger."""
    from cohesion.importers.catalogue import load_catalogue

    entries = load_catalogue()
    print_frame(pd.DataFrame([{"nom": e.name, "titre": e.title, "producteur": e.producer,
                               "importeur": e.importer, "adresse": e.url}
                              for e in entries.values()]), limit=500)


@data.command("fetch")
@click.argument("name")
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path),
              default=Path("var/downloads"), show_default=True,
              help="Dossier des fichiers téléchargés.")
@click.option("--mirror", help="Miroir des adresses officielles (ou $COHESION_MIRROR).")
@click.option("--refresh", is_flag=True, help="Télécharger à nouveau même si présent.")
@click.option("--replace", is_flag=True, help="Remplacer les séries déjà présentes.")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=60.0, show_default=True)
@click.pass_context
def data_fetch(ctx: click.Context, name: str, dest: Path, mirror: str | None,
               refresh: bool, replace: bool, timeout: float) -> None:
    """Télécharger, vérifier et importer un jeu du catalogue officiel."""
    from cohesion.importers import importers
    from cohesion.importers.fetch import fetch

    with opened(ctx) as warehouse, Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
            TransferSpeedColumn(), console=errors) as progress:
        task = progress.add_task(f"Téléchargement de {name}", total=None)

        def advance(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        report = fetch(name, warehouse, dest, base_url=mirror, progress=advance,
                       importer_registry=importers(), timeout=timeout, refresh=refresh,
                       replace=replace)
    if not report.downloaded:
        console.print("Fichier déjà téléchargé et vérifié : pas de nouveau téléchargement.")
    _print_report(report.imported)
    for note in report.notes:
        console.print(f"  • {note}")


@data.command("import-samples")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.pass_context
def data_import_samples(ctx: click.Context, folder: Path) -> None:
    """Importer les échantillons de données réelles d'un dossier ``shared/data``."""
    from cohesion.importers import ImportOptions, importers, run_import
    from cohesion.importers.base import Provenance
    from cohesion.samples import SAMPLES

    registry = importers()
    with opened(ctx) as warehouse:
        for sample in SAMPLES:
            path = folder / sample.path
            if not path.exists():
                console.print(f"  • absent, ignoré : {sample.path}")
                continue
            options = ImportOptions(vintage=sample.vintage, extra=dict(sample.options))
            report = run_import(warehouse, registry[sample.importer], path, name=sample.name,
                                options=options,
                                provenance=Provenance(sample.title, sample.producer))
            _print_report(report)


# -- indicateurs ----------------------------------------------------------------------

@main.command()
@click.option("--all", "show_all", is_flag=True,
              help="Inclure les variables importées sans définition.")
@click.pass_context
def indicators(ctx: click.Context, show_all: bool) -> None:
    """Lister les indicateurs, leur définition et les périodes disponibles."""
    from cohesion.indicators.catalogue import builtin_indicators
    from cohesion.indicators.engine import IndicatorEngine

    with opened(ctx, read_only=True) as warehouse:
        catalogue = IndicatorEngine(warehouse).catalogue()
    if not show_all:
        catalogue = catalogue[catalogue["id"].isin(builtin_indicators())]
    catalogue["periods"] = catalogue["periods"].map(lambda p: ", ".join(p) or "non chargé")
    print_frame(catalogue[["id", "label", "unit", "kind", "periods"]], limit=1000)


@main.command()
@click.argument("indicator_ids", nargs=-1, required=True)
@click.option("--level", default="DEP", show_default=True, help="Échelon : COM, EPCI, DEP…")
@click.option("--vintage", type=int, help="Millésime du COG (défaut : le plus récent).")
@click.option("--period", help="Période (défaut : la plus récente disponible).")
@click.option("--within", help="Seulement dans ce territoire (ex. DEP:93@2026).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Fichier de sortie (.csv, .parquet ou .geojson).")
@click.option("--format", "file_format", type=click.Choice(["csv", "parquet", "geojson"]))
@click.pass_context
def export(ctx: click.Context, indicator_ids: tuple[str, ...], level: str,
           vintage: int | None, period: str | None, within: str | None,
           output: Path | None, file_format: str | None) -> None:
    """Afficher ou exporter des indicateurs pour tous les territoires d'un échelon."""
    from cohesion.exports import Selection, selection_table
    from cohesion.exports import export as write_export
    from cohesion.territory.ids import TerritoryId

    with opened(ctx, read_only=True) as warehouse:
        chosen_vintage = vintage or warehouse.vintages()[-1]
        parent = None
        if within:
            tid = TerritoryId.parse(within)
            parent = (tid.level, tid.code)
        selection = Selection(tuple(indicator_ids), level.upper(), chosen_vintage, period,
                              parent)
        if output:
            rows = write_export(warehouse, selection, output, file_format)
            console.print(f"{rows} territoires écrits dans {output}")
            return
        table = selection_table(warehouse, selection)
    print_frame(table[["code", "name", *indicator_ids]],
                f"{', '.join(indicator_ids)} — {level} — COG {chosen_vintage}")
    for ident, source in table.attrs["sources"].items():
        console.print(f"{ident} ({source['period']}) : {source['source']}")
        for note in source["notes"]:
            console.print(f"  • {note}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Adresse d'écoute (127.0.0.1 : cette machine seulement).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--admin-token", envvar="COHESION_ADMIN_TOKEN",
              help="Jeton autorisant les imports par le web (ou $COHESION_ADMIN_TOKEN).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, admin_token: str | None) -> None:
    """Servir l'application web et l'API (http://127.0.0.1:8000 par défaut)."""
    import uvicorn

    from cohesion.web.app import create_app
    from cohesion.web.observatory import Observatory

    path: Path = ctx.obj
    if not path.exists():
        raise CohesionError(f"aucun entrepôt en {path} : lancez d'abord `cohesion build`")
    observatory = Observatory(path)
    with steps_progress("Préparation des indicateurs") as step:
        step("calcul des chiffres clés à tous les échelons")
        app = create_app(observatory, admin_token=admin_token)
    console.print(f"Cohésion : http://{host}:{port}/ (API : http://{host}:{port}/api/docs)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _mount_domain_commands() -> None:
    """Add the command groups that the domains define (analysis, QPV…)."""
    from cohesion.analysis.commands import analysis
    from cohesion.geo.commands import qpv

    main.add_command(analysis)
    main.add_command(qpv)


_mount_domain_commands()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
