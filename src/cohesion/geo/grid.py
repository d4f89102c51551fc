"""Grid indexes locating millions of points among polygons at once, exactly.

They answer "which polygon contains this point" and "how far is the nearest line"
without a Python loop over points, and without creating point geometries.

- :class:`ContainmentGrid`: a regular grid over the polygons, each cell keeping the
  polygons that intersect it, in compressed sparse rows (``indptr``/``members``). A
  cell lying in the interior of its only polygon answers at once; elsewhere the
  candidates are tested exactly with :func:`shapely.contains_xy` on prepared
  geometries, one polygon after another.
- :class:`NearestGrid`: a tree of squares over the segments of lines (polygon
  boundaries), each leaf keeping the segments that can be the nearest to one of its
  points, with a lower bound of their distance. The exact distance (GEOS's formula,
  :func:`segment_distance`) is computed in NumPy only for the segments whose bound
  does not rule them out.

Both work in the coordinates of the geometries given (longitudes and latitudes for
containment, metres of a projected CRS for distances).
"""

from __future__ import annotations

import threading
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
            iy *= self.nx
            iy += ix  # (exact: far fewer cells than 2**53)
        return np.where(inside, iy, -1).astype(np.int64)

    def boxes(self, cells: np.ndarray) -> np.ndarray:
        """The cells as shapely boxes."""
        ix, iy = cells % self.nx, cells // self.nx
        xmin, ymin = self.x0 + ix * self.size, self.y0 + iy * self.size
        return shapely.box(xmin, ymin, xmin + self.size, ymin + self.size)

    def centers(self, cells: np.ndarray) -> np.ndarray:
        """The centres of the cells as shapely points."""
        return shapely.points(*self.center_coordinates(cells))

    def center_coordinates(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The coordinates ``x, y`` of the centres of the cells."""
        ix, iy = cells % self.nx, cells // self.nx
        return self.x0 + (ix + 0.5) * self.size, self.y0 + (iy + 0.5) * self.size

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


#: GEOS type ids of polygons and multipolygons.
_POLYGONAL = (3, 6)


class Prepared:
    """Geometries prepared for GEOS's fast tests, which several threads may share.

    GEOS builds the indexes of a prepared geometry lazily, on its first tests, and
    without a lock: two threads testing one geometry at once may both build them and
    crash the process (a double free, seen with two locating threads). The tests of a
    set of geometries are therefore taken one at a time; other work goes on meanwhile.

    Parameters
    ----------
    geometries : ndarray of shapely geometries
    """

    def __init__(self, geometries: np.ndarray) -> None:
        self.geometries = geometries
        shapely.prepare(geometries)
        self._lock = threading.Lock()
        # GEOS indexes a prepared polygon's edges for point tests at its second test,
        # a line's segments for distances at its first: done now, not in the first batch
        anchors = shapely.point_on_surface(geometries)
        polygonal = np.isin(shapely.get_type_id(geometries), _POLYGONAL)
        for _ in range(2):
            shapely.contains_xy(geometries[polygonal], shapely.get_x(anchors[polygonal]),
                                shapely.get_y(anchors[polygonal]))
        shapely.dwithin(geometries[~polygonal], anchors[~polygonal], 0.0)

    def __getstate__(self) -> dict[str, object]:
        return {"geometries": self.geometries}

    def __setstate__(self, state: dict[str, np.ndarray]) -> None:
        self.__init__(state["geometries"])  # neither preparation nor lock survive pickling

    def contains_xy(self, rows: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """:func:`shapely.contains_xy` of the geometries at ``rows`` and the points."""
        chosen = self.geometries[rows]
        with self._lock:
            return shapely.contains_xy(chosen, x, y)

    def dwithin(self, rows: np.ndarray, others: np.ndarray, distance: float) -> np.ndarray:
        """:func:`shapely.dwithin` of the geometries at ``rows`` and ``others``."""
        chosen = self.geometries[rows]
        with self._lock:
            return shapely.dwithin(chosen, others, distance)


def grouping(items: np.ndarray, count: int) -> np.ndarray:
    """An order putting together the equal ``items`` (integers from 0 to ``count - 1``).

    GEOS tests points against one polygon after another several times faster than
    against polygons in no order: the polygon's index stays in the processor's cache.
    Items are grouped by their 16 high bits, which NumPy sorts by radix, in linear time.

    Examples
    --------
    >>> grouping(np.array([2, 0, 2, 1]), 3).tolist()
    [1, 3, 0, 2]
    """
    shift = max(int(count - 1).bit_length() - 16, 0)
    return np.argsort((items >> shift).astype(np.uint16), kind="stable")


def owners(counts: np.ndarray) -> np.ndarray:
    """``np.repeat(np.arange(len(counts)), counts)``, without holding the GIL.

    :func:`numpy.repeat` holds Python's lock while it copies: threads locating chunks
    side by side would take turns. A cumulative sum of steps does the same work lock
    free; each array is then repeated by taking ``values[owners(counts)]``.

    Examples
    --------
    >>> owners(np.array([2, 0, 1, 3])).tolist()
    [0, 0, 2, 3, 3, 3]
    """
    ends = np.cumsum(counts)
    steps = np.zeros(ends[-1] if len(ends) else 0, dtype=np.int64)
    filled = np.flatnonzero(counts)
    # the first item of each owner steps up from the previous owner having items
    steps[ends[filled] - counts[filled]] = np.diff(filled, prepend=0)
    return np.cumsum(steps)


def _run_starts(values: np.ndarray) -> np.ndarray:
    """Where each run of equal values starts (a mask)."""
    starts = np.ones(len(values), dtype=bool)
    np.not_equal(values[1:], values[:-1], out=starts[1:])
    return starts


def _sparse_rows(cells: np.ndarray, members: np.ndarray,
                 count: int) -> tuple[np.ndarray, np.ndarray]:
    """Compressed rows from (cell, member) pairs: members of each cell by ascending index."""
    order = np.lexsort((members, cells))
    indptr = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.bincount(cells, minlength=count), out=indptr[1:])
    return indptr, members[order].astype(np.int32)


class ContainmentGrid:
    """Which polygon contains each point, exactly, through a grid of candidates.

    Parameters
    ----------
    geometries : ndarray of shapely (multi)polygons
        In any planar coordinates (the points are given in the same ones).
    size : float
        Side of a cell, in those coordinates.
    region_size : float, optional
        Side of the cells of a finer grid whose answer is known without a test: each
        cell that no polygon border crosses lies wholly in one polygon, or in none
        (see Notes). Finer cells answer more points at once; the grid takes 4 bytes
        a cell.

    Notes
    -----
    "Contains" is :func:`shapely.contains_xy`: a point on a polygon's border is in no
    polygon. When polygons overlap, the one of lowest index wins.

    The finer grid is built without a test per cell: the cells the borders cross are
    marked (each border cut into pieces no longer than a cell, each piece marking the
    cells its bounding box meets, widened by a billionth of the coordinates' magnitude:
    see :func:`_crossed_cells`); the other cells fall into regions of cells sharing a
    side (:func:`scipy.ndimage.label`). A region, which no border crosses, lies wholly
    inside or outside each polygon: one point of it, located exactly, answers for all
    its cells.

    Examples
    --------
    >>> squares = np.array([shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)])
    >>> ContainmentGrid(squares, size=3.0).locate(np.array([1.0, 15, 10, 30]),
    ...                                           np.array([1.0, 5, 5, 5])).tolist()
    [0, 1, -1, -1]
    >>> ContainmentGrid(squares, size=3.0, region_size=1.0).locate(
    ...     np.array([1.0, 15, 10, 30]), np.array([1.0, 5, 5, 5])).tolist()
    [0, 1, -1, -1]
    """

    def __init__(self, geometries: np.ndarray, size: float,
                 region_size: float | None = None) -> None:
        self.polygons = Prepared(geometries)
        self.grid = CellGrid.covering(tuple(shapely.total_bounds(geometries)), size)
        items, cells = self.grid.cells_of_bounds(shapely.bounds(geometries))
        boxes = self.grid.boxes(cells)
        meets = shapely.intersects(geometries[items], boxes)
        items, cells, boxes = items[meets], cells[meets], boxes[meets]
        self.indptr, self.members = _sparse_rows(cells, items, self.grid.count)
        self.counts = np.diff(self.indptr)
        self.interior = np.zeros(self.grid.count, dtype=bool)
        self.regions: CellGrid | None = None
        self.answers = np.zeros(0, dtype=np.int32)
        if region_size is not None and len(geometries):
            # the points left to the cells of this grid are near a border: its cells'
            # interiors would seldom answer them
            self.regions, self.answers = self._known_cells(geometries, region_size)
        else:
            inside = shapely.contains_properly(geometries[items], boxes)
            self.interior[cells[inside]] = True
            self.interior &= self.counts == 1

    def _known_cells(self, geometries: np.ndarray,
                     size: float) -> tuple[CellGrid, np.ndarray]:
        """The finer grid, and its cells' answers: a polygon, -1 for none, -2 unknown."""
        from scipy import ndimage  # (0.3 s to import: only for a grid of regions)

        bounds = shapely.total_bounds(geometries)
        regions = CellGrid.covering(tuple(bounds), size)
        margin = 1e-9 * (np.abs(bounds).max() + size)
        crossed = _crossed_cells(regions, *_segments(shapely.boundary(geometries))[:2], margin)
        labels, count = ndimage.label(~crossed.reshape(regions.ny, regions.nx))
        labels = labels.ravel()
        # one cell of each region (any) stands for it
        free = np.flatnonzero(labels)
        representative = np.zeros(count + 1, dtype=np.int64)
        representative[labels[free]] = free
        answers = self._located(*regions.center_coordinates(representative[1:]))
        return regions, np.r_[-2, answers].astype(np.int32)[labels]  # (crossed: label 0)

    def locate(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Index of the polygon containing each point, -1 where none does.

        Points in a cell of the finer grid that no border crosses take its answer;
        elsewhere the candidates of a point are tested in turn, the lowest index
        first, until one contains it: a round tests one candidate of every point still
        unfound.
        """
        if self.regions is None:
            return self._located(x, y)
        cells = self.regions.cells(x, y)
        found = np.full(len(x), -1, dtype=np.int64)
        inside = np.flatnonzero(cells >= 0)
        found[inside] = self.answers[cells[inside]]
        unknown = np.flatnonzero(found == -2)
        found[unknown] = self._located(x[unknown], y[unknown])
        return found

    def _located(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """:meth:`locate` through the candidates of the grid alone."""
        cells = self.grid.cells(x, y)
        found = np.full(len(x), -1, dtype=np.int64)
        rows = np.flatnonzero(cells >= 0)
        start, count = self.indptr[cells[rows]], self.counts[cells[rows]]
        direct = (count == 1) & self.interior[cells[rows]]
        found[rows[direct]] = self.members[start[direct]]
        pending = ~direct & (count > 0)
        rows, start, count = rows[pending], start[pending], count[pending]
        while len(rows):
            candidates = self.members[start]
            order = grouping(candidates, len(self.polygons.geometries))
            hit = np.zeros(len(rows), dtype=bool)
            hit[order] = self.polygons.contains_xy(candidates[order], x[rows[order]],
                                                   y[rows[order]])
            found[rows[hit]] = candidates[hit]
            left = ~hit & (count > 1)
            rows, start, count = rows[left], start[left] + 1, count[left] - 1
        return found


def _crossed_cells(grid: CellGrid, starts: np.ndarray, ends: np.ndarray,
                   margin: float) -> np.ndarray:
    """Whether each cell of ``grid`` may meet one of the segments (a mask).

    Every cell a segment meets is marked, and a few more: each segment is cut into
    pieces no longer than a cell, and each piece marks the cells its bounding box
    meets once widened by ``margin`` (at most 3 × 3, the margin being far below a
    cell). The margin also covers the rounding of the pieces' ends.
    """
    delta = ends - starts
    pieces = np.ceil(np.abs(delta).max(axis=1, initial=0.0) / grid.size).astype(
        np.int64).clip(1)
    segment = owners(pieces)
    step = np.arange(len(segment), dtype=np.float64)
    step -= (np.cumsum(pieces) - pieces)[segment]
    count = pieces[segment].astype(np.float64)
    crossed = np.zeros(grid.count, dtype=bool)
    spans = []
    for axis, corner, cells in ((0, grid.x0, grid.nx), (1, grid.y0, grid.ny)):
        # the piece's ends, in cells from the grid's corner
        origin = (starts[:, axis] - corner) / grid.size
        slope = delta[:, axis] / grid.size
        a = origin[segment] + slope[segment] * (step / count)
        b = origin[segment] + slope[segment] * ((step + 1) / count)
        low = np.floor(np.minimum(a, b) - margin / grid.size).astype(np.int64)
        high = np.floor(np.maximum(a, b) + margin / grid.size).astype(np.int64)
        np.clip(low, 0, cells - 1, out=low)
        np.clip(high, 0, cells - 1, out=high)
        spans.append((low, np.minimum(low + 1, high), high))
    for column in spans[0]:
        for row in spans[1]:
            crossed[row * grid.nx + column] = True
    return crossed


def segment_distance(x: np.ndarray, y: np.ndarray, ax: np.ndarray, ay: np.ndarray,
                     bx: np.ndarray, by: np.ndarray) -> np.ndarray:
    """Distance from each point ``(x, y)`` to the segment from ``(ax, ay)`` to ``(bx, by)``.

    GEOS's formula (``Distance::pointToSegment``) operation for operation, so that the
    smallest distance to the segments of a line is, to the last bit, what
    :func:`shapely.distance` gives for that line.

    Examples
    --------
    >>> segment_distance(np.array([0.0, 5, 13]), np.array([3.0, 4, 4]), np.zeros(3),
    ...                  np.zeros(3), np.full(3, 10.0), np.zeros(3)).tolist()
    [3.0, 4.0, 5.0]
    """
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    qx, qy = x - ax, y - ay
    with np.errstate(divide="ignore", invalid="ignore"):
        along = (qx * dx + qy * dy) / length2
        # GEOS's numerator (ay - y) dx - (ax - x) dy, the same number up to its sign
        across = np.abs((qx * dy - qy * dx) / length2) * np.sqrt(length2)
    ex, ey = x - bx, y - by
    to_start = (along <= 0.0) | (length2 == 0.0)
    return np.where(to_start, np.sqrt(qx * qx + qy * qy),
                    np.where(along >= 1.0, np.sqrt(ex * ex + ey * ey), across))


def _segments(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Starts and ends (n × 2) of the segments of linear geometries, and the line of each."""
    parts, lines_of_parts = shapely.get_parts(lines, return_index=True)
    coordinates, part = shapely.get_coordinates(parts, return_index=True)
    inner = np.flatnonzero(part[1:] == part[:-1])  # consecutive vertices of one part
    return coordinates[inner], coordinates[inner + 1], lines_of_parts[part[inner]]


#: A square of :class:`NearestGrid` is split in four while it keeps more candidate
#: segments than this, down to :data:`MIN_SQUARE_FRACTION` of the side of its top cell.
LEAF_SEGMENTS = 8
MIN_SQUARE_FRACTION = 1 / 32
#: Points a :meth:`NearestGrid.nearest` takes at a time.
NEAREST_BLOCK = 32_768


class NearestGrid:
    """The nearest of some lines to each point and its exact distance, up to a reach.

    Parameters
    ----------
    lines : ndarray of shapely linear geometries
        (Multi)line strings, such as polygon boundaries, in a projected CRS (metres).
    size : float
        Side of the top cells, in metres.
    reach : float
        Largest distance looked at: points farther than ``reach`` from every line get
        no nearest line.

    Notes
    -----
    The lines are cut into segments, and a tree of squares keeps, for the points of
    each square, the segments that can be the nearest to one of them. The top squares
    are the cells of a regular grid; a square is split in four while it keeps more
    than :data:`LEAF_SEGMENTS` segments.

    The distance to a segment being a convex function, it is nowhere less than its
    tangent plane at the centre ``c`` of a square: ``d + g · (p - c)``, where ``d`` is
    the distance from ``c`` to the segment and ``g`` the unit vector from the nearest
    point of the segment to ``c``. A square keeps a segment when that plane passes
    under the distance to ``q``, the nearest point to ``c`` of the segment nearest to
    ``c``, at one of its corners at least (plane minus distance is concave, its least
    value over the square is at a corner): elsewhere the segment is farther than ``q``.

    For a point, the exact distance to its square's first segment (the nearest to the
    centre) bounds the answer, and the exact distance to another segment is computed
    only where its plane at the point is under that bound. Exact is GEOS's formula
    (:func:`segment_distance`): the distance to a line is to the last bit what
    :func:`shapely.distance` gives. Bounds are compared with a slack of a billionth of
    the coordinates' magnitude, far above rounding errors: a slack only costs a few
    more exact distances. When lines are equally near, the one of lowest index wins.

    Examples
    --------
    >>> squares = shapely.boundary(np.array([shapely.box(0, 0, 10, 10),
    ...                                      shapely.box(30, 0, 40, 10)]))
    >>> index, distance = NearestGrid(squares, size=5.0, reach=12.0).nearest(
    ...     np.array([12.0, 27, 5, 60]), np.array([5.0, 5, 5, 5]))
    >>> index.tolist(), distance.tolist()
    ([0, 1, 0, -1], [2.0, 3.0, 5.0, inf])
    """

    def __init__(self, lines: np.ndarray, size: float, reach: float) -> None:
        self.reach = float(reach)
        starts, ends, self.lines = _segments(lines)
        self.ax, self.ay = starts[:, 0].copy(), starts[:, 1].copy()
        self.bx, self.by = ends[:, 0].copy(), ends[:, 1].copy()
        bounds = shapely.bounds(lines)
        xmin, ymin, xmax, ymax = shapely.total_bounds(lines)
        self.grid = CellGrid.covering((xmin - reach, ymin - reach, xmax + reach,
                                       ymax + reach), size)
        self.slack = 1e-9 * (np.abs([xmin, ymin, xmax, ymax]).max() + self.reach)
        # the top squares, and their candidates: the segments near enough their centre
        cells = np.unique(self.grid.cells_of_bounds(bounds[np.isfinite(bounds[:, 0])],
                                                    self.reach + size)[1])
        centres = self.grid.centers(cells)
        diagonal = size * np.sqrt(0.5)
        pairs = np.zeros((2, 0), dtype=np.int64)
        if len(starts) and len(cells):
            tree = shapely.STRtree(shapely.linestrings(np.stack([starts, ends], axis=1)))
            near, gap = tree.query_nearest(centres, return_distance=True, all_matches=False)
            close = gap - diagonal <= self.reach + self.slack
            near, gap = near[0][close], gap[close]
            pairs = tree.query(centres[near], predicate="dwithin",
                               distance=gap + 2 * diagonal + self.slack)
            pairs[0] = near[pairs[0]]
        pairs = pairs[:, np.argsort(pairs[0], kind="stable")]  # by square (already, as a rule)
        cx, cy = shapely.get_x(centres), shapely.get_y(centres)
        self.top = np.full(self.grid.count, -1, dtype=np.int32)
        self.top[cells] = np.arange(len(cells), dtype=np.int32)
        self._build(cx, cy, size / 2, *self._candidates(cx, cy, size / 2, *pairs))

    def _build(self, cx: np.ndarray, cy: np.ndarray, half: float, square: np.ndarray,
               *entries: np.ndarray) -> None:
        """Split the squares level by level; keep the leaves and their segments."""
        levels: list[tuple[np.ndarray, ...]] = []
        kept: list[tuple[np.ndarray, ...]] = []
        first_id, smallest = 0, half * MIN_SQUARE_FRACTION
        while True:
            count = np.bincount(square, minlength=len(cx))
            split = (count > LEAF_SEGMENTS) & (half > smallest)
            child = np.full(len(cx), -1, dtype=np.int32)
            child[split] = first_id + len(cx) + 4 * np.arange(split.sum(), dtype=np.int32)
            leaf = ~split[square]
            levels.append((cx, cy, child, np.where(split, 0, count)))
            kept.append(tuple(values[leaf] for values in entries))
            if not split.any():
                break
            # the candidates of a child are among its parent's: pairs (child, segment),
            # by child, for each segment of a parent and each of its four children
            parents = np.flatnonzero(split)
            sizes = count[parents]
            inner = np.flatnonzero(~leaf)
            rank = np.repeat(np.arange(len(parents)), sizes)
            offset = np.arange(len(inner)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
            children = np.empty(4 * len(inner), dtype=np.int64)
            segments = np.empty(4 * len(inner), dtype=entries[0].dtype)
            for quadrant in range(4):
                at = 4 * (np.cumsum(sizes) - sizes)[rank] + quadrant * sizes[rank] + offset
                children[at] = 4 * rank + quadrant
                segments[at] = entries[0][inner]
            first_id += len(cx)
            half /= 2
            # children in the order the query finds them: x, then y, lower half first
            cx = (cx[parents, None] + [-half, half, -half, half]).ravel()
            cy = (cy[parents, None] + [-half, -half, half, half]).ravel()
            square, *entries = self._candidates(cx, cy, half, children, segments)
        self.cx, self.cy, self.child, count = (np.concatenate(column) for column in
                                               zip(*levels, strict=True))
        self.start = np.cumsum(count) - count
        self.count = count
        self.segments, self.level, self.gx, self.gy = (np.concatenate(column) for column in
                                                       zip(*kept, strict=True))

    def _candidates(self, cx: np.ndarray, cy: np.ndarray, half: float, square: np.ndarray,
                    segment: np.ndarray) -> tuple[np.ndarray, ...]:
        """Which (square, segment) pairs to keep, with the segment's tangent plane.

        ``square`` ascends. Returns the kept pairs' square, segment, plane level at the
        centre and slope (``gx``, ``gy``), by square, the segment nearest to the centre
        first.
        """
        if not len(square):
            empty = np.zeros(0)
            return square, segment, empty, empty, empty
        x, y = cx[square], cy[square]
        qx, qy = self._closest(x, y, segment)
        ex, ey = x - qx, y - qy
        distance = np.sqrt(ex * ex + ey * ey)
        starts = np.flatnonzero(_run_starts(square))
        group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(square)]))
        nearest = np.flatnonzero(distance == np.minimum.reduceat(distance, starts)[group])
        head = nearest[_run_starts(group[nearest])]
        swap = np.arange(len(square))  # the nearest segment first in its square
        swap[starts], swap[head] = head, starts
        segment, qx, qy, ex, ey, distance = (values[swap] for values in
                                             (segment, qx, qy, ex, ey, distance))
        diagonal = half * np.sqrt(2)
        # a direction is known when the centre is not on the segment (rounding of
        # coordinates aside); elsewhere the distance loses at most |p - c| (1-Lipschitz)
        sloped = distance > 1e-3 * diagonal
        divisor = np.where(sloped, distance, 1.0)
        gx, gy = np.where(sloped, ex / divisor, 0.0), np.where(sloped, ey / divisor, 0.0)
        level = np.where(sloped, distance, distance - diagonal)
        possible = np.zeros(len(square), dtype=bool)
        possible[starts] = True
        down_x, down_y = gx * half, gy * half
        centre_x, centre_y = cx[square[starts]], cy[square[starts]]
        for sx, sy in ((-1, -1), (1, -1), (-1, 1), (1, 1)):
            corner_x = centre_x + sx * half - qx[starts]
            corner_y = centre_y + sy * half - qy[starts]
            bound = np.sqrt(corner_x * corner_x + corner_y * corner_y) + self.slack
            possible |= level + sx * down_x + sy * down_y <= bound[group]
        possible &= distance - diagonal <= self.reach
        return (square[possible], segment[possible], level[possible], gx[possible],
                gy[possible])

    def _closest(self, x: np.ndarray, y: np.ndarray,
                 segment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The point of each segment nearest to each point."""
        ax, ay = self.ax[segment], self.ay[segment]
        dx, dy = self.bx[segment] - ax, self.by[segment] - ay
        length2 = dx * dx + dy * dy
        with np.errstate(divide="ignore", invalid="ignore"):
            along = np.clip(((x - ax) * dx + (y - ay) * dy) / length2, 0.0, 1.0)
        along[length2 == 0] = 0.0
        return ax + along * dx, ay + along * dy

    def _distance(self, x: np.ndarray, y: np.ndarray, segment: np.ndarray) -> np.ndarray:
        return segment_distance(x, y, self.ax[segment], self.ay[segment], self.bx[segment],
                                self.by[segment])

    def nearest(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest line (-1 beyond the reach) and distance (inf beyond the reach).

        Points are taken :data:`NEAREST_BLOCK` at a time: the temporary arrays stay
        small (in the processor's cache), whatever the number of points.
        """
        index = np.full(len(x), -1, dtype=np.int64)
        distance = np.full(len(x), np.inf)
        for start in range(0, len(x), NEAREST_BLOCK):
            block = slice(start, start + NEAREST_BLOCK)
            index[block], distance[block] = self._nearest(x[block], y[block])
        return index, distance

    def _nearest(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        index = np.full(len(x), -1, dtype=np.int64)
        distance = np.full(len(x), np.inf)
        cells = self.grid.cells(x, y)
        rows = np.flatnonzero(cells >= 0)
        square = self.top[cells[rows]]
        rows, square = rows[square >= 0], square[square >= 0]
        px, py = x[rows], y[rows]
        inner = np.flatnonzero(self.child[square] >= 0)
        while len(inner):  # down to the leaf holding each point
            parent = square[inner]
            square[inner] = self.child[parent] + (px[inner] >= self.cx[parent]) + 2 * (
                py[inner] >= self.cy[parent])
            inner = inner[self.child[square[inner]] >= 0]
        count = self.count[square]
        filled = count > 0
        rows, square, px, py, count = (values[filled] for values in
                                       (rows, square, px, py, count))
        if not len(rows):
            return index, distance
        # the first segment of the leaf, the nearest to its centre: an upper bound
        start = self.start[square]
        first = self.segments[start]
        best, line = self._distance(px, py, first), self.lines[first]
        # the others, where their plane goes under it
        others = count - 1
        point = owners(others)
        position = np.arange(len(point)) + (start + 1 - (np.cumsum(others) - others))[point]
        plane = self.gx[position]  # (in place: few temporary arrays)
        plane *= (px - self.cx[square])[point]
        across = (py - self.cy[square])[point]
        across *= self.gy[position]
        plane += across
        plane += self.level[position]
        chosen = plane <= (best + self.slack)[point]
        point, segment = point[chosen], self.segments[position[chosen]]
        if len(point):
            gaps = self._distance(px[point], py[point], segment)
            firsts = np.flatnonzero(_run_starts(point))
            owner, least = point[firsts], np.minimum.reduceat(gaps, firsts)
            # the lowest line among the segments at the least distance
            lines = np.where(gaps == least[owners(np.diff(np.r_[firsts, len(point)]))],
                             self.lines[segment], np.iinfo(np.int64).max)
            lowest = np.minimum.reduceat(lines, firsts)
            lowest = np.where(least == best[owner], np.minimum(lowest, line[owner]), lowest)
            closer = least <= best[owner]
            best[owner[closer]], line[owner[closer]] = least[closer], lowest[closer]
        found = best <= self.reach
        index[rows[found]] = line[found]
        distance[rows[found]] = best[found]
        return index, distance
