"""``cohesion policies``: the money of the politique de la ville, where it goes and to whom.

Each command parses its options and asks the core (:attr:`cohesion.core.Observatory.
policies`), like the web pages « Politique de la ville » and their API.
"""

from __future__ import annotations

from pathlib import Path

import click

from cohesion.cli.main import main, observatory
from cohesion.cli.output import (
    console,
    figure,
    print_frame,
    print_notes,
    steps_progress,
    write_csv,
)

#: The columns printed by ``funding`` when none is asked: the money per inhabitant.
PER_INHABITANT = "_par_habitant"
LEVEL = click.Choice(["CV", "EPCI", "DEP", "REG", "FRA"])
#: The programme zonings (cohesion.core.policies.PROGRAMME_ZONINGS, kept here as text so
#: that the command line does not import pandas to list its choices).
ZONING = click.Choice(["ACV", "PVD", "FS", "TI"])
OUTPUT = click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
                      help="Écrire le tableau complet en CSV.")


@main.group()
def policies() -> None:
    """Politique de la ville : financements par territoire, besoins et bénéficiaires."""


@policies.command("funding")
@click.option("--level", type=LEVEL, default="DEP", show_default=True, help="Échelon.")
@click.option("--year", type=click.IntRange(2000, 2100), required=True,
              help="Année du financement.")
@click.option("--indicator", "indicators", multiple=True,
              help="Indicateur à afficher (répétable ; défaut : les montants par habitant).")
@OUTPUT
@click.pass_context
def funding_command(ctx: click.Context, level: str, year: int, indicators: tuple[str, ...],
                    output: Path | None) -> None:
    """Les indicateurs de financement d'un échelon pour une année."""
    with observatory(ctx) as core:
        table = core.policies.funding_indicators(level, year)
    shown = list(indicators) or [c for c in table.columns if c.endswith(PER_INHABITANT)]
    missing = [c for c in shown if c not in table.columns]
    if missing:
        raise click.BadParameter(f"aucune valeur en {year} pour {', '.join(missing)}",
                                 param_hint="--indicator")
    print_frame(table[["code", "nom", *shown]], f"Financements {year} ({level})", limit=500)
    described = table.attrs.get("indicators", {})
    print_notes([n for c in shown for n in described.get(c, {}).get("notes", [])])
    write_csv(table, output)


@policies.command("needs")
@click.option("--level", type=LEVEL, default="DEP", show_default=True, help="Échelon.")
@click.option("--year", type=click.IntRange(2000, 2100), required=True,
              help="Année du financement.")
@click.option("--need", default="part_personnes_pauvres", show_default=True,
              help="Indicateur du besoin.")
@click.option("--funding", default="montant_adultes_relais_par_habitant", show_default=True,
              help="Financement rapporté (par habitant…).")
@OUTPUT
@click.pass_context
def needs_command(ctx: click.Context, level: str, year: int, need: str, funding: str,
                  output: Path | None) -> None:
    """Où va l'argent par rapport aux besoins : indice de concentration et quadrants."""
    import pandas as pd

    with observatory(ctx) as core:
        found = core.policies.needs_vs_funding(year, level, need, funding)
        table = core.policies.needs_vs_funding_table(year, level, need, funding)
    console.print(f"{found['funding']['label']} ({found['funding']['period']}) selon "
                  f"{found['need']['label']} ({found['need']['period']}), {level} : indice de "
                  f"concentration {figure(found['concentration_index'])} sur "
                  f"{found['territoires_comptes']} territoires", highlight=False)
    print_frame(pd.DataFrame(found["quadrants"]), "Quadrants")
    for quadrant in ("besoins_eleves_financement_faible", "besoins_faibles_financement_eleve"):
        chosen = table[table["quadrant"] == quadrant]
        title = chosen["quadrant_libelle"].iloc[0] if len(chosen) else quadrant
        print_frame(chosen[["code", "nom", "besoin", "financement"]], title, limit=25)
    print_notes(found["notes"])
    write_csv(table, output)


@policies.command("territory")
@click.argument("territory")
@click.option("--year", type=click.IntRange(2000, 2100),
              help="Année des bénéficiaires (défaut : la plus récente).")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True,
              help="Nombre de bénéficiaires.")
