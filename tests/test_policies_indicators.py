"""Funding indicators on the real ANCT posts and dotations, checked against the raw files.

Every figure is computed again here from the raw JSON, xlsx and CSV files with plain
pandas (the posts with the documented rule of ``test_importers_funding.raw_posts``),
and compared with what the engine computes through the declared indicators: money per
inhabitant, posts per 1,000 inhabitants, per QPV inhabitant and per poor person, by
département, région, France, contrat de ville and EPCI, and the population period used.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohesion.core import Observatory
from cohesion.core.policies import PoliciesService
from cohesion.errors import CohesionError
from cohesion.importers.base import ImportOptions, run_import
from cohesion.importers.funding import DotationsInvestissement, PostesPolitiqueVille
from cohesion.importers.qpv import QpvContours
from cohesion.importers.table import IndicatorTable
from cohesion.importers.zonings import ZoningImporter
from cohesion.indicators.api import NEAREST_PERIOD, NEUTRAL, Ratio
from cohesion.indicators.engine import IndicatorEngine
from cohesion.indicators.periods import nearest_period
from cohesion.policies.indicators import FUNDING_INDICATORS
from cohesion.samples import MAPPINGS
from cohesion.store import Warehouse
from conftest import (
    COMPARATEUR,
    FILOSOFI_2019,
    FILOSOFI_2020,
    QPV_MARSEILLE,
    QPV_OCCITANIE,
    QPV_STATISTICS,
    shared,
)
from test_importers_funding import DOTATIONS, DOTATIONS_SHEET, FILES, POSTS, raw_posts

CONTRATS = f"{POSTS}/geom_cv_ctr_2024.json"
#: Arrondissements municipaux repeat their commune's figures in the INSEE files.
ARRONDISSEMENTS = r"^(751[0-2]\d|132\d\d|6938\d)$"


@pytest.fixture(scope="session")
def funding_warehouse_file(loaded_warehouse_file: Path,
                           tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The loaded warehouse plus the contrats de ville 2024, every funding file and the
    QPV of Occitanie (contours and statistics) and of Marseille (contours only)."""
    path = tmp_path_factory.mktemp("policies") / "policies.duckdb"
    shutil.copy(loaded_warehouse_file, path)
    with Warehouse(path) as warehouse:
        run_import(warehouse, ZoningImporter(), shared(CONTRATS))
        for prefix, _, year in FILES:
            run_import(warehouse, PostesPolitiqueVille(), shared(f"{POSTS}/{prefix}-{year}.json"))
        run_import(warehouse, DotationsInvestissement(), shared(DOTATIONS),
                   options=ImportOptions(extra={"allow_former_codes": True}))
        run_import(warehouse, QpvContours(), shared(QPV_OCCITANIE))
        run_import(warehouse, QpvContours(), shared(QPV_MARSEILLE))
        run_import(warehouse, IndicatorTable(), shared(QPV_STATISTICS), options=ImportOptions(
            extra={"mapping": str(MAPPINGS / "qpv-occitanie-2019.yaml")}))
    return path


@pytest.fixture(scope="module")
def engine(funding_warehouse_file: Path) -> IndicatorEngine:
    with Warehouse(funding_warehouse_file, read_only=True) as warehouse:
        yield IndicatorEngine(warehouse)


@pytest.fixture(scope="module")
def policies(funding_warehouse_file: Path) -> PoliciesService:
    core = Observatory(funding_warehouse_file)
    yield PoliciesService(core)
    core.close()


# -- the raw files, read without the importers -------------------------------------------

def departement_of(codes: pd.Series) -> pd.Series:
    return codes.where(~codes.str.startswith("97"), codes.str[:3]).where(
        codes.str.startswith("97"), codes.str[:2])


@pytest.fixture(scope="module")
def raw_population() -> pd.Series:
    """Population municipale 2018 by département, from the Comparateur file."""
    frame = pd.read_csv(shared(COMPARATEUR), sep=";", dtype={"CODGEO": str})
    frame = frame[~frame["CODGEO"].str.match(ARRONDISSEMENTS)]
    return frame.groupby(departement_of(frame["CODGEO"]))["P18_POP"].sum()


