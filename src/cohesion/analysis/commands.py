"""The ``cohesion analysis`` commands: inequality, spatial autocorrelation, typology.

This is the edge where the warehouse meets the pure functions of
:mod:`cohesion.analysis`: each command reads indicator values through
:class:`~cohesion.indicators.engine.IndicatorEngine` (and contours, memberships, names),
calls one analysis function, prints tables and optionally writes CSV. The group is
mounted on the main command line with ``main.add_command(analysis)`` and takes the
warehouse path from the context, as every ``cohesion`` command. The helpers of
:mod:`cohesion.cli` are imported inside the commands, so that ``cli.py`` can import this
module (to mount the group) whichever of the two is imported first.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import pandas as pd

from cohesion.analysis.partitions import GROUP_COLUMNS, MEASURE_LABELS, read_partition
from cohesion.store.warehouse import Warehouse

#: French column names of the local Moran table.
CLUSTER_COLUMNS = {"value": "valeur", "z": "valeur_centree_reduite",
                   "lag": "moyenne_voisins", "statistic": "moran_local",
                   "expectation": "esperance", "variance": "variance",
                   "p_value": "p_permutation", "q_value": "q_fdr", "quadrant": "quadrant",
                   "significant": "significatif", "cluster": "groupe"}


def _figure(value: object) -> str:
    """A figure with four significant digits (Theil indices are often below 0.01)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    number = float(value)
    if number.is_integer() or abs(number) >= 1000:
        return f"{number:,.0f}".replace(",", "\u202f")
    return f"{number:.4g}"


def _parse_within(within: str | None) -> tuple[str, str] | None:
    from cohesion.territory.ids import TerritoryId

    if not within:
        return None
    parsed = TerritoryId.parse(within)
    return parsed.level, parsed.code


def _names(warehouse: Warehouse, level: str, vintage: int) -> pd.Series:
    names = warehouse.query("SELECT code, name FROM territories WHERE level = ? AND vintage = ?",
                            [level, vintage])
    return names.set_index("code")["name"]


def _indicator(warehouse: Warehouse, indicator: str, level: str, vintage: int,
               period: str | None, within: tuple[str, str] | None
               ) -> tuple[pd.Series, str, list[str]]:
    """Values of one indicator by territory code, the period used and the engine's notes."""
    from cohesion.indicators.engine import IndicatorEngine

    result = IndicatorEngine(warehouse).values(indicator, level, vintage, period, within)
    return result.frame.set_index("code")["value"].astype(float), result.period, result.notes


def _write_csv(frame: pd.DataFrame, output: Path | None) -> None:
    from cohesion.cli import console

    if output is not None:
        frame.to_csv(output, index=False)
        console.print(f"{len(frame)} lignes écrites dans {output}")


@click.group()
def analysis() -> None:
    """Analyses : inégalités, autocorrélation spatiale, typologies, baromètre."""


level_option = click.option("--level", default="COM", show_default=True,
                            help="Échelon des territoires : COM, EPCI, DEP, REG…")
vintage_option = click.option("--vintage", type=int,
                              help="Millésime du COG (défaut : le plus récent).")
period_option = click.option("--period", help="Période (défaut : la plus récente disponible).")
within_option = click.option("--within", help="Seulement dans ce territoire (ex. REG:84@2021).")
seed_option = click.option("--seed", type=int, default=0, show_default=True,
                           help="Graine des tirages aléatoires (résultats reproductibles).")
output_option = click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
                             help="Écrire le résultat en CSV.")


# -- inequality -------------------------------------------------------------------------


@analysis.command("inequality")
@click.argument("indicator")
@level_option
@vintage_option
@period_option
@within_option
@click.option("--partition", "partition_level",
              help="Décomposer les indices de Theil entre et dans les territoires de cet "
              "échelon (ex. DEP, REG).")
@click.option("--weight", help="Pondérer par cet indicateur (ex. population).")
@click.option("--weight-period", help="Période de la pondération (défaut : la plus récente).")
@output_option
@click.option("--groups-output", type=click.Path(dir_okay=False, path_type=Path),
              help="Écrire en CSV le tableau des groupes de la partition.")
