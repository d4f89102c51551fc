"""``cohesion policies``: the money of the politique de la ville, where it goes and to whom.

Each command parses its options and asks the core (:attr:`cohesion.core.Observatory.
policies`), like the web pages « Politique de la ville » and their API.
"""

from __future__ import annotations

from pathlib import Path

import click

from cohesion.cli.main import main, observatory
from cohesion.cli.output import console, figure, print_frame, print_notes, write_csv

#: The columns printed by ``funding`` when none is asked: the money per inhabitant.
PER_INHABITANT = "_par_habitant"
LEVEL = click.Choice(["CV", "EPCI", "DEP", "REG", "FRA"])
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
    """Les financements d'un territoire (DEP:13, CV:CN…, EPCI:…) par dispositif et année."""
    import pandas as pd

    with observatory(ctx) as core:
        document = core.policies.territory_summary(territory, year, limit)
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
    write_csv(dispositifs, output)
