"""Importers of official files: read, validate, write to the warehouse all or nothing.

Every importer has a ``name`` used on the command line (``cohesion import NAME FILE``)
and in the catalogue of official datasets (``cohesion data fetch``). The registry names
each importer's class by its module, so that listing the importers (``cohesion
--help``) does not import the geometry and spreadsheet libraries they read with.
"""

from __future__ import annotations

from importlib import import_module

from cohesion.errors import NotFoundError
from cohesion.importers.base import (
    ImportBatch,
    Importer,
    ImportOptions,
    ImportReport,
    run_import,
)


class UnknownImporterError(NotFoundError):
    """An importer name that the registry does not hold."""


#: Importer name → ``module:Class``, in the order they are listed.
REGISTRY: dict[str, str] = {
    "comparateur": "cohesion.importers.insee:Comparateur",
    "filosofi-communes": "cohesion.importers.insee:FilosofiCommunes",
    "insee-communes": "cohesion.importers.insee:InseeCommuneTable",
    "filosofi-iris": "cohesion.importers.iris:FilosofiIris",
    "bpe-communes": "cohesion.importers.bpe:BpeCommuneCounts",
    "bpe-points": "cohesion.importers.bpe:BpePoints",
    "france-services": "cohesion.importers.points:FranceServices",
    "points": "cohesion.importers.points:PointFile",
    "mairies": "cohesion.importers.points:TownHalls",
    "osm-points": "cohesion.importers.osm_points:OsmPoints",
    "postes-politique-ville": "cohesion.importers.funding:PostesPolitiqueVille",
    "dotations-investissement": "cohesion.importers.funding:DotationsInvestissement",
    "filosofi-carreaux": "cohesion.importers.grid:FilosofiGrid",
    "qpv": "cohesion.importers.qpv:QpvContours",
    "zonage": "cohesion.importers.zonings:ZoningImporter",
    "contrats-ville-2015": "cohesion.importers.contrats_ville:ContratsVille2015",
    "table": "cohesion.importers.table:IndicatorTable",
    "qpv-iris": "cohesion.importers.qpv_iris:QpvIrisTable",
}


def importer_class(name: str) -> type[Importer]:
    """The class of the importer called ``name``.

    Raises
    ------
    UnknownImporterError
        When no importer has that name (the message lists those that exist).
    """
    if name not in REGISTRY:
        raise UnknownImporterError(f"importeur inconnu {name!r} (attendu l'un de "
                                  f"{', '.join(REGISTRY)})")
    module, _, cls = REGISTRY[name].partition(":")
    return getattr(import_module(module), cls)


def importer_named(name: str) -> Importer:
    """The importer called ``name`` (see :func:`importer_class`)."""
    return importer_class(name)()


def importers() -> dict[str, Importer]:
    """Every importer, by name."""
    return {name: importer_named(name) for name in REGISTRY}


__all__ = ["REGISTRY", "ImportBatch", "ImportOptions", "ImportReport", "Importer",
           "UnknownImporterError",
           "importer_class", "importer_named", "importers", "run_import"]
