"""Funding lines from the real ANCT posts (2020-2025) and the dotations d'investissement 2019.

Every total is computed again here from the raw files with plain json and pandas, the
documented rule applied by hand (exact duplicates once; a post's last listing; one
amount per attachment, distinct amounts summed), and compared with what the importers
wrote: the lines, and the observations per département and per commune.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from cohesion.errors import CohesionError, ConflictError, InputFileError
from cohesion.importers.base import ImportOptions, ImportReport, run_import
from cohesion.importers.funding import DotationsInvestissement, PostesPolitiqueVille
from cohesion.store import Warehouse
from conftest import shared, table_fingerprint

POSTS = "social_innovation/anct_politique_ville_postes"
DOTATIONS = ("subventions/anct_dotations_investissement_2019/"
             "projets_dotations_investissement_2019.xlsx")
DOTATIONS_SHEET = "Projets_dotations_investissement_2019"
FIELDS = ["id_poste", "code_tiers", "raison_sociale", "annee", "montant", "code_cv",
          "insee_dep", "insee_reg"]
FILES = [(prefix, dispositif, year)
         for prefix, dispositif in (("adulte-relais", "adultes-relais"),
                                    ("postes-fonjep", "fonjep"))
         for year in range(2020, 2026)]

#: The problems each file has, as the notes must count them (found by reading them).
EXPECTED_NOTES = {
    "adulte-relais-2020.json": [
        "5 postes sur plusieurs lignes différentes la même année : 5 rattachés",
        "21 postes sans département (417 376,26 €, contrats de ville CV415)"],
    "adulte-relais-2021.json": [
        "5 postes sur plusieurs lignes différentes la même année : 5 rattachés",
        "23 postes sans département"],
    "adulte-relais-2022.json": [
        "1 poste sur plusieurs lignes différentes la même année : 1 rattaché à plusieurs "
        "contrats de ville, départements, SIRET ou noms pour un même montant, compté une fois",
        "23 postes sans département"],
    "adulte-relais-2023.json": [
        "4 postes sur plusieurs lignes différentes la même année : 4 rattachés",
        "52 postes sans code de contrat de ville (1 172 897,96 €)",
        "23 postes sans département"],
    "adulte-relais-2024.json": [
        "228 postes sur plusieurs lignes différentes la même année : 228 rattachés",
        "17 postes sans département"],
    "adulte-relais-2025.json": [
        "10 lignes en double exact : gardées une fois",
        "660 postes sur plusieurs lignes différentes la même année : 660 rattachés",
        "10 postes sans département",
        "année 2025 peut-être incomplète : montant en baisse de 73,1 % par rapport à 2024 "
        "(postes : -14,2 %)"],
    "postes-fonjep-2020.json": [
        "22 lignes en double exact : gardées une fois",
        "1433 postes dont le code_tiers n'est pas un SIRET"],
    "postes-fonjep-2021.json": [
        "23 lignes en double exact", "1439 postes dont le code_tiers n'est pas un SIRET"],
    "postes-fonjep-2022.json": [
        "23 lignes en double exact", "1406 postes dont le code_tiers n'est pas un SIRET"],
    "postes-fonjep-2023.json": [
        "1478 lignes donnent l'année en texte (\"2023\")",
        "25 postes sans code de contrat de ville",
        "11 postes sans département (71 640,00 €)",
        "1478 postes dont le code_tiers n'est pas un SIRET"],
    "postes-fonjep-2024.json": [
        "1547 lignes donnent l'année en texte",
        "50 postes sur plusieurs lignes différentes la même année : 40 rattachés",
        "; 10 versés en plusieurs tranches de montants différents, additionnées",
        "101 postes sans code de contrat de ville (716 400,00 €)",
        "16 postes sans département"],
    "postes-fonjep-2025.json": [
        "3162 lignes donnent l'année en texte",
        "1204 lignes en double exact",
        "237 postes sur plusieurs lignes différentes la même année : 160 listés à nouveau "
        "plus loin dans le fichier avec un autre contenu, la dernière liste remplaçant les "
        "précédentes (182 lignes antérieures écartées, 1 032 810,00 €) ; 84 rattachés",
        "; 13 versés en plusieurs tranches",
        "l'ordre des postes recommence à l'enregistrement 1593 : le fichier enchaîne 2 listes",
        "195 postes ne figurent que dans une liste antérieure à la dernière",
        "108 postes sans code de contrat de ville",
        "15 postes sans département"],
}

#: Posts and amounts per file once the rule is applied (also recomputed from the files).
EXPECTED_TOTALS = {
    "adulte-relais-2020.json": (4655, 92_518_404.30),
    "adulte-relais-2021.json": (5372, 107_825_817.04),
    "adulte-relais-2022.json": (5622, 119_489_988.00),
    "adulte-relais-2023.json": (5412, 122_071_610.76),
    "adulte-relais-2024.json": (4721, 107_688_889.81),
    "adulte-relais-2025.json": (4051, 29_021_364.00),
    "postes-fonjep-2020.json": (1433, 10_011_988.50),
    "postes-fonjep-2021.json": (1439, 10_109_001.00),
    "postes-fonjep-2022.json": (1406, 9_913_782.00),
    "postes-fonjep-2023.json": (1478, 10_393_173.00),
    "postes-fonjep-2024.json": (1496, 10_462_425.00),
    "postes-fonjep-2025.json": (1673, 11_636_175.00),
}


def raw_posts(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The raw records, and one row per post as the documented rule keeps it."""
    records = json.loads(path.read_text(encoding="utf-8"))
    raw = pd.DataFrame([{name: record.get(name) for name in FIELDS} for record in records])
    raw["annee"] = raw["annee"].astype(int)
    raw["montant"] = raw["montant"].astype(float)
    assert raw["annee"].nunique() == 1
    # a listing: consecutive rows of a post; its last listing is kept
    listing = (raw["id_poste"] != raw["id_poste"].shift()).cumsum()
    last = listing.groupby(raw["id_poste"]).transform("max")
    kept = raw[listing == last]
    kept = kept[~kept.astype(str).duplicated()]
    amounts = kept.drop_duplicates(["id_poste", "montant"]).groupby("id_poste")["montant"].sum()
    posts = kept.drop_duplicates("id_poste").set_index("id_poste")
    posts["montant"] = amounts
    return raw, posts.reset_index()


