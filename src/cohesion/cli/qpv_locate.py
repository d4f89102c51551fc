"""``cohesion qpv locate``: locate the points of a file in the QPV.

It goes through the core's :class:`~cohesion.core.qpv.QpvService`, as the API's
``/api/qpv/locate.csv`` does: the same index, commune lists and geocoder (the settings'
one, else the local addok when it is indexed, else the BAN).
"""

from __future__ import annotations

from pathlib import Path

import click
from rich import progress as bar
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from cohesion.cli.main import observatory
from cohesion.cli.output import console, errors, number, rows
from cohesion.geo.batch import DEFAULT_CHUNK_ROWS, BatchSummary, InputFile, PointColumns, Progress
from cohesion.geo.geocoding import DEFAULT_MIN_SCORE, GEOCODING_QUALITIES, AddokGeocoder
from cohesion.geo.locate import (
    BANDS,
    DEFAULT_REACH,
    DEFAULT_TOLERANCE,
    GENERATIONS,
    MIN_REACH,
    QUALITIES,
    QpvIndex,
    not_covered_reason,
)
from cohesion.settings import BAN_URL
from cohesion.shutdown import interrupted_by_signals


@click.command("locate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="Fichier à écrire : CSV, ou Parquet s'il finit par "
              ".parquet.")
@click.option("--lon", help="Colonne des longitudes (WGS84, degrés).")
@click.option("--lat", help="Colonne des latitudes (WGS84, degrés).")
@click.option("--x", "x_column", help="Colonne des abscisses (avec --y et --crs).")
@click.option("--y", "y_column", help="Colonne des ordonnées (avec --x et --crs).")
@click.option("--crs", help="Système de coordonnées de --x et --y, par exemple EPSG:2154 "
              "(Lambert-93) ou EPSG:2975 (La Réunion).")
@click.option("--address", "addresses", multiple=True, help="Colonne d'adresse à géocoder "
              "au lieu de coordonnées (répétable : numéro et voie, code postal, commune… "
              "réunis dans cet ordre).")
@click.option("--geocoder", help="Adresse du géocodeur addok (service CSV /search/csv/) : "
              "un addok local (http://127.0.0.1:7878) ou la BAN. Défaut : "
              "$COHESION_GEOCODER, sinon l'addok local s'il est indexé, sinon "
              f"{BAN_URL}.")
@click.option("--min-score", type=click.FloatRange(0, 1), default=DEFAULT_MIN_SCORE,
              show_default=True, help="Score de géocodage en deçà duquel une adresse est "
              "« incertaine » et n'est pas localisée.")
@click.option("--generation", "generations", type=click.Choice([str(g) for g in GENERATIONS]),
              multiple=True, help="Génération de QPV (répétable ; défaut : toutes celles "
              "dont les contours sont importés).")
@click.option("--tolerance", type=click.FloatRange(min=0), default=DEFAULT_TOLERANCE,
              show_default=True, help="Distance en mètres à une limite de QPV en deçà de "
              "laquelle un point est « probable ».")
@click.option("--vintage", type=int, help="Millésime du COG des codes de commune "
              "(défaut : le plus récent construit).")
@click.option("--communes-qpv", "lookups", multiple=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Liste nationale ANCT des communes ayant un QPV (polygone-4326_qpv.geojson) : "
              "une commune qu'elle ne nomme pas est « hors QPV », une commune nommée dont "
              "les contours ne sont pas chargés « non couvert » (répétable).")
@click.option("--reach", type=click.FloatRange(min=MIN_REACH), default=DEFAULT_REACH,
              show_default=True, help="Distance en mètres jusqu'à laquelle le QPV le plus "
              "proche est cherché ; au-delà la distance reste vide.")
@click.option("--chunk-rows", type=click.IntRange(min=1), default=DEFAULT_CHUNK_ROWS,
              show_default=True, help="Lignes traitées à la fois (la mémoire en dépend, "
              "pas la taille du fichier).")
@click.option("--dask", "use_dask", is_flag=True,
              help="Répartir le travail sur une grappe Dask (locale par défaut).")
@click.option("--scheduler", help="Adresse de l'ordonnanceur d'une grappe Dask existante "
              "(avec --dask), par exemple tcp://10.0.0.5:8786.")
@click.option("--workers", type=click.IntRange(min=1),
              help="Nombre de processus de la grappe Dask locale (défaut : un par cœur).")
