"""Baromètre de la cohésion: definition vs the ANCT's files, published figures, positions.

The published figures are those of the texts of the 2018 baromètre (CGET, now ANCT),
``data/txt/texte_X_Y.txt`` of the repository anct-carto/ba-coh-terr, which comment the
tables of ``../shared/data/barometre/ba-coh-terr/data/csv``; each is quoted beside its
value. They are compared at their published precision (rounded half up).
"""

from __future__ import annotations

import json
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohesion.analysis.barometre import (
    BAROMETRE_FILE,
    DIRECTIONS,
    BarometreDefinitionError,
    IndicatorSeries,
    UnknownBarometreItemError,
    factor_score,
    indicator_fact_sheet,
    indicator_position,
    load_barometre,
    regional_contrast,
)
from cohesion.analysis.barometre_data import (
    NOT_LOADED,
    fact_sheet,
    territory_barometre,
)
from cohesion.analysis.errors import AnalysisInputError, NotEnoughDataError
from cohesion.errors import UnknownTerritoryError
from cohesion.importers.base import ImportOptions, run_import
from cohesion.importers.table import IndicatorTable
from cohesion.samples import barometre_2018_samples
from cohesion.store import Warehouse
from conftest import SHARED_DATA, shared

ASSETS = "barometre/barometre-cohesion-territoires/src/assets/"
TABLES = "barometre/ba-coh-terr/data/csv/"


def import_barometre_2018(warehouse: Warehouse) -> None:
    """Import every 2018 table the definition names, as ``import-samples`` does."""
    for sample in barometre_2018_samples():
        run_import(warehouse, IndicatorTable(), SHARED_DATA / sample.path, name=sample.name,
                   options=ImportOptions(extra=dict(sample.options)))


@pytest.fixture(scope="module")
def barometre_file(built_warehouse_file: Path, tmp_path_factory: pytest.TempPathFactory
                   ) -> Path:
    path = tmp_path_factory.mktemp("barometre") / "barometre.duckdb"
    shutil.copy(built_warehouse_file, path)
    with Warehouse(path) as warehouse:
        import_barometre_2018(warehouse)
    return path


@pytest.fixture(scope="module")
def warehouse(barometre_file: Path) -> Warehouse:
    with Warehouse(barometre_file, read_only=True) as opened:
        yield opened


def published(value: float, text: str) -> str:
    """``value`` rounded half up to the precision of the published ``text``."""
    return str(Decimal(repr(float(value))).quantize(Decimal(text), ROUND_HALF_UP))


def table(name: str) -> pd.DataFrame:
    return pd.read_csv(shared(TABLES + name), dtype={"codgeo": str, "codreg": str})


# -- the definition -----------------------------------------------------------------------


def test_definition_has_every_factor_and_indicator_of_init_json() -> None:
    init = json.loads(shared(ASSETS + "init.json").read_text(encoding="utf-8"))
    barometre = load_barometre()
    assert [f.anct_id for f in barometre.factors] == [f["id"] for f in init[
        "cohesionFactors"]]
    assert [f.label for f in barometre.factors] == [f["name"] for f in init[
        "cohesionFactors"]]
    expected = {i["id"]: (f["id"], i) for f in init["cohesionFactors"]
                for i in f["statisticalIndicators"]}
    ours = {i.anct_id: i for i in barometre.indicators if i.anct_id is not None}
    assert len(expected) == 24 and set(ours) == set(expected)
    for anct_id, (factor_id, item) in expected.items():
        indicator = ours[anct_id]
        assert barometre.factor(indicator.factor).anct_id == factor_id
        assert indicator.theme == item["theme"]
        assert indicator.challenge == item["challenge"].strip()
        assert indicator.direction in DIRECTIONS
    # the one indicator of the 2018 edition only is declared as such, not hidden
    extra = [i for i in barometre.indicators if i.anct_id is None]
    assert [(i.id, i.edition) for i in extra] == [("part_retraites_prestations", 2018)]