@pytest.fixture(scope="module")
def funded(built_warehouse_file: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[Path, dict[str, ImportReport]]:
    """The référentiel plus every posts file (in year order) and the dotations."""
    path = tmp_path_factory.mktemp("funding") / "funding.duckdb"
    shutil.copy(built_warehouse_file, path)
    reports = {}
    with Warehouse(path) as warehouse:
        for prefix, _, year in FILES:
            name = f"{prefix}-{year}.json"
            reports[name] = run_import(warehouse, PostesPolitiqueVille(),
                                       shared(f"{POSTS}/{name}"))
        reports["dotations"] = run_import(
            warehouse, DotationsInvestissement(), shared(DOTATIONS),
            options=ImportOptions(extra={"allow_former_codes": True}))
    return path, reports


@pytest.fixture(scope="module")
def funded_warehouse(funded: tuple[Path, dict[str, ImportReport]]) -> Warehouse:
    with Warehouse(funded[0], read_only=True) as opened:
        yield opened


@pytest.mark.parametrize(("prefix", "dispositif", "year"), FILES)
def test_posts_totals_equal_the_raw_file(funded, funded_warehouse: Warehouse, prefix: str,
                                         dispositif: str, year: int) -> None:
    name = f"{prefix}-{year}.json"
    report = funded[1][name]
    raw, posts = raw_posts(shared(f"{POSTS}/{name}"))
    assert report.rows == len(raw)
    lines = funded_warehouse.query(
        "SELECT * FROM funding_lines WHERE dataset_id = ?", [report.dataset_id])
    assert set(lines["dispositif"]) == {dispositif}
    assert set(lines["programme"]) == {"147"}
    assert set(lines["year"]) == {year}
    assert lines["line_key"].is_unique
    assert (lines["posts"] == 1).all()
    # every post once, with the amount of the rule
    assert len(lines) == len(posts) == EXPECTED_TOTALS[name][0]
    assert lines["amount"].sum() == pytest.approx(posts["montant"].sum(), abs=0.005)
    assert lines["amount"].sum() == pytest.approx(EXPECTED_TOTALS[name][1], abs=0.005)
    by_key = lines.set_index("line_key")["amount"]
    expected = posts.set_index(dispositif + f":{year}:" + posts["id_poste"])["montant"]
    pd.testing.assert_series_equal(by_key.sort_index(), expected.sort_index(),
                                   check_names=False, check_index_type=False)
    # never more than the raw file without its exact duplicates
    assert lines["amount"].sum() <= raw[~raw.astype(str).duplicated()]["montant"].sum() + 0.01

    # per département: observations = raw totals of the kept posts
    raw_dep = posts.dropna(subset=["insee_dep"]).groupby("insee_dep").agg(
        montant=("montant", "sum"), postes=("id_poste", "size"))
    variable = dispositif.replace("-", "_")
    observed = funded_warehouse.query(
        "SELECT variable, code, vintage, value FROM observations WHERE level = 'DEP' "
        "AND period = ? AND variable IN (?, ?)",
        [str(year), f"montant_{variable}", f"postes_{variable}"])
    assert set(observed["vintage"]) == {max(funded_warehouse.vintages())}
    amounts = observed[observed["variable"] == f"montant_{variable}"].set_index("code")
    counts = observed[observed["variable"] == f"postes_{variable}"].set_index("code")
    assert sorted(amounts.index) == sorted(raw_dep.index)
    for code, row in raw_dep.iterrows():
        assert amounts.loc[code, "value"] == pytest.approx(row["montant"], abs=0.005)
        assert counts.loc[code, "value"] == row["postes"]
    # the posts without a département are in the lines, in no département
    without = posts["insee_dep"].isna()
    assert int(lines["departement"].isna().sum()) == int(without.sum())
    assert amounts["value"].sum() == pytest.approx(
        posts.loc[~without, "montant"].sum(), abs=0.01)


@pytest.mark.parametrize("name", sorted(EXPECTED_NOTES))
def test_posts_notes_count_each_problem(funded, name: str) -> None:
    notes = funded[1][name].notes
    text = "\n".join(notes)
    for expected in EXPECTED_NOTES[name]:
        assert expected in text, f"{expected!r} not in the notes of {name}:\n{text}"
    # the counts of the notes are those of the raw file
    raw, posts = raw_posts(shared(f"{POSTS}/{name}"))
    duplicates = int(raw.astype(str).duplicated().sum())
    text_years = sum(isinstance(r.get("annee"), str) for r in json.loads(
        shared(f"{POSTS}/{name}").read_text(encoding="utf-8")))
    no_contrat = int(posts["code_cv"].isna().sum())
    no_departement = int(posts["insee_dep"].isna().sum())
    for count, words, absent in (
            (duplicates, "lignes en double exact", "en double exact"),
            (text_years, "lignes donnent l'année en texte", "l'année en texte"),
            (no_contrat, "postes sans code de contrat de ville", "sans code de contrat"),
            (no_departement, "postes sans département", "sans département")):
        if count:
            assert f"{count} {words}" in text
        else:
            assert absent not in text
    # only 2025's adultes-relais look partial
    assert ("peut-être incomplète" in text) == (name == "adulte-relais-2025.json")


def test_posts_identifiers_and_attachments(funded_warehouse: Warehouse) -> None:
    lines = funded_warehouse.query(
        "SELECT * FROM funding_lines WHERE line_key IN ('adultes-relais:2020:00112R000102', "
        "'fonjep:2024:D00418', 'fonjep:2024:D01758', 'fonjep:2025:D00188')"
    ).set_index("line_key")
    first = lines.loc["adultes-relais:2020:00112R000102"]
    assert (first["siret"], first["siren"]) == ("77554402601284", "775544026")
    assert (first["contrat_ville"], first["departement"], first["region"]) == \
        ("CV002", "01", "84")
    assert first["beneficiary"] == "CENTRE SOCIAL EST - ASSOCIATION ALFA 3A"
    # listed under two contrats de ville: once, under the first
    assert lines.loc["fonjep:2024:D00418", "amount"] == 7164
    assert lines.loc["fonjep:2024:D00418", "contrat_ville"] == "CN07702M"
    # two parts of the year: 1 791 + 5 373 = one FONJEP unit
    assert lines.loc["fonjep:2024:D01758", "amount"] == 7164
    # listed in the 2024 list relabelled 2025 (7 164 €), then in the 2025 list (5 970 €)
    assert lines.loc["fonjep:2025:D00188", "amount"] == 5970
    fonjep = funded_warehouse.query(
        "SELECT count(siret) AS siret FROM funding_lines WHERE dispositif = 'fonjep'")
    assert int(fonjep["siret"].iloc[0]) == 0


def test_variables_are_described(funded_warehouse: Warehouse) -> None:
    variables = funded_warehouse.query(
        "SELECT * FROM variables WHERE variable LIKE 'montant_%' OR variable LIKE 'postes_%'"
    ).set_index("variable")
    assert set(variables.index) >= {"montant_adultes_relais", "postes_adultes_relais",
                                    "montant_fonjep", "postes_fonjep", "montant_detr",
                                    "montant_dsil", "montant_dsid"}
    assert variables.loc["montant_fonjep", "unit"] == "€"
    assert variables.loc["postes_adultes_relais", "unit"] == "postes"
    assert variables["additive"].all()
    assert variables.loc["montant_detr", "label"].startswith("Dotation d'équipement des "
                                                             "territoires ruraux")


# -- dotations d'investissement 2019 ------------------------------------------------------

@pytest.fixture(scope="module")
def raw_dotations() -> pd.DataFrame:
    raw = pd.read_excel(shared(DOTATIONS), sheet_name=DOTATIONS_SHEET, dtype=str)
    raw["montant_sub"] = raw["montant_sub"].astype(float)
    return raw


def test_dotations_totals_equal_the_raw_sheet(funded, funded_warehouse: Warehouse,
                                              raw_dotations: pd.DataFrame) -> None:
    report = funded[1]["dotations"]
    assert report.rows == len(raw_dotations) == 24_811
    assert report.periods == ["2019"]
    lines = funded_warehouse.query(
        "SELECT * FROM funding_lines WHERE dataset_id = ?", [report.dataset_id])
    assert len(lines) == 24_811 and lines["line_key"].is_unique
    assert set(lines["programme"]) == {"119"} and set(lines["year"]) == {2019}
    by_dispositif = lines.groupby("dispositif")["amount"].sum()
    raw_by_dispositif = raw_dotations.groupby(raw_dotations["dotation"].str.lower())[
        "montant_sub"].sum()
    pd.testing.assert_series_equal(by_dispositif.sort_index(), raw_by_dispositif.sort_index(),
                                   check_names=False, rtol=0, atol=0.01)
    assert lines.groupby("dispositif").size().to_dict() == {"detr": 20_382, "dsil": 4_079,
                                                            "dsid": 350}

    # per département: every grant of the département; the Collectivité de Corse (20A)
    # is in the lines only
    observed = funded_warehouse.query(
        "SELECT variable, code, value FROM observations WHERE level = 'DEP' AND period = '2019' "
        "AND variable IN ('montant_detr', 'montant_dsil', 'montant_dsid')")
    observed = observed.set_index(["variable", "code"])["value"].sort_index()
    located = raw_dotations[raw_dotations["id_dep"] != "20A"]
    expected = located.groupby(["dotation", "id_dep"])["montant_sub"].sum()
    expected.index = pd.MultiIndex.from_arrays(
        ["montant_" + expected.index.get_level_values(0).str.lower(),
         expected.index.get_level_values(1)])
    pd.testing.assert_series_equal(observed, expected.sort_index(), check_names=False,
                                   rtol=0, atol=0.01, check_index_type=False)
    corse = lines[lines["line_key"] == "dsid:2019:di19_dep000079"].iloc[0]
    assert corse["departement"] is None and corse["region"] == "94"
    assert corse["amount"] == 1_978_400

    # per commune: the grants to communes, former codes mapped to their commune
    communes = funded_warehouse.query(
        "SELECT variable, sum(value) AS value, count(*) AS n FROM observations "
        "WHERE level = 'COM' AND period = '2019' GROUP BY variable").set_index("variable")
    to_communes = raw_dotations[raw_dotations["echelon"] == "commune"]
    for dotation, group in to_communes.groupby("dotation"):
        variable = f"montant_{dotation.lower()}"
        assert communes.loc[variable, "value"] == pytest.approx(group["montant_sub"].sum(),
                                                                abs=0.05)
    assert "montant_dsid" not in communes.index


def test_dotations_fields_and_notes(funded, funded_warehouse: Warehouse) -> None:
    notes = "\n".join(funded[1]["dotations"].notes)
    for expected in ("1 subvention à une collectivité qui n'est pas un département "
                     "(Collectivité de Corse, code 20A)",
                     "3 anciens codes de commune rapportés à 3 communes du COG 2021",
                     "1012 catégories écrites autrement que dans le dictionnaire",
                     "11 projets sans description",
                     "2 subventions supérieures au coût total déclaré du projet"):
        assert expected in notes, notes
    lines = funded_warehouse.query(
        "SELECT * FROM funding_lines WHERE line_key IN ('dsid:2019:di19_dep000001', "
        "'dsil:2019:di19epci00478') OR (dispositif = 'detr' AND code_commune = '21452')"
    ).set_index("line_key")
    ain = lines.loc["dsid:2019:di19_dep000001"]
    assert (ain["beneficiary"], ain["departement"], ain["region"]) == ("Ain", "01", "84")
    assert (ain["amount"], ain["total_cost"]) == (1_000_000, 4_000_000)
    assert ain["theme"] == "Economie et emploi"
    assert ain["description"].startswith("rénovation et valorisation touristique")
    brest = lines.loc["dsil:2019:di19epci00478"]
    assert (brest["siren"], brest["code_commune"]) == ("242900314", None)
    # a grant to a commune has its SIREN from the référentiel; 21213 (file) is now 21452
    mapped = lines[lines["code_commune"] == "21452"]
    assert len(mapped) > 0 and mapped["siren"].str.fullmatch(r"\d{9}").all()
    themes = funded_warehouse.query(
        "SELECT DISTINCT theme FROM funding_lines WHERE dispositif IN ('detr', 'dsil', 'dsid')")
    assert len(themes) == 8


def test_dotations_refuse_former_codes_without_the_option(
        warehouse: Warehouse, raw_dotations: pd.DataFrame) -> None:
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError) as caught:
        run_import(warehouse, DotationsInvestissement(), shared(DOTATIONS))
    error = caught.value
    assert error.column == "id_terr" and "allow_former_codes" in error.message
    first = raw_dotations.index[raw_dotations["id_terr"].isin(["21213", "45287", "16351"])][0]
    assert error.line == first + 2  # the header is on line 1
    assert error.found == raw_dotations.loc[first, "id_terr"]
    assert table_fingerprint(warehouse) == before


