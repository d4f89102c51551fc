"""The real data samples that ``make run`` imports from ``../shared/data``.

Each entry names the catalogue-like dataset, the importer, the file relative to the
samples folder and the options the file needs. The same files feed the integration
tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Sample:
    """One sample file to import."""

    name: str
    importer: str
    path: str
    vintage: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    producer: str | None = None
    title: str | None = None


MAPPINGS = Path(__file__).parent / "importers" / "mappings"
BAROMETRE_DEFINITION = Path(__file__).parent / "analysis" / "barometre.yaml"
BAROMETRE_2018_FOLDER = "barometre/ba-coh-terr/data/csv/"
#: The mapping of a 2018 map table, by the geography it is published in.
BAROMETRE_2018_MAPPINGS = {("ZE", 2010): "barometre-2018-carte-ze.yaml",
                           ("EPCI", 2018): "barometre-2018-carte-epci.yaml",
                           ("EPCI", 2017): "barometre-2018-carte-epci-2017.yaml",
                           ("DEP", None): "barometre-2018-carte-dep.yaml"}


def barometre_2018_samples() -> tuple[Sample, ...]:
    """The 2018 baromètre tables named in ``analysis/barometre.yaml``, with their mappings.

    Each table of an indicator gives three files: the map (``carte_X_Y.csv``, by zone
    d'emploi, EPCI or département), the régions (``histo_X_Y.csv``) and, for some, the
    urban-area classes (``zau_X_Y.csv``); ``baro.csv`` holds France's values, and the
    dataviz's ``data_rev_med.csv`` the names of the zones d'emploi 2010.
    """
    definition = yaml.safe_load(BAROMETRE_DEFINITION.read_text(encoding="utf-8"))
    provenance = {"producer": "CGET (ANCT)",
                  "title": "Baromètre de la cohésion des territoires 2018"}
    # first, the zones d'emploi 2010 with their names: later tables are checked against them
    samples = [Sample("barometre-2018-zones-emploi", "table",
                      "barometre/dataviz_2018/data_rev_med.csv",
                      options={"mapping": str(MAPPINGS / "barometre-2018-noms-ze.yaml")},
                      **provenance)]
    for factor in definition["factors"]:
        for indicator in factor["indicators"]:
            for data in indicator["data"]:
                if "table" not in data:
                    continue
                options = {"variable": data["table"], "label": data.get(
                    "related_label", indicator["label"]), "unit": indicator["unit"]}
                mapping = BAROMETRE_2018_MAPPINGS[(data["level"], data.get("vintage"))]
                files = [(data["file"], mapping),
                         (data["regional_file"], "barometre-2018-histo.yaml")]
                if data.get("class_file"):
                    files.append((data["class_file"], "barometre-2018-zau.yaml"))
                for file, mapping_file in files:
                    samples.append(Sample(
                        f"barometre-2018-{file.removesuffix('.csv').replace('_', '-')}",
                        "table", BAROMETRE_2018_FOLDER + file,
                        options={**options, "mapping": str(MAPPINGS / mapping_file)},
                        **provenance))
    samples.append(Sample("barometre-2018-france", "table", BAROMETRE_2018_FOLDER + "baro.csv",
                          options={"mapping": str(MAPPINGS / "barometre-2018-france.yaml")},
                          **provenance))
    return tuple(samples)


SAMPLES: tuple[Sample, ...] = (
    Sample("comparateur-2021", "comparateur",
           "commune_indicators/comparateur_rp2018_filo2019/base_cc_comparateur.CSV"),
    Sample("filosofi-communes-2019", "filosofi-communes",
           "commune_indicators/filosofi2019_com/cc_filosofi_2019_COM.CSV"),
    Sample("filosofi-communes-2020", "filosofi-communes",
           "commune_indicators/filosofi2020_com/cc_filosofi_2020_COM.csv"),
    Sample("filosofi-iris-2020", "filosofi-iris",
           "commune_indicators/filosofi_iris_dec_2017_2020/BASE_TD_FILO_DEC_IRIS_2020.xlsx"),
    Sample("bpe-2013-communes", "bpe-communes", "bpe/commune_counts_2009_2013_2018/bpe2013.xlsx",
           options={"allow_former_codes": True}),
    Sample("bpe-2023-points-gironde", "bpe-points", "bpe/gironde_ds_immo/categorie_bpe.csv"),
    Sample("france-services-2024-sites", "france-services",
           "programmes/france_services/liste-fs-20240801_nocontact.csv"),
    Sample("osm-paris-9e-10e", "osm-points", "osm/paris_map.osm"),
    Sample("osm-saint-barthelemy", "osm-points", "osm/saint_barthelemy.osm.pbf"),
    # before the posts, which are then summed by contrat de ville too
    Sample("contrats-de-ville-2024", "zonage",
           "social_innovation/anct_politique_ville_postes/geom_cv_ctr_2024.json",
           producer="ANCT", title="Contrats de ville 2024 (EPCI ou commune porteur)"),
    Sample("contrats-de-ville-2015", "contrats-ville-2015",
           "social_innovation/anct_politique_ville_postes/geom_cv_ctr_2015.json",
           options={"perimetres": "../../programmes/anct_superposeur_2019/cv.topojson"}),
    *(Sample(f"{name}-{year}", "postes-politique-ville",
             f"social_innovation/anct_politique_ville_postes/{name}-{year}.json")
      for name in ("adulte-relais", "postes-fonjep") for year in range(2020, 2026)),
    Sample("dotations-investissement-2019", "dotations-investissement",
           "subventions/anct_dotations_investissement_2019/"
           "projets_dotations_investissement_2019.xlsx",
           options={"allow_former_codes": True}),
    Sample("filosofi-carreaux-gironde", "filosofi-carreaux",
           "filosofi_carreaux/gironde_33_pop/carreaux_33.gpkg"),
    Sample("qpv-2015-occitanie", "qpv", "qpv/hackaviz2021_occitanie/qp.geojson"),
    Sample("qpv-statistiques-occitanie-2019", "table", "qpv/hackaviz2021_occitanie/qp.csv",
           options={"mapping": str(MAPPINGS / "qpv-occitanie-2019.yaml")}),
    Sample("qpv-2015-marseille", "qpv", "qpv/icu_mediapart/marseille.gpkg"),
    Sample("qpv-statistiques-strasbourg-sortants-precoces", "qpv-iris",
           "qpv/strasbourg_ems/qpv_sortant_precoce_INSEE.csv",
           options={"mapping": str(MAPPINGS / "strasbourg-sortants-precoces.yaml")}),
    Sample("qpv-2024-paca", "qpv", "qpv/qpv2024_paca/qpv-paca.geojson"),
    Sample("grille-densite", "zonage",
           "programmes/anct_superposeur_v2_2026/grille_densite.csv",
           producer="INSEE", title="Grille communale de densité"),
    Sample("grille-ruralite", "zonage",
           "programmes/anct_superposeur_v2_2026/grille_ruralite.csv",
           producer="INSEE", title="Grille communale de ruralité"),
    Sample("action-coeur-de-ville", "zonage", "programmes/anct_superposeur_2024/acv_geom.geojson"),
    Sample("petites-villes-de-demain", "zonage",
           "programmes/anct_superposeur_2024/pvd_geom.geojson"),
    Sample("france-services", "zonage", "programmes/anct_superposeur_2024/fs_geom.geojson"),
    Sample("territoires-industrie", "zonage",
           "programmes/anct_superposeur_2024/ti_geom.geojson"),
    Sample("barometre-resultats", "table",
           "barometre/barometre_resultats_etalab_2023/"
           "barometre-resultats-detail-departemental_combined.csv.gz",
           options={"mapping": str(MAPPINGS / "barometre-resultats-etalab.yaml")},
           producer="Etalab / DITP", title="Baromètre des résultats de l'action publique"),
    *barometre_2018_samples(),
)