@click.pass_context
def inequality_command(ctx: click.Context, indicator: str, level: str, vintage: int | None,
                       period: str | None, within: str | None, partition_level: str | None,
                       weight: str | None, weight_period: str | None, output: Path | None,
                       groups_output: Path | None) -> None:
    """Mesures d'inégalité entre territoires d'un indicateur.

    Rapport interdécile, coefficient de variation, indices de Gini, de Theil (T et L,
    décomposés entre et dans les groupes d'une partition) et d'Atkinson, rapport
    max / min.
    """
    from cohesion.analysis.inequality import inequality_summary
    from cohesion.cli import console, opened, print_frame

    level = level.upper()
    notes: list[str] = []
    with opened(ctx, read_only=True) as warehouse:
        chosen_vintage = vintage or warehouse.vintages()[-1]
        parent = _parse_within(within)
        values, used_period, engine_notes = _indicator(warehouse, indicator, level,
                                                       chosen_vintage, period, parent)
        notes += engine_notes
        weights = None
        if weight:
            weights, used_weight_period, weight_notes = _indicator(
                warehouse, weight, level, chosen_vintage, weight_period, parent)
            weights = weights.reindex(values.index)
            notes += weight_notes
            notes.append(f"pondération : {weight} ({used_weight_period})")
        partition = None
        if partition_level:
            parts, partition_note = read_partition(warehouse, level, partition_level.upper(),
                                                   chosen_vintage)
            partition = parts.reindex(values.index)
            ungrouped = partition.isna() & values.notna()
            if ungrouped.any():
                notes.append(f"{int(ungrouped.sum())} territoires sans {partition_level} "
                             "laissés de côté")
                values = values.mask(ungrouped)
            if partition_note:
                notes.append(partition_note)
            group_names = _names(warehouse, partition_level.upper(), chosen_vintage)
    summary = inequality_summary(values, weights, partition)
    table = summary.to_frame()
    table.insert(1, "label", table["measure"].map(MEASURE_LABELS).fillna(
        table["measure"].str.replace("atkinson_", "Indice d'Atkinson, ε = ")))
    print_frame(pd.DataFrame({"Mesure": table["label"], "Valeur": table["value"].map(_figure),
                              "Remarque": table["note"].fillna("")}),
                f"{indicator} — {level} — COG {chosen_vintage} — période {used_period}",
                limit=100)
    if summary.theil_t.groups is not None:
        groups = summary.theil_t.groups.rename(columns=GROUP_COLUMNS)
        groups.insert(1, "nom", groups["code"].map(group_names))
        print_frame(groups.assign(**{c: groups[c].map(_figure) for c in groups.columns[2:]}),
                    f"Groupes ({partition_level.upper()}) — indice de Theil T", limit=200)
        _write_csv(groups, groups_output)
    for note in notes:
        console.print(f"  • {note}")
    _write_csv(table, output)


# -- Moran ------------------------------------------------------------------------------


@analysis.command("moran")
@click.argument("indicator")
@level_option
@vintage_option
@period_option
@within_option
@click.option("--contiguity", type=click.Choice(["queen", "rook"]), default="queen",
              show_default=True,
              help="Voisins : un point de frontière commun (queen) ou un segment (rook).")
@click.option("--permutations", type=click.IntRange(0, 99999), default=999, show_default=True,
              help="Permutations pour les p-valeurs.")
@seed_option
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.05, show_default=True,
              help="Seuil de significativité (taux de fausses découvertes).")