def test_definition_sources_of_content_json() -> None:
    content = json.loads(shared(ASSETS + "content.json").read_text(encoding="utf-8"))
    barometre = load_barometre()
    for item in content["statisticalIndicators"]:
        indicator = barometre.indicator(item["id"])
        # "Insee FiLoSoFi - IGN", "Pôle emploi - IGN": every producer is named
        for producer in item["source"].split(" - "):
            assert producer.split()[0].lower() in indicator.source.lower(), indicator.id


def test_definition_maps_every_2018_table() -> None:
    index = pd.read_csv(shared("barometre/ba-coh-terr/INDICATORS_index_derived.csv"),
                        dtype={"id": str})
    levels = {"zone_emploi_2010": "ZE", "EPCI": "EPCI", "departement": "DEP"}
    barometre = load_barometre()
    for row in index.itertuples():
        source = barometre.indicator(row.id).table
        assert source is not None and source.anct_2018_id == row.id
        assert source.file == row.carte_file and source.regional_file == row.histo_file
        assert source.class_file == (row.zau_file if isinstance(row.zau_file, str) else None)
        assert source.level == levels[row.carte_geo.split(" ")[0]]
    # the indicators without a source are listed, with nothing to load
    empty = [i.id for i in barometre.indicators if not i.data]
    assert len(empty) == 12 and "mortalite_prematuree" in empty


@pytest.mark.parametrize(("change", "message"), [
    (("direction: lower_is_better", "direction: plus_bas"), "direction 'plus_bas'"),
    (("rationale: moins de jeunes non insérés", "raison: x"), "clé inconnue 'raison'"),
    (("        theme: Insertion des jeunes\n", ""), "clé manquante 'theme'"),
    (("id: cambriolages", "id: part_neet"), "identifiant en double"),
    (("vintage: 2017", "vintage: deux mille dix-sept"), "vintage a le type str"),
])
def test_bad_definitions_are_refused(tmp_path: Path, change: tuple[str, str],
                                     message: str) -> None:
    text = BAROMETRE_FILE.read_text(encoding="utf-8")
    if change[0] == "direction: lower_is_better":  # the NEET indicator's direction
        start = text.index("id: part_neet")
        text = text[:start] + text[start:].replace(*change, 1)
    else:
        assert change[0] in text
        text = text.replace(*change, 1)
    path = tmp_path / "barometre.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BarometreDefinitionError, match=message):
        load_barometre(path)


def test_unknown_items_name_the_known_ones() -> None:
    barometre = load_barometre()
    with pytest.raises(UnknownBarometreItemError, match="part_neet"):
        barometre.indicator("neet")
    assert barometre.indicator("001010") is barometre.indicator("15")
    assert barometre.factor("100").label == "Capacitation des territoires"


def test_the_whole_barometre_is_imported_from_one_module() -> None:
    import cohesion.analysis
    from cohesion.analysis import barometre, barometre_definition, barometre_scores

    for part in (barometre_definition, barometre_scores):
        for name in part.__all__:
            assert getattr(barometre, name) is getattr(part, name) is getattr(
                cohesion.analysis, name), name
            assert name in barometre.__all__, name


# -- the published figures ----------------------------------------------------------------

#: (2018 id, date, D9/D1 as published), from the texts of the 2018 baromètre.
PUBLISHED_INTERDECILE = [
    # texte_1_1: « Le rapport interdécile est passé de 1,19 à 1,18 » (zones d'emploi)
    ("11", "first", "1.19"), ("11", "second", "1.18"),
    # texte_2_1: « Le rapport interdécile est passé de 2,1 à 1,9 entre 1999 et 2014 » (EPCI)
    ("21", "first", "2.1"), ("21", "second", "1.9"),
    # texte_2_4: « passé de 1,3 à 1,2 » (départements)
    ("24", "first", "1.3"), ("24", "second", "1.2"),
    # texte_4_4: « passé de 1,8 à 1,9 » (zones d'emploi)
    ("44", "first", "1.8"), ("44", "second", "1.9"),
    # texte_4_6: « passé de 3,4 à 3,1 entre 2015 et 2016 »: the table holds 2015 and 2017
    ("46", "first", "3.4"),
    # texte_5_1: « Le rapport interdécile est de 1,7 en 2015 » (départements)
    ("51", "second", "1.7"),
    # texte_5_3: « stable entre 2012 et 2017, à 1,1 »
    ("53", "first", "1.1"), ("53", "second", "1.1"),
    # texte_6_1: « passé de 2,2 à 1,9 »: the table holds 2018 only
    ("61", "second", "1.9"),
    # texte_6_5: « passé de 1,52 à 1,51 »
    ("65", "first", "1.52"), ("65", "second", "1.51"),
]