# -- bad files: nothing written -----------------------------------------------------------

def test_amount_that_is_not_a_number(warehouse: Warehouse, tmp_path: Path) -> None:
    records = json.loads(shared(f"{POSTS}/adulte-relais-2020.json").read_text("utf-8"))
    records[41]["montant"] = "abc"
    bad = tmp_path / "adulte-relais-2020.json"
    bad.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError) as caught:
        run_import(warehouse, PostesPolitiqueVille(), bad)
    error = caught.value
    # the array is on one text line: the line is 1, the message names the record
    assert (error.line, error.column, error.found) == (1, "montant", '"abc"')
    assert "enregistrement 42 : montant illisible" in str(error) and "ligne 1" in str(error)
    assert error.expected == "un montant en euros (un nombre)"
    assert table_fingerprint(warehouse) == before


def test_truncated_json(warehouse: Warehouse, tmp_path: Path) -> None:
    text = shared(f"{POSTS}/postes-fonjep-2021.json").read_text("utf-8")
    cut = text[:len(text) // 2]
    started = cut.count('{"id_poste"')  # the record the file breaks in
    bad = tmp_path / "postes-fonjep-2021.json"
    bad.write_text(cut, encoding="utf-8")
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError) as caught:
        run_import(warehouse, PostesPolitiqueVille(), bad)
    error = caught.value
    assert error.line == 1
    assert f"JSON illisible dans l'enregistrement {started}" in error.message
    assert "tronqué" in error.message
    assert table_fingerprint(warehouse) == before