@output_option
@click.pass_context
def moran_command(ctx: click.Context, indicator: str, level: str, vintage: int | None,
                  period: str | None, within: str | None, contiguity: str,
                  permutations: int, seed: int, alpha: float, output: Path | None) -> None:
    """Autocorrélation spatiale d'un indicateur : I de Moran global et local (LISA).

    Les voisins sont lus sur les contours ; les territoires sans contour, sans voisin
    ou sans valeur sont comptés à part. Les p-valeurs locales sont corrigées par la
    méthode de Benjamini-Hochberg avant d'appeler les groupes (haut-haut, bas-bas…).
    """
    from cohesion.analysis.spatial import CLUSTER_LABELS, contiguity_weights, local_moran, moran
    from cohesion.cli import console, opened, print_frame

    level = level.upper()
    with opened(ctx, read_only=True) as warehouse:
        chosen_vintage = vintage or warehouse.vintages()[-1]
        values, used_period, notes = _indicator(warehouse, indicator, level, chosen_vintage,
                                                period, _parse_within(within))
        contours = warehouse.geometries(level, chosen_vintage, list(values.index))
        names = _names(warehouse, level, chosen_vintage)
    weights = contiguity_weights(contours["geometry"], contours["code"], kind=contiguity)
    global_result = moran(values, weights, permutations=permutations, seed=seed)
    local_result = local_moran(values, weights, permutations=permutations, seed=seed,
                               alpha=alpha)
    title = f"{indicator} — {level} — COG {chosen_vintage} — période {used_period}"
    figures = [
        ("I de Moran", global_result.statistic), ("Espérance E[I]", global_result.expected),
        ("z (randomisation)", global_result.z_randomisation),
        ("p-valeur (randomisation)", global_result.p_randomisation),
        (f"p-valeur ({permutations} permutations)", global_result.p_permutation),
        ("Territoires analysés", global_result.n)]
    figures += [(f"Exclus : {CLUSTER_LABELS[reason]}", len(labels))
                for reason, labels in global_result.excluded.items()]
    print_frame(pd.DataFrame({"Mesure": [f[0] for f in figures],
                              "Valeur": [_figure(f[1]) for f in figures]}), title)
    if global_result.note:
        console.print(f"  • {global_result.note}")
    counts = local_result.counts()
    print_frame(pd.DataFrame({"Groupe": counts.index.map(CLUSTER_LABELS),
                              "Territoires": counts.to_numpy()}),
                f"Indicateurs locaux (LISA), seuil {alpha:g} après correction FDR")
    tests = len(local_result.ids)
    if permutations and not local_result.significant.any() and tests / (permutations + 1) > alpha:
        notes.append(f"avec {permutations} permutations la plus petite p-valeur est "
                     f"1/{permutations + 1} : sur {tests} tests, la correction FDR ne peut rien "
                     "retenir ; augmenter --permutations ou restreindre avec --within")
    for note in notes:
        console.print(f"  • {note}")
    if output is not None:
        frame = local_result.to_frame().rename(columns=CLUSTER_COLUMNS)
        frame.insert(0, "nom", frame.index.map(names))
        _write_csv(frame.rename_axis("code").reset_index(), output)


# -- typology ---------------------------------------------------------------------------


@analysis.command("typology")
@click.argument("indicators", nargs=-1, required=True)
@click.option("--classes", "n_classes", type=click.IntRange(2, 50), required=True,
              help="Nombre de classes.")
@level_option
@vintage_option
@click.option("--period", help="Période de tous les indicateurs (défaut : la plus récente "
              "de chacun).")
@within_option
@click.option("--components", type=click.IntRange(1), help="Axes de l'ACP retenus pour la "
              "classification (défaut : tous).")
@click.option("--bootstrap", type=click.IntRange(0, 1000), default=20, show_default=True,
              help="Rééchantillonnages pour mesurer la stabilité des classes.")