@pytest.mark.parametrize(("indicator", "date", "expected"), PUBLISHED_INTERDECILE)
def test_interdecile_ratios_equal_the_published_ones(warehouse: Warehouse, indicator: str,
                                                     date: str, expected: str) -> None:
    sheet = fact_sheet(warehouse, indicator)
    figures = getattr(sheet, date)
    assert published(figures.interdecile.ratio, expected) == expected


def test_deciles_of_the_fiscal_integration_coefficient(warehouse: Warehouse) -> None:
    # texte_6_1: « le premier décile passe de 24,3 % à 27,3 % … le neuvième décile passe
    # de 53,4 % à 50,8 % » (the 2018 values are those of the table)
    second = fact_sheet(warehouse, "coefficient_integration_fiscale").second
    assert published(second.interdecile.d1, "27.3") == "27.3"
    assert published(second.interdecile.d9, "50.8") == "50.8"
    assert second.n == 1264  # 8 EPCI of the table have no value


def test_the_published_ratios_use_linear_quantiles_on_both_dates(warehouse: Warehouse
                                                                 ) -> None:
    """Why :data:`QUANTILE_METHOD` is linear and the sample is the territories at both dates.

    INSEE's definition (inverted CDF) gives 1.52 for the transfers in 2014 where 1.51
    was published, and all the zones d'emploi with a 2014 income (DOM included, no
    2012 value) give 1.19 where 1.18 was published.
    """
    transfers = table("carte_6_5.csv").dropna()["value1"]
    inverted = np.quantile(transfers, [0.1, 0.9], method="inverted_cdf")
    assert published(inverted[1] / inverted[0], "1.51") == "1.52"
    incomes = table("carte_1_1.csv")["value1"].dropna()
    assert len(incomes) == 314
    assert published(np.quantile(incomes, 0.9) / np.quantile(incomes, 0.1), "1.18") == "1.19"
    assert fact_sheet(warehouse, "11").second.n == 304