@pytest.mark.parametrize(("change", "record", "column", "found"), [
    (lambda records: records[9].update(insee_dep="99"), 10, "insee_dep", "99"),
    (lambda records: records[4].update(annee="l'an 2020"), 5, "annee", '"l\'an 2020"'),
    (lambda records: records[2].pop("id_poste"), 3, "id_poste", "aucune valeur"),
    (lambda records: records.__setitem__(6, ["CV002"]), 7, None, '["CV002"]'),
])
@pytest.mark.parametrize("indent", [None, 1])
def test_malformed_record(warehouse: Warehouse, tmp_path: Path, change, record: int,
                          column: str | None, found: str, indent: int | None) -> None:
    records = json.loads(shared(f"{POSTS}/adulte-relais-2021.json").read_text("utf-8"))
    change(records)
    bad = tmp_path / "adulte-relais-2021.json"
    text = json.dumps(records, ensure_ascii=False, indent=indent)
    bad.write_text(text, encoding="utf-8")
    # the text line where the record starts: 1 when the array is on one line
    line = 1 if indent is None else text.count("\n", 0, _nth_record_start(text, record)) + 1
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError) as caught:
        run_import(warehouse, PostesPolitiqueVille(), bad)
    assert (caught.value.line, caught.value.column, caught.value.found) == (line, column, found)
    assert f"enregistrement {record}" in caught.value.message
    assert table_fingerprint(warehouse) == before


