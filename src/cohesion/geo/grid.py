"""Grid indexes locating millions of points among polygons at once, exactly.

They answer "which polygon contains this point" and "how far is the nearest polygon"
without a Python loop over points, and without creating point geometries for the first.

A regular grid is laid over the polygons. Each cell keeps the polygons that matter to
the points falling in it, in compressed sparse rows (``indptr``/``members``):

- :class:`ContainmentGrid`: the polygons that intersect the cell. A cell lying in the
  interior of its only polygon answers at once; elsewhere each candidate is tested
  exactly with :func:`shapely.contains_xy` on prepared geometries.
- :class:`NearestGrid`: the polygons that can be the nearest one, within a reach, to
  some point of the cell. The distance from each point to each of its candidates is
  then computed exactly (GEOS), and the smallest kept.

Both work in the coordinates of the polygons given (longitudes and latitudes for
containment, metres of a projected CRS for distances).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely


@dataclass(frozen=True)
class CellGrid:
    """A regular grid of square cells over a rectangle, cells numbered row by row.

    Attributes
    ----------
    x0, y0 : float
        Lower-left corner.
    size : float
        Side of a cell, in the coordinates' unit.
    nx, ny : int
        Number of columns and rows.
    """

    x0: float
    y0: float
    size: float
    nx: int
    ny: int

    @classmethod
    def covering(cls, bounds: tuple[float, float, float, float], size: float) -> CellGrid:
        """The grid of cells of side ``size`` covering ``(xmin, ymin, xmax, ymax)``."""
        xmin, ymin, xmax, ymax = bounds
        nx = int(np.floor((xmax - xmin) / size)) + 1
        ny = int(np.floor((ymax - ymin) / size)) + 1
        return cls(float(xmin), float(ymin), float(size), nx, ny)

    @property
    def count(self) -> int:
        """Number of cells."""
        return self.nx * self.ny

    def cells(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Cell of each point (int64), -1 for points outside the grid or not finite."""
        with np.errstate(invalid="ignore"):
            ix = np.floor((x - self.x0) / self.size)
            iy = np.floor((y - self.y0) / self.size)
        inside = (ix >= 0) & (ix < self.nx) & (iy >= 0) & (iy < self.ny)
        cells = np.full(len(x), -1, dtype=np.int64)
        cells[inside] = iy[inside].astype(np.int64) * self.nx + ix[inside].astype(np.int64)
        return cells

    def boxes(self, cells: np.ndarray) -> np.ndarray:
        """The cells as shapely boxes."""
        ix, iy = cells % self.nx, cells // self.nx
        xmin, ymin = self.x0 + ix * self.size, self.y0 + iy * self.size
        return shapely.box(xmin, ymin, xmin + self.size, ymin + self.size)

    def centers(self, cells: np.ndarray) -> np.ndarray:
        """The centres of the cells as shapely points."""
        ix, iy = cells % self.nx, cells // self.nx
        return shapely.points(self.x0 + (ix + 0.5) * self.size,
                              self.y0 + (iy + 0.5) * self.size)

    def cells_of_bounds(self, bounds: np.ndarray,
                        margin: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Every (item, cell) pair whose cell meets an item's bounding box.

        Parameters
        ----------
        bounds : ndarray of shape (n, 4)
            ``xmin, ymin, xmax, ymax`` of each item.
        margin : float
            Widen each box by this much on every side first.

        Returns
        -------
        items, cells : ndarray of int64
        """
        low = np.floor((bounds[:, :2] - margin - [self.x0, self.y0]) / self.size)
        high = np.floor((bounds[:, 2:] + margin - [self.x0, self.y0]) / self.size)
        low = np.clip(low, 0, [self.nx - 1, self.ny - 1]).astype(np.int64)
        high = np.clip(high, 0, [self.nx - 1, self.ny - 1]).astype(np.int64)
        widths, heights = high[:, 0] - low[:, 0] + 1, high[:, 1] - low[:, 1] + 1
        counts = widths * heights
        items = np.repeat(np.arange(len(bounds), dtype=np.int64), counts)
        rank = np.arange(counts.sum(), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts,
                                                                    counts)
        ix = low[items, 0] + rank % widths[items]
        iy = low[items, 1] + rank // widths[items]
        return items, iy * self.nx + ix


def _sparse_rows(cells: np.ndarray, members: np.ndarray,
                 count: int) -> tuple[np.ndarray, np.ndarray]:
    """Compressed rows from (cell, member) pairs: members of each cell by ascending index."""
    order = np.lexsort((members, cells))
    indptr = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.bincount(cells, minlength=count), out=indptr[1:])
    return indptr, members[order].astype(np.int32)


def _expand(indptr: np.ndarray, cells: np.ndarray,
            rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, position in ``members``) pairs for the cells of the given rows."""
    start, stop = indptr[cells[rows]], indptr[cells[rows] + 1]
    counts = stop - start
    repeated = np.repeat(rows, counts)
    offsets = np.arange(counts.sum(), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts,
                                                                   counts)
    return repeated, np.repeat(start, counts) + offsets


class ContainmentGrid:
    """Which polygon contains each point, exactly, through a grid of candidates.

    Parameters
    ----------
    geometries : ndarray of shapely (multi)polygons
        In any planar coordinates (the points are given in the same ones).
    size : float
        Side of a cell, in those coordinates.

    Notes
    -----
    "Contains" is :func:`shapely.contains_xy`: a point on a polygon's border is in no
    polygon. When polygons overlap, the one of lowest index wins.

    Examples
    --------
    >>> squares = np.array([shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)])
    >>> ContainmentGrid(squares, size=3.0).locate(np.array([1.0, 15, 10, 30]),
    ...                                           np.array([1.0, 5, 5, 5])).tolist()
    [0, 1, -1, -1]
    """

    def __init__(self, geometries: np.ndarray, size: float) -> None:
        self.geometries = geometries
        shapely.prepare(geometries)
        self.grid = CellGrid.covering(tuple(shapely.total_bounds(geometries)), size)
        items, cells = self.grid.cells_of_bounds(shapely.bounds(geometries))
        boxes = self.grid.boxes(cells)
        meets = shapely.intersects(geometries[items], boxes)
        items, cells, boxes = items[meets], cells[meets], boxes[meets]
        self.indptr, self.members = _sparse_rows(cells, items, self.grid.count)
        inside = shapely.contains_properly(geometries[items], boxes)
        alone = np.diff(self.indptr) == 1
        self.interior = np.zeros(self.grid.count, dtype=bool)
        self.interior[cells[inside]] = True
        self.interior &= alone

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        shapely.prepare(self.geometries)  # preparation does not survive pickling

    def locate(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Index of the polygon containing each point, -1 where none does."""
        cells = self.grid.cells(x, y)
        found = np.full(len(x), -1, dtype=np.int64)
        known = cells >= 0
        counts = np.zeros(len(x), dtype=np.int64)
        counts[known] = np.diff(self.indptr)[cells[known]]
        direct = known & (counts == 1)
        direct[direct] = self.interior[cells[direct]]
        found[direct] = self.members[self.indptr[cells[direct]]]
        rows, positions = _expand(self.indptr, cells, np.flatnonzero((counts > 0) & ~direct))
        candidates = self.members[positions]
        hit = shapely.contains_xy(self.geometries[candidates], x[rows], y[rows])
        rows, candidates = rows[hit], candidates[hit]
        first = np.unique(rows, return_index=True)[1]  # candidates ascend within a row
        found[rows[first]] = candidates[first]
        return found


class NearestGrid:
    """The nearest polygon to each point and its exact distance, up to a reach.

    Parameters
    ----------
    geometries : ndarray of shapely geometries
        In a projected CRS (distances in metres).
    size : float
        Side of a cell, in metres.
    reach : float
        Largest distance looked at: points farther than ``reach`` from every polygon
        get no nearest polygon.

    Notes
    -----
    A cell keeps the polygons whose distance to the cell is at most
    ``min(d + h, reach)``, where ``d`` is the distance from the cell's centre to its
    nearest polygon and ``h`` the half-diagonal of a cell: no point of the cell is
    farther than ``d + h`` from that polygon, so its nearest polygon is always kept.

    Examples
    --------
    >>> squares = np.array([shapely.box(0, 0, 10, 10), shapely.box(30, 0, 40, 10)])
    >>> index, distance = NearestGrid(squares, size=5.0, reach=12.0).nearest(
    ...     np.array([12.0, 27, 5, 60]), np.array([5.0, 5, 5, 5]))
    >>> index.tolist(), distance.tolist()
    ([0, 1, 0, -1], [2.0, 3.0, 0.0, inf])
    """

    def __init__(self, geometries: np.ndarray, size: float, reach: float) -> None:
        self.geometries = geometries
        self.reach = float(reach)
        xmin, ymin, xmax, ymax = shapely.total_bounds(geometries)
        self.grid = CellGrid.covering((xmin - reach, ymin - reach, xmax + reach, ymax + reach),
                                      size)
        cells = np.unique(self.grid.cells_of_bounds(shapely.bounds(geometries), reach)[1])
        tree = shapely.STRtree(geometries)
        near, distance = tree.query_nearest(self.grid.centers(cells), return_distance=True,
                                            all_matches=False)
        bound = np.full(len(cells), self.reach)
        bound[near[0]] = np.minimum(distance + size * np.sqrt(0.5), self.reach)
        pairs = tree.query(self.grid.boxes(cells), predicate="dwithin", distance=bound)
        self.indptr, self.members = _sparse_rows(cells[pairs[0]], pairs[1], self.grid.count)
        self.bounds = shapely.bounds(geometries)
        anchors = shapely.point_on_surface(geometries)
        self.anchors = np.column_stack([shapely.get_x(anchors), shapely.get_y(anchors)])

    def nearest(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest polygon (-1 beyond the reach) and distance (inf beyond the reach).

        Candidates are first pruned with bounds computed from bounding boxes alone: a
        polygon is no closer than its box, and no farther than the nearest side of its
        box (a polygon touches every side of its box) nor than its representative
        point. Exact distances are then computed for the candidates left.
        """
        cells = self.grid.cells(x, y)
        index = np.full(len(x), -1, dtype=np.int64)
        distance = np.full(len(x), np.inf)
        rows, positions = _expand(self.indptr, cells, np.flatnonzero(cells >= 0))
        if not len(rows):
            return index, distance
        candidates = self.members[positions]
        px, py = x[rows], y[rows]
        xmin, ymin, xmax, ymax = self.bounds[candidates].T
        lower = np.hypot(np.maximum(np.maximum(xmin - px, px - xmax), 0),
                         np.maximum(np.maximum(ymin - py, py - ymax), 0))
        corner = [np.hypot(cx - px, cy - py) for cx, cy in
                  ((xmin, ymin), (xmax, ymin), (xmin, ymax), (xmax, ymax))]
        upper = np.minimum.reduce([
            np.maximum(corner[0], corner[2]), np.maximum(corner[1], corner[3]),
            np.maximum(corner[0], corner[1]), np.maximum(corner[2], corner[3]),
            np.hypot(self.anchors[candidates, 0] - px, self.anchors[candidates, 1] - py)])
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])  # rows are grouped
        bound = np.repeat(np.minimum.reduceat(upper, starts), np.diff(np.r_[starts, len(rows)]))
        kept = (lower <= bound) & (lower <= self.reach)
        rows, candidates = rows[kept], candidates[kept]
        unique, inverse = np.unique(rows, return_inverse=True)
        points = shapely.points(np.column_stack([x[unique], y[unique]]))
        gaps = shapely.distance(points[inverse], self.geometries[candidates])
        order = np.lexsort((candidates, gaps, rows))  # per row: nearest, then lowest index
        rows, candidates, gaps = rows[order], candidates[order], gaps[order]
        first = np.unique(rows, return_index=True)[1]
        best = first[gaps[first] <= self.reach]
        index[rows[best]] = candidates[best]
        distance[rows[best]] = gaps[best]
        return index, distance