#: (2018 id, date, figure, published value, régions left out, half unit of the table's
#: values, whether the value computed from the table rounds to the published one), from
#: the same texts.
PUBLISHED_REGIONAL = [
    # texte_1_1: « variait dans un rapport de 1 à 1,22 en 2012 ; 1 à 1,20 en 2014 ».
    # 22,180 / 18,106 = 1.225008, on the rounding boundary: the table's medians are
    # rounded to the euro, which moves the ratio by ±6e-5, enough to round either way
    ("11", "first", "ratio", "1.22", (), 0.5, False),
    ("11", "second", "ratio", "1.20", (), 0.5, True),
    # texte_1_5: « 22,9 points de pourcentage d'écart … en 2009 ; et 23 points en 2014 »
    ("15", "first", "gap", "22.9", (), 0.05, True), ("15", "second", "gap", "23", (), 0.05, True),
    # texte_2_1: « 13,2 points … en 1999, en excluant la Guyane ; et 12 points en 2014 »
    ("21", "first", "gap", "13.2", ("03",), 0.05, True),
    ("21", "second", "gap", "12", ("03",), 0.05, True),
    # texte_2_4: « 31 points de pourcentage d'écart … en 2013 ; et 26 points en 2017 »
    ("24", "first", "gap", "31", (), 0.05, True), ("24", "second", "gap", "26", (), 0.05, True),
    # texte_4_4: « 19,4 points … ; cet écart est de 18,3 points en 2014 » (sans Mayotte)
    ("44", "first", "gap", "19.4", ("06",), 0.05, True),
    ("44", "second", "gap", "18.3", ("06",), 0.05, True),
    # texte_4_6: « un rapport de 1 à 3,2 entre les régions de France métropolitaine en 2015 »
    ("46", "first", "ratio", "3.2", ("01", "02", "03", "04", "06"), 0.05, True),
    # texte_5_3: « écart … de 36 points … en 2012 … 48,8 points … en 2017 »
    ("53", "first", "gap", "36", (), 0.05, True), ("53", "second", "gap", "48.8", (), 0.05, True),
    # texte_6_1: « 18,24 points de pourcentage d'écart … ; cet écart est de 18,08 points en
    # 2018 »: the régional table has one decimal (18.2 and 18.0)
    ("61", "first", "gap", "18.24", (), 0.05, False),
    ("61", "second", "gap", "18.08", (), 0.05, False),
    # texte_6_5: « l'écart entre les régions métropolitaines extrêmes … 11,4 points de
    # pourcentage en 2012 ; il est de 12,1 points en 2014 »
    ("65", "first", "gap", "11.4", (), 0.05, True), ("65", "second", "gap", "12.1", (), 0.05, True),
]


@pytest.mark.parametrize(("indicator", "date", "figure", "expected", "excluded", "half",
                          "exact"), PUBLISHED_REGIONAL)
def test_regional_contrasts_equal_the_published_ones(warehouse: Warehouse, indicator: str,
                                                     date: str, figure: str, expected: str,
                                                     excluded: tuple[str, ...], half: float,
                                                     exact: bool) -> None:
    sheet = fact_sheet(warehouse, indicator, regional_exclude=excluded)
    extremes = getattr(sheet.regional, date).extremes
    value = getattr(extremes, figure)
    if exact:
        assert published(value, expected) == expected
    # always: the published figure is within what the table's rounded values allow
    high, low = extremes.highest_value, extremes.lowest_value
    if figure == "gap":
        possible = (value - 2 * half, value + 2 * half)
    else:
        possible = ((high - half) / (low + half), (high + half) / (low - half))
    # half a unit of the published figure's last digit (0.5 for "23", 0.005 for "1.22")
    precision = float(Decimal(1).scaleb(Decimal(expected).as_tuple().exponent)) / 2
    assert possible[0] - precision <= float(expected) <= possible[1] + precision
    if not exact:  # and the point value does not round to it: say so rather than hide it
        assert published(value, expected) != expected


def test_migration_balance_interdecile_gap(warehouse: Warehouse) -> None:
    # texte_3_1: « Le rapport interdécile est passé de 1,57 à 1,30 »: the rate can be
    # negative, the published figure is D9 − D1 (1.30 in 2009-2014; the 1999-2009 table
    # gives 1.51, not 1.57); the ratio itself is undefined and never a wrong number
    sheet = fact_sheet(warehouse, "31")
    assert published(sheet.second.interdecile.gap, "1.30") == "1.30"
    assert np.isnan(sheet.second.interdecile.ratio)
    assert sheet.second.interdecile.d1 < 0


def test_france_values_are_those_of_baro_csv(warehouse: Warehouse) -> None:
    index = pd.read_csv(shared("barometre/ba-coh-terr/INDICATORS_index_derived.csv"),
                        dtype={"id": str})
    for row in index.itertuples():
        # the régional tables have both dates for every indicator but the bénévoles
        series = fact_sheet(warehouse, row.id, "REG").series
        assert series.france_second == pytest.approx(row.value1_france)
        if pd.notna(row.value0_france):
            assert series.france_first == pytest.approx(row.value0_france)
        else:
            assert series.first is None and np.isnan(series.france_first)
    # the map of the coefficient d'intégration fiscale has 2018 only: no first date
    assert fact_sheet(warehouse, "61").series.first is None