def _nth_record_start(text: str, number: int) -> int:
    """Where the ``number``-th element of an indented top-level JSON array starts."""
    starts = [i + 2 for i in range(len(text) - 2)
              if text[i] in "[," and text[i + 1] == "\n" and text[i + 2:i + 4] != "  "]
    return starts[number - 1]


def test_dotations_without_a_required_column(warehouse: Warehouse, tmp_path: Path,
                                             raw_dotations: pd.DataFrame) -> None:
    bad = tmp_path / "projets_dotations_investissement_2019.xlsx"
    raw_dotations.head(50).drop(columns="montant_sub").to_excel(
        bad, sheet_name="Projets_2019", index=False)
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError) as caught:
        run_import(warehouse, DotationsInvestissement(), bad)
    error = caught.value
    assert (error.line, error.column) == (1, "montant_sub")
    assert "colonne 'montant_sub' absente" in str(error)
    assert table_fingerprint(warehouse) == before


def test_dotations_with_an_unknown_dotation(warehouse: Warehouse, tmp_path: Path,
                                            raw_dotations: pd.DataFrame) -> None:
    sample = raw_dotations.head(50).copy()
    sample.loc[17, "dotation"] = "DGF"
    bad = tmp_path / "projets_dotations_investissement_2019.xlsx"
    sample.to_excel(bad, sheet_name="Projets_2019", index=False)  # Excel: 31 characters
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError) as caught:
        run_import(warehouse, DotationsInvestissement(), bad)
    assert (caught.value.line, caught.value.column, caught.value.found) == (19, "dotation",
                                                                           "DGF")
    assert "DETR ou DSID ou DSIL" in str(caught.value)
    assert table_fingerprint(warehouse) == before