def raw_poor(relative: str, year: int) -> pd.Series:
    """Poor persons (rate × persons of the ménages fiscaux) by département, from Filosofi."""
    frame = pd.read_csv(shared(relative), sep=";", dtype=str)
    frame = frame[~frame["CODGEO"].str.match(ARRONDISSEMENTS)]
    suffix = str(year)[2:]
    rate = pd.to_numeric(frame[f"TP60{suffix}"].str.replace(",", "."), errors="coerce")
    persons = pd.to_numeric(frame[f"NBPERSMENFISC{suffix}"], errors="coerce")
    return (rate * persons / 100).groupby(departement_of(frame["CODGEO"])).sum(min_count=1)


@pytest.fixture(scope="module")
def raw_post_totals() -> dict[tuple[str, int], pd.DataFrame]:
    """Amount and posts by département, per dispositif and year, the rule applied by hand."""
    totals = {}
    for prefix, dispositif, year in FILES:
        _, posts = raw_posts(shared(f"{POSTS}/{prefix}-{year}.json"))
        totals[(dispositif, year)] = posts.dropna(subset=["insee_dep"]).groupby("insee_dep").agg(
            montant=("montant", "sum"), postes=("id_poste", "size"))
        totals[(dispositif, year, "cv")] = posts.dropna(subset=["code_cv"]).groupby(
            "code_cv")["montant"].sum()
    return totals


@pytest.fixture(scope="module")
def raw_dotations() -> pd.DataFrame:
    raw = pd.read_excel(shared(DOTATIONS), sheet_name=DOTATIONS_SHEET, dtype=str)
    raw["montant_sub"] = raw["montant_sub"].astype(float)
    return raw


def values(engine: IndicatorEngine, indicator: str, level: str, vintage: int,
           period: str) -> pd.DataFrame:
    return engine.values(indicator, level, vintage, period).frame.set_index("code")


# -- per inhabitant ----------------------------------------------------------------------

@pytest.mark.parametrize(("dispositif", "year"), [("adultes-relais", 2020),
                                                  ("adultes-relais", 2024),
                                                  ("fonjep", 2022), ("fonjep", 2025)])
@pytest.mark.parametrize("departement", ["13", "59", "31", "2A", "974"])
def test_funding_per_inhabitant_of_a_departement_is_a_ratio_of_sums(
        engine: IndicatorEngine, raw_post_totals, raw_population: pd.Series,
        dispositif: str, year: int, departement: str) -> None:
    variable = dispositif.replace("-", "_")
    raw = raw_post_totals[(dispositif, year)]
    amount = values(engine, f"montant_{variable}_par_habitant", "DEP", 2021, str(year))
    posts = values(engine, f"postes_{variable}_pour_1000_habitants", "DEP", 2021, str(year))
    if departement not in raw.index:  # no post listed: no value, not zero
        assert np.isnan(amount.loc[departement, "value"])
        assert amount.loc[departement, "missing"] == "no_data"
        return
    population = raw_population[departement]
    assert amount.loc[departement, "value"] == pytest.approx(
        raw.loc[departement, "montant"] / population, rel=1e-12)
    assert posts.loc[departement, "value"] == pytest.approx(
        1000 * raw.loc[departement, "postes"] / population, rel=1e-12)
    # the population used is the census of 2018: the nearest loaded (2013, 2018)
    assert amount.loc[departement, "population@2018"] == population


@pytest.mark.parametrize("departement", ["13", "33", "2B", "971"])
def test_dotations_per_inhabitant_of_a_departement(engine: IndicatorEngine,
                                                   raw_dotations: pd.DataFrame,
                                                   raw_population: pd.Series,
                                                   departement: str) -> None:
    grants = raw_dotations[raw_dotations["id_dep"] == departement]
    for dotation, group in grants.groupby(grants["dotation"].str.lower()):
        found = values(engine, f"montant_{dotation}_par_habitant", "DEP", 2021, "2019")
        assert found.loc[departement, "value"] == pytest.approx(
            group["montant_sub"].sum() / raw_population[departement], rel=1e-12)


