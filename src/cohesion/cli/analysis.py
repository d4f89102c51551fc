"""``cohesion analysis``: inequality, spatial autocorrelation, typology, baromètre.

Each command parses its options, asks the core (:attr:`cohesion.core.Observatory.
analyses`, :attr:`~cohesion.core.Observatory.barometre`) — the same checks, period and
weight rules and computations as the API — prints the result and optionally writes its
tables in CSV. The limits of a request are those of the command line
(:data:`cohesion.core.analyses.COMMAND_LINE_LIMITS`), wider than a server's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cohesion.cli.main import main, observatory
from cohesion.cli.output import console, figure, print_frame, print_notes, write_csv

if TYPE_CHECKING:
    import pandas as pd


@contextmanager
def analyses(ctx: click.Context) -> Iterator[Any]:
    """The core's analyses with the command line's limits."""
    from cohesion.core.analyses import COMMAND_LINE_LIMITS

    with observatory(ctx) as core:
        core.analyses.limits = COMMAND_LINE_LIMITS
        yield core.analyses


@main.group()
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
@click.option("--weight-period", help="Période de la pondération (défaut : celle de la "
              "valeur, sinon la plus proche qui la précède).")
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
    import pandas as pd

    with analyses(ctx) as service:
        result = service.inequality_result(
            indicator, level.upper(), vintage, period, within,
            partition_level.upper() if partition_level else None, weight, False,
            weight_period)
    document = result.document
    measures = result.tables["measures"]
    print_frame(pd.DataFrame({"Mesure": measures["label"],
                              "Valeur": measures["value"].map(figure),
                              "Remarque": measures["note"].fillna("")}),
                f"{indicator} — {document['level']} — COG {document['vintage']} — période "
                f"{document['period']}", limit=100)
    if "groups" in result.tables:
        groups = result.tables["groups"]
        print_frame(groups.assign(**{c: groups[c].map(figure) for c in groups.columns[2:]}),
                    f"Groupes ({document['partition']['level']}) — indice de Theil T",
                    limit=200)
        write_csv(groups, groups_output)
    print_notes(document["notes"])
    write_csv(measures, output)


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
    import pandas as pd

    from cohesion.analysis.spatial import CLUSTER_LABELS

    with analyses(ctx) as service:
        result = service.lisa_result(indicator, level.upper(), vintage, period, within,
                                     contiguity, permutations, alpha, seed)
    document, moran = result.document, result.document["moran"]
    title = (f"{indicator} — {document['level']} — COG {document['vintage']} — période "
             f"{document['period']}")
    figures = [
        ("I de Moran", moran["statistic"]), ("Espérance E[I]", moran["expected"]),
        ("z (randomisation)", moran["z_randomisation"]),
        ("p-valeur (randomisation)", moran["p_randomisation"]),
        (f"p-valeur ({permutations} permutations)", moran["p_permutation"]),
        ("Territoires analysés", moran["n"])]
    figures += [(f"Exclus : {CLUSTER_LABELS[reason]}", count)
                for reason, count in moran["excluded"].items()]
    print_frame(pd.DataFrame({"Mesure": [f[0] for f in figures],
                              "Valeur": [figure(f[1]) for f in figures]}), title)
    print_frame(pd.DataFrame({"Groupe": [c["label"] for c in document["clusters"]],
                              "Territoires": [c["count"] for c in document["clusters"]]}),
                f"Indicateurs locaux (LISA), seuil {alpha:g} après correction FDR")
    print_notes(document["notes"])
    write_csv(result.tables["territories"], output)


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
    if len(set(indicators)) < 2:
        raise click.BadParameter("au moins deux indicateurs distincts",
                                 param_hint="INDICATORS")
    with analyses(ctx) as service:
        result = service.typology_result([(i, period) for i in dict.fromkeys(indicators)],
                                         n_classes, level.upper(), vintage, within,
                                         bootstrap, seed, components)
    document = result.document
    console.print(f"Typologie de {document['n']} territoires ({document['level']}, COG "
                  f"{document['vintage']}) en {n_classes} classes ; "
                  f"{document['n_excluded']} territoires sans toutes les valeurs laissés de "
                  "côté.")
    print_typology(document, bootstrap)
    write_csv(result.tables["territories"], output)


@analysis.command("qpv-typology")
@click.option("--classes", "n_classes", type=click.IntRange(2, 50), default=4,
              show_default=True, help="Nombre de classes.")
@click.option("--generation", type=click.IntRange(2015, 2100), help="Génération des QPV "
              "(défaut : celle de la déclaration, 2015).")
@click.option("--bootstrap", type=click.IntRange(0, 1000), default=20, show_default=True,
              help="Rééchantillonnages pour mesurer la stabilité des classes.")
@seed_option
@output_option
@click.pass_context
def qpv_typology_command(ctx: click.Context, n_classes: int, generation: int | None,
                         bootstrap: int, seed: int, output: Path | None) -> None:
    """Typologie des QPV sur les trois piliers des contrats de ville (à la manière de l'ONPV).

    Un indice par pilier (cohésion sociale, cadre de vie, emploi), tiré des statistiques
    importées pour les QPV (déclaration : cohesion/policies/qpv_typology.yaml), puis la
    même typologie (ACP, Ward, k-means) que `cohesion analysis typology`.
    """
    with analyses(ctx) as service:
        result = service.qpv_typology_result(n_classes, generation, bootstrap, seed)
    document = result.document
    console.print(f"Typologie de {document['n']} QPV (génération {document['vintage']}) en "
                  f"{n_classes} classes ; {document['n_excluded']} QPV sans toutes les "
                  "valeurs laissés de côté.")
    for pillar in document["pillars"]:
        console.print(f"{pillar['label']} : " + ", ".join(
            f"{i['id']} ({'+' if i['direction'] > 0 else '−'})" for i in pillar["indicators"]))
    print_typology(document, bootstrap)
    write_csv(result.tables["territories"], output)


def print_typology(document: dict[str, Any], bootstrap: int) -> None:
    """Print the classes of a typology: sizes, stability, profiles, paragons, notes."""
    import pandas as pd

    console.print("Indicateurs : " + ", ".join(f"{i['id']} ({i['period']})"
                                              for i in document["indicators"]))
    console.print("Part de l'inertie entre classes : "
                  f"{figure(document['between_inertia_share'])}")
    sizes = document["sizes"]
    overview = pd.DataFrame({"Classe": [int(k) for k in sizes],
                             "Territoires": list(sizes.values())})
    stability = document["stability"]
    if stability is not None:
        console.print(f"Stabilité ({bootstrap} rééchantillonnages) : indice de Rand ajusté "
                      f"moyen {figure(stability['mean_adjusted_rand'])}")
        overview["Jaccard moyen"] = [figure(stability["class_jaccard"].get(str(k)))
                                     for k in overview["Classe"]]
    profiles = pd.DataFrame(document["profiles"]).assign(
        strength=lambda f: f["v_test"].abs()).sort_values(["class", "strength"],
                                                          ascending=[True, False])
    top = profiles.groupby("class").head(4).groupby("class").apply(
        lambda rows: ", ".join(f"{'+' if v > 0 else '−'} {i}"
                               for i, v in zip(rows["indicator"], rows["v_test"], strict=True)),
        include_groups=False)
    overview["Indicateurs caractéristiques"] = overview["Classe"].map(top).fillna("")
    ranked = pd.DataFrame(document["paragons"]).sort_values(["class", "rank"])
    paragons = ranked.groupby("class").apply(
        lambda rows: ", ".join(f"{n} ({c})" for n, c in
                               zip(rows["name"][:3], rows["code"][:3], strict=True)),
        include_groups=False)
    overview["Parangons"] = overview["Classe"].map(paragons)
    print_frame(overview, "Classes")
    print_notes(document["notes"])


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
    import pandas as pd

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
    import pandas as pd

    from cohesion.analysis.barometre_data import NOT_LOADED

    with observatory(ctx) as core:
        barometre = core.barometre.barometre
        if territory is None:
            loaded_ids = core.barometre.loaded()
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
        result = core.barometre.territory(territory)
    table = result.to_frame()
    console.print(f"[bold]{result.name}[/] ({result.territory})")
    for factor in barometre.factors:
        part = table[table["facteur"] == factor.id]
        print_frame(pd.DataFrame({
            "Indicateur": part["libelle"],
            "Valeur": [figure(v) for v in part["valeur"]],
            "Période": part["periode"].fillna(""),
            "France": [figure(v) for v in part["france"]],
            "Évolution": [figure(v) for v in part["evolution"]],
            "Rang": [f"{int(r)} / {int(n)}" if pd.notna(r) else "—"
                     for r, n in zip(part["rang"], part["sur"], strict=True)],
            "Décile": [str(int(d)) if pd.notna(d) else "—" for d in part["decile"]],
            "Échelon / remarque": [r if isinstance(r, str) else (e or "") for r, e in
                                   zip(part["remarque"], part["echelon"], strict=True)]}),
            factor.label, limit=100)
    scores = result.scores_frame()
    print_frame(pd.DataFrame({
        "Facteur": scores["libelle"], "Score (0-100)": [figure(v) for v in scores["score"]],
        "Rang": [f"{int(r)} / {int(n)}" if pd.notna(r) else "—"
                 for r, n in zip(scores["rang"], scores["sur"], strict=True)],
        "Intervalle de rangs (90 %)": [f"{int(a)} – {int(b)}" if pd.notna(a) else "—"
                                       for a, b in zip(scores["rang_bas"], scores["rang_haut"],
                                                       strict=True)],
        "Indicateurs": scores["indicateurs"], "Remarque": scores["remarque"]}),
        f"Scores de facteur ({result.score_level})")
    for note in result.notes:
        console.print(f"  • {note}")
    write_csv(table, output)
    write_csv(scores, scores_output)


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
    import pandas as pd

    with observatory(ctx) as core:
        sheet = core.barometre.fact_sheet(indicator, level and level.upper(),
                                          tuple(exclude_regions))
    series = sheet.series
    figures = fact_sheet_frame(sheet)
    title = (f"{series.indicator.label} ({series.indicator.unit}) — {series.level_label}")
    print_frame(figures.assign(valeur_initiale=figures["valeur_initiale"].map(
        lambda v: v if isinstance(v, str) else figure(v)), valeur_finale=figures[
        "valeur_finale"].map(lambda v: v if isinstance(v, str) else figure(v))), title,
        limit=100)
    console.print(f"Source : {series.source}")
    if sheet.n_dropped:
        console.print(f"  • {sheet.n_dropped} territoires n'ont de valeur qu'à une date : "
                      "laissés de côté aux deux dates")
    if sheet.convergence is not None and sheet.convergence.beta is not None:
        beta = sheet.convergence.beta
        dispersion = sheet.convergence.sigma.dispersion
        console.print(f"  • convergence bêta : pente {figure(beta.beta)} "
                      f"(p = {figure(beta.p_value)}) ; coefficient de variation "
                      f"{figure(dispersion.iloc[0])} → {figure(dispersion.iloc[-1])}")
    ranking = sheet.ranking
    shown = pd.concat([ranking.head(limit), ranking.dropna(subset=["rank"]).tail(limit)]
                      ).drop_duplicates("code") if limit else ranking.head(0)
    print_frame(shown.assign(value=shown["value"].map(figure),
                             first_value=shown["first_value"].map(figure),
                             change=shown["change"].map(figure)),
                f"Classement ({len(ranking)} territoires, du plus favorable)", limit=2 * limit)
    write_csv(ranking, output)
    write_csv(figures, figures_output)


@analysis.command("fiches")
@output_option
@click.pass_context
def fiches_command(ctx: click.Context, output: Path | None) -> None:
    """Fiches de convergence de tous les indicateurs du baromètre, en une table.

    Pour chaque indicateur : l'échelon du tableau publié, les deux dates, le rapport
    interdécile D9/D1 à chacune et son évolution, l'écart entre régions extrêmes, la
    convergence sigma ; « source non chargée » pour les autres.
    """
    import pandas as pd

    with observatory(ctx) as core:
        summary = core.barometre.fact_sheets()
    shown = summary.copy()
    for column in ("d9_d1_initial", "d9_d1_final", "evolution_d9_d1", "d9_moins_d1_initial",
                   "d9_moins_d1_final", "ecart_regions_initial", "ecart_regions_final"):
        if column in shown:
            shown[column] = shown[column].map(figure)
    shown["convergence_sigma"] = shown.get("convergence_sigma", pd.Series(dtype=object)).map(
        {True: "oui", False: "non"}).fillna("—")
    print_frame(shown.drop(columns=["libelle"]).fillna("—"),
                "Baromètre de la cohésion des territoires — fiches de convergence", limit=100)
    write_csv(summary, output)