def test_a_file_without_its_dispositif_needs_the_option(warehouse: Warehouse,
                                                        tmp_path: Path) -> None:
    copy = tmp_path / "postes.json"
    shutil.copy(shared(f"{POSTS}/postes-fonjep-2022.json"), copy)
    with pytest.raises(InputFileError, match="dispositif"):
        run_import(warehouse, PostesPolitiqueVille(), copy)
    report = run_import(warehouse, PostesPolitiqueVille(), copy,
                        options=ImportOptions(extra={"dispositif": "fonjep"}))
    assert report.rows == 1429
    lines = warehouse.query("SELECT dispositif, count(*) AS n FROM funding_lines "
                            "GROUP BY dispositif")
    assert lines.values.tolist() == [["fonjep", 1406]]


# -- importing again ----------------------------------------------------------------------

def test_reimporting_the_same_file_is_a_no_op(funded, tmp_path: Path) -> None:
    path, reports = tmp_path / "funding.duckdb", funded[1]
    shutil.copy(funded[0], path)  # the module's warehouse is open read-only
    with Warehouse(path) as warehouse:
        before = table_fingerprint(warehouse)
        again = run_import(warehouse, PostesPolitiqueVille(),
                           shared(f"{POSTS}/postes-fonjep-2025.json"))
        dotations = run_import(warehouse, DotationsInvestissement(), shared(DOTATIONS),
                               options=ImportOptions(extra={"allow_former_codes": True}))
        assert table_fingerprint(warehouse) == before
    assert again.already_imported and again.dataset_id == \
        reports["postes-fonjep-2025.json"].dataset_id
    assert dotations.already_imported


