"""Importer for INSEE's Filosofi gridded data (carreaux de 200 m) in GeoPackage files.

Each cell becomes a row of ``grid_cells``: its id, its polygon as WKB in the file's own
coordinate reference system (no reprojection, so areas and distances stay exact in
Lambert-93), that CRS as ``EPSG:xxxx``, and its numeric attributes (``ind``, ``men``,
``men_pauv``, ``ind_snv``…) as a JSON object whose keys are the lower-cased column names
(INSEE spells them ``Ind`` in some editions, ``ind`` in others).

A layer without a CRS (or with an undefined local one) is refused: a cell's position
cannot be guessed. When the user knows it, the option ``crs`` declares it.

Options read from ``ImportOptions.extra``: ``layer`` (default: the first layer with a
cell id column, else the first layer), ``crs`` (for a layer without one).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from cohesion.errors import InputFileError
from cohesion.importers.base import ImportBatch, Importer, ImportOptions
from cohesion.importers.reading import check_not_empty_or_binary
from cohesion.store.warehouse import Warehouse

#: Cell id columns of INSEE grids, in order of preference (compared without case).
ID_COLUMNS = ("idcar_200m", "idinspire", "id_carr200", "idcar_1km", "idcar")
#: Shapely type ids of polygons and multipolygons.
POLYGONAL = (3, 6)


def cell_ids_from_bounds(geometries: np.ndarray, epsg: int) -> np.ndarray:
    """Build INSEE-style ids ``CRS{epsg}RES{size}mN{south}E{west}`` from cell bounds."""
    bounds = shapely.bounds(geometries)
    west, south = np.floor(bounds[:, 0]).astype(np.int64), np.floor(bounds[:, 1]).astype(
        np.int64)
    size = np.rint(bounds[:, 2] - bounds[:, 0]).astype(np.int64)
    return (pd.Series(size.astype(str)).radd(f"CRS{epsg}RES") + "mN"
            + pd.Series(south.astype(str)) + "E" + pd.Series(west.astype(str))).to_numpy()


def properties_json(columns: dict[str, np.ndarray]) -> list[str]:
    """One JSON object per row from numeric columns (NaN becomes null).

    pandas writes JSON lines in C, which matters for the 2.3 million cells of the
    national grid.
    """
    frame = pd.DataFrame(columns)
    if frame.empty:
        return ["{}"] * len(next(iter(columns.values()), []))
    return frame.to_json(orient="records", lines=True).splitlines()


class FilosofiGrid(Importer):
    """Filosofi 200 m cells from a GeoPackage (``carreaux_200m_met.gpkg`` and extracts)."""

    name = "filosofi-carreaux"
    title = "Filosofi : revenus, pauvreté et niveau de vie en données carroyées (200 m)"
    producer = "INSEE"

    def read(self, path: Path, warehouse: Warehouse, options: ImportOptions) -> ImportBatch:
        layers = self._layers(path)
        layer = self._choose_layer(path, layers, options.extra.get("layer"))
        where = f"{path} [couche {layer}]"
        with warnings.catch_warnings():
            # pyogrio warns about the other layers even when one is named
            warnings.simplefilter("ignore", UserWarning)
            info = pyogrio.read_info(path, layer=layer)
            meta, _, wkb, values = pyogrio.raw.read(path, layer=layer)
        epsg = self._epsg(where, info.get("crs"), options.extra.get("crs"))
        columns = dict(zip(meta["fields"], values, strict=True))
        if wkb is None or len(wkb) == 0:
            raise InputFileError(where, "la couche n'a aucun carreau", column="geometry",
                                 expected="des polygones de carreaux", found="aucun objet")
        geometries = self._geometries(where, wkb)

        id_column = next((name for wanted in ID_COLUMNS for name in columns
                          if name.lower() == wanted), None)
        if id_column is not None:
            cell_ids = pd.Series(columns[id_column], dtype=object).astype(str).str.strip()
            blank = pd.isna(columns[id_column]) | (cell_ids == "").to_numpy()
            if blank.any():
                feature = int(np.argmax(blank))
                raise InputFileError(where, f"le carreau {feature + 1} n'a pas d'identifiant",
                                     column=id_column,
                                     expected="un identifiant de carreau comme CRS3035RES200mN…",
                                     found="une valeur vide")
            cell_ids = cell_ids.to_numpy()
        else:
            cell_ids = cell_ids_from_bounds(geometries, epsg)
        duplicated = pd.Series(cell_ids).duplicated().to_numpy()
        if duplicated.any():
            feature = int(np.argmax(duplicated))
            raise InputFileError(where, f"{int(duplicated.sum())} carreaux figurent deux fois, le "
                                 f"premier à l'objet {feature + 1}",
                                 column=id_column or "geometry",
                                 expected="un objet par carreau", found=cell_ids[feature])

        numeric = {name.lower(): np.asarray(array, dtype="float64")
                   for name, array in columns.items()
                   if np.asarray(array).dtype.kind in "iuf"}
        cells = pd.DataFrame({"cell_id": cell_ids, "geometry": list(wkb),
                              "crs": f"EPSG:{epsg}", "properties": properties_json(numeric)})
        notes = [f"couche {layer} lue ({len(cells):,} carreaux, CRS EPSG:{epsg}, identifiant "
                 f"{id_column or 'construit à partir des limites des carreaux'})"]
        if len(layers) > 1:
            notes.append("autres couches non importées : " + ", ".join(
                name for name in layers if name != layer))
        if "ind" in numeric:
            notes.append(f"population (ind) des carreaux : {np.nansum(numeric['ind']):,.0f}")
        if not numeric:
            notes.append("aucune colonne numérique : carreaux importés sans attributs")
        periods = [options.period] if options.period else []
        return ImportBatch(tables={"grid_cells": cells}, periods=periods, rows=len(cells),
                           notes=notes)

    @staticmethod
    def _layers(path: Path) -> list[str]:
        check_not_empty_or_binary(path)
        try:
            return [str(name) for name, _ in pyogrio.list_layers(path)]
        except Exception as error:  # GDAL reports corrupt and foreign files its own way
            raise InputFileError(path, "impossible d'ouvrir le fichier comme un GeoPackage : "
                                       f"{error}",
                                 expected="un GeoPackage (.gpkg) de carreaux") from None

    @staticmethod
    def _choose_layer(path: Path, layers: list[str], asked: str | None) -> str:
        if asked is not None:
            if asked not in layers:
                raise InputFileError(path, f"aucune couche nommée {asked!r}",
                                     expected=f"la couche {asked}", found=", ".join(layers))
            return asked
        if not layers:
            raise InputFileError(path, "le fichier n'a aucune couche",
                                 expected="une couche de carreaux")
        for layer in layers:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                fields = pyogrio.read_info(path, layer=layer)["fields"]
            if {str(f).lower() for f in fields} & set(ID_COLUMNS):
                return layer
        return layers[0]

    @staticmethod
    def _epsg(where: str, file_crs: str | None, declared: str | None) -> int:
        """EPSG code of the layer's CRS, refusing a missing or undefined one."""
        crs = None
        if file_crs:
            try:
                crs = CRS.from_user_input(file_crs)
            except CRSError:
                crs = None
        if crs is not None and not (crs.is_projected or crs.is_geographic):
            crs = None  # an engineering "Undefined Cartesian SRS" says nothing usable
        if crs is None and declared is None:
            raise InputFileError(
                where, "la couche n'a pas de système de coordonnées : la position des "
                "carreaux est inconnue (déclarez-le avec l'option crs si vous le connaissez)",
                column="geometry", expected="un CRS comme EPSG:2154 (Lambert-93)",
                found=(file_crs or "aucun CRS")[:80])
        if declared is not None:
            wanted = CRS.from_user_input(declared)
            if crs is not None and crs != wanted:
                raise InputFileError(where, "le CRS déclaré dans les options n'est pas "
                                     "celui du fichier", column="geometry", expected=declared,
                                     found=crs.to_string())
            crs = wanted
        epsg = crs.to_epsg()
        if epsg is None:
            raise InputFileError(where, "le CRS de la couche n'a pas de code EPSG",
                                 column="geometry", expected="un CRS avec un code EPSG",
                                 found=crs.name)
        return epsg

    @classmethod
    def _geometries(cls, where: str, wkb: np.ndarray) -> np.ndarray:
        """The cells' polygons; refuse unreadable, empty and non-polygonal geometries."""
        geometries = shapely.from_wkb(wkb, on_invalid="ignore")
        unreadable = shapely.is_missing(geometries) & np.array([w is not None for w in wkb])
        if unreadable.any():
            feature = int(np.argmax(unreadable))
            raise InputFileError(where, f"la géométrie du carreau {feature + 1} est illisible "
                                 "(fichier abîmé ?)", column="geometry",
                                 expected="un polygone en WKB", found="des octets invalides")
        cls._check_geometries(where, geometries)
        return geometries

    @staticmethod
    def _check_geometries(where: str, geometries: np.ndarray) -> None:
        empty = shapely.is_missing(geometries) | shapely.is_empty(geometries)
        if empty.any():
            feature = int(np.argmax(empty))
            raise InputFileError(where, f"le carreau {feature + 1} n'a pas de géométrie",
                                 column="geometry", expected="un polygone",
                                 found="une géométrie vide")
        not_polygon = ~np.isin(shapely.get_type_id(geometries), POLYGONAL)
        if not_polygon.any():
            feature = int(np.argmax(not_polygon))
            raise InputFileError(where, f"le carreau {feature + 1} n'est pas un polygone",
                                 column="geometry", expected="un Polygon ou un MultiPolygon",
                                 found=geometries[feature].geom_type)
