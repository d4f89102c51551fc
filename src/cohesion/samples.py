"""The real data samples that ``make run`` imports from ``../shared/data``.

Each entry names the catalogue-like dataset, the importer, the file relative to the
samples folder and the options the file needs. The same files feed the integration
tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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
    Sample("filosofi-carreaux-gironde", "filosofi-carreaux",
           "filosofi_carreaux/gironde_33_pop/carreaux_33.gpkg"),
    Sample("qpv-2015-occitanie", "qpv", "qpv/hackaviz2021_occitanie/qp.geojson"),
    Sample("qpv-2015-marseille", "qpv", "qpv/icu_mediapart/marseille.gpkg"),
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
)