# -- a territory ----------------------------------------------------------------------------


def test_region_reads_the_regional_tables(warehouse: Warehouse) -> None:
    result = territory_barometre(warehouse, "REG:84@2026")
    income = result.reading("revenu_median_uc")
    regions = table("histo_1_1.csv").set_index("codreg")
    assert income.status == "loaded" and income.series.level == "REG"
    assert income.position.value == regions.loc["84", "value1"] == 20944
    assert income.position.first_value == regions.loc["84", "value0"]
    assert income.position.france == 20369
    # 13 régions with a value; only Île-de-France is higher
    assert (income.position.rank, income.position.n) == (2, 13)
    not_loaded = [r.indicator.id for r in result.readings if r.status == "not_loaded"]
    assert len(not_loaded) == 14  # 12 without a source, 2 from the catalogue not loaded
    assert all(r.note == NOT_LOADED for r in result.readings if r.status == "not_loaded")


def test_commune_reads_its_epci_and_departement(warehouse: Warehouse) -> None:
    result = territory_barometre(warehouse, "COM:93014@2026")
    assert result.units["EPCI"] == "200054781"  # Métropole du Grand Paris
    neet = result.reading("part_neet")
    epci = table("carte_1_5.csv").set_index("codgeo")
    assert neet.position.code == "200054781"
    assert neet.position.value == epci.loc["200054781", "value1"]
    assert neet.position.change == pytest.approx(epci.loc["200054781", "value1"]
                                                 - epci.loc["200054781", "value0"])
    assert "EPCI" in neet.note
    # lower is better: the rank counts the EPCI with a lower share, plus one
    assert neet.position.rank == int((epci["value1"] < neet.position.value).sum()) + 1
    assert result.reading("chomage_longue_duree").position.code == "93"
    # no commune → zone d'emploi 2010 table: the région's value, saying so
    income = result.reading("revenu_median_uc")
    assert income.series.level == "REG" and "zones d'emploi 2010" in income.note
    # the scores of a commune are those of its EPCI, among the EPCI
    assert result.score_level == "EPCI" and result.notes
    # an arrondissement municipal lies where its commune lies
    louvre = territory_barometre(warehouse, "ARM:75101@2026")
    assert louvre.units == {"ARM": "75101", "EPCI": "200054781", "DEP": "75", "REG": "11"}
    assert louvre.reading("chomage_longue_duree").position.code == "75"


