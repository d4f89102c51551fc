"""``cohesion access``: accessibility of residents to équipements and services.

Each command parses its options and asks the core (:attr:`cohesion.core.Observatory.
access`), like the web page « Accès aux services » and its API.
"""

from __future__ import annotations

from pathlib import Path

import click

from cohesion.cli.main import main, observatory, settings_of
from cohesion.cli.output import (
    console,
    number,
    print_frame,
    print_notes,
    steps_progress,
    write_csv,
)


def _minutes(text: str) -> tuple[int, ...]:
    try:
        values = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise click.BadParameter(f"attendu des minutes séparées par des virgules, reçu "
                                 f"{text!r}") from None
    if not values:
        raise click.BadParameter("au moins un seuil")
    return values


@main.group()
def access() -> None:
    """Accès aux services : temps d'accès des habitants aux équipements."""


@access.command("compute")
@click.option("--equipment", multiple=True, required=True,
              help="Type d'équipement : code BPE (D201), domaine BPE (D), france_services, "
              "mairie… ; répétable (une mesure par type).")
@click.option("--profile", default="marche", show_default=True,
              help="marche ou voiture.")
@click.option("--network", type=click.Path(exists=True, dir_okay=False,
                                                     path_type=Path),
              help="Réseau OpenStreetMap (.osm.pbf ou .osm). Sans réseau : distance à vol "
              "d'oiseau × détour, déclarée comme telle.")
@click.option("--speed", type=float, help="Vitesse en km/h (marche : 5).")
@click.option("--detour", type=float, default=1.3, show_default=True,
              help="Sans réseau : facteur de détour appliqué au vol d'oiseau.")
@click.option("--thresholds", default="5,10,15,20", show_default=True,
              help="Seuils en minutes des parts de population.")
@click.option("--catchment", type=int, default=15, show_default=True,
              help="Minutes du nombre d'équipements accessibles et de l'aire du 2SFCA.")
@click.option("--limit", type=int, default=60, show_default=True,
              help="Temps maximal calculé, en minutes.")
@click.option("--departements", default="",
              help="Seulement les habitants de ces départements (33,24) ; requis sans réseau.")
@click.option("--communes", default="",
              help="Sans carreaux : les communes dont répartir la population (97701) ; "
              "défaut : celles que le réseau touche.")
@click.option("--vintage", type=int, help="Millésime du COG des communes (défaut : le plus "
              "récent).")
@click.option("--period", help="Période des résultats (défaut : celle des équipements).")
@click.option("--by-departement", is_flag=True,
              help="Calculer département par département (mémoire bornée, mêmes temps).")
@click.option("--dask", metavar="local|ADRESSE",
              help="Calculer les départements sur Dask : un cluster local, ou l'adresse "
              "d'un ordonnanceur (tcp://hôte:8786).")
@click.option("--replace", is_flag=True, help="Remplacer les valeurs d'un calcul précédent.")
@click.pass_context
def compute_command(ctx: click.Context, equipment: tuple[str, ...], profile: str,
                    network: Path | None, speed: float | None, detour: float,
                    thresholds: str, catchment: int, limit: int, departements: str,
                    communes: str, vintage: int | None, period: str | None,
                    by_departement: bool, dask: str | None, replace: bool) -> None:
    """Calculer l'accès des habitants aux équipements et l'enregistrer comme indicateurs.

    Pour chaque habitant (carreau de 200 m Filosofi, ou population communale répartie
    là où il n'y a pas de carreaux), le temps jusqu'à l'équipement le plus proche ;
    puis, par commune, EPCI, département et QPV, la part de la population à moins de
    5, 10, 15, 20 minutes (en QPV et hors QPV), le temps médian, le nombre
    d'équipements accessibles et l'offre 2SFCA.
    """
    from cohesion.access.compute import AccessRequest
    from cohesion.store.sharing import writing

    request = AccessRequest(
        tuple(equipment), profile, network, speed, detour, _minutes(thresholds), catchment,
        limit, tuple(d.strip().upper() for d in departements.split(",") if d.strip()),
        tuple(c.strip().upper() for c in communes.split(",") if c.strip()), vintage, period,
        by_departement, dask)
    settings = settings_of(ctx)
    with observatory(ctx) as core, steps_progress("accessibilité") as step:
        report = core.access.compute(request, replace=replace, progress=step,
                                     writing=lambda: writing(settings.warehouse))
    if report["already_computed"]:
        console.print(f"déjà calculé (jeu {report['dataset_id']}) : rien à écrire")
        return
    console.print(f"jeu {report['dataset_id']} : {number(report['observations'])} valeurs "
                  f"enregistrées ; mesures {', '.join(report['measures'])}")
    print_notes(report["notes"])


@access.command("list")
@click.pass_context
def list_command(ctx: click.Context) -> None:
    """Mesures d'accessibilité calculées."""
    import pandas as pd

    with observatory(ctx) as core:
        measures = core.access.measures()
    if not measures:
        console.print("aucune mesure : `cohesion access compute` en calcule")
        return
    print_frame(pd.DataFrame([{
        "mesure": m["measure"], "équipement": m["equipment_label"],
        "profil": m["profile"], "méthode": m["method"], "réseau": m["network"] or "",
        "origines": m["origins"], "seuils": ",".join(map(str, m["thresholds"])),
        "période": m["period"]} for m in measures]), "Mesures d'accessibilité")


@access.command("types")
@click.pass_context
def types_command(ctx: click.Context) -> None:
    """Types d'équipements présents dans l'entrepôt."""
    import pandas as pd

    with observatory(ctx) as core:
        types = core.access.equipment_types()
    print_frame(pd.DataFrame(types), "Équipements", limit=500)


@access.command("show")
@click.argument("measure")
@click.option("--threshold", type=int, default=15, show_default=True,
              help="Seuil en minutes.")
@click.option("--level", default="COM", show_default=True,
              help="Échelon du tableau : COM, EPCI, DEP, REG, QPV.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Écrire le tableau par territoire en CSV.")
@click.pass_context
def show_command(ctx: click.Context, measure: str, threshold: int, level: str,
                 output: Path | None) -> None:
    """Une mesure : QPV et hors QPV, puis le tableau par territoire."""
    import pandas as pd

    with observatory(ctx) as core:
        entry = core.access.measure(measure)
        zones = core.access.zones(measure, threshold)
        table = core.access.table(measure, level, threshold)
    console.print(f"{entry['equipment_label']} {entry['profile']} — {entry['method']} ; "
                  f"population : {entry['population']}")
    print_frame(pd.DataFrame(zones), f"Habitants à moins de {threshold} min")
    print_frame(table, f"Par territoire ({level})")
    if output is not None:
        write_csv(table, output)


@access.command("bands")
@click.argument("equipment")
@click.option("--generation", type=int, help="Génération des QPV (défaut : la plus récente).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Écrire chaque équipement et sa bande en CSV.")
@click.pass_context
def bands_command(ctx: click.Context, equipment: str, generation: int | None,
                  output: Path | None) -> None:
    """Distance des équipements d'un type aux QPV (dans, < 300 m, < 500 m, < 1 km…)."""
    import pandas as pd

    with observatory(ctx) as core:
        found = core.access.equipment_bands(equipment, generation)
    print_frame(pd.DataFrame(found["bands"]),
                f"{found['count']} équipements {equipment}, QPV {found['generation']}")
    if output is not None:
        write_csv(found["points"], output)