@seed_option
@output_option
@click.pass_context
def typology_command(ctx: click.Context, indicators: tuple[str, ...], n_classes: int,
                     level: str, vintage: int | None, period: str | None, within: str | None,
                     components: int | None, bootstrap: int, seed: int,
                     output: Path | None) -> None:
    """Typologie de territoires : ACP, classification de Ward et consolidation (HCPC).

    Affiche la taille des classes, les indicateurs qui caractérisent chacune (valeurs
    test), leurs parangons et la stabilité des classes par rééchantillonnage.
    """
    from cohesion.analysis.typology import typology
    from cohesion.cli import console, opened, print_frame

    if len(set(indicators)) < 2:
        raise click.BadParameter("au moins deux indicateurs distincts",
                                 param_hint="INDICATORS")
    level = level.upper()
    columns, periods, notes = {}, {}, []
    with opened(ctx, read_only=True) as warehouse:
        chosen_vintage = vintage or warehouse.vintages()[-1]
        parent = _parse_within(within)
        for indicator in dict.fromkeys(indicators):
            columns[indicator], periods[indicator], engine_notes = _indicator(
                warehouse, indicator, level, chosen_vintage, period, parent)
            notes += engine_notes
        names = _names(warehouse, level, chosen_vintage)
    data = pd.DataFrame(columns)
    result = typology(data, n_classes, n_components=components, bootstrap=bootstrap,
                      seed=seed)
    console.print(f"Typologie de {len(result.classes)} territoires ({level}, COG "
                  f"{chosen_vintage}) en {n_classes} classes ; {len(result.excluded)} "
                  "territoires sans toutes les valeurs laissés de côté.")
    console.print("Indicateurs : " + ", ".join(f"{i} ({p})" for i, p in periods.items()))
    console.print(f"Part de l'inertie entre classes : {_figure(result.between_inertia_share)}")
    overview = pd.DataFrame({"Classe": result.sizes.index, "Territoires": result.sizes.to_numpy()})
    if result.stability is not None:
        console.print(f"Stabilité ({bootstrap} rééchantillonnages) : indice de Rand ajusté "
                      f"moyen {_figure(result.stability.mean_adjusted_rand)}")
        overview["Jaccard moyen"] = result.stability.class_jaccard.map(_figure).to_numpy()
    described = result.characteristic().assign(strength=lambda f: f["v_test"].abs())
    top = described.sort_values(["class", "strength"], ascending=[True, False]).groupby(
        "class").head(4)
    overview["Indicateurs caractéristiques"] = overview["Classe"].map(top.groupby("class").apply(
        lambda rows: ", ".join(f"{'+' if v > 0 else '−'} {i}"
                               for i, v in zip(rows["indicator"], rows["v_test"], strict=True)),
        include_groups=False)).fillna("")
    overview["Parangons"] = overview["Classe"].map(result.paragons.groupby("class")["id"].apply(
        lambda ids: ", ".join(f"{names.get(i, i)} ({i})" for i in ids[:3])))
    print_frame(overview, "Classes")
    for note in dict.fromkeys(notes):
        console.print(f"  • {note}")
    if output is not None:
        table = data.loc[result.classes.index].assign(classe=result.classes)
        table.insert(0, "nom", table.index.map(names))
        _write_csv(table.rename_axis("code").reset_index(), output)


# -- baromètre de la cohésion des territoires ------------------------------------------

#: French labels of the rows of a fact sheet.
FACT_SHEET_LABELS = {
    "n": "Territoires", "mean": "Moyenne (non pondérée)", "d1": "1er décile (D1)",
    "d9": "9e décile (D9)", "ratio": "Rapport interdécile D9 / D1",
    "gap": "Écart interdécile D9 − D1", "highest": "Maximum", "lowest": "Minimum",
    "extreme_gap": "Écart maximum − minimum", "extreme_ratio": "Rapport maximum / minimum"}


def _date_rows(figures: object) -> dict[str, object]:
    """The figures of one date of a fact sheet (see :class:`DateFigures`)."""
    if figures is None:
        return dict.fromkeys(FACT_SHEET_LABELS)
    return {"n": figures.n, "mean": figures.mean, "d1": figures.interdecile.d1,
            "d9": figures.interdecile.d9, "ratio": figures.interdecile.ratio,
            "gap": figures.interdecile.gap,
            "highest": f"{figures.extremes.highest_value:g} ({figures.extremes.highest})",
            "lowest": f"{figures.extremes.lowest_value:g} ({figures.extremes.lowest})",
            "extreme_gap": figures.extremes.gap, "extreme_ratio": figures.extremes.ratio}


def fact_sheet_frame(sheet: object) -> pd.DataFrame:
    """A fact sheet as a table: one row per figure, one column per date.

    Rows ``territoires`` (the level's territories) then ``régions`` (the contrast
    between régions) when the régional table is loaded.
    """
    series = sheet.series
    rows = []
    parts = [(series.level_label, sheet.first, sheet.second, series.first_period,
              series.second_period)]
    if sheet.regional is not None and series.level != "REG":
        regional = sheet.regional
        parts.append(("régions", regional.first, regional.second,
                      regional.first.period if regional.first else None,
                      regional.second.period if regional.second else None))
    for scope, first, second, first_period, second_period in parts:
        first_rows, second_rows = _date_rows(first), _date_rows(second)
        for key, label in FACT_SHEET_LABELS.items():
            rows.append({"ensemble": scope, "mesure": label,
                         "periode_initiale": first_period, "valeur_initiale": first_rows[key],
                         "periode_finale": second_period, "valeur_finale": second_rows[key]})
    return pd.DataFrame(rows)


def _data_label(indicator: object) -> str:
    """Where an indicator's values come from, in a few words."""
    parts = []
    table = indicator.table
    if table is not None:
        parts.append(table.file + (f" (apparenté : {table.related_label})"
                                   if table.match == "related" else ""))
    if indicator.catalogue is not None:
        parts.append(f"catalogue : {indicator.catalogue.indicator}")
    return " ; ".join(parts)