@click.pass_context
def locate(ctx: click.Context, file: Path, output: Path, lon: str | None, lat: str | None,
           x_column: str | None, y_column: str | None, crs: str | None,
           addresses: tuple[str, ...], geocoder: str | None, min_score: float,
           generations: tuple[str, ...], tolerance: float, vintage: int | None,
           lookups: tuple[Path, ...], reach: float, chunk_rows: int, use_dask: bool,
           scheduler: str | None, workers: int | None) -> None:
    """Localiser les points d'un fichier CSV ou Parquet dans les QPV.

    Chaque ligne du fichier est recopiée, dans l'ordre, avec pour chaque génération de
    QPV : le code et le nom du QPV, la qualité (sûr, probable, hors QPV, non couvert), la
    distance au QPV le plus proche, la bande de distance de l'ONPV ; et le code de la
    commune. Une ligne dont les coordonnées sont inutilisables est gardée, avec la raison
    dans la colonne « erreur ».

    Avec --address, les adresses sont d'abord géocodées par addok (la BAN ou un addok
    local) : l'adresse trouvée, son score et sa qualité (bon, incertain, introuvable)
    précèdent les colonnes QPV ; une adresse incertaine n'est pas localisée.

    Exemple : cohesion qpv locate ventes.csv -o ventes_qpv.csv --lon longitude --lat
    latitude ; en Lambert-93 : --x X --y Y --crs EPSG:2154 ; des adresses : --address
    voie --address code_postal --address commune --geocoder http://127.0.0.1:7878.
    """
    if (scheduler or workers) and not use_dask:
        raise click.UsageError("--scheduler et --workers vont avec --dask")
    if addresses and use_dask:
        raise click.UsageError("les adresses se géocodent sans Dask : retirer --dask")
    if geocoder and not addresses:
        raise click.UsageError("--geocoder va avec --address")
    columns = PointColumns(lon=lon, lat=lat, x=x_column, y=y_column, crs=crs,
                           addresses=addresses, field_names={
                               "lon": "--lon", "lat": "--lat", "x": "--x", "y": "--y",
                               "crs": "--crs", "addresses": "--address"})
    source = InputFile.open(file)
    with observatory(ctx) as core:
        service = core.qpv
        if geocoder:
            service.use_geocoder(AddokGeocoder(geocoder))
        index = service.index([int(g) for g in generations], vintage, lookups, reach)
    source.check_columns(columns, index)
    total = source.count_rows()
    # stopped by SIGTERM as by Ctrl-C: no half-written output, no Dask worker left behind
    with interrupted_by_signals(), bar.Progress(
            TextColumn("Localisation"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
            TimeElapsedColumn(), TimeRemainingColumn(), console=errors) as progress:
        task = progress.add_task("lignes", total=total)

        def advance(rows: int) -> None:
            progress.update(task, completed=rows)

        if use_dask:
            summary = _locate_on_dask(index, source, output, columns, tolerance, scheduler,
                                      workers, advance)
        else:
            summary = service.locate_file(source, output, columns, index, tolerance,
                                          min_score, chunk_rows, advance)
        progress.update(task, total=summary.rows, completed=summary.rows)
    for line in summary_lines(summary, index.generations):
        console.print(line, highlight=False, soft_wrap=True)


def _locate_on_dask(index: QpvIndex, source: InputFile, output: Path, columns: PointColumns,
                    tolerance: float, scheduler: str | None, workers: int | None,
                    advance: Progress) -> BatchSummary:
    """Run the batch on an existing Dask cluster, or on a local one."""
    from distributed import Client

    from cohesion.geo.distributed import local_client, locate_file_distributed

    if scheduler:
        with Client(scheduler) as client:
            return locate_file_distributed(index, source, output, columns, client, tolerance,
                                           progress=advance)
    with local_client(workers) as client:
        return locate_file_distributed(index, source, output, columns, client, tolerance,
                                       progress=advance)


def summary_lines(summary: BatchSummary, generations: tuple[int, ...]) -> list[str]:
    """The summary of a batch, in French, one line per generation.

    The share in a QPV is that of the covered rows (in a QPV or « hors QPV »); a second
    line per generation gives the rows by ONPV band (nearest first, the bands having
    rows), a third how many rows were not covered, and why.

    Examples
    --------
    >>> summary = BatchSummary(Path("sortie.csv"), rows=800, errors=3, inside={2024: 200},
    ...     qualities={2024: {"sûr": 190, "probable": 15, "hors QPV": 395, "non couvert": 197}},
    ...     bands={2024: {"dans un QPV": 200, "< 300 m": 120, "< 500 m": 0, "< 1 km": 80,
    ...                   "commune avec QPV": 150, "ailleurs": 50}},
    ...     not_covered={2024: {"93": 12, "75": 185}})
    >>> for line in summary_lines(summary, (2024,)):
    ...     print(line)
    800 lignes écrites dans sortie.csv, dont 3 en erreur (colonne « erreur »)
    QPV 2024 : 200 lignes dans un QPV (33,3 % des 600 lignes couvertes) ; sûr 190,
    probable 15, hors QPV 395
    QPV 2024 : bandes ONPV : dans un QPV 200, < 300 m 120, < 1 km 80, commune avec QPV 150,
    ailleurs 50
    QPV 2024 : 197 lignes non couvertes (contours 2024 non chargés pour les départements 75, 93)
    """
    lines = [f"{rows(summary.rows)} écrite{'s' if summary.rows > 1 else ''} dans "
             f"{summary.output}, dont {number(summary.errors)} en erreur (colonne « erreur »)"]
    for g in generations:
        counts = summary.qualities.get(g, {})
        share = f"{100 * summary.share_inside(g):.1f}".replace(".", ",")
        covered = summary.covered(g)
        details = ", ".join(f"{quality} {number(counts.get(quality, 0))}"
                            for quality in QUALITIES[:-1] if counts.get(quality, 0))
        lines.append(f"QPV {g} : {rows(summary.inside.get(g, 0))} dans un QPV ({share} % des "
                     f"{rows(covered)} couverte{'s' if covered > 1 else ''})"
                     + (f" ; {details}" if details else ""))
        bands = summary.bands.get(g, {})
        if any(bands.values()):
            lines.append(f"QPV {g} : bandes ONPV : " + ", ".join(
                f"{band} {number(bands[band])}" for band in BANDS if bands.get(band, 0)))
        departements = summary.not_covered.get(g, {})
        if departements:
            uncovered = sum(departements.values())
            lines.append(f"QPV {g} : {rows(uncovered)} non couverte"
                         f"{'s' if uncovered > 1 else ''} "
                         f"({not_covered_reason(g, departements)})")
    if summary.geocoding:
        lines.append("Géocodage : " + ", ".join(
            f"{quality} {number(summary.geocoding.get(quality, 0))}"
            for quality in GEOCODING_QUALITIES))
    return lines