@OUTPUT
@click.pass_context
def territory_command(ctx: click.Context, territory: str, year: int | None, limit: int,
                      output: Path | None) -> None:
    """Les financements d'un territoire (DEP:13, CV:CN…, EPCI:…) par dispositif et année.

    Pour un contrat de ville (CV:…), aussi ses QPV, ses EPCI, ses communes et ses QPV
    comparés au reste de son territoire.
    """
    import pandas as pd

    contrat = territory.upper().startswith("CV:")
    with observatory(ctx) as core, steps_progress("financements") as step:
        step("contrat de ville" if contrat else "territoire")
        document = (core.policies.contrat_de_ville(territory, year, limit) if contrat
                    else core.policies.territory_summary(territory, year, limit))
    dispositifs = pd.DataFrame(document["dispositifs"])
    name = document["territory"]
    console.print(f"{name['name']} ({name['id']})", highlight=False)
    if dispositifs.empty:
        console.print("aucun financement attaché à ce territoire")
    else:
        print_frame(dispositifs.drop(columns=["libelle"]), "Par dispositif et année",
                    limit=200)
    print_frame(pd.DataFrame(document["beneficiaries"]["rows"]),
                f"Principaux bénéficiaires en {document['year']}")
    print_frame(pd.DataFrame([{"indicateur": i["id"], "valeur": i["value"]}
                              for i in document["indicators"] if i["value"] is not None]),
                f"Indicateurs de financement en {document['year']}")
    if contrat:
        console.print(f"{len(document['communes'])} communes, "
                      f"{figure(document['population'])} habitants ; EPCI : "
                      + ", ".join(f"{e['nom']} ({e['code']})" for e in document["epci"]),
                      highlight=False)
        print_frame(pd.DataFrame(document["qpv"], columns=[
            "code", "nom", "generation", "communes", "population"]), "Quartiers prioritaires",
            limit=200)
        print_frame(pd.DataFrame(document["comparison"]).drop(columns=["libelle"]),
                    "Dans les QPV et hors QPV (rapports de sommes)")
    write_csv(dispositifs, output)


@policies.command("evolution")
@click.option("--level", type=LEVEL, default="DEP", show_default=True, help="Échelon.")
@click.option("--indicator", default="montant_adultes_relais_par_habitant", show_default=True,
              help="Indicateur de financement.")
@click.option("--start", type=click.IntRange(2000, 2100), default=2020, show_default=True,
              help="Première année.")
@click.option("--end", type=click.IntRange(2000, 2100), default=2025, show_default=True,
              help="Dernière année.")
@OUTPUT
@click.pass_context
def evolution_command(ctx: click.Context, level: str, indicator: str, start: int, end: int,
                      output: Path | None) -> None:
    """Comment un indicateur de financement a évolué entre deux années, par territoire."""
    with observatory(ctx) as core, steps_progress("évolution") as step:
        step(f"{indicator}, {level}, {start}-{end}")
        table = core.policies.evolution(indicator, level, start, end)
    shown = table.assign(ordre=table["evolution"].abs()).sort_values(
        ["ordre", "code"], ascending=[False, True], na_position="last").drop(columns="ordre")
    print_frame(shown, f"{indicator} de {table.attrs['start']} à {table.attrs['end']} "
                       f"({level})", limit=100)
    print_notes(table.attrs["notes"])
    write_csv(table, output)


@policies.command("zoning")
@click.argument("level", type=ZONING)
@OUTPUT
@click.pass_context
def zoning_command(ctx: click.Context, level: str, output: Path | None) -> None:
    """Un zonage de programme (ACV, PVD, FS, TI) : communes, population, indicateurs.

    Le fichier -o reçoit les communes (code, nom, zones, population légale).
    """
    import pandas as pd

    with observatory(ctx) as core, steps_progress(f"zonage {level}") as step:
        step("population")
        summary = core.policies.zoning_summary(level)
        step("communes")
        communes = core.policies.zoning_communes(level)
    console.print(f"{summary['label']} : {summary['communes']} communes dans "
                  f"{summary['zones']} zones, {figure(summary['population'])} habitants, "
                  f"{figure(100 * summary['part_population'])} % de la population de la France "
                  f"({figure(summary['population_france'])}, géographie {summary['vintage']})",
                  highlight=False)
    print_frame(pd.DataFrame(summary["comparison"]).drop(columns=["libelle"]),
                "Face au reste de la France (rapports de sommes)")
    print_frame(communes.sort_values("population", ascending=False), "Communes les plus "
                "peuplées", limit=20)
    write_csv(communes, output)


@policies.command("passage")
@OUTPUT
@click.pass_context
def passage_command(ctx: click.Context, output: Path | None) -> None:
    """Le passage des contrats de ville 2015 (CV…) aux contrats 2024 (C…/CN…).

    Chaque contrat 2015 passe aux contrats 2024 qui ont repris ses communes, pondéré par
    la population légale des communes partagées. Le fichier -o reçoit toute la table.
    """
    with observatory(ctx) as core, steps_progress("passage des contrats de ville") as step:
        step("communes partagées")
        table = core.policies.contrats_passage()
    whole = table.groupby("from_code")["to_code"].count()
    console.print(f"{len(whole)} contrats 2015 (géographie {table.attrs['vintage']}) : "
                  f"{int((whole == 1).sum())} passent entiers à un contrat 2024, "
                  f"{int((whole > 1).sum())} sont partagés, {int((whole == 0).sum())} "
                  "sans successeur", highlight=False)
    print_frame(table, "Passage", limit=20)
    write_csv(table, output)