def test_regions_and_france_sum_their_departements(engine: IndicatorEngine, raw_post_totals,
                                                   raw_population: pd.Series) -> None:
    raw = raw_post_totals[("adultes-relais", 2021)]
    paca = ["04", "05", "06", "13", "83", "84"]
    regions = values(engine, "montant_adultes_relais_par_habitant", "REG", 2021, "2021")
    assert regions.loc["93", "value"] == pytest.approx(
        raw.loc[paca, "montant"].sum() / raw_population[paca].sum(), rel=1e-12)
    france = values(engine, "postes_adultes_relais_pour_1000_habitants", "FRA", 2021, "2021")
    departements = values(engine, "postes_adultes_relais", "DEP", 2021, "2021")
    assert france["postes_adultes_relais@2021"].item() == departements["value"].sum()
    assert departements["value"].sum() == raw["postes"].sum()
    assert france["population@2018"].item() == 66_732_538
    assert france["value"].item() == pytest.approx(
        1000 * raw["postes"].sum() / 66_732_538, rel=1e-12)


def test_a_departement_the_file_omits_is_named_in_the_notes(engine: IndicatorEngine,
                                                            raw_post_totals) -> None:
    # the 2024 adultes-relais file lists no post in Seine-Saint-Denis
    assert "93" not in raw_post_totals[("adultes-relais", 2024)].index
    result = engine.values("montant_adultes_relais_par_habitant", "REG", 2021, "2024")
    assert any("aucune valeur en 2024" in n and "échelon DEP" in n and "93" in n
               for n in result.notes), result.notes
    idf = result.frame.set_index("code").loc["11"]
    raw = raw_post_totals[("adultes-relais", 2024)]
    assert idf["montant_adultes_relais@2024"] == pytest.approx(
        raw.loc[raw.index.isin(["75", "77", "78", "91", "92", "94", "95"]), "montant"].sum())


# -- contrats de ville and EPCI ------------------------------------------------------------