@analysis.command("barometre")
@click.argument("territory", required=False)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Écrire en CSV la position du territoire sur chaque indicateur.")
@click.option("--scores-output", type=click.Path(dir_okay=False, path_type=Path),
              help="Écrire en CSV les scores de facteur et leur intervalle de rangs.")
@click.pass_context
def barometre_command(ctx: click.Context, territory: str | None, output: Path | None,
                      scores_output: Path | None) -> None:
    """Baromètre de la cohésion des territoires d'un territoire (ou sa définition).

    Sans TERRITORY : les six facteurs, leurs indicateurs, leur sens et leur source
    (« source non chargée » quand elle n'est pas dans l'entrepôt). Avec TERRITORY (un
    identifiant comme COM:93014@2026, un code ou un nom) : sa valeur sur chaque
    indicateur face à la France, son évolution, son rang et son décile dans son échelon,
    et le score de chaque facteur avec son intervalle de rangs.
    """
    from cohesion.analysis.barometre import load_barometre
    from cohesion.analysis.barometre_data import (
        NOT_LOADED,
        loaded_sources,
        territory_barometre,
    )
    from cohesion.cli import console, opened, print_frame

    barometre = load_barometre()
    with opened(ctx, read_only=True) as warehouse:
        if territory is None:
            loaded_ids = loaded_sources(warehouse, barometre)
            rows = []
            for indicator in barometre.indicators:
                table = indicator.table
                loaded = loaded_ids[indicator.id]
                rows.append({"Facteur": barometre.factor(indicator.factor).label,
                             "Indicateur": indicator.label,
                             "Sens": {"higher_is_better": "↑ favorable",
                                      "lower_is_better": "↓ favorable",
                                      "neutral": "neutre"}[indicator.direction],
                             "Données": _data_label(indicator),
                             "État": "chargé" if loaded else NOT_LOADED})
            print_frame(pd.DataFrame(rows), f"Baromètre de la cohésion des territoires "
                        f"({barometre.producer}, édition {barometre.edition})", limit=100)
            return
        result = territory_barometre(warehouse, territory, barometre)
    table = result.to_frame()
    console.print(f"[bold]{result.name}[/] ({result.territory})")
    for factor in barometre.factors:
        part = table[table["facteur"] == factor.id]
        print_frame(pd.DataFrame({
            "Indicateur": part["libelle"],
            "Valeur": [_figure(v) for v in part["valeur"]],
            "Période": part["periode"].fillna(""),
            "France": [_figure(v) for v in part["france"]],
            "Évolution": [_figure(v) for v in part["evolution"]],
            "Rang": [f"{int(r)} / {int(n)}" if pd.notna(r) else "—"
                     for r, n in zip(part["rang"], part["sur"], strict=True)],
            "Décile": [str(int(d)) if pd.notna(d) else "—" for d in part["decile"]],
            "Échelon / remarque": [r if isinstance(r, str) else (e or "") for r, e in
                                   zip(part["remarque"], part["echelon"], strict=True)]}),
            factor.label, limit=100)
    scores = result.scores_frame()
    print_frame(pd.DataFrame({
        "Facteur": scores["libelle"], "Score (0-100)": [_figure(v) for v in scores["score"]],
        "Rang": [f"{int(r)} / {int(n)}" if pd.notna(r) else "—"
                 for r, n in zip(scores["rang"], scores["sur"], strict=True)],
        "Intervalle de rangs (90 %)": [f"{int(a)} – {int(b)}" if pd.notna(a) else "—"
                                       for a, b in zip(scores["rang_bas"], scores["rang_haut"],
                                                       strict=True)],
        "Indicateurs": scores["indicateurs"], "Remarque": scores["remarque"]}),
        f"Scores de facteur ({result.score_level})")
    for note in result.notes:
        console.print(f"  • {note}")
    _write_csv(table, output)
    _write_csv(scores, scores_output)


@analysis.command("fiche")
@click.argument("indicator")
@click.option("--level", help="Échelon : celui du tableau publié (défaut, ZE, EPCI ou DEP) "
              "ou REG.")