def test_a_changed_copy_of_an_imported_year_is_refused(warehouse: Warehouse,
                                                       tmp_path: Path) -> None:
    original = shared(f"{POSTS}/adulte-relais-2022.json")
    run_import(warehouse, PostesPolitiqueVille(), original)
    changed = tmp_path / "adulte-relais-2022.json"
    changed.write_text(original.read_text("utf-8").replace('"CIDFF"', '"C.I.D.F.F."'),
                       encoding="utf-8")
    before = table_fingerprint(warehouse)
    with pytest.raises(ConflictError, match="compterait leur argent deux fois"):
        run_import(warehouse, PostesPolitiqueVille(), changed)
    assert table_fingerprint(warehouse) == before


def test_partial_year_threshold_option(warehouse: Warehouse) -> None:
    run_import(warehouse, PostesPolitiqueVille(), shared(f"{POSTS}/adulte-relais-2023.json"))
    with pytest.raises(CohesionError, match="seuil_annee_partielle"):
        run_import(warehouse, PostesPolitiqueVille(),
                   shared(f"{POSTS}/adulte-relais-2024.json"),
                   options=ImportOptions(extra={"seuil_annee_partielle": "beaucoup"}))
    # at 10 %, 2024 (the year the 2024 contrats de ville replaced those of 2015) is flagged
    report = run_import(warehouse, PostesPolitiqueVille(),
                        shared(f"{POSTS}/adulte-relais-2024.json"),
                        options=ImportOptions(extra={"seuil_annee_partielle": 10}))
    assert ("année 2024 peut-être incomplète : postes en baisse de 12,8 % par rapport à 2023, "
            "montant en baisse de 11,8 % par rapport à 2023 ; signalée, rien n'est écarté"
            ) in report.notes