def test_contrats_de_ville_and_their_epci(engine: IndicatorEngine, raw_post_totals) -> None:
    raw_cv = raw_post_totals[("adultes-relais", 2024, "cv")]
    contrats = values(engine, "montant_adultes_relais_par_habitant", "CV", 2026, "2024")
    population = values(engine, "population", "CV", 2026, "2018")
    held = raw_cv[raw_cv.index.isin(contrats.index)]
    assert len(held) > 300
    for code in held.index[:: len(held) // 20]:
        # (Mayotte's contrats have no census population: no value)
        assert contrats.loc[code, "value"] == pytest.approx(
            held[code] / population.loc[code, "value"], rel=1e-12, nan_ok=True)
    # an EPCI carrying its contrats itself: the money of those contrats
    carried = pd.DataFrame([f["properties"] for f in json.loads(
        shared(CONTRATS).read_text(encoding="utf-8"))["features"]])
    epci = values(engine, "montant_adultes_relais_par_habitant", "EPCI", 2026, "2024")
    epci_population = values(engine, "population", "EPCI", 2026, "2018")
    checked = 0
    for siren, group in carried[carried["codgeo"].str.len() == 9].groupby("codgeo"):
        members = engine.members(("EPCI", siren), "CV", 2026)
        if siren not in epci.index or set(members) != set(group["code_cv"]):
            continue  # other contrats (carried by its communes) lie in it too
        listed = raw_cv.reindex(group["code_cv"])
        if listed.isna().all():  # no post in its contrats: no value, not zero
            assert np.isnan(epci.loc[siren, "value"])
            continue
        expected = listed.sum()
        assert epci.loc[siren, "montant_adultes_relais@2024"] == pytest.approx(expected)
        assert epci.loc[siren, "value"] == pytest.approx(
            expected / epci_population.loc[siren, "value"], rel=1e-12)
        checked += 1
    assert checked > 100


def test_levels_without_a_source_have_no_value(engine: IndicatorEngine) -> None:
    # the contrats de ville are a level of the 2026 geography only
    in_2021 = engine.values("montant_adultes_relais_par_habitant", "EPCI", 2021, "2024")
    assert in_2021.frame["value"].isna().all()
    assert any("aucun territoire de l'échelon CV" in n for n in in_2021.notes)
    # the posts have no commune
    communes = values(engine, "montant_fonjep_par_habitant", "COM", 2021, "2024")
    assert communes["value"].isna().all()
    with pytest.raises(CohesionError, match="zone personnalisée"):
        engine.zone_values("montant_detr_par_habitant", ["93014", "93005"], 2021, "2019")


def test_grants_to_communes_sum_over_the_communes(engine: IndicatorEngine,
                                                  raw_dotations: pd.DataFrame) -> None:
    to_communes = raw_dotations[(raw_dotations["echelon"] == "commune")
                                & (raw_dotations["dotation"] == "DETR")]
    communes = values(engine, "montant_detr", "COM", 2021, "2019")
    # 3 codes of the file name communes merged since: their grants go to the new one
    assert communes["value"].sum() == pytest.approx(to_communes["montant_sub"].sum(), abs=0.05)
    code = to_communes["id_terr"].value_counts().index[0]
    per_inhabitant = values(engine, "montant_detr_par_habitant", "COM", 2021, "2019")
    assert per_inhabitant.loc[code, "value"] == pytest.approx(
        to_communes.loc[to_communes["id_terr"] == code, "montant_sub"].sum()
        / per_inhabitant.loc[code, "population@2018"], rel=1e-12)


def test_an_epci_total_holds_its_own_grants_and_its_communes(
        engine: IndicatorEngine, raw_dotations: pd.DataFrame) -> None:
    brest = "242900314"
    dsil = raw_dotations[raw_dotations["dotation"] == "DSIL"]
    own = dsil.loc[dsil["id_terr"] == brest, "montant_sub"].sum()
    assert own > 0
    for vintage in (2021, 2026):
        communes = values(engine, "montant_dsil", "COM", vintage, "2019")
        members = engine.warehouse.memberships("COM", vintage, ["EPCI"])
        of_brest = members.loc[members["parent_code"] == brest, "code"]
        epci = values(engine, "montant_dsil", "EPCI", vintage, "2019")
        total = own + communes["value"].reindex(of_brest).sum()
        assert epci.loc[brest, "value"] == pytest.approx(total, abs=0.01)
        per_inhabitant = values(engine, "montant_dsil_par_habitant", "EPCI", vintage, "2019")
        assert per_inhabitant.loc[brest, "value"] == pytest.approx(
            total / per_inhabitant.loc[brest, "population@2018"], rel=1e-12)
    # every EPCI of 2026, through communes merged since 2019 (35112 into 35062, in
    # 200072452): the engine's commune values of 2026 plus the EPCI's own grants
    detr = raw_dotations[raw_dotations["dotation"] == "DETR"]
    communes = values(engine, "montant_detr", "COM", 2026, "2019")["value"].dropna()
    members = engine.warehouse.memberships("COM", 2026, ["EPCI"]).set_index("code")[
        "parent_code"]
    to_itself = detr[detr["echelon"] == "epci"].groupby("id_terr")["montant_sub"].sum()
    expected = communes.groupby(members.reindex(communes.index).to_numpy()).sum().add(
        to_itself[to_itself.index.isin(set(members))], fill_value=0.0)
    epci = values(engine, "montant_detr", "EPCI", 2026, "2019")["value"].dropna()
    pd.testing.assert_series_equal(epci.sort_index(), expected.sort_index(),
                                   check_names=False, check_index_type=False, rtol=1e-9)
    assert epci["200072452"] == pytest.approx(535_849.6275, abs=1e-4)
    # the département counts every grant once: its EPCI's, its communes' and its own
    dep = values(engine, "montant_dsil", "DEP", 2026, "2019")
    assert dep.loc["29", "value"] == pytest.approx(
        dsil.loc[dsil["id_dep"] == "29", "montant_sub"].sum(), abs=0.01)


# -- per QPV inhabitant, per poor person ----------------------------------------------------

def test_per_qpv_inhabitant_where_qpv_populations_are_loaded(engine: IndicatorEngine,
                                                            raw_post_totals) -> None:
    qpv = pd.read_csv(shared(QPV_STATISTICS), encoding="utf-8-sig", dtype={"code_qp": str})
    found = values(engine, "montant_adultes_relais_par_habitant_qpv", "DEP", 2021, "2024")
    raw = raw_post_totals[("adultes-relais", 2024)]
    for departement in ("31", "34", "66"):
        population = qpv.loc[qpv["code_qp"].str[2:5] == f"0{departement}", "pop_mun"].sum()
        assert found.loc[departement, "population@2013"] == population
        assert found.loc[departement, "value"] == pytest.approx(
            raw.loc[departement, "montant"] / population, rel=1e-12)
    # Marseille's QPV have contours but no population; Lozère's contours are not loaded,
    # so neither the Bouches-du-Rhône, Occitanie nor France has a QPV population
    assert np.isnan(found.loc["13", "value"])
    regions = values(engine, "montant_adultes_relais_par_habitant_qpv", "REG", 2021, "2024")
    assert regions["value"].isna().all()
    result = engine.values("montant_adultes_relais_par_habitant_qpv", "DEP", 2021, "2024")
    assert "population de 2013 pour montant_adultes_relais de 2024" in " ".join(result.notes)


@pytest.mark.parametrize(("vintage", "year", "filosofi", "poor_year"),
                         [(2022, 2024, FILOSOFI_2020, 2020), (2021, 2019, FILOSOFI_2019, 2019)])
def test_per_poor_person(engine: IndicatorEngine, raw_post_totals, raw_dotations,
                         vintage: int, year: int, filosofi: str, poor_year: int) -> None:
    poor = raw_poor(filosofi, poor_year)
    indicator = ("montant_adultes_relais_par_personne_pauvre" if year == 2024
                 else "montant_dsil_par_personne_pauvre")
    found = values(engine, indicator, "DEP", vintage, str(year))
    for departement in ("13", "59", "93", "23"):
        if year == 2024:
            money = raw_post_totals[("adultes-relais", 2024)]["montant"].get(departement)
        else:
            grants = raw_dotations[(raw_dotations["id_dep"] == departement)
                                   & (raw_dotations["dotation"] == "DSIL")]
            money = grants["montant_sub"].sum()
        if money is None:
            assert np.isnan(found.loc[departement, "value"])
            continue
        # Filosofi of the nearest year loaded: 2020 for 2024, 2019 for 2019
        assert found.loc[departement, f"personnes_pauvres@{poor_year}"] == pytest.approx(
            poor[departement], rel=1e-12)
        assert found.loc[departement, "value"] == pytest.approx(
            money / poor[departement], rel=1e-12)
        assert 0 < found.loc[departement, "coverage"] <= 1


# -- the population period rule -------------------------------------------------------------

class money_per_inhabitant(Ratio):
    label = "Montant par habitant"
    unit = "€"
    numerator = "montant"
    denominator = "population"
    denominator_period = NEAREST_PERIOD
    direction = NEUTRAL
    source = "test"


@pytest.mark.parametrize(("year", "loaded", "expected"), [
    ("2021", ["2013", "2018", "2020", "2022"], "2020"),  # the latest not after
    ("2020", ["2018", "2020"], "2020"),
    ("2016", ["2018", "2020"], "2018"),  # none before: the first after
    ("2019", ["2013-2018", "2018"], "2018"),
])
def test_the_nearest_population_period(year: str, loaded: list[str], expected: str) -> None:
    assert nearest_period(year, loaded) == expected
    needed = money_per_inhabitant.periods_needed(
        year, lambda variable, level: loaded if (variable, level) == ("population", "COM")
        else [])
    assert needed == {"montant": year, "population": expected}
    note = money_per_inhabitant.period_note(year, needed)
    assert (note is None) == (expected == year)
    if note:
        assert f"population de {expected} pour montant de {year}" in note


def test_the_rule_is_declared_and_checked() -> None:
    definition = FUNDING_INDICATORS["montant_detr_par_habitant"]
    assert definition.denominator_period == NEAREST_PERIOD
    assert "période chargée la plus proche" in definition.description
    assert definition.describe()["kind"] == "TotalRatio"
    with pytest.raises(CohesionError, match="denominator_period should be one of"):
        type("bad", (Ratio,), {"label": "x", "unit": "%", "numerator": "a",
                               "denominator": "b", "denominator_period": "proche",
                               "direction": NEUTRAL, "source": "s"})


def test_the_catalogue_lists_every_year(engine: IndicatorEngine) -> None:
    catalogue = engine.catalogue().set_index("id")
    assert catalogue.loc["montant_adultes_relais_par_habitant", "periods"] == [
        "2020", "2021", "2022", "2023", "2024", "2025"]
    assert catalogue.loc["montant_detr_par_personne_pauvre", "periods"] == ["2019"]
    assert catalogue.loc["part_personnes_pauvres", "periods"] == ["2019", "2020"]
    # the funding variables are the totals' indicators, no longer bare imported ones
    assert catalogue.loc["montant_fonjep", "kind"] == "Total"


# -- the service ------------------------------------------------------------------------------

def test_funding_indicators_of_a_level(policies: PoliciesService, engine: IndicatorEngine,
                                       raw_post_totals, raw_population: pd.Series) -> None:
    table = policies.funding_indicators("DEP", 2022, vintage=2021).set_index("code")
    raw = raw_post_totals[("fonjep", 2022)]
    assert table.loc["59", "nom"] == "Nord"
    assert table.loc["59", "montant_fonjep_par_habitant"] == pytest.approx(
        raw.loc["59", "montant"] / raw_population["59"], rel=1e-12)
    assert "montant_detr_par_habitant" not in table  # no dotations in 2022
    described = table.attrs["indicators"]["montant_fonjep_par_habitant"]
    assert "population@2018" in described["inputs"]
    assert any("population de 2018" in n for n in described["notes"])


def test_funding_by_dispositif_and_beneficiaries(policies: PoliciesService, raw_post_totals,
                                                 raw_dotations: pd.DataFrame) -> None:
    found = policies.funding_by_dispositif("DEP:13@2021")
    assert set(found["dispositif"]) == {"adultes-relais", "fonjep", "detr", "dsil", "dsid"}
    row = found[(found["dispositif"] == "adultes-relais") & (found["annee"] == "2023")].iloc[0]
    assert row["montant"] == pytest.approx(raw_post_totals[("adultes-relais", 2023)].loc[
        "13", "montant"])
    assert row["postes"] == raw_post_totals[("adultes-relais", 2023)].loc["13", "postes"]
    assert row["periode_population"] == "2018"
    top = policies.beneficiaries("DEP:13@2021", 2023, limit=5)
    assert len(top) == 5 and top["montant"].is_monotonic_decreasing
    raw = raw_post_totals[("adultes-relais", 2023)].loc["13", "montant"] + \
        raw_post_totals[("fonjep", 2023)].loc["13", "montant"]
    assert top.attrs["total"] == pytest.approx(raw)
    grants = policies.beneficiaries("DEP:13@2021", 2019)
    assert grants.attrs["total"] == pytest.approx(
        raw_dotations.loc[raw_dotations["id_dep"] == "13", "montant_sub"].sum())


def test_totals_by_year_and_departement(policies: PoliciesService, raw_post_totals) -> None:
    totals = policies.totals_by_year_and_departement()
    fonjep = totals[(totals["dispositif"] == "fonjep") & (totals["annee"] == 2025)]
    by_dep = fonjep.dropna(subset=["departement"]).set_index("departement")
    raw = raw_post_totals[("fonjep", 2025)]
    pd.testing.assert_series_equal(by_dep["montant"].sort_index(), raw["montant"].sort_index(),
                                   check_names=False, check_index_type=False)
    assert (fonjep["libelle"] == "Postes FONJEP politique de la ville").all()


def test_evolution_2020_2025(policies: PoliciesService, raw_post_totals,
                             raw_population: pd.Series) -> None:
    table = policies.evolution("montant_adultes_relais_par_habitant", "DEP", 2020, 2025,
                               vintage=2021).set_index("code")
    first = raw_post_totals[("adultes-relais", 2020)].loc["59", "montant"]
    last = raw_post_totals[("adultes-relais", 2025)].loc["59", "montant"]
    assert table.loc["59", "evolution_pct"] == pytest.approx(100 * (last - first) / first)
    assert table.loc["59", "fin"] == pytest.approx(last / raw_population["59"])


def test_needs_vs_funding_index_and_quadrants(policies: PoliciesService) -> None:
    result = policies.needs_vs_funding(2024, "DEP", "part_personnes_pauvres",
                                       "montant_adultes_relais_par_habitant", vintage=2022)
    assert result["need"]["period"] == "2020" and result["weight"]["period"] == "2018"
    rows = pd.DataFrame(result["territories"])
    used = rows.dropna(subset=["besoin", "financement", "poids"])
    assert result["territoires_comptes"] == len(used)
    assert result["territoires_manquants"] == len(rows) - len(used)
    # the concentration index, computed directly: 2 cov(f, R) / mean(f), population
    # weighted, R the fractional rank by need (no ties here)
    used = used.sort_values("besoin")
    f, w = used["financement"].to_numpy(), used["poids"].to_numpy()
    p = w / w.sum()
    rank = np.cumsum(p) - p / 2
    mean = np.dot(p, f)
    direct = 2 * np.dot(p, (f - mean) * (rank - np.dot(p, rank))) / mean
    assert result["concentration_index"] == pytest.approx(direct, rel=1e-9)
    curve = pd.DataFrame(result["curve"])
    assert curve.iloc[-1].tolist() == pytest.approx([1.0, 1.0])
    # quadrants: every territory in one, the counts add up, against the medians
    counts = pd.DataFrame(result["quadrants"])
    assert counts["territoires"].sum() == len(rows)
    assert counts.loc[counts["quadrant"] != "non_classe", "part_financement"].sum() == \
        pytest.approx(1.0)
    high = rows.dropna(subset=["besoin", "financement"])
    assert result["thresholds"]["besoin"] == pytest.approx(high["besoin"].median())
    poor_and_unfunded = high[(high["besoin"] > high["besoin"].median())
                             & (high["financement"] <= high["financement"].median())]
    assert set(poor_and_unfunded["code"]) == set(
        rows.loc[rows["quadrant"] == "besoins_eleves_financement_faible", "code"])
    table = policies.needs_vs_funding_table(2024, "DEP", "part_personnes_pauvres",
                                            "montant_adultes_relais_par_habitant",
                                            vintage=2022, need_threshold=20.0)
    classified = table[table["quadrant"] != "non_classe"]
    assert table.attrs["funding"]["id"] == "montant_adultes_relais_par_habitant"
    assert (classified["quadrant"].str.startswith("besoins_eleves")
            == (classified["besoin"] > 20)).all()
    with pytest.raises(CohesionError, match="n'est pas un rapport"):
        policies.needs_vs_funding(2024, "DEP", "part_personnes_pauvres",
                                  "montant_adultes_relais")
