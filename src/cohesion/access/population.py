"""Where residents live: the origins of the accessibility measures.

An origin is a 200 m cell with its population. Two sources give them:

- :func:`cell_origins`: INSEE's Filosofi 200 m cells (``ind``, the number of
  individuals), each placed at its centre — the ONPV's method;
- :func:`spread_origins`: where no cell file is loaded, the population of each commune
  spread over 200 m cells of the INSEE grid drawn over its contour. With a network,
  only the cells holding a network node get residents (the network stands for the
  built-up area); without, the population is spread evenly over the commune's surface.
  Such origins are flagged (:attr:`Origins.source`), never passed off as Filosofi cells.

A commune only partly inside the *extent* (the network's area) gets the residents of
the part inside, at its average density, and its coverage (:attr:`Origins.coverage`)
says how much of it was measured: its figures are then not stored as the commune's.

Cells are drawn on INSEE's grid: EPSG:3035 (LAEA Europe) in metropolitan France, the
local projected CRS overseas; a cell is named like INSEE's (``CRS3035RES200mN…E…``, the
lower-left corner).

Examples
--------
A square commune of 200 m by 200 m astride four cells, 1,000 residents, spread evenly:

>>> import shapely
>>> from cohesion.territory.crs import transformer
>>> to_lonlat = transformer("EPSG:3035", "EPSG:4326")
>>> square = shapely.transform(shapely.box(3_800_100, 2_880_100, 3_800_300, 2_880_300),
...                            lambda xy: np.column_stack(to_lonlat.transform(*xy.T)))
>>> origins = spread_origins(np.array(["99001"]), np.array([square]), np.array([1000.0]))
>>> origins.population.round(1).tolist(), origins.source
([250.0, 250.0, 250.0, 250.0], 'population communale répartie sur la surface')
>>> origins.id[0]
'CRS3035RES200mN2880000E3800000'
>>> origins.coverage
{'99001': 1.0}
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

from cohesion.errors import CohesionError
from cohesion.geo.grid import CellGrid
from cohesion.territory.crs import WGS84, projected_crs_for, reproject, transformer

CELL_METRES = 200.0
#: INSEE's grid CRS in metropolitan France (the overseas grids use the local CRS)
INSEE_GRID_CRS = "EPSG:3035"
FILOSOFI = "carreaux Filosofi 200 m (INSEE)"
SPREAD_BUILT = "population communale répartie sur les carreaux desservis par le réseau"
SPREAD_EVEN = "population communale répartie sur la surface"
#: Share of a commune that must be inside the extent for its figures to be its own.
COMPLETE = 0.99


@dataclass
class Origins:
    """Residents as points: one row a 200 m cell.

    Attributes
    ----------
    id : ndarray of object
        Cell identifier (INSEE's when the cells come from a Filosofi file).
    lon, lat : ndarray of float
        Centre of the cell (WGS84).
    population : ndarray of float
        Residents of the cell.
    source : str
        Where the population comes from (:data:`FILOSOFI`, :data:`SPREAD_BUILT`,
        :data:`SPREAD_EVEN`).
    coverage : dict of str to float
        For spread populations, the share of each commune's surface measured.
    """

    id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    population: np.ndarray
    source: str
    coverage: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.id)

    def subset(self, keep: np.ndarray) -> Origins:
        """The origins where ``keep`` is true."""
        return Origins(self.id[keep], self.lon[keep], self.lat[keep], self.population[keep],
                       self.source, self.coverage)


def cell_origins(cells: pd.DataFrame, bounds: tuple[float, float, float, float] | None = None
                 ) -> Origins:
    """Filosofi cells as origins, at their centres.

    Parameters
    ----------
    cells : DataFrame
        ``cell_id, geometry`` (WKB), ``crs, population`` (see
        :meth:`Warehouse.grid_population <cohesion.store.warehouse.Warehouse.grid_population>`).
    bounds : (west, south, east, north), optional
        Keep only the cells whose centre lies in this box (WGS84).
    """
    lon = np.empty(len(cells))
    lat = np.empty(len(cells))
    for crs, rows in cells.groupby("crs").indices.items():
        centres = shapely.centroid(shapely.from_wkb(cells["geometry"].iloc[rows].map(bytes)))
        x, y = shapely.get_x(centres), shapely.get_y(centres)
        lon[rows], lat[rows] = transformer(str(crs), WGS84).transform(x, y)
    population = cells["population"].to_numpy(dtype="float64")
    keep = np.isfinite(population) & (population > 0)
    if bounds is not None:
        west, south, east, north = bounds
        keep &= (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    return Origins(cells["cell_id"].to_numpy(dtype=object)[keep], lon[keep], lat[keep],
                   population[keep], FILOSOFI)


def spread_origins(codes: np.ndarray, contours: np.ndarray, population: np.ndarray,
                   extent: shapely.Geometry | None = None,
                   built_lon: np.ndarray | None = None, built_lat: np.ndarray | None = None,
                   size: float = CELL_METRES) -> Origins:
    """The population of communes spread over 200 m cells (flagged as such).

    Parameters
    ----------
    codes : ndarray of str
        Commune codes (they choose the projected CRS: overseas communes use theirs).
    contours : ndarray of shapely geometries
        Commune contours, WGS84.
    population : ndarray of float
        Residents of each commune.
    extent : shapely geometry, optional
        The area measured (WGS84), such as the network's: only cells inside count.
    built_lon, built_lat : ndarray, optional
        Network nodes: when given, only cells holding one get residents.
    size : float
        Cell side in metres.

    Returns
    -------
    Origins
        With the coverage of each commune: the share of its surface inside ``extent``.
    """
    if not (len(codes) == len(contours) == len(population)):
        raise CohesionError("codes, contours et populations de longueurs différentes")
    built = built_lon is not None and built_lat is not None
    parts: list[pd.DataFrame] = []
    coverage: dict[str, float] = {}
    crs_of = np.array([INSEE_GRID_CRS if projected_crs_for(str(c)) == "EPSG:2154"
                       else projected_crs_for(str(c)) for c in codes], dtype=object)
    for crs in pd.unique(crs_of):
        chosen = np.flatnonzero(crs_of == crs)
        projected = reproject(np.asarray(contours)[chosen], WGS84, crs)
        area = shapely.area(projected)
        measured = projected
        if extent is not None:
            measured = shapely.intersection(projected, reproject(np.array([extent]), WGS84,
                                                                 crs)[0])
        covered = np.where(area > 0, shapely.area(measured) / np.where(area > 0, area, 1), 0.0)
        coverage.update(zip(codes[chosen].tolist(), covered.tolist(), strict=True))
        bounds = shapely.bounds(measured)
        present = ~np.isnan(bounds).any(axis=1)
        if not present.any():
            continue
        low = np.floor(bounds[present, :2].min(axis=0) / size) * size
        high = bounds[present, 2:].max(axis=0)
        grid = CellGrid.covering((low[0], low[1], high[0], high[1]), size)
        items, cells = grid.cells_of_bounds(np.where(present[:, None], bounds, 0.0))
        keep = present[items]
        items, cells = items[keep], cells[keep]
        pieces = shapely.area(shapely.intersection(grid.boxes(cells), measured[items]))
        frame = pd.DataFrame({"item": items, "cell": cells, "area": pieces})
        frame = frame[frame["area"] > 0]
        if built:
            x, y = transformer(WGS84, str(crs)).transform(built_lon, built_lat)
            served = np.unique(grid.cells(np.asarray(x), np.asarray(y)))
            frame = frame[np.isin(frame["cell"].to_numpy(), served)]
        # a complete commune keeps all its residents (on its built cells); a partial one
        # the residents of the part measured, at its average density
        complete = covered[frame["item"].to_numpy()] >= COMPLETE
        kept_area = frame.groupby("item")["area"].transform("sum").to_numpy()
        item_area = area[frame["item"].to_numpy()]
        base = np.where(complete, kept_area, item_area)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(base > 0, frame["area"].to_numpy() / base, 0.0)
        frame = frame.assign(population=population[chosen][frame["item"].to_numpy()] * share)
        # cells shared by two communes carry the residents of both
        frame = frame.groupby("cell", as_index=False).agg(population=("population", "sum"),
                                                          item=("item", "first"))
        centres = grid.centers(frame["cell"].to_numpy())
        lon, lat = transformer(str(crs), WGS84).transform(shapely.get_x(centres),
                                                          shapely.get_y(centres))
        epsg = str(crs).split(":")[1]
        corner_x = grid.x0 + (frame["cell"].to_numpy() % grid.nx) * size
        corner_y = grid.y0 + (frame["cell"].to_numpy() // grid.nx) * size
        ids = [f"CRS{epsg}RES{int(size)}mN{int(cy)}E{int(cx)}"
               for cx, cy in zip(corner_x, corner_y, strict=True)]
        parts.append(pd.DataFrame({"id": ids, "lon": lon, "lat": lat,
                                   "population": frame["population"].to_numpy()}))
    found = pd.concat(parts, ignore_index=True) if parts else \
        pd.DataFrame({"id": [], "lon": [], "lat": [], "population": []})
    found = found[found["population"] > 0]
    return Origins(found["id"].to_numpy(dtype=object), found["lon"].to_numpy(dtype="float64"),
                   found["lat"].to_numpy(dtype="float64"),
                   found["population"].to_numpy(dtype="float64"),
                   SPREAD_BUILT if built else SPREAD_EVEN, coverage)