@click.option("--exclude-region", "exclude_regions", multiple=True,
              help="Région laissée de côté dans l'écart entre régions (ex. 03 pour la "
              "Guyane) ; répétable.")
@click.option("--limit", type=click.IntRange(0), default=10, show_default=True,
              help="Territoires affichés en tête et en queue du classement.")
@output_option
@click.option("--figures-output", type=click.Path(dir_okay=False, path_type=Path),
              help="Écrire en CSV les chiffres de la fiche.")
@click.pass_context
def fiche_command(ctx: click.Context, indicator: str, level: str | None,
                  exclude_regions: tuple[str, ...], limit: int, output: Path | None,
                  figures_output: Path | None) -> None:
    """Fiche de convergence d'un indicateur du baromètre et classement d'un échelon.

    Rapport interdécile D9/D1 à chaque date (sur les territoires qui ont une valeur aux
    deux dates, quantiles par interpolation linéaire comme le baromètre), écart entre
    régions extrêmes, convergence sigma et bêta, classement. INDICATOR : identifiant
    (revenu_median_uc), identifiant ANCT (001000) ou du baromètre 2018 (11).
    """
    from cohesion.analysis.barometre_data import fact_sheet
    from cohesion.cli import console, opened, print_frame

    with opened(ctx, read_only=True) as warehouse:
        sheet = fact_sheet(warehouse, indicator, level, regional_exclude=exclude_regions)
    series = sheet.series
    figures = fact_sheet_frame(sheet)
    title = (f"{series.indicator.label} ({series.indicator.unit}) — {series.level_label}")
    print_frame(figures.assign(valeur_initiale=figures["valeur_initiale"].map(
        lambda v: v if isinstance(v, str) else _figure(v)), valeur_finale=figures[
        "valeur_finale"].map(lambda v: v if isinstance(v, str) else _figure(v))), title,
        limit=100)
    console.print(f"Source : {series.source}")
    if sheet.n_dropped:
        console.print(f"  • {sheet.n_dropped} territoires n'ont de valeur qu'à une date : "
                      "laissés de côté aux deux dates")
    if sheet.convergence is not None and sheet.convergence.beta is not None:
        beta = sheet.convergence.beta
        dispersion = sheet.convergence.sigma.dispersion
        console.print(f"  • convergence bêta : pente {_figure(beta.beta)} "
                      f"(p = {_figure(beta.p_value)}) ; coefficient de variation "
                      f"{_figure(dispersion.iloc[0])} → {_figure(dispersion.iloc[-1])}")
    ranking = sheet.ranking
    shown = pd.concat([ranking.head(limit), ranking.dropna(subset=["rank"]).tail(limit)]
                      ).drop_duplicates("code") if limit else ranking.head(0)
    print_frame(shown.assign(value=shown["value"].map(_figure),
                             first_value=shown["first_value"].map(_figure),
                             change=shown["change"].map(_figure)),
                f"Classement ({len(ranking)} territoires, du plus favorable)", limit=2 * limit)
    _write_csv(ranking, output)
    _write_csv(figures, figures_output)


@analysis.command("fiches")
@output_option
@click.pass_context
def fiches_command(ctx: click.Context, output: Path | None) -> None:
    """Fiches de convergence de tous les indicateurs du baromètre, en une table.

    Pour chaque indicateur : l'échelon du tableau publié, les deux dates, le rapport
    interdécile D9/D1 à chacune et son évolution, l'écart entre régions extrêmes, la
    convergence sigma ; « source non chargée » pour les autres.
    """
    from cohesion.analysis.barometre_data import fact_sheet_summary
    from cohesion.cli import opened, print_frame

    with opened(ctx, read_only=True) as warehouse:
        summary = fact_sheet_summary(warehouse)
    shown = summary.copy()
    for column in ("d9_d1_initial", "d9_d1_final", "evolution_d9_d1", "d9_moins_d1_initial",
                   "d9_moins_d1_final", "ecart_regions_initial", "ecart_regions_final"):
        if column in shown:
            shown[column] = shown[column].map(_figure)
    shown["convergence_sigma"] = shown.get("convergence_sigma", pd.Series(dtype=object)).map(
        {True: "oui", False: "non"}).fillna("—")
    print_frame(shown.drop(columns=["libelle"]).fillna("—"),
                "Baromètre de la cohésion des territoires — fiches de convergence", limit=100)
    _write_csv(summary, output)