def test_epci_position_and_factor_score_band(warehouse: Warehouse) -> None:
    result = territory_barometre(warehouse, "Bordeaux Métropole")
    ageing = result.reading("part_65_ans_et_plus")
    epci = table("carte_2_1.csv").set_index("codgeo")
    assert ageing.position.value == epci.loc["243300316", "value1"]
    assert ageing.position.decile == int(ageing.position.percentile // 10) + 1
    solidarity = next(s for s in result.scores if s.factor.id == "solidarite")
    # one oriented indicator at EPCI level: the score ranks as the indicator does
    assert solidarity.indicators == ("part_65_ans_et_plus",)
    assert solidarity.rank == ageing.position.rank
    assert solidarity.rank_low == solidarity.rank_high == solidarity.rank
    social = next(s for s in result.scores if s.factor.id == "capital_social")
    assert social.rank is None and "aucun indicateur" in social.note


def test_region_factor_score_with_two_indicators(warehouse: Warehouse) -> None:
    result = territory_barometre(warehouse, "REG:32@2026")
    quality = next(s for s in result.scores if s.factor.id == "qualite_de_vie")
    assert quality.indicators == ("revenu_median_uc", "part_neet")
    assert quality.n == 13  # régions with both values
    assert quality.rank_low <= quality.rank <= quality.rank_high
    assert quality.scenarios == 10  # 3 normalisations × 2 weightings × 2 aggregations - 2
    # Hauts-de-France: lowest income and highest NEET share of metropolitan France
    assert quality.rank == 13 and quality.score == 0.0


def test_territory_errors(warehouse: Warehouse) -> None:
    with pytest.raises(UnknownTerritoryError, match="introuvable"):
        territory_barometre(warehouse, "COM:99999@2026")
    with pytest.raises(AnalysisInputError, match="EPT"):
        territory_barometre(warehouse, "EPT:200057867@2026")
    with pytest.raises(AnalysisInputError, match="pas EPCI"):
        fact_sheet(warehouse, "revenu_median_uc", "EPCI")
    with pytest.raises(AnalysisInputError, match=NOT_LOADED):
        fact_sheet(warehouse, "mortalite_prematuree")


# -- pure functions on hand-made inputs ------------------------------------------------------


def series(values: dict, first: dict | None = None, indicator: str = "part_neet",
           france: float = np.nan) -> IndicatorSeries:
    return IndicatorSeries(load_barometre().indicator(indicator), "EPCI", "EPCI",
                           pd.Series(values, dtype=float), "2014",
                           None if first is None else pd.Series(first, dtype=float),
                           None if first is None else "2009", france_second=france)


def test_position_by_hand() -> None:
    data = series({"a": 10.0, "b": 20.0, "c": 20.0, "d": 40.0, "e": np.nan},
                  {"a": 12.0, "b": 25.0, "c": 15.0, "d": 30.0, "e": 5.0}, france=18.0)
    position = indicator_position(data, "b")
    # lower is better: a is first, b and c share the 2nd rank
    assert (position.rank, position.n) == (2, 4)
    assert position.percentile == 100 * (1 + 0.5 * 2) / 4
    assert position.decile == 6 and position.favourable_share == 50.0
    assert position.change == -5.0 and position.gap_to_france == 2.0
    assert position.first_rank == 4  # after e (5), a (12) and c (15)
    missing = indicator_position(data, "e")
    assert np.isnan(missing.value) and missing.rank is None and missing.decile is None
    with pytest.raises(AnalysisInputError, match="'z'"):
        indicator_position(data, "z")
    highest = indicator_position(series({"a": 1.0, "b": 2.0}, indicator="revenu_median_uc"),
                                 "b")
    assert highest.rank == 1 and highest.decile == 8


def test_fact_sheet_edge_cases() -> None:
    equal = indicator_fact_sheet(series({"a": 5.0, "b": 5.0, "c": 5.0}))
    assert equal.second.interdecile.ratio == 1.0 and equal.second.extremes.gap == 0.0
    with pytest.raises(NotEnoughDataError, match="au moins 2"):
        indicator_fact_sheet(series({"a": 5.0, "b": np.nan}))
    zero = indicator_fact_sheet(series({"a": 0.0, "b": 0.0, "c": 3.0, "d": 9.0}))
    assert np.isnan(zero.second.interdecile.ratio)  # D1 = 0: undefined, never infinite
    assert np.isnan(zero.second.extremes.ratio)
    dropped = indicator_fact_sheet(series({"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0},
                                          {"a": 2.0, "b": 2.0, "c": np.nan, "d": 6.0}))
    assert (dropped.first.n, dropped.second.n, dropped.n_dropped) == (3, 3, 1)
    assert dropped.ranking["code"].tolist()[:2] == ["a", "b"]


def test_regional_contrast_exclusions() -> None:
    values = pd.Series({"03": 4.9, "11": 13.0, "94": 25.0})
    contrast = regional_contrast(None, values, second_period="2014", exclude=("03",))
    assert contrast.first is None and contrast.second.extremes.gap == 12.0
    assert np.isnan(contrast.gap_change)
    assert regional_contrast(None, values, exclude=("03", "11")).second is None


def test_factor_score_by_hand() -> None:
    solidarity = load_barometre().factor("solidarite")
    data = pd.DataFrame({"part_65_ans_et_plus": [10.0, 20.0, 30.0, 40.0],
                         "chomage_longue_duree": [40.0, 30.0, 20.0, 10.0]},
                        index=list("abcd"))
    # both lower-is-better and opposite: every territory scores 50
    score = factor_score(solidarity, data, "a")
    assert score.score == pytest.approx(50.0) and score.rank == 1
    unequal = data.assign(chomage_longue_duree=[10.0, 20.0, 30.0, 40.0])
    best = factor_score(solidarity, unequal, "a", reference={
        "part_65_ans_et_plus": 20.0, "chomage_longue_duree": 25.0})
    assert (best.score, best.rank, best.rank_low, best.rank_high) == (100.0, 1, 1, 1)
    assert best.scenarios == 10
    assert best.left_out["part_population_rsa"] == "pas de valeur à cet échelon"
    flat = factor_score(solidarity, data.assign(part_65_ans_et_plus=5.0,
                                                chomage_longue_duree=5.0), "a")
    assert flat.score != flat.score and "ne distingue" in flat.note
    lacking = factor_score(solidarity, unequal.assign(chomage_longue_duree=[
        np.nan, 1.0, 2.0, 3.0]), "a")
    assert lacking.rank is None and "pas de valeur pour tous" in lacking.note
    unpublished = factor_score(solidarity, unequal.assign(chomage_longue_duree=np.nan), "a")
    assert unpublished.indicators == ("part_65_ans_et_plus",) and unpublished.rank == 1
    assert unpublished.left_out["chomage_longue_duree"] == "pas de valeur à cet échelon"
    alone = factor_score(solidarity, unequal.loc[["a"]], "a")
    assert alone.rank is None and "ne distingue" in alone.note


# -- the command line -----------------------------------------------------------------------


def test_cli_fiche_and_barometre(barometre_file: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cohesion.cli import main

    runner = CliRunner()
    ranking, figures = tmp_path / "classement.csv", tmp_path / "fiche.csv"
    result = runner.invoke(main, ["--warehouse", str(barometre_file), "analysis", "fiche",
                                  "65", "-o", str(ranking), "--figures-output", str(figures)])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(ranking, dtype={"code": str})
    assert len(written) == 314 and written["rank"].iloc[0] == 1
    sheet = pd.read_csv(figures)
    ratio = sheet[(sheet["mesure"] == "Rapport interdécile D9 / D1")
                  & (sheet["ensemble"] == "zones d'emploi 2010")]
    assert published(ratio["valeur_finale"].item(), "1.51") == "1.51"
    positions = tmp_path / "ara.csv"
    result = runner.invoke(main, ["--warehouse", str(barometre_file), "analysis", "barometre",
                                  "REG:84@2026", "-o", str(positions)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(positions)
    assert len(table) == 25 and (table["statut"] == NOT_LOADED).sum() == 14
    definition = runner.invoke(main, ["--warehouse", str(barometre_file), "analysis",
                                      "barometre"])
    # the table wraps at the terminal's width: count the word, not the phrase
    assert definition.exit_code == 0 and definition.output.count("chargée") == 14
    unknown = runner.invoke(main, ["--warehouse", str(barometre_file), "analysis", "fiche",
                                   "inconnu"])
    assert unknown.exit_code == 4 and "inconnu" in unknown.output


def test_fact_sheet_summary_of_every_indicator(warehouse: Warehouse) -> None:
    from cohesion.analysis.barometre_data import fact_sheet_summary

    summary = fact_sheet_summary(warehouse).set_index("indicateur")
    assert len(summary) == 25
    assert (summary["statut"] == "chargé").sum() == 11
    assert (summary["statut"] == NOT_LOADED).sum() == 12
    assert summary.loc["couverture_emploi", "statut"] == "pas de tableau publié"
    assert published(summary.loc["part_65_ans_et_plus", "d9_d1_final"], "1.9") == "1.9"
    assert summary.loc["revenu_median_uc", "evolution_d9_d1"] < 0  # the zones drew closer
    assert published(summary.loc["evolution_population_annuelle", "d9_moins_d1_final"],
                     "1.30") == "1.30"
