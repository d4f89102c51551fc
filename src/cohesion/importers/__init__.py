"""Importers of official files: read, validate, write to the warehouse all or nothing.

Every importer has a ``name`` used on the command line (``cohesion import NAME FILE``)
and in the catalogue of official datasets (``cohesion data fetch``).
"""

from __future__ import annotations

from cohesion.importers.base import (
    ImportBatch,
    Importer,
    ImportOptions,
    ImportReport,
    run_import,
)
from cohesion.importers.bpe import BpeCommuneCounts, BpePoints
from cohesion.importers.grid import FilosofiGrid
from cohesion.importers.insee import Comparateur, FilosofiCommunes, InseeCommuneTable
from cohesion.importers.iris import FilosofiIris
from cohesion.importers.qpv import QpvContours
from cohesion.importers.table import IndicatorTable
from cohesion.importers.zonings import ZoningImporter

IMPORTER_CLASSES: tuple[type[Importer], ...] = (
    Comparateur,
    FilosofiCommunes,
    InseeCommuneTable,
    FilosofiIris,
    BpeCommuneCounts,
    BpePoints,
    FilosofiGrid,
    QpvContours,
    ZoningImporter,
    IndicatorTable,
)


def importers() -> dict[str, Importer]:
    """Every importer, by name."""
    return {cls.name: cls() for cls in IMPORTER_CLASSES}


__all__ = ["IMPORTER_CLASSES", "ImportBatch", "ImportOptions", "ImportReport", "Importer",
           "importers", "run_import"]