def test_posts_by_contrat_de_ville_once_the_contrats_are_a_level(warehouse: Warehouse) -> None:
    from cohesion.importers.zonings import ZoningImporter

    run_import(warehouse, ZoningImporter(), shared(f"{POSTS}/geom_cv_ctr_2024.json"))
    report = run_import(warehouse, PostesPolitiqueVille(),
                        shared(f"{POSTS}/adulte-relais-2024.json"))
    stored = warehouse.query(
        """SELECT code, value FROM observations WHERE level = 'CV'
           AND variable = 'montant_adultes_relais' AND period = '2024'""").set_index("code")
    lines = warehouse.query(
        """SELECT contrat_ville, sum(amount) AS amount FROM funding_lines
           WHERE dispositif = 'adultes-relais' AND year = 2024 AND contrat_ville IN
           (SELECT code FROM territories WHERE level = 'CV') GROUP BY ALL"""
    ).set_index("contrat_ville")["amount"]
    assert len(stored) > 300
    pd.testing.assert_series_equal(stored["value"].sort_index(), lines.sort_index(),
                                   check_names=False)
    # every line with a contrat de ville is in one, or said to be outside the level
    outside = [n for n in report.notes if "absent(s) des échelons CV" in n]
    all_lines = warehouse.query(
        """SELECT count(*) AS n FROM funding_lines WHERE dispositif = 'adultes-relais'
           AND contrat_ville IS NOT NULL AND contrat_ville NOT IN
           (SELECT code FROM territories WHERE level = 'CV')""")["n"].item()
    assert bool(outside) == (all_lines > 0)


def test_grants_to_an_epci_are_in_its_total_once(funded, funded_warehouse: Warehouse,
                                                  raw_dotations: pd.DataFrame) -> None:
    report = funded[1]["dotations"]
    to_epci = raw_dotations[raw_dotations["echelon"] == "epci"]
    assert len(to_epci) == 2_440
    assert to_epci["montant_sub"].sum() == pytest.approx(341_935_749.79, abs=0.01)
    notes = "\n".join(report.notes)
    assert "2440 subventions à des EPCI (341 935 749,79 €) : rattachées à leur EPCI" in notes
    for vintage in (2021, 2026):
        in_epci = funded_warehouse.memberships("COM", vintage, ["EPCI"]).set_index("code")[
            "parent_code"]
        epci = set(in_epci)
        own = to_epci[to_epci["id_terr"].isin(epci)]
        # the grants to communes, as stored per commune of 2021 (checked against the raw
        # sheet above), placed in their EPCI of the vintage
        communes = funded_warehouse.query(
            "SELECT variable, code, value FROM observations WHERE level = 'COM' "
            "AND period = '2019' AND vintage = 2021")
        stored = funded_warehouse.query(
            "SELECT variable, code, value FROM observations WHERE level = 'EPCI' "
            "AND period = '2019' AND vintage = ?", [vintage])
        # never twice: all EPCI together hold their own grants plus at most the grants to
        # communes (those of communes in no EPCI, the islands, are in none)
        assert stored["value"].sum() <= communes["value"].sum() + own["montant_sub"].sum() + 0.05
        if vintage == 2021:
            expected = communes.assign(code=communes["code"].map(in_epci)).dropna()
            expected = pd.concat([expected, pd.DataFrame({
                "variable": "montant_" + own["dotation"].str.lower(), "code": own["id_terr"],
                "value": own["montant_sub"]})]).groupby(["variable", "code"])["value"].sum()
            pd.testing.assert_series_equal(
                stored.set_index(["variable", "code"])["value"].sort_index(),
                expected.sort_index(), check_names=False, rtol=0, atol=0.05)
    # Brest Métropole: its own DSIL grants and those of its 8 communes
    brest = "242900314"
    members = funded_warehouse.memberships("COM", 2026, ["EPCI"])
    brest_communes = set(members.loc[members["parent_code"] == brest, "code"])
    dsil = raw_dotations[raw_dotations["dotation"] == "DSIL"]
    expected = (dsil.loc[dsil["id_terr"] == brest, "montant_sub"].sum()
                + dsil.loc[(dsil["echelon"] == "commune") & dsil["id_terr"].isin(brest_communes),
                           "montant_sub"].sum())
    stored = funded_warehouse.query(
        "SELECT value FROM observations WHERE level = 'EPCI' AND code = ? AND vintage = 2026 "
        "AND variable = 'montant_dsil'", [brest])["value"].item()
    assert len(brest_communes) == 8 and stored == pytest.approx(expected, abs=0.01)
